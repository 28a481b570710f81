/**
 * polysocket's browser entry point (the package's `.` export): the WHATWG
 * `WebSocket` over a transport you supply in the third constructor argument,
 * e.g. `new WebSocket(url, [], { transport })`, offering permessage-deflate
 * by default as browsers do (`polysocket/lite` leaves it out).
 *
 * Only what this module exports is public API.
 */
import { deriveWebSocket, deriveWebSocketStream } from './bind-options.js';
import { applyCompression } from './compression.js';
import { applyLogging } from './connection/logging.js';
import { WebSocket as BaseWebSocket, type WebSocketOptions } from './websocket.js';
import { WebSocketStream as BaseWebSocketStream } from './websocket-stream.js';

export * from './api.js';
export {
  type OpenedStreams,
  type StreamPair,
  StreamsTransport,
  type StreamsTransportOptions,
  streamsTransport,
} from './transports/streams.js';
export {
  type CertificateHash,
  GatewayError,
  GatewayStreamTransport,
  GatewayTlsFailure,
  type GatewayTlsInfo,
  type WebTransportTransportOptions,
  webTransportTransport,
} from './transports/webtransport.js';

// Pure: a bundle that imports only other exports of this entry drops the call.
/** WHATWG `WebSocket`; the third argument takes a transport and other options. */
export const WebSocket = /* @__PURE__ */ deriveWebSocket(BaseWebSocket, withDefaults);
export type WebSocket = BaseWebSocket;
/** `WebSocketStream`; the third argument takes a transport and other options, as `WebSocket`'s. */
export const WebSocketStream = /* @__PURE__ */ deriveWebSocketStream(BaseWebSocketStream, withDefaults);
export type WebSocketStream = BaseWebSocketStream;

/** This entry's options: permessage-deflate offered, and the `logger` prepared (polysocket/lite has neither). */
function withDefaults(options: WebSocketOptions): WebSocketOptions {
  return applyLogging(applyCompression(options));
}
