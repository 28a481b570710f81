/**
 * The pages of a mode loaded inside a dev-mode Isolated Web App
 * (e2e/browser/support/iwa.ts installs it), where Direct Sockets
 * (`TCPSocket`) exist: the mode's own WPT site is the app's dev server, and
 * a job's page `http://web-platform.test:<port>/path?query` is loaded as
 * `isolated-app://<id>/path?query`.
 *
 * What the app's site serves on top of the mode's pages:
 *
 * - the web app manifest (with the permissions policy Direct Sockets
 *   needs) and its icon, and a start page at `/`;
 * - every HTML page with its inline scripts moved into external scripts
 *   of the site (external-scripts.ts): Chromium gives the app's responses
 *   a Content Security Policy of its own, whose
 *   `script-src 'self' 'wasm-unsafe-eval'` runs no inline script (nor
 *   event-handler attributes, `javascript:` URLs or `eval`).
 *
 * The same policy requires Trusted Types for scripts
 * (`require-trusted-types-for 'script'`): every string handed to a script
 * sink throws, among them `importScripts()` (in workers too), `new Worker()`,
 * `new SharedWorker()` and `navigator.serviceWorker.register()`, with which
 * wpt serve's wrappers start the tests. {@link TRUSTED_TYPES_PRELUDE}
 * makes a default policy that lets strings through, so that the pages run
 * as they do outside the app; it touches nothing of `WebSocket`. It runs
 * first in every page (with the install script) and every worker (before
 * its first `importScripts()`).
 *
 * The app lives in a persistent profile: every lane's pages share its one
 * context (lanes.ts `sharedContextPages`).
 */
import type { BrowserContext } from '@playwright/test';
import { IWA_ICON_PATH, IWA_MANIFEST_PATH, iwaAppFiles, launchIwa } from '../../browser/support/iwa.js';
import type { WptResource } from '../resources.js';
import type { StaticSite } from '../servers.js';
import { ExternalScripts } from './external-scripts.js';
import { type ModeHost, PageLane, sharedContextPages } from './lanes.js';

type Responder = NonNullable<StaticSite['respond']>;

/**
 * A Trusted Types default policy that hands every string through
 * unchanged, made once per global (a classic script, for pages and workers).
 */
export const TRUSTED_TYPES_PRELUDE = `if (self.trustedTypes && !self.trustedTypes.defaultPolicy) {
  // The app's CSP requires Trusted Types; the tests hand strings to script sinks (importScripts, new Worker).
  self.trustedTypes.createPolicy('default', {
    createHTML: function (value) { return value; },
    createScript: function (value) { return value; },
    createScriptURL: function (value) { return value; },
  });
}
`;

/** The app's start page (the manifest's `start_url`). */
const START_PAGE = `<!doctype html>
<meta charset=utf-8>
<title>polysocket: web-platform-tests over Direct Sockets</title>
<p>The web-platform-tests pages of this app are loaded by the runner.</p>
`;

function resource(contentType: string, body: string | Uint8Array): WptResource {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  return { status: 200, headers: { 'content-type': contentType }, body: new Uint8Array(bytes) };
}

/**
 * The responder of the app's site: `base`'s (the mode's pages), with
 * inline scripts moved out of every HTML page, plus the manifest, the icon
 * and the start page.
 */
export function iwaResponder(base: Responder): Responder {
  // Synchronous XMLHttpRequest: a test keeps its page busy with one.
  const { manifest, icon } = iwaAppFiles('polysocket web-platform-tests', 'polysocket WPT', {
    'sync-xhr': ['self'],
  });
  const scripts = new ExternalScripts();
  return (url, config) => {
    const path = decodeURIComponent(url.pathname);
    if (path === IWA_MANIFEST_PATH) return resource('application/manifest+json', manifest);
    if (path === IWA_ICON_PATH) return resource('image/png', icon);
    if (path === '/') return resource('text/html; charset=utf-8', START_PAGE);
    const moved = scripts.resource(path);
    if (moved !== undefined) return moved;
    const answer = base(url, config);
    if (answer === undefined || answer.status !== 200) return answer;
    if (!/^text\/html\b/i.test(answer.headers['content-type'] ?? '')) return answer;
    return { ...answer, body: scripts.rewriteBytes(answer.body) };
  };
}

/** Where a job's page is in the app: the same path and query, on the app's origin. */
export function appUrl(origin: string, pageUrl: string): string {
  const url = new URL(pageUrl);
  return `${origin}${url.pathname}${url.search}`;
}

/**
 * Install the app from `site` (the mode's site, `http://127.0.0.1:<port>/`)
 * into a Chromium of its own, launched with `args`, and wait until a page
 * of it runs with Direct Sockets; its lanes load the jobs' pages in it.
 */
export async function launchIwaHost(
  mode: string,
  site: string,
  args: readonly string[],
  native: boolean,
): Promise<ModeHost> {
  // Chromium 150 (without its field trials, which Playwright turns off)
  // exposes TCPSocket to windows and dedicated workers only; the suite
  // also runs in shared and service workers.
  const iwa = await launchIwa(site, {
    args,
    features: ['DirectSocketsInSharedWorkers', 'DirectSocketsInServiceWorkers'],
  });
  try {
    await firstNavigation(iwa.context, iwa.origin);
    const source = await sharedContextPages(iwa.context);
    return {
      version: iwa.context.browser()?.version() ?? 'unknown',
      lane: () => new PageLane(mode, source, (job) => appUrl(iwa.origin, job.url), native),
      close: () => iwa.close(),
    };
  } catch (error) {
    await iwa.close();
    throw error;
  }
}

/**
 * Load the start page, retried (right after the install the first
 * navigation may still fail), and check that it is the app's: isolated,
 * with `TCPSocket`.
 */
async function firstNavigation(context: BrowserContext, origin: string): Promise<void> {
  const page = await context.newPage();
  try {
    const errors: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await page.goto(`${origin}/`, { timeout: 20_000 });
        const state = await page.evaluate(() => ({
          isolated: crossOriginIsolated,
          tcp: typeof (globalThis as { TCPSocket?: unknown }).TCPSocket,
        }));
        if (state.isolated && state.tcp === 'function') return;
        throw new Error(`the app's page is not isolated or has no TCPSocket: ${JSON.stringify(state)}`);
      } catch (error) {
        errors.push(`attempt ${attempt}: ${error instanceof Error ? error.message.split('\n')[0] : error}`);
        // A moment for the install to settle before the next attempt.
        await page.waitForTimeout(1000);
      }
    }
    throw new Error(`the Isolated Web App's start page did not load:\n${errors.join('\n')}`);
  } finally {
    await page.close().catch(() => {});
  }
}
