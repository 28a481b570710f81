/**
 * The error hierarchy of the core.
 *
 * - Errors caused by the peer on an open connection are `ProtocolError`s and
 *   know the close code they fail the connection with.
 * - Errors in the opening handshake are `InvalidHandshakeError`s and know the
 *   HTTP status a server answers with (`statusHint`).
 * - Misuse of the API throws `InvalidStateError`, `ProtocolError` (sending
 *   frames out of order) or a `TypeError`/`RangeError` for bad arguments.
 *
 * `name` is a string literal in every class because minifiers rename classes.
 */
import {
  GOING_AWAY,
  INVALID_DATA,
  MESSAGE_TOO_BIG,
  NO_STATUS_RCVD,
  NORMAL_CLOSURE,
  PROTOCOL_ERROR,
} from './close-code.js';
import type { Response } from './http11.js';

/** Base class for every error raised by this library. */
export class WebSocketError extends Error {
  override readonly name: string = 'WebSocketError';
}

/**
 * The remote endpoint violated RFC 6455, or a frame broke a local limit.
 *
 * `closeCode` is the code sent in the close frame when this error fails the
 * connection (RFC 6455, section 7.4.1).
 */
export class ProtocolError extends WebSocketError {
  override readonly name: string = 'ProtocolError';
  readonly closeCode: number = PROTOCOL_ERROR;
}

/** An incoming frame or message exceeds a configured size limit (1009). */
export class PayloadTooBigError extends ProtocolError {
  override readonly name: string = 'PayloadTooBigError';
  override readonly closeCode: number = MESSAGE_TOO_BIG;
  /** Size that exceeded the limit, or `null` when unknown (compressed data, huge lengths). */
  readonly size: number | null;
  /** The limit that was exceeded. */
  readonly maxSize: number;

  constructor(size: number | null, maxSize: number, what = 'frame') {
    super(
      size === null
        ? `${what} exceeds limit of ${maxSize} bytes`
        : `${what} of ${size} bytes exceeds limit of ${maxSize} bytes`,
    );
    this.size = size;
    this.maxSize = maxSize;
  }
}

/** A text message or close reason is not valid UTF-8 (1007). */
export class InvalidUtf8Error extends ProtocolError {
  override readonly name: string = 'InvalidUtf8Error';
  override readonly closeCode: number = INVALID_DATA;
}

/** An operation is not allowed in the current connection state. */
export class InvalidStateError extends WebSocketError {
  override readonly name: string = 'InvalidStateError';
}

/** The byte stream ended before the closing handshake completed (1006, nothing sent). */
export class UnexpectedEofError extends WebSocketError {
  override readonly name: string = 'UnexpectedEofError';
}

/**
 * The connection is closed; `ok` tells whether both close frames were
 * exchanged with a normal code (websockets' `ConnectionClosedOK` versus
 * `ConnectionClosedError`).
 */
export class ConnectionClosedError extends WebSocketError {
  override readonly name: string = 'ConnectionClosedError';
  /** Close frame received, if any. */
  readonly rcvd: { readonly code: number; readonly reason: string } | null;
  /** Close frame sent, if any. */
  readonly sent: { readonly code: number; readonly reason: string } | null;
  /** Whether the close frame was received before one was sent; `null` if not both. */
  readonly rcvdThenSent: boolean | null;

  constructor(
    rcvd: { readonly code: number; readonly reason: string } | null,
    sent: { readonly code: number; readonly reason: string } | null,
    rcvdThenSent: boolean | null,
  ) {
    const formatClose = (close: { code: number; reason: string }) =>
      close.reason === '' ? `${close.code}` : `${close.code} (${close.reason})`;
    let message: string;
    if (rcvd === null && sent === null) message = 'no close frame received or sent';
    else if (rcvd === null) message = `sent ${formatClose(sent!)}; no close frame received`;
    else if (sent === null) message = `received ${formatClose(rcvd)}; no close frame sent`;
    else if (rcvdThenSent) message = `received ${formatClose(rcvd)}; then sent ${formatClose(sent)}`;
    else message = `sent ${formatClose(sent)}; then received ${formatClose(rcvd)}`;
    super(message);
    this.rcvd = rcvd;
    this.sent = sent;
    this.rcvdThenSent = rcvdThenSent;
  }

  /** Whether the connection closed normally: 1000 or 1001 both ways (1005 counts as normal). */
  get ok(): boolean {
    const normal = (code: number) =>
      code === NORMAL_CLOSURE || code === GOING_AWAY || code === NO_STATUS_RCVD;
    return this.rcvd !== null && this.sent !== null && normal(this.rcvd.code) && normal(this.sent.code);
  }
}

// ---------------------------------------------------------------------------
// Opening handshake

/**
 * The opening handshake failed. `statusHint` is the HTTP status a server
 * answers a request failing this way with.
 */
export class InvalidHandshakeError extends WebSocketError {
  override readonly name: string = 'InvalidHandshakeError';
  readonly statusHint: number = 400;
}

/** The bytes received are not a valid HTTP/1.1 request or response, or break a limit. */
export class InvalidMessageError extends InvalidHandshakeError {
  override readonly name: string = 'InvalidMessageError';
}

/** The request uses a method other than GET (405). */
export class InvalidMethodError extends InvalidMessageError {
  override readonly name: string = 'InvalidMethodError';
  override readonly statusHint: number = 405;
}

/** A header is missing or has an invalid value. */
export class InvalidHeaderError extends InvalidHandshakeError {
  override readonly name: string = 'InvalidHeaderError';
  /** Header name, as RFC 6455 spells it. */
  readonly header: string;
  /** The offending value; `null` when the header is missing. */
  readonly value: string | null;

  constructor(header: string, value: string | null = null, detail?: string) {
    super(
      detail ??
        (value === null
          ? `missing ${header} header`
          : value === ''
            ? `empty ${header} header`
            : `invalid ${header} header: ${value}`),
    );
    this.header = header;
    this.value = value;
  }
}

/** The `Connection` or `Upgrade` header does not ask for a WebSocket upgrade (426). */
export class InvalidUpgradeError extends InvalidHeaderError {
  override readonly name: string = 'InvalidUpgradeError';
  override readonly statusHint: number = 426;
}

/** `Sec-WebSocket-Version` is not 13 (426 with `Sec-WebSocket-Version: 13`). */
export class InvalidVersionError extends InvalidHeaderError {
  override readonly name: string = 'InvalidVersionError';
  override readonly statusHint: number = 426;
}

/** The `Origin` header is missing or not allowed (403). */
export class InvalidOriginError extends InvalidHeaderError {
  override readonly name: string = 'InvalidOriginError';
  override readonly statusHint: number = 403;
}

/** The server answered with a status other than 101; `response` holds status, headers and body. */
export class InvalidStatusError extends InvalidHandshakeError {
  override readonly name: string = 'InvalidStatusError';
  readonly response: Response;

  constructor(response: Response) {
    super(`server rejected WebSocket connection: HTTP ${response.status}`);
    this.response = response;
  }
}

/** Subprotocol or extension negotiation failed. */
export class NegotiationError extends InvalidHandshakeError {
  override readonly name: string = 'NegotiationError';
}

/** An extension's parameters are invalid or duplicated. */
export class InvalidParameterError extends NegotiationError {
  override readonly name: string = 'InvalidParameterError';
}
