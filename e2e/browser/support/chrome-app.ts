/**
 * A Chrome App for the chrome.sockets.tcp tests (chrome-sockets.spec.ts)
 * and the WPT run's Chrome App mode (e2e/wpt/chromium/mode-chrome-app.ts):
 * the API exists only for Chrome Apps.
 *
 * - The app's background script (pages/chrome-app.ts, with polysocket from
 *   src/) is bundled by Vite into one classic script: an app's background
 *   scripts are not modules.
 * - The app is an MV2 "app" manifest with the `sockets.tcp.connect`
 *   permission, written to a temporary directory and loaded unpacked with
 *   `--load-extension` (Playwright's default `--disable-extensions` is
 *   dropped). Chromium 150 still runs such apps. Its id (`chrome-extension://<id>`)
 *   derives from the directory's path, as the manifest has no "key".
 * - Chromium is launched as a persistent context with a fresh user-data dir
 *   of its own (deleted on close), so it is a browser separate from the
 *   other specs'.
 * - Playwright does not list an app's background page (not as a page, not in
 *   `backgroundPages()`), so the tests drive it over raw CDP: the browser
 *   session's `Target.attachToTarget` (not flattened) and `Runtime.evaluate`
 *   sent through `Target.sendMessageToTarget`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type CDPSession, chromium } from '@playwright/test';
import { build } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The background script of the app. */
const ENTRY = fileURLToPath(new URL('../pages/chrome-app.ts', import.meta.url));

/** Bundle pages/chrome-app.ts (and polysocket from src/) into one classic script. */
export async function bundleChromeAppScript(): Promise<string> {
  const result = await build({
    configFile: false,
    root: ROOT,
    logLevel: 'silent',
    // package.json marks the package's modules as free of side effects: the
    // pages, imported for theirs, are marked as having some.
    plugins: [
      {
        name: 'e2e-pages-have-side-effects',
        transform: (code: string, id: string) =>
          id.includes('/e2e/browser/pages/') ? { code, moduleSideEffects: true } : null,
      },
    ],
    build: {
      write: false,
      minify: false,
      target: 'es2022',
      emptyOutDir: false,
      lib: { entry: ENTRY, formats: ['iife'], name: 'polysocketChromeApp', fileName: 'background' },
    },
  });
  for (const output of Array.isArray(result) ? result : [result]) {
    if (!('output' in output)) continue;
    for (const item of output.output) if (item.type === 'chunk' && item.isEntry) return item.code;
  }
  throw new Error('vite build of pages/chrome-app.ts produced no entry chunk');
}

/** Chromium with the app loaded, and a way to run code in its background page. */
export interface RunningChromeApp {
  readonly context: BrowserContext;
  /** The browser's version. */
  readonly version: string;
  /** `chrome-extension://<id>` */
  readonly origin: string;
  /**
   * Run `fn(arg)` in the background page and return its (JSON) result, as
   * `page.evaluate()` does. Rejects with the exception's text if it throws.
   */
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  /**
   * What the background page logged since the attach: console errors and
   * warnings, uncaught exceptions, and Chrome's own log entries (e.g.
   * "Unchecked runtime.lastError"), as `level: text`.
   */
  readonly messages: string[];
  close(): Promise<void>;
}

interface TargetInfo {
  readonly targetId: string;
  readonly type: string;
  readonly url: string;
}

interface RuntimeResult {
  readonly result?: { readonly value?: unknown };
  readonly exceptionDetails?: {
    readonly text?: string;
    readonly exception?: { readonly description?: string };
  };
}

/** The manifest of a Chrome App whose background page runs `background.js`, with chrome.sockets.tcp. */
export function chromeAppManifest(name: string): string {
  return JSON.stringify({
    manifest_version: 2,
    name,
    version: '1.0',
    app: { background: { scripts: ['background.js'] } },
    sockets: { tcp: { connect: '*' } },
  });
}

/** Options of {@link launchChromeApp} and {@link launchChromeAppDir}. */
export interface LaunchChromeAppOptions {
  /** How long to wait for the background page to be ready. @defaultValue `30000` */
  readonly readyTimeoutMs?: number;
  /** Chromium's switches, before the app's own. @defaultValue `CHROMIUM_ARGS` */
  readonly args?: readonly string[];
}

/** Launch Chromium with the app, attach to its background page and wait until the script is ready. */
export async function launchChromeApp(
  script: string,
  options: LaunchChromeAppOptions = {},
): Promise<RunningChromeApp> {
  const appDir = mkdtempSync(join(tmpdir(), 'polysocket-chrome-app-'));
  const removeApp = () => rmSync(appDir, { recursive: true, force: true, maxRetries: 3 });
  try {
    writeFileSync(join(appDir, 'manifest.json'), chromeAppManifest('polysocket e2e (chrome.sockets.tcp)'));
    writeFileSync(join(appDir, 'background.js'), script);
    const app = await launchChromeAppDir(appDir, options);
    return {
      ...app,
      close: async () => {
        await app.close();
        removeApp();
      },
    };
  } catch (error) {
    removeApp();
    throw error;
  }
}

/**
 * Launch Chromium with the unpacked app in `appDir` (its manifest and
 * scripts written by the caller, which also removes it), in a fresh
 * profile of its own (removed on close), attach to the background page and
 * wait until its script set `chromeAppReady`.
 */
