/**
 * The polysocket mode's install script, bundled (IIFE) by the browser
 * runner and served at `INSTALL_PATH` to every page and worker before the
 * test's scripts: replaces the `WebSocket`, `WebSocketStream` and
 * `WebSocketError` globals with polysocket's browser entry bound to a
 * WebTransport transport through the run's gateway, with cookies through
 * `document.cookie`.
 * `CloseEvent` stays the browser's (polysocket's events are the platform's
 * own where there is one).
 *
 * The runner puts the configuration in `self.__polysocketWpt` just before
 * this script, in the same file.
 */
import {
  bindOptions,
  documentCookies,
  type TransportFactory,
  WebSocket,
  WebSocketError,
  WebSocketStream,
  webTransportTransport,
} from '../../../src/index.js';

/** What the runner passes. */
export interface InstallConfig {
  /** The gateway's `https:` URL. */
  readonly gateway: string;
  /** SHA-256 of its certificate, base64, for `serverCertificateHashes`. */
  readonly certificateHash: string;
  /** The WPT host names, which the gateway cannot resolve. */
  readonly hosts: readonly string[];
  /** The address they stand for (the browser maps them there too). */
  readonly address: string;
  /**
   * `'gateway'`: wss: through the gateway's TLS (webTransportTransport's
   * `tls`), verified against the run's CA, which the runner gives the
   * gateway (`--ca`). The server name stays the URL's WPT host name.
   */
  readonly tls?: 'gateway';
}

const config = (globalThis as { __polysocketWpt?: InstallConfig }).__polysocketWpt;
if (config === undefined) throw new Error('polysocket WPT install: no self.__polysocketWpt');
const hosts = new Set(config.hosts);
const viaGateway = webTransportTransport({
  gateway: config.gateway,
  serverCertificateHashes: [{ algorithm: 'sha-256', value: config.certificateHash }],
  ...(config.tls === undefined ? {} : { tls: config.tls }),
});
// The WPT names resolve only in the browser (its --host-resolver-rules): the
// gateway is asked for the address instead, while the URL's host stays the
// Host header.
const transport: TransportFactory = (target) =>
  viaGateway(hosts.has(target.host) ? { ...target, host: config.address } : target);

// Cookies through document.cookie (opt-in in polysocket), as a page that
// wants a browser's cookie behaviour would set it up.
const options = { transport, cookies: documentCookies };
// As the platform defines interface objects: writable, configurable, not enumerable.
for (const [name, value] of [
  ['WebSocket', bindOptions(WebSocket, options)],
  ['WebSocketStream', bindOptions(WebSocketStream, options)],
  ['WebSocketError', WebSocketError],
] as const) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}
