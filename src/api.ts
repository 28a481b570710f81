/**
 * What every entry point exports besides its own `WebSocket` class: one
 * list, so that the entry points cannot drift apart.
 *
 * @internal
 */
export { bindOptions } from './bind-options.js';
export { type CookieJar, documentCookies } from './cookies.js';
export { CloseEvent } from './events.js';
export {
  WebSocketConnectionError,
  type WebSocketConnectionErrorOptions,
  type WebSocketErrorEvent,
  type WebSocketFailureKind,
} from './failure.js';
export {
  Transport,
  type TransportEvents,
  type TransportFactory,
  type TransportTarget,
} from './transports/transport.js';
export {
  type BinaryType,
  DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE,
  type WebSocketInstance,
  type WebSocketOptions,
} from './websocket.js';
export { WebSocketError, type WebSocketErrorOptions } from './websocket-error.js';
export type {
  WebSocketCloseInfo,
  WebSocketOpenInfo,
  WebSocketStreamOptions,
} from './websocket-stream.js';
