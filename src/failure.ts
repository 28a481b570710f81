/**
 * Why a WebSocket connection failed, for the application.
 *
 * The WHATWG standard reports a failure as a bare `error` event ("fire an
 * event named error"), which tells a page nothing: browsers print the reason
 * to the console only. polysocket keeps that event exactly as the standard
 * makes it (an `Event`, `[object Event]`, not bubbling, not cancelable) and
 * adds two non-standard own properties, `error` and `message`, the way
 * `ErrorEvent` names them; the same error stays readable afterwards as the
 * socket's non-standard `failure` attribute.
 */

/**
 * What failed:
 * - `'transport'`: the byte stream could not be opened or failed before the
 *   opening handshake completed (refused, unreachable, TLS, a gateway's
 *   refusal, `wss:` over a transport without TLS);
 * - `'handshake'`: the server's handshake response was not a valid
 *   WebSocket upgrade (status, `Sec-WebSocket-Accept`, negotiation, a head
 *   that cannot be parsed), or the stream ended during the handshake;
 * - `'protocol'`: the peer broke RFC 6455 once connected (reserved bits or
 *   opcodes, invalid UTF-8, a message over `maxMessageSize`, …);
 * - `'timeout'`: no connection within `openTimeoutMs`;
 * - `'keepalive'`: no pong within `pongTimeoutMs` of a keepalive ping;
 * - `'aborted'`: `close()` was called before the connection was established;
 * - `'blob'`: a `Blob` passed to `send()` could not be read;
 * - `'blocked'`: the connection was refused before connecting, as fetch
 *   refuses it: the URL's port is one of fetch's bad ports.
 */
export type WebSocketFailureKind =
  | 'transport'
  | 'handshake'
  | 'protocol'
  | 'timeout'
  | 'keepalive'
  | 'aborted'
  | 'blob'
  | 'blocked';

/** Options of {@link WebSocketConnectionError}. */
export interface WebSocketConnectionErrorOptions {
  /** The close code sent to the peer, or 1006 when no close frame was sent. */
  readonly closeCode: number;
  /** The URL connected to, without user info. */
  readonly url: string;
  /** The underlying error: a transport's, or the protocol core's. */
  readonly cause?: unknown;
}

/**
 * Why the connection failed: the `error` property of a polysocket
 * `WebSocket`'s `error` event, and its `failure` attribute.
 */
export class WebSocketConnectionError extends Error {
  override readonly name: string = 'WebSocketConnectionError';
  /** What failed. */
  readonly kind: WebSocketFailureKind;
  /** The close code sent to the peer, or 1006 when no close frame was sent. */
  readonly closeCode: number;
  /** The URL connected to, without user info. */
  readonly url: string;

  constructor(kind: WebSocketFailureKind, message: string, options: WebSocketConnectionErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.closeCode = options.closeCode;
    this.url = options.url;
  }
}

/**
 * The `error` event of a polysocket `WebSocket`: a plain `Event` carrying
 * the reason. Read it with `(event as WebSocketErrorEvent).error`.
 */
export interface WebSocketErrorEvent extends Event {
  /** Non-standard: why the connection failed. */
  readonly error: WebSocketConnectionError;
  /** Non-standard: `error.message`. */
  readonly message: string;
}

/**
 * "Fire an event named error": a plain `Event`, as the standard says, with
 * the reason attached as read-only own properties.
 *
 * @internal
 */
export function createErrorEvent(failure: WebSocketConnectionError): WebSocketErrorEvent {
  const event = new Event('error');
  Object.defineProperty(event, 'error', { value: failure, enumerable: true });
  Object.defineProperty(event, 'message', { value: failure.message, enumerable: true });
  return event as WebSocketErrorEvent;
}
