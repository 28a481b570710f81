/**
 * The browser runner's Chrome App mode, `chromium-chrome-sockets`:
 * polysocket's `WebSocket` (the browser entry, src/index.ts) over
 * chrome.sockets.tcp (src/transports/chrome-sockets.ts), installed as the
 * globals of every page and worker (install-chrome-app.ts), the pages
 * running in a Chrome App: its app windows are the one place the API is
 * given to a page.
 *
 * - A Chrome App's pages come from its package, not from a server: at
 *   launch, once the ports are known, the mode's site (what its responder
 *   serves, pages.ts) is written into the app's directory (site-files.ts),
 *   with the app's manifest and background page
 *   (chrome-app-background.ts). The app's pages are `chrome-extension://<id>/…`;
 *   their query (the variant) still reaches `location.search`.
 * - Each job is an app window the background page opens
 *   (`chrome.app.window.create`) and closes: Playwright sees neither app
 *   windows nor the background page, so the lane drives the background
 *   page over CDP (e2e/browser/support/chrome-app.ts) and awaits its
 *   `runJob()`, which resolves with the page's report, handed over by
 *   testharnessreport.js with `chrome.runtime.sendMessage`.
 * - The app's content security policy runs no inline script: the pages'
 *   inline scripts are moved into files (external-scripts.ts).
 * - Every page and the background page of an app share one renderer
 *   process, so one main thread: the lanes of this mode overlap their waits
 *   on the network and timers, not their scripts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  chromeAppManifest,
  launchChromeAppDir,
  type RunningChromeApp,
} from '../../browser/support/chrome-app.js';
import type { WptJob } from '../manifest.js';
import type { JobResult } from '../messages.js';
import { readResource, WPT_HOST_NAMES, type WptConfig, type WptResource } from '../resources.js';
import type { JobOutcome, JobRequest } from './chrome-app-background.js';
import { ExternalScripts } from './external-scripts.js';
import type { ChromeAppInstallConfig } from './install-chrome-app.js';
import { GRACE_MS, JobOutput, jobResult, type ModeLane } from './lanes.js';
import type { ChromiumMode, ModeDefinition, ModeOptions } from './modes.js';
import { ADDRESS, bundleClassicScript, wptChromiumArgs } from './modes.js';
import { browserResponder, INSTALL_PATH, type PageReport } from './pages.js';
import { writeSiteFiles } from './site-files.js';

const CHROME_APP_MODE = 'chromium-chrome-sockets' satisfies ChromiumMode;

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** Time the lane waits past the background page's own deadline (closing the window, a busy main thread). */
const LANE_MARGIN_MS = 20_000;

/**
 * testharnessreport.js's reporter in the app's pages: the report goes to
 * the background page, with the window it comes from. Every app window has
 * an opener (the background page, which created it), and a test cannot
 * open one (`window.open` returns null in an app): an app window is a
 * job's page.
 */
const REPORTER = `chrome.app.window.current() === null ? null : function (json) {
  chrome.runtime.sendMessage({ wptReport: json, window: chrome.app.window.current().id });
}`;

/** The app's path of a job's page, with its query (`job.url` is on the mode's http site). */
function appPath(job: WptJob): string {
  const url = new URL(job.url);
  return `${url.pathname.slice(1)}${url.search}`;
}

/** Runs jobs one at a time, each in an app window the background page opens. */
class ChromeAppLane implements ModeLane {
  readonly #app: RunningChromeApp;

  constructor(app: RunningChromeApp) {
    this.#app = app;
  }

  async run(job: WptJob): Promise<JobResult<string>> {
    const started = performance.now();
    const output = new JobOutput();
    const request: JobRequest = { path: appPath(job), timeoutMs: job.timeoutMs + GRACE_MS };
    let timer: NodeJS.Timeout | undefined;
    try {
      const lost = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`the background page did not answer within ${request.timeoutMs + LANE_MARGIN_MS} ms`),
            ),
          request.timeoutMs + LANE_MARGIN_MS,
        );
      });
      const outcome = await Promise.race([
        this.#app.evaluate(
          (request: JobRequest) =>
            (globalThis as unknown as { runJob(request: JobRequest): Promise<JobOutcome> }).runJob(request),
          request,
        ),
        lost,
      ]);
      for (const line of outcome.output) output.note(line);
      if (outcome.report !== null) {
        const report = JSON.parse(outcome.report) as PageReport;
        return jobResult(CHROME_APP_MODE, job, started, output, { report, nativeExpected: false });
      }
      return jobResult(CHROME_APP_MODE, job, started, output, {
        status: outcome.failure === 'timeout' ? 'TIMEOUT' : 'ERROR',
        message: outcome.message,
      });
    } catch (error) {
      return jobResult(CHROME_APP_MODE, job, started, output, {
        status: 'ERROR',
        message: `runner: ${error instanceof Error ? error.message : String(error)}`,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {}
}

/** The mode's definition (modes.ts). */
export function chromeAppMode(options: ModeOptions): ModeDefinition {
  let install: string | undefined;
  let background: string | undefined;
  let installScript: string | undefined;
  const pages = browserResponder({
    timeoutMultiplier: options.timeoutMultiplier,
    install: () => {
      if (installScript === undefined) throw new Error('install script requested before the launch');
      return installScript;
    },
    reporter: REPORTER,
  });
  // The app's content security policy (script-src 'self') runs no inline script.
  const scripts = new ExternalScripts();
  const respond = (url: URL, config: WptConfig): WptResource | undefined => {
    const moved = scripts.resource(decodeURIComponent(url.pathname));
    if (moved !== undefined) return moved;
    const page =
      pages(url, config) ?? (url.pathname.endsWith('.html') ? readResource(url, config) : undefined);
    if (page === undefined || page.status !== 200 || !url.pathname.endsWith('.html')) return page;
    return { ...page, body: scripts.rewriteBytes(page.body) };
  };
  return {
    label: "polysocket's `WebSocket` over chrome.sockets.tcp in a Chrome App",
    viaGateway: false,
    respond,
    prepare: async (dir) => {
      [install, background] = await Promise.all([
        bundleClassicScript(join(HERE, 'install-chrome-app.ts'), dir, 'chromeAppInstall'),
        bundleClassicScript(join(HERE, 'chrome-app-background.ts'), dir, 'chromeAppBackground'),
      ]);
    },
    launch: async (setup) => {
      if (install === undefined || background === undefined) throw new Error('launch before prepare');
      const config: ChromeAppInstallConfig = { hosts: [...WPT_HOST_NAMES], address: ADDRESS };
      installScript = `self.__polysocketWpt = ${JSON.stringify(config)};\n${install}`;
      const appDir = join(setup.dir, 'chrome-app');
      mkdirSync(appDir);
      writeSiteFiles(respond, setup.config, appDir, [INSTALL_PATH]);
      writeFileSync(join(appDir, 'manifest.json'), chromeAppManifest('polysocket WPT (chrome.sockets.tcp)'));
      writeFileSync(join(appDir, 'background.js'), background);
      const app = await launchChromeAppDir(appDir, { args: wptChromiumArgs(setup.spki) });
      return {
        version: app.version,
        lane: () => new ChromeAppLane(app),
        close: () => app.close(),
      };
    },
  };
}
