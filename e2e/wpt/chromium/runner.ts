/**
 * web-platform-tests `websockets/` in headless Chromium (Debian's), in two
 * modes, each a browser of its own:
 *
 * - `chromium-native`: the browser's own `WebSocket`, the reference;
 * - `chromium-webtransport`: polysocket's `WebSocket` (the browser entry,
 *   src/index.ts, bundled by Vite) over WebTransport through the
 *   repository's gateway (gateway/main.ts), installed as the `WebSocket`
 *   global of every page and worker before the test's scripts run
 *   (pages.ts, install.ts).
 *
 * Running it
 * ----------
 *     npx playwright test e2e/browser/wpt.spec.ts                          # both modes (part of `npm test`)
 *     WPT_FILTER=Close-1000 npx playwright test e2e/browser/wpt.spec.ts    # the tests whose id contains a string
 *
 * WPT_FILTER, WPT_DIR and WPT_TIMEOUT_MULTIPLIER work as for the Node run
 * (e2e/wpt/runner.ts); WPT_BROWSER_JOBS sets how many pages are open at
 * once over both modes (default 6: most pages wait on the network or a
 * timer, and the machine has two cores).
 *
 * What it does
 * ------------
 * 1. Bundles install.ts (Vite, IIFE, dependencies inlined).
 * 2. Makes the CA and starts pywebsocket3 and the static servers (the Node
 *    run's servers.ts), one pair of http/https ports per mode, each with its
 *    responder (pages.ts): wpt serve's wrappers, the runner's
 *    testharnessreport.js and, for polysocket, the install script.
 * 3. Starts the gateway (a certificate of its own, trusted by hash),
 *    allowed to reach pywebsocket3 and the polysocket site's ports.
 * 4. Launches one Chromium per mode: the WPT host names map to 127.0.0.1
 *    in its resolver, every other name still fails; the run's leaf
 *    certificate is trusted by its SPKI hash (TCP TLS: wss:, https: pages);
 *    for polysocket, the http: origins count as secure contexts, which
 *    WebTransport needs. Playwright's own switches keep timers of
 *    background pages unthrottled.
 * 5. Loads each test page (manifest.ts, target `browser`), a few at a
 *    time (`Lane`: one tab per mode, kept while its pages end normally),
 *    and takes testharness's results from the runner's testharnessreport.js;
 *    a page that reports nothing within its WPT timeout (times the
 *    multiplier) and a grace period counts as a harness TIMEOUT. A page
 *    whose `WebSocket` global is not the mode's counts as a harness ERROR.
 * 6. Compares each mode with its expectations file.
 * Everything started is stopped at the end, on failure too.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from '@playwright/test';
import { build } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../browser/support/chromium.js';
import { type RunningGateway, startGatewayProcess } from '../../browser/support/gateway.js';
import {
  compare,
  type Expectations,
  loadExpectations,
  type ModeComparison,
  unknownIds,
} from '../expectations.js';
import { buildManifest, type Manifest, matchesFilter, type WptJob } from '../manifest.js';
import { HARNESS_STATUSES, type JobResult, TEST_STATUSES } from '../messages.js';
import { WPT_HOST_NAMES } from '../resources.js';
import { wptDirFromEnv } from '../runner.js';
import { makeCertificates, startServers, type WptServers } from '../servers.js';
import type { InstallConfig } from './install.js';
import { browserResponder, type PageReport, REPORT_BINDING } from './pages.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SUITE = 'websockets';

export const CHROMIUM_MODES = ['chromium-native', 'chromium-webtransport'] as const;
export type ChromiumMode = (typeof CHROMIUM_MODES)[number];

export const MODE_LABELS: Readonly<Record<ChromiumMode, string>> = {
  'chromium-native': "Chromium's own `WebSocket` (the reference)",
  'chromium-webtransport': "polysocket's `WebSocket` over WebTransport through the gateway",
};

export function expectationsFile(mode: ChromiumMode): string {
  return fileURLToPath(new URL(`../expectations/${mode}.json`, import.meta.url));
}

/** Default of {@link ChromiumRunOptions.boundMs}: the pages take 2 to 3 minutes on two idle cores. */
export const RUN_BOUND_MS = 480_000;
/** Time a page gets past its WPT timeout (times the multiplier) to report. */
const GRACE_MS = 15_000;
/** Output kept per page (errors, crashes), for diagnosis. */
const MAX_OUTPUT = 4_000;
/** The address the WPT host names stand for. */
const ADDRESS = '127.0.0.1';

