/**
 * The extension interface (RFC 6455, section 9), after websockets'
 * `extensions/base.py`. An extension transforms frames after they are parsed
 * and before they are serialized; factories negotiate it in the opening
 * handshake. permessage-deflate (RFC 7692) plugs in here without touching the
 * core.
 */
import type { Frame } from '../frames.js';
import type { ExtensionParameter } from '../headers.js';

/** A negotiated extension, one per connection. */
export interface Extension {
  /** Extension token, as in `Sec-WebSocket-Extensions`. */
  readonly name: string;
  /**
   * Transform an incoming frame. Extensions are applied in the reverse order
   * of negotiation, and must clear the reserved bits they own.
   *
   * @param maxSize - Largest decoded payload allowed (what remains of
   *   `maxMessageSize` for this message); `null` means no limit.
   * @throws {@link ProtocolError} (or a subclass such as
   *   {@link PayloadTooBigError}) if the frame is invalid for this extension:
   *   the connection fails with the error's close code.
   */
  decode(frame: Frame, maxSize: number | null): Frame;
  /** Transform an outgoing frame. Extensions are applied in negotiation order. */
  encode(frame: Frame): Frame;
}

/** Client side of an extension's negotiation. */
export interface ClientExtensionFactory {
  /** Extension token. */
  readonly name: string;
  /** Parameters to offer in the request. */
  getRequestParams(): readonly ExtensionParameter[];
  /**
   * Accept the server's response parameters and build the extension.
   *
   * @param accepted - Extensions accepted so far, to detect conflicts.
   * @throws {@link NegotiationError} if the parameters are unacceptable.
   */
  processResponseParams(params: readonly ExtensionParameter[], accepted: readonly Extension[]): Extension;
}

/** Server side of an extension's negotiation. */
export interface ServerExtensionFactory {
  /** Extension token. */
  readonly name: string;
  /**
   * Answer an offer: the parameters to send back and the extension.
   *
   * @param accepted - Extensions accepted so far, to detect conflicts.
   * @throws {@link NegotiationError} to decline this offer (the server then
   *   considers the client's next offer).
   */
  processRequestParams(
    params: readonly ExtensionParameter[],
    accepted: readonly Extension[],
  ): readonly [response: readonly ExtensionParameter[], extension: Extension];
}
