/**
 * polysocket's Node.js entry point (the `./node` export): the same API as
 * the browser entry, with TCP/TLS from `node:net`/`node:tls` as the default
 * transport. Also for Electron's main and preload processes.
 *
 * Only what this module exports is public API.
 */

import { deriveWebSocket, deriveWebSocketStream } from './bind-options.js';
import { applyCompression } from './compression.js';
import { applyLogging } from './connection/logging.js';
import { createNodeDeflateCodec } from './node/deflate-codec.js';
import { NodeTransport, type NodeTransportOptions, nodeTransport } from './node/transport.js';
import { WebSocket as BaseWebSocket, type WebSocketOptions } from './websocket.js';
import { WebSocketStream as BaseWebSocketStream } from './websocket-stream.js';

export * from './api.js';
/**
 * This entry's DEFLATE codec, native zlib: the `codec` option for
 * permessage-deflate extensions built by hand (`extensions`, or a server's
 * `ServerPerMessageDeflateFactory` from `polysocket/protocol`).
 */
export { createNodeDeflateCodec, NodeDeflateCodec } from './node/deflate-codec.js';
export {
  type ProxyConfig,
  type ProxyEnvironment,
  ProxyError,
  type ProxyErrorCode,
  ProxyTransport,
  type ProxyTransportOptions,
  parseProxyUrl,
  proxyForUrl,
  proxyTransport,
} from './transports/proxy.js';
export {
  type OpenedStreams,
  type StreamPair,
  StreamsTransport,
  type StreamsTransportOptions,
  streamsTransport,
} from './transports/streams.js';
export { NodeTransport, type NodeTransportOptions, nodeTransport };

// The calls of this module are pure: a bundle that imports only other
// exports of this entry drops them.
const defaultTransport = /* @__PURE__ */ nodeTransport();

/**
 * WHATWG `WebSocket` that connects with {@link NodeTransport} unless
 * `options.transport` names another transport, and offers permessage-deflate
 * unless `compression` is `false` (with native zlib, {@link createNodeDeflateCodec},
 * unless `compression.codec` names another codec), and logs to `logger` if given.
 * For `wss:` with a private CA: `{ transport: nodeTransport({ tls: { ca } }) }`.
 */
export const WebSocket = /* @__PURE__ */ deriveWebSocket(BaseWebSocket, withDefaults);
export type WebSocket = BaseWebSocket;
/** `WebSocketStream` with the same defaults as this entry's `WebSocket`. */
export const WebSocketStream = /* @__PURE__ */ deriveWebSocketStream(BaseWebSocketStream, withDefaults);
export type WebSocketStream = BaseWebSocketStream;

function withDefaults(options: WebSocketOptions): WebSocketOptions {
  return applyLogging(
    applyCompression(
      options.transport === undefined ? { ...options, transport: defaultTransport } : options,
      createNodeDeflateCodec,
    ),
  );
}
