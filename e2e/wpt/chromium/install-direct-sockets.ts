/**
 * The Direct Sockets mode's install script, bundled (IIFE) by the browser
 * runner and served at `INSTALL_PATH` to every page and worker of the
 * Isolated Web App before the test's scripts (direct-sockets-mode.ts):
 * replaces the `WebSocket`, `WebSocketStream` and `WebSocketError` globals
 * with polysocket's browser entry bound to a Direct Sockets (`TCPSocket`)
 * transport, straight to pywebsocket3 on 127.0.0.1.
 * `CloseEvent` stays the browser's (polysocket's events are the platform's
 * own where there is one).
 *
 * No cookie jar: `documentCookies` serves the page's own host only, and
 * the app's host (`isolated-app://<id>`) is never the WebSocket's.
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
import { directSocketsTransport } from '../../../src/transports/direct-sockets.js';

/** What the runner passes. */
export interface DirectSocketsInstallConfig {
  /** The WPT host names, which only the browser's resolver rules know. */
  readonly hosts: readonly string[];
  /** The address they stand for. */
  readonly address: string;
}

const config = (globalThis as { __polysocketWpt?: DirectSocketsInstallConfig }).__polysocketWpt;
if (config === undefined) throw new Error('polysocket WPT install: no self.__polysocketWpt');
const hosts = new Set(config.hosts);
const tcp = directSocketsTransport();
// The socket connects to the address, while the URL's host stays the Host
// header: as a page whose names are resolved by the system would.
const transport: TransportFactory = (target) =>
  tcp(hosts.has(target.host) ? { ...target, host: config.address } : target);

const options = { transport };
// As the platform defines interface objects: writable, configurable, not enumerable.
for (const [name, value] of [
  ['WebSocket', bindOptions(WebSocket, options)],
  ['WebSocketStream', bindOptions(WebSocketStream, options)],
  ['WebSocketError', WebSocketError],
] as const) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}
