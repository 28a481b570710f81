/**
 * The Chrome App mode's install script (mode-chrome-app.ts), bundled (IIFE)
 * and loaded first by every page and worker of the app, as install.ts is in
 * the WebTransport mode: replaces the `WebSocket`, `WebSocketStream` and
 * `WebSocketError` globals with polysocket's browser entry bound to its
 * chrome.sockets.tcp transport. A page uses its own `chrome.sockets.tcp`; a
 * worker, which has none, has the background page carry out its calls
 * (chrome-sockets-relay.ts). Either way the sockets are named after this
 * scope's owner lock, so that they are closed once the scope is gone.
 *
 * No `cookies` option: `document.cookie` does nothing in a Chrome App (it
 * reads as empty and ignores writes), and an app's page has no other view
 * of the browser's cookies.
 *
 * Mixed content: an app page's origin is `chrome-extension:`, a secure
 * context that is not `https:`. Chromium's own WebSocket connects to `ws:`
 * from it, and polysocket's check (src/client-context.ts) applies to
 * `https:` pages only, so nothing is passed for it.
 *
 * In a page, errors (uncaught exceptions, unhandled rejections, CSP
 * violations) are handed to the background page for the job's output.
 *
 * The runner puts the configuration in `self.__polysocketWpt` just before
 * this script, in the same file.
 */
import {
  bindOptions,
  type TransportFactory,
  WebSocket,
  WebSocketError,
  WebSocketStream,
} from '../../../src/index.js';
import { type ChromeLike, chromeSocketsTransport } from '../../../src/transports/chrome-sockets.js';
import { ownedChrome, relayedChrome, takeOwnership } from './chrome-sockets-relay.js';

/** What the runner passes. */
export interface ChromeAppInstallConfig {
  /** The WPT host names. */
  readonly hosts: readonly string[];
  /** The address they stand for (the browser's resolver maps them there too). */
  readonly address: string;
}

/** What a page hands to the background page besides its report (chrome-app-background.ts). */
export interface PageErrorMessage {
  readonly wptPageError: string;
  /** The app window's id. */
  readonly window: string;
}

interface AppChrome extends ChromeLike {
  readonly app?: { readonly window?: { current(): { readonly id: string } | null } };
  readonly runtime: ChromeLike['runtime'] & { sendMessage(message: unknown): void };
}

const config = (globalThis as { __polysocketWpt?: ChromeAppInstallConfig }).__polysocketWpt;
if (config === undefined) throw new Error('polysocket WPT install: no self.__polysocketWpt');
const hosts = new Set(config.hosts);
const ownership = takeOwnership();
const chrome = (globalThis as { chrome?: AppChrome }).chrome;
const viaChrome = chromeSocketsTransport({
  chrome: chrome?.sockets?.tcp === undefined ? relayedChrome(ownership) : ownedChrome(chrome, ownership),
});
// As in the WebTransport mode, the WPT names go to their address, while the
// URL's host stays the Host header (and the name TLS checks: the run's
// certificate covers the address too).
const transport: TransportFactory = (target) => {
  const connection = viaChrome(hosts.has(target.host) ? { ...target, host: config.address } : target);
  // Why a connection failed, which a WebSocket's error event does not say.
  connection.once('close', (error) => {
    if (error !== undefined) note(`[transport] ${target.url}: ${error.message}`);
  });
  return connection;
};
const options = { transport };
// As the platform defines interface objects: writable, configurable, not enumerable.
for (const [name, value] of [
  ['WebSocket', bindOptions(WebSocket, options)],
  ['WebSocketStream', bindOptions(WebSocketStream, options)],
  ['WebSocketError', WebSocketError],
] as const) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

/** A line of the job's output: a page's go to the background page, a worker's to its console. */
function note(line: string): void {
  const window = chrome?.app?.window?.current();
  if (chrome === undefined || window == null) {
    console.warn(line);
    return;
  }
  const message: PageErrorMessage = { wptPageError: line, window: window.id };
  chrome.runtime.sendMessage(message);
}

if (chrome?.app?.window?.current() != null && typeof addEventListener === 'function') {
  const where = self === self.top ? 'page' : `frame ${location.pathname}`;
  addEventListener('error', (event: ErrorEvent) => note(`[${where} error] ${event.message}`));
  addEventListener('unhandledrejection', (event: PromiseRejectionEvent) =>
    note(`[${where} unhandled rejection] ${String(event.reason)}`),
  );
  addEventListener('securitypolicyviolation', (event: SecurityPolicyViolationEvent) =>
    note(
      `[${where} CSP] ${event.effectiveDirective} blocked ${event.blockedURI || 'inline'} (${event.sourceFile}:${event.lineNumber})`,
    ),
  );
}
