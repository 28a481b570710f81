/**
 * What the static server adds for a browser run, on top of the checkout's
 * files (resources.ts):
 *
 * - wpt serve's wrappers: `X.any.html`, `X.any.worker.html`,
 *   `X.any.sharedworker.html`, `X.any.serviceworker.html` and the worker
 *   script `X.any.worker.js` for an `X.any.js` file, `X.worker.html` for
 *   `X.worker.js`, `X.window.html` for `X.window.js`, with the file's
 *   `// META:` scripts, title and timeout;
 * - `/resources/testharnessreport.js`, the runner's: it sets the timeout
 *   multiplier and hands the page's results to the runner (a Playwright
 *   binding) once testharness.js completes;
 * - in the polysocket modes, a `<script>` that replaces the `WebSocket`
 *   global with polysocket's (`INSTALL_PATH`) at the top of every page it
 *   serves, and an `importScripts()` of it at the top of every worker
 *   script, so that it runs before any test script.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { metaLines } from '../manifest.js';
import { readResource, type WptConfig, type WptResource } from '../resources.js';

/** The script that installs polysocket's `WebSocket` (polysocket mode only). */
export const INSTALL_PATH = '/__polysocket/install.js';
/** The name of the Playwright binding testharnessreport.js reports to. */
export const REPORT_BINDING = '__wptReport';

/** What testharnessreport.js hands to the binding, as JSON. */
export interface PageReport {
  readonly tests: readonly {
    readonly name: string;
    readonly status: number;
    readonly message: string | null;
  }[];
  readonly harness: { readonly status: number; readonly message: string | null };
  /** Whether the page's `WebSocket` global was the browser's own when the harness completed. */
  readonly nativeWebSocket: boolean;
}

export interface PageOptions {
  /** testharness's `timeout_multiplier`, as wptrunner's --timeout-multiplier sets it. */
  readonly timeoutMultiplier: number;
  /**
   * The install script's text (served at `INSTALL_PATH`, and loaded first by
   * every page and worker), or null to leave the browser's `WebSocket`. A
   * function: the script is known only once the gateway runs, after the
   * servers started.
   */
  readonly install: (() => string) | null;
  /**
   * A JavaScript expression, evaluated when testharnessreport.js runs in a
   * top-level page, for the function that page's report (JSON) is handed
   * to once the harness completes; anything else, and the page does not
   * report (a window the test opened). Frames never report.
   * @defaultValue the Playwright binding {@link REPORT_BINDING}, unless the page has an opener
   */
  readonly reporter?: string;
  /**
   * Script text put at the top of every worker script, before the install
   * script's `importScripts()` (which it may need: a Trusted Types policy).
   * Only with `install`.
   */
  readonly workerPrelude?: string;
  /** How the service worker pages register their worker (wpt serve's wrapper by default). */
  readonly serviceWorkers?: {
    /**
     * Each page registers its worker for a scope of its own, not wpt
     * serve's `does/not/exist` shared by every page of a directory: for
     * pages of one origin that run at the same time in one profile, which
     * would unregister each other's workers.
     */
    readonly scopePerPage: boolean;
    /** How many times the page tries `register()` before its rejection fails the page. */
    readonly registerAttempts: number;
  };
}

const JS = 'text/javascript; charset=utf-8';
const HTML = 'text/html; charset=utf-8';