export interface ChromiumRunOptions {
  readonly wptDir?: string;
  readonly filter?: string | undefined;
  readonly concurrency?: number | undefined;
  readonly timeoutMultiplier?: number | undefined;
  /**
   * No page is loaded after this long from the start (the rest count as not
   * run); the pages loaded by then still get their own timeouts.
   * @defaultValue {@link RUN_BOUND_MS}
   */
  readonly boundMs?: number | undefined;
}

export interface ChromiumWptRun {
  readonly wptDir: string;
  readonly filter: string | undefined;
  readonly manifests: Readonly<Record<ChromiumMode, Manifest>>;
  readonly results: readonly JobResult<ChromiumMode>[];
  readonly comparisons: Readonly<Record<ChromiumMode, ModeComparison>>;
  /** Expected failures naming a test that is not run at all, per mode. */
  readonly unknownIds: Readonly<Record<ChromiumMode, readonly string[]>>;
  readonly expectations: Readonly<Record<ChromiumMode, Expectations>>;
  readonly chromiumVersion: string;
  readonly durationMs: number;
  /** The servers' and the gateway's recent log lines, for failure messages. */
  readonly serverLog: string;
}

/** Bundle install.ts as one classic script (pages load it with `<script>`, workers with importScripts). */
async function bundleInstall(dir: string): Promise<string> {
  await build({
    configFile: false,
    root: ROOT,
    logLevel: 'silent',
    build: {
      outDir: dir,
      emptyOutDir: false,
      minify: false,
      target: 'es2022',
      lib: {
        entry: join(ROOT, 'e2e/wpt/chromium/install.ts'),
        formats: ['iife'],
        name: 'polysocketWptInstall',
        fileName: () => 'install.js',
      },
    },
  });
  return readFileSync(join(dir, 'install.js'), 'utf8');
}

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo, for --ignore-certificate-errors-spki-list. */
function spkiHash(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** The launch flags of a mode's browser. */
function chromiumArgs(mode: ChromiumMode, spki: string, httpPort: number): string[] {
  const maps = [...WPT_HOST_NAMES].map((host) => `MAP ${host} ${ADDRESS}`).join(', ');
  const args = CHROMIUM_ARGS.map((arg) =>
    // The WPT names first: the first rule that matches a name applies, and
    // the existing rules send every other name nowhere.
    arg.startsWith('--host-resolver-rules=')
      ? `--host-resolver-rules=${maps}, ${arg.slice('--host-resolver-rules='.length)}`
      : arg,
  );
  args.push(`--ignore-certificate-errors-spki-list=${spki}`);
  if (mode === 'chromium-webtransport') {
    const origins = [...WPT_HOST_NAMES].map((host) => `http://${host}:${httpPort}`);
    args.push(`--unsafely-treat-insecure-origin-as-secure=${origins.join(',')}`);
  }
  return args;
}

/** A job being run in a lane's page: where its report and its page's errors go. */
interface Current {
  readonly report: (report: PageReport) => void;
  readonly note: (line: string) => void;
}

/** A browser context with one page, reused for job after job while they end normally. */
interface Tab {
  readonly context: BrowserContext;
  readonly page: Page;
  current: Current | null;
}

/**
 * One of the runner's lanes: runs jobs one after the other, each mode in a
 * tab of its own kept from job to job: a new context per page costs more
 * CPU than most tests (a renderer each, testharness.js compiled afresh).
 * The next job's page replaces the last one, whose harness has completed,
 * so a report can only come from the job's own page. A job that did not
 * end normally (timeout, crash, error) leaves a fresh tab to the next; so
 * does one that left windows open.
 */
class Lane {
  readonly #browsers: Readonly<Record<ChromiumMode, Browser>>;
  readonly #tabs = new Map<ChromiumMode, Tab>();

  constructor(browsers: Readonly<Record<ChromiumMode, Browser>>) {
    this.#browsers = browsers;
  }

  async #tab(mode: ChromiumMode): Promise<Tab> {
    const existing = this.#tabs.get(mode);
    if (existing !== undefined) return existing;
    const context = await this.#browsers[mode].newContext();
    let tab: Tab | undefined;
    // Only the job's own page reports: not its frames or the windows it opens.
    await context.exposeBinding(REPORT_BINDING, (source, json: string) => {
      if (tab !== undefined && source.page === tab.page && source.frame === tab.page.mainFrame()) {
        tab.current?.report(JSON.parse(json) as PageReport);
      }
    });
    const page = await context.newPage();
    tab = { context, page, current: null };
    context.on('serviceworker', (worker) =>
      worker.on('console', (message) => {
        if (message.type() === 'error') tab!.current?.note(`[service worker console] ${message.text()}`);
      }),
    );
    const note = (line: string) => tab!.current?.note(line);
    page.on('pageerror', (error) => note(`[page error] ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') note(`[console] ${message.text()}`);
    });
    page.on('worker', (worker) =>
      worker.on('console', (message) => {
        if (message.type() === 'error') note(`[worker console] ${message.text()}`);
      }),
    );
    this.#tabs.set(mode, tab);
    return tab;
  }

  async #discard(mode: ChromiumMode): Promise<void> {
    const tab = this.#tabs.get(mode);
    this.#tabs.delete(mode);
    await tab?.context.close().catch(() => {});
  }

  /** Load the job's page and take its results. */
  async run(mode: ChromiumMode, job: WptJob): Promise<JobResult<ChromiumMode>> {
    const started = performance.now();
    const output: string[] = [];
    let outputLength = 0;
    const note = (line: string) => {
      if (outputLength >= MAX_OUTPUT) return;
      output.push(line);
      outputLength += line.length + 1;
    };
    const result = (harness: JobResult['harness'], report?: PageReport): JobResult<ChromiumMode> => ({
      mode,
      id: job.id,
      tests: (report?.tests ?? []).map((test) => ({
        name: test.name,
        status: TEST_STATUSES[test.status] ?? 'FAIL',
        message: test.message,
      })),
      harness,
      durationMs: Math.round(performance.now() - started),
      output: output.join('\n').slice(0, MAX_OUTPUT),
    });
    let clean = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const tab = await this.#tab(mode);
      let reported: (report: PageReport) => void = () => {};
      const report = new Promise<PageReport>((resolveReport) => (reported = resolveReport));
      tab.current = { report: reported, note };
      let failed: (why: string) => void = () => {};
      const failure = new Promise<string>((resolveFailure) => (failed = resolveFailure));
      const onCrash = () => failed('the page crashed');
      tab.page.once('crash', onCrash);
      const deadline = job.timeoutMs + GRACE_MS;
      const timedOut = new Promise<string>((resolveTimeout) => {
        timer = setTimeout(() => resolveTimeout('timeout'), deadline);
      });
      tab.page.goto(job.url, { waitUntil: 'commit', timeout: deadline }).catch((error: Error) => {
        failed(`navigation failed: ${error.message.split('\n')[0]}`);
      });
      const outcome = await Promise.race([report, failure, timedOut]);
      tab.page.off('crash', onCrash);
      tab.current = null;
      if (typeof outcome !== 'string') {
        clean = tab.context.pages().length === 1;
        // A page whose WebSocket is not the mode's would test the wrong thing.
        if (outcome.nativeWebSocket !== (mode === 'chromium-native')) {
          const which = outcome.nativeWebSocket ? "the browser's" : "not the browser's";
          return result({ status: 'ERROR', message: `the page's WebSocket was ${which} in mode ${mode}` });
        }
        return result(
          { status: HARNESS_STATUSES[outcome.harness.status] ?? 'ERROR', message: outcome.harness.message },
          outcome,
        );
      }
      if (outcome === 'timeout') {
        return result({ status: 'TIMEOUT', message: `no result from the page within ${deadline} ms` });
      }
      return result({ status: 'ERROR', message: outcome });
    } catch (error) {
      return result({ status: 'ERROR', message: `runner: ${String(error)}` });
    } finally {
      clearTimeout(timer);
      if (!clean) await this.#discard(mode);
    }
  }

  async close(): Promise<void> {
    await Promise.all(CHROMIUM_MODES.map((mode) => this.#discard(mode)));
  }
}

/**
 * Run `tasks` in `lanes`, each taking the next task when free, none started
 * after `deadline` (a `performance.now()` time): those are reported as not
 * run. Results in completion order.
 */
async function runAll(
  tasks: readonly { readonly mode: ChromiumMode; readonly job: WptJob }[],
  lanes: readonly Lane[],
  deadline: number,
): Promise<JobResult<ChromiumMode>[]> {
  const results: JobResult<ChromiumMode>[] = [];
  let next = 0;
  await Promise.all(
    lanes.map(async (lane) => {
      while (next < tasks.length && performance.now() < deadline) {
        const { mode, job } = tasks[next++]!;
        results.push(await lane.run(mode, job));
      }
    }),
  );
  for (const { mode, job } of tasks.slice(next)) {
    results.push({
      mode,
      id: job.id,
      tests: [],
      harness: { status: 'ERROR', message: "not run: the run's time bound passed before it started" },
      durationMs: 0,
      output: '',
    });
  }
  return results;
}

/** Run the suite in both modes and compare with the expectations; everything started is stopped. */
export async function runChromiumWpt(options: ChromiumRunOptions = {}): Promise<ChromiumWptRun> {
  const started = performance.now();
  const wptDir = options.wptDir ?? wptDirFromEnv();
  const filter = options.filter;
  const concurrency = options.concurrency ?? 6;
  const timeoutMultiplier = options.timeoutMultiplier ?? 2;
  const expectations = Object.fromEntries(
    CHROMIUM_MODES.map((mode) => [mode, loadExpectations(expectationsFile(mode), [mode])]),
  ) as Record<ChromiumMode, Expectations>;
  const dir = mkdtempSync(join(tmpdir(), 'polysocket-wpt-chromium-'));
  const certificates = makeCertificates();
  let servers: WptServers | undefined;
  let gateway: RunningGateway | undefined;
  const browsers: Browser[] = [];
  // Known once the gateway runs; the servers read it per request.
  let installScript: string | undefined;
  // A test worker that exits mid-run (a Playwright timeout) still takes the
  // gateway with it; pywebsocket3 dies with its parent by itself, and
  // Playwright closes the browsers it launched.
  const killGateway = () => gateway?.service.child.kill('SIGKILL');
  process.once('exit', killGateway);
  try {
    const [bundled, serving] = await Promise.allSettled([
      bundleInstall(dir),
      startServers(wptDir, certificates, [
        { name: 'chromium-native', respond: browserResponder({ timeoutMultiplier, install: null }) },
        {
          name: 'chromium-webtransport',
          respond: browserResponder({
            timeoutMultiplier,
            install: () => {
              if (installScript === undefined)
                throw new Error('install script requested before the gateway ran');
              return installScript;
            },
          }),
        },
      ]),
    ]);
    if (serving.status === 'fulfilled') servers = serving.value;
    if (bundled.status === 'rejected') throw bundled.reason;
    if (serving.status === 'rejected') throw serving.reason;
    const running = serving.value;
    const configs = Object.fromEntries(CHROMIUM_MODES.map((mode) => [mode, running.sites.get(mode)!]));
    const polysocketPorts = configs['chromium-webtransport']!.ports;
    gateway = await startGatewayProcess({
      allow: [
        polysocketPorts.ws[0]!,
        polysocketPorts.wss[0]!,
        polysocketPorts.http[0]!,
        polysocketPorts.https[0]!,
      ].map((port) => `${ADDRESS}:${port}`),
      // Every page and worker opens a session of its own, and a few pages run at once.
      args: [
        '--max-sessions-per-address',
        '256',
        '--max-sessions',
        '256',
        '--max-connections-per-address',
        '512',
        '--max-connections',
        '512',
      ],
    });
    const install: InstallConfig = {
      gateway: gateway.url,
      certificateHash: gateway.certificateHash,
      hosts: [...WPT_HOST_NAMES],
      address: ADDRESS,
    };
    installScript = `self.__polysocketWpt = ${JSON.stringify(install)};\n${bundled.value}`;

    const spki = spkiHash(certificates.cert);
    for (const mode of CHROMIUM_MODES) {
      browsers.push(
        await chromium.launch({
          executablePath: CHROMIUM_PATH,
          headless: true,
          args: chromiumArgs(mode, spki, configs[mode]!.ports.http[0]!),
          timeout: 60_000,
        }),
      );
    }
    const browserOf = Object.fromEntries(
      CHROMIUM_MODES.map((mode, index) => [mode, browsers[index]!]),
    ) as Record<ChromiumMode, Browser>;
    const manifests = Object.fromEntries(
      CHROMIUM_MODES.map((mode) => [
        mode,
        buildManifest(configs[mode]!, SUITE, expectations[mode], timeoutMultiplier, 'browser'),
      ]),
    ) as Record<ChromiumMode, Manifest>;
    // Long tests first, so that they overlap with the many short ones; the
    // modes interleaved, so that both browsers stay busy.
    const tasks = CHROMIUM_MODES.flatMap((mode) =>
      manifests[mode].jobs.filter((job) => matchesFilter(job.id, filter)).map((job) => ({ mode, job })),
    ).sort((a, b) => b.job.timeoutMs - a.job.timeoutMs || a.job.id.localeCompare(b.job.id));
    const lanes = Array.from({ length: Math.max(1, concurrency) }, () => new Lane(browserOf));
    let results: JobResult<ChromiumMode>[];
    try {
      results = await runAll(tasks, lanes, started + (options.boundMs ?? RUN_BOUND_MS));
    } finally {
      await Promise.all(lanes.map((lane) => lane.close()));
    }

    const comparisons = Object.fromEntries(
      CHROMIUM_MODES.map((mode) => {
        const ranIds = new Set(
          manifests[mode].jobs.filter((job) => matchesFilter(job.id, filter)).map((job) => job.id),
        );
        return [mode, compare(expectations[mode], mode, results, ranIds)];
      }),
    ) as Record<ChromiumMode, ModeComparison>;
    const order = new Map(manifests['chromium-native'].jobs.map((job, index) => [job.id, index]));
    const sorted = [...results].sort(
      (a, b) =>
        CHROMIUM_MODES.indexOf(a.mode) - CHROMIUM_MODES.indexOf(b.mode) ||
        (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0) ||
        a.id.localeCompare(b.id),
    );
    return {
      wptDir,
      filter,
      manifests,
      results: sorted,
      comparisons,
      unknownIds: Object.fromEntries(
        CHROMIUM_MODES.map((mode) => [
          mode,
          unknownIds(expectations[mode], new Set(manifests[mode].jobs.map((job) => job.id))),
        ]),
      ) as Record<ChromiumMode, string[]>,
      expectations,
      chromiumVersion: browsers[0]!.version(),
      durationMs: Math.round(performance.now() - started),
      serverLog: `${running.log()}\n--- gateway ---\n${gateway.service.lines.slice(-60).join('\n')}`,
    };
  } finally {
    await Promise.allSettled(browsers.map((browser) => browser.close()));
    await gateway?.stop();
    process.off('exit', killGateway);
    await servers?.close();
    certificates.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