export async function launchChromeAppDir(
  appDir: string,
  options: LaunchChromeAppOptions = {},
): Promise<RunningChromeApp> {
  const profile = mkdtempSync(join(tmpdir(), 'polysocket-chrome-app-profile-'));
  let context: BrowserContext | undefined;
  const close = async () => {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
  };
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      timeout: 60_000,
      ignoreDefaultArgs: ['--disable-extensions'],
      args: [
        ...(options.args ?? CHROMIUM_ARGS),
        `--load-extension=${appDir}`,
        `--disable-extensions-except=${appDir}`,
      ],
    });
    const browser = context.browser();
    if (browser === null) throw new Error('no browser behind the persistent context');
    const cdp = await browser.newBrowserCDPSession();
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    const target = await findBackgroundPage(cdp, deadline);
    const { evaluate, messages } = await attach(cdp, target.targetId);
    // The script defines chromeAppReady once it ran.
    for (;;) {
      const ready = await evaluate(
        () => (globalThis as { chromeAppReady?: boolean }).chromeAppReady === true,
        null,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error("the app's background script did not get ready");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // new URL().origin is "null" for chrome-extension: URLs in Node.
    const origin = /^chrome-extension:\/\/[^/]+/.exec(target.url)?.[0] ?? target.url;
    return { context, version: browser.version(), origin, evaluate, messages, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The app's background page target (`chrome-extension://<id>/_generated_background_page.html`). */
async function findBackgroundPage(cdp: CDPSession, deadline: number): Promise<TargetInfo> {
  for (;;) {
    const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: TargetInfo[] };
    const page = targetInfos.find(
      (info) => info.type === 'background_page' && info.url.endsWith('/_generated_background_page.html'),
    );
    if (page !== undefined) return page;
    if (Date.now() > deadline) {
      throw new Error(
        `no background page of the app; targets: ${JSON.stringify(targetInfos.map((t) => [t.type, t.url]))}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Attach to `targetId`: an evaluate() that runs functions there, and what the page logs. */
async function attach(
  cdp: CDPSession,
  targetId: string,
): Promise<{ evaluate: RunningChromeApp['evaluate']; messages: string[] }> {
  const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: false })) as {
    sessionId: string;
  };
  let nextId = 1;
  const pending = new Map<
    number,
    (message: { result?: RuntimeResult; error?: { message: string } }) => void
  >();
  const messages: string[] = [];
  cdp.on('Target.receivedMessageFromTarget', (event: { sessionId: string; message: string }) => {
    if (event.sessionId !== sessionId) return;
    const message = JSON.parse(event.message) as {
      id?: number;
      method?: string;
      params?: Record<string, unknown>;
      result?: RuntimeResult;
      error?: { message: string };
    };
    if (message.id === undefined) {
      const logged = logLine(message.method, message.params);
      if (logged !== null) messages.push(logged);
      return;
    }
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  cdp.on('Target.detachedFromTarget', (event: { sessionId: string }) => {
    if (event.sessionId !== sessionId) return;
    for (const reply of pending.values()) reply({ error: { message: 'detached from the background page' } });
    pending.clear();
  });
  const send = (method: string, params: object = {}) =>
    cdp.send('Target.sendMessageToTarget', {
      sessionId,
      message: JSON.stringify({ id: nextId++, method, params }),
    });
  await send('Runtime.enable');
  await send('Log.enable');
  const evaluate = async <R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R> => {
    const id = nextId++;
    const expression = `(${fn.toString()})(${JSON.stringify(arg)})`;
    const reply = new Promise<{ result?: RuntimeResult; error?: { message: string } }>((resolve) =>
      pending.set(id, resolve),
    );
    await cdp.send('Target.sendMessageToTarget', {
      sessionId,
      message: JSON.stringify({
        id,
        method: 'Runtime.evaluate',
        params: { expression, awaitPromise: true, returnByValue: true },
      }),
    });
    const { result, error } = await reply;
    if (error !== undefined) throw new Error(`Runtime.evaluate failed: ${error.message}`);
    if (result?.exceptionDetails !== undefined) {
      const details = result.exceptionDetails;
      throw new Error(details.exception?.description ?? details.text ?? 'exception in the background page');
    }
    return result?.result?.value as R;
  };
  return { evaluate, messages };
}

/** A console error or warning, an uncaught exception or a log entry, as `level: text`; else null. */
function logLine(method: string | undefined, params: Record<string, unknown> | undefined): string | null {
  if (method === 'Runtime.consoleAPICalled') {
    const { type, args } = params as { type: string; args: Array<{ value?: unknown; description?: string }> };
    if (type !== 'error' && type !== 'warning') return null;
    return `${type}: ${args.map((arg) => arg.description ?? String(arg.value)).join(' ')}`;
  }
  if (method === 'Runtime.exceptionThrown') {
    const { exceptionDetails } = params as {
      exceptionDetails: { text: string; exception?: { description?: string } };
    };
    return `exception: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`;
  }
  if (method === 'Log.entryAdded') {
    const { entry } = params as { entry: { level: string; text: string } };
    return entry.level === 'error' || entry.level === 'warning' ? `${entry.level}: ${entry.text}` : null;
  }
  return null;
}
