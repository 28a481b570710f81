/**
 * polysocket's smallest browser entry (the `./lite` export): the WHATWG
 * `WebSocket` without permessage-deflate, for bundles where every kilobyte
 * counts. Pass `{ transport }` in the third constructor argument; extensions
 * can still be given explicitly with `{ extensions }`.
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
