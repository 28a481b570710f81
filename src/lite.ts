/**
 * polysocket's smallest browser entry (the `./lite` export): the WHATWG
 * `WebSocket` without permessage-deflate, for bundles where every kilobyte
 * counts. Pass `{ transport }` in the third constructor argument; extensions
 * can still be given explicitly with `{ extensions }`.
 *
 * Only what this module exports is public API.
 */
export * from './api.js';
export { WebSocket } from './websocket.js';
export { WebSocketStream } from './websocket-stream.js';
