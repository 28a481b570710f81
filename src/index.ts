/**
 * polysocket's browser entry point (the package's `.` export): the WHATWG
 * `WebSocket` over a transport you supply in the third constructor argument,
 * e.g. `new WebSocket(url, [], { transport })`.
 *
 * Only what this module exports is public API.
 */
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
  WebSocket,
  type WebSocketInstance,
  type WebSocketOptions,
} from './websocket.js';
