/**
 * polysocket's Node.js entry point (the `./node` export): the same API as
 * the browser entry, with TCP/TLS from `node:net`/`node:tls` as the default
 * transport. Also for Electron's main and preload processes.
 *
 * Only what this module exports is public API.
 */
import { NodeTransport, type NodeTransportOptions, nodeTransport } from './node/transport.js';
import { WebSocket as BaseWebSocket, type WebSocketOptions } from './websocket.js';

export { bindOptions } from './bind-options.js';
export { CloseEvent } from './events.js';
export {
  Transport,
  type TransportEvents,
  type TransportFactory,
  type TransportTarget,
} from './transports/transport.js';
export {
  type BinaryType,
  DEFAULT_MAX_MESSAGE_SIZE,
  type WebSocketInstance,
  type WebSocketOptions,
} from './websocket.js';
export { NodeTransport, type NodeTransportOptions, nodeTransport };

const defaultTransport = nodeTransport();

/**
 * WHATWG `WebSocket` that connects with {@link NodeTransport} unless
 * `options.transport` names another transport.
 */
export class WebSocket extends BaseWebSocket {
  /**
   * @param url - A `ws:`, `wss:`, `http:` or `https:` URL.
   * @param protocols - Subprotocols to offer, in order of preference.
   * @param options - Non-standard: transport, headers, limits and timeouts.
   *   For `wss:` with a private CA: `{ transport: nodeTransport({ tls: { ca } }) }`.
   * @throws DOMException "SyntaxError" if the URL or a subprotocol is invalid.
   */
  constructor(url: string | URL, protocols?: string | string[], options: WebSocketOptions = {}) {
    super(
      url,
      protocols,
      options.transport === undefined ? { ...options, transport: defaultTransport } : options,
    );
  }
}

for (const [name, value] of [
  ['CONNECTING', 0],
  ['OPEN', 1],
  ['CLOSING', 2],
  ['CLOSED', 3],
] as const) {
  Object.defineProperty(WebSocket, name, { value, enumerable: true, writable: false, configurable: false });
}