function text(contentType: string, body: string): WptResource {
  return { status: 200, headers: { 'content-type': contentType }, body: new TextEncoder().encode(body) };
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"]/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** The default of {@link PageOptions.reporter}. */
const BINDING_REPORTER = `self.opener ? null : self[${JSON.stringify(REPORT_BINDING)}]`;

/**
 * The runner's testharnessreport.js. Only the test's own page reports: not
 * its frames, not the windows it opens (they may load the harness too).
 */
function testharnessReport(timeoutMultiplier: number, reporter: string): string {
  return `// The browser runner's testharnessreport.js (e2e/wpt/chromium/pages.ts).
setup({ output: false, timeout_multiplier: ${timeoutMultiplier} });
(function () {
  if (self !== self.top) return;
  var report = (${reporter});
  if (typeof report !== 'function') return;
  add_completion_callback(function (tests, status) {
    var message = function (value) { return value === null || value === undefined ? null : String(value); };
    report(JSON.stringify({
      tests: tests.map(function (test) {
        return { name: String(test.name), status: test.status, message: message(test.message) };
      }),
      harness: { status: status.status, message: message(status.message) },
      nativeWebSocket: typeof WebSocket === 'function' && /\\[native code\\]/.test(Function.prototype.toString.call(WebSocket)),
    }));
  });
})();
`;
}

/** The `// META:` of a test script, as the wrappers use it. */
function meta(config: WptConfig, path: string) {
  const source = readResource(new URL(path, 'http://static/'), config);
  const lines = metaLines(new TextDecoder().decode(source.body));
  const values = (key: string) => lines.filter(([name]) => name === key).map(([, value]) => value);
  return {
    scripts: values('script'),
    title: values('title')[0] ?? null,
    long: values('timeout').includes('long'),
  };
}

/** The head of an HTML wrapper: title and timeout. */
function htmlMeta(info: ReturnType<typeof meta>): string {
  return [
    info.long ? '<meta name="timeout" content="long">' : '',
    info.title === null ? '' : `<title>${escapeHtml(info.title)}</title>`,
  ].join('\n');
}

/** wpt serve's page for a worker scope: testharness fetches the worker's results. */
function workerPage(info: ReturnType<typeof meta>, start: string): string {
  return `<!doctype html>
<meta charset=utf-8>
${htmlMeta(info)}
<script src="/resources/testharness.js"></script>
<script src="/resources/testharnessreport.js"></script>
<div id=log></div>
<script>
${start}
</script>
`;
}

/**
 * A page of the checkout with the install script first: after the doctype
 * (a script before it would put the page in quirks mode), as bytes, since
 * the page may not be UTF-8.
 */
function withInstallScript(resource: WptResource): WptResource {
  const page = Buffer.from(resource.body).toString('latin1');
  const doctype = /^\uFEFF?\s*(?:<!--[\s\S]*?-->\s*)*<!doctype[^>]*>/i.exec(page);
  const at = doctype === null ? 0 : doctype[0].length;
  const tag = `<script src="${INSTALL_PATH}"></script>`;
  const body = new Uint8Array(Buffer.from(page.slice(0, at) + tag + page.slice(at), 'latin1'));
  return { ...resource, body };
}

/**
 * The responder of a site (servers.ts `StaticSite.respond`): the wrappers,
 * testharnessreport.js and, with `install`, the install script and its
 * injection; undefined for anything else (the checkout's file as it is).
 */
export function browserResponder(
  options: PageOptions,
): (url: URL, config: WptConfig) => WptResource | undefined {
  return (url, config) => {
    const path = decodeURIComponent(url.pathname);
    const exists = (file: string) => existsSync(join(config.wptDir, file));
    const install = options.install;
    const installTag = install === null ? '' : `<script src="${INSTALL_PATH}"></script>\n`;
    const installImport =
      install === null
        ? ''
        : `${options.workerPrelude ?? ''}importScripts(${JSON.stringify(INSTALL_PATH)});\n`;
    if (path === INSTALL_PATH && install !== null) {
      // The same for the whole run: cached, so that every page does not fetch and compile it afresh.
      const script = text(JS, install());
      return { ...script, headers: { ...script.headers, 'cache-control': 'max-age=3600' } };
    }
    if (path === '/resources/testharnessreport.js')
      return text(JS, testharnessReport(options.timeoutMultiplier, options.reporter ?? BINDING_REPORTER));

    const any = /^(.*\.any)\.(html|worker\.html|sharedworker\.html|serviceworker\.html|worker\.js)$/.exec(
      path,
    );
    if (any !== null && exists(`${any[1]}.js`)) {
      const script = `${any[1]!.split('/').pop()}.js`;
      const info = meta(config, `${any[1]}.js`);
      // The worker script keeps the page's query: constants.sub.js reads the
      // variant from it. Taken from `location`, not from the request: a page
      // that is a file (a Chrome App's) is the same whatever the query.
      const worker = `${JSON.stringify(`${any[1]!.split('/').pop()}.worker.js`)} + location.search`;
      switch (any[2]) {
        case 'html':
          return text(
            HTML,
            `<!doctype html>
<meta charset=utf-8>
${installTag}${htmlMeta(info)}
<script>
self.GLOBAL = {
  isWindow: function() { return true; },
  isWorker: function() { return false; },
  isShadowRealm: function() { return false; },
};
</script>
<script src="/resources/testharness.js"></script>
<script src="/resources/testharnessreport.js"></script>
${info.scripts.map((src) => `<script src="${escapeHtml(src)}"></script>`).join('\n')}
<div id=log></div>
<script src="${escapeHtml(script)}"></script>
`,
          );
        case 'worker.html':
          return text(HTML, installTag + workerPage(info, `fetch_tests_from_worker(new Worker(${worker}));`));
        case 'sharedworker.html':
          return text(
            HTML,
            installTag + workerPage(info, `fetch_tests_from_worker(new SharedWorker(${worker}));`),
          );
        case 'serviceworker.html': {
          const registration = options.serviceWorkers ?? { scopePerPage: false, registerAttempts: 1 };
          const scope = JSON.stringify(
            registration.scopePerPage
              ? `does/not/exist/${any[1]!.split('/').pop()}${url.search.replace(/[^\w-]/g, '_')}`
              : 'does/not/exist',
          );
          const register =
            registration.registerAttempts <= 1
              ? `reg = await navigator.serviceWorker.register(${worker}, {scope});`
              : `for (let attempt = 1; ; attempt++) {
    try {
      reg = await navigator.serviceWorker.register(${worker}, {scope});
      break;
    } catch (error) {
      if (attempt >= ${registration.registerAttempts}) throw error;
    }
  }`;
          return text(
            HTML,
            installTag +
              workerPage(
                info,
                `(async function() {
  const scope = ${scope};
  let reg = await navigator.serviceWorker.getRegistration(scope);
  if (reg) await reg.unregister();
  ${register}
  fetch_tests_from_worker(reg.installing);
})();`,
              ),
          );
        }
        default:
          return text(
            JS,
            `${installImport}${info.title === null ? '' : `self.META_TITLE = ${JSON.stringify(info.title)};\n`}self.GLOBAL = {
  isWindow: function() { return false; },
  isWorker: function() { return true; },
  isShadowRealm: function() { return false; },
};
importScripts("/resources/testharness.js");
${info.scripts.map((src) => `importScripts(${JSON.stringify(src)});`).join('\n')}
importScripts(${JSON.stringify(script)});
done();
`,
          );
      }
    }

    const worker = /^(.*\.worker)\.html$/.exec(path);
    if (worker !== null && exists(`${worker[1]}.js`)) {
      const script = `${JSON.stringify(`${worker[1]!.split('/').pop()}.js`)} + location.search`;
      return text(
        HTML,
        installTag +
          workerPage(meta(config, `${worker[1]}.js`), `fetch_tests_from_worker(new Worker(${script}));`),
      );
    }

    const window = /^(.*\.window)\.html$/.exec(path);
    if (window !== null && exists(`${window[1]}.js`)) {
      const info = meta(config, `${window[1]}.js`);
      return text(
        HTML,
        `<!doctype html>
<meta charset=utf-8>
${installTag}${htmlMeta(info)}
<script src="/resources/testharness.js"></script>
<script src="/resources/testharnessreport.js"></script>
${info.scripts.map((src) => `<script src="${escapeHtml(src)}"></script>`).join('\n')}
<div id=log></div>
<script src="${escapeHtml(window[1]!.split('/').pop()!)}.js"></script>
`,
      );
    }

    if (install === null) return undefined;
    if (path.endsWith('.html')) {
      const resource = readResource(url, config);
      return resource.status === 200 ? withInstallScript(resource) : resource;
    }
    if (path.endsWith('.worker.js')) {
      const resource = readResource(url, config);
      if (resource.status !== 200) return resource;
      const body = new TextEncoder().encode(installImport + new TextDecoder().decode(resource.body));
      return { ...resource, body };
    }
    return undefined;
  };
}
