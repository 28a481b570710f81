/**
 * permessage-deflate (RFC 7692), after websockets'
 * `extensions/permessage_deflate.py`: the negotiation of sections 5 and 7.1,
 * and the frame transform of sections 6 and 7.2.
 */
import { InvalidParameterError, NegotiationError, ProtocolError } from '../errors.js';
import { type Frame, frame, isControl, Opcode } from '../frames.js';
import type { ExtensionParameter } from '../headers.js';
import type { ClientExtensionFactory, Extension, ServerExtensionFactory } from './base.js';
import {
  createDeflateCodec,
  DecompressionError,
  type DeflateCodec,
  type DeflateCodecFactory,
} from './deflate-codec.js';

/** The extension token (RFC 7692, 7). */
const NAME = 'permessage-deflate';

/**
 * Default size below which messages are sent uncompressed. DEFLATE can't
 * shrink a few bytes (RFC 7692 7.2.3.1: "Hello" becomes 7 bytes), while a
 * 100-byte JSON message shrinks by half or more once the window holds
 * earlier messages; `ws` uses 1024, which leaves most chat-sized messages
 * uncompressed, `websockets` compresses everything.
 */
export const DEFAULT_COMPRESSION_THRESHOLD = 32;

/** Compression settings shared by both factories. */
export interface PerMessageDeflateCompressionOptions {
  /**
   * Messages whose first frame is smaller than this many bytes are sent
   * uncompressed (RFC 7692, 6: the "Per-Message Compressed" bit is per
   * message). `0` compresses every message.
   * @defaultValue 32 ({@link DEFAULT_COMPRESSION_THRESHOLD})
   */
  readonly threshold?: number;
  /**
   * Decide per message whether to compress, given its first frame (for
   * instance: not already-compressed media). Called only for messages at
   * least `threshold` bytes long. {@link PerMessageDeflate.skipNextMessage}
   * overrides it for one message.
   * @defaultValue compress every message that reaches `threshold`
   */
  readonly shouldCompress?: (first: Frame) => boolean;
  /** Compression level, 0 to 9. @defaultValue 6 */
  readonly level?: number;
  /** zlib's `memLevel`, 1 to 9: memory for the match finder. @defaultValue 8 */
  readonly memLevel?: number;
  /** The DEFLATE implementation. @defaultValue {@link createDeflateCodec} (pako) */
  readonly codec?: DeflateCodecFactory;
}

/** Negotiated parameters, from this endpoint's point of view. */
export interface PerMessageDeflateParams {
  /** The peer resets its window after each message. */
  readonly remoteNoContextTakeover: boolean;
  /** This endpoint resets its window after each message. */
  readonly localNoContextTakeover: boolean;
  /** The peer's window, 8 to 15 bits. */
  readonly remoteMaxWindowBits: number;
  /** This endpoint's window, 8 to 15 bits. */
  readonly localMaxWindowBits: number;
}

/**
 * A negotiated permessage-deflate extension (RFC 7692), one per connection.
 *
 * Incoming messages with RSV1 set on their first frame are inflated,
 * frame by frame, within the message size limit. Outgoing messages are
 * compressed unless their first frame is smaller than the threshold, the
 * `shouldCompress` option declines, or {@link skipNextMessage} was called.
 */
export class PerMessageDeflate implements Extension {
  readonly name = NAME;
  readonly remoteNoContextTakeover: boolean;
  readonly localNoContextTakeover: boolean;
  readonly remoteMaxWindowBits: number;
  readonly localMaxWindowBits: number;

  readonly #options: PerMessageDeflateCompressionOptions;
  readonly #threshold: number;
  #encoder: DeflateCodec | null = null;
  #decoder: DeflateCodec | null = null;
  /** Whether the message being received is compressed (websockets' `decode_cont_data`). */
  #decodeContData = false;
  /** Whether the message being sent is compressed. */
  #encodeContData = false;
  /** Whether a compressed message was received/sent since the last reset. */
  #decoderDirty = false;
  #encoderDirty = false;
  #skipNext = false;

  /** @throws RangeError if a parameter or option is out of range. */
  constructor(params: PerMessageDeflateParams, options: PerMessageDeflateCompressionOptions = {}) {
    checkWindowBits('remoteMaxWindowBits', params.remoteMaxWindowBits);
    checkWindowBits('localMaxWindowBits', params.localMaxWindowBits);
    this.remoteNoContextTakeover = params.remoteNoContextTakeover;
    this.localNoContextTakeover = params.localNoContextTakeover;
    this.remoteMaxWindowBits = params.remoteMaxWindowBits;
    this.localMaxWindowBits = params.localMaxWindowBits;
    this.#options = options;
    this.#threshold = options.threshold ?? DEFAULT_COMPRESSION_THRESHOLD;
    if (!Number.isSafeInteger(this.#threshold) || this.#threshold < 0)
      throw new RangeError('threshold must be a non-negative integer');
    // Validate level and memLevel now rather than on the first message.
    checkCompressionOptions(options);
  }

  /** Send the next message uncompressed, whatever its size (ws' `send(data, { compress: false })`). */
  skipNextMessage(): void {
    this.#skipNext = true;
  }

  decode(received: Frame, maxSize: number | null): Frame {
    if (isControl(received.opcode)) return received;
    if (received.opcode === Opcode.CONT) {
      // 6.1: "An endpoint MUST NOT set the "Per-Message Compressed" bit of
      // control frames and non-first fragments of a data message. An
      // endpoint receiving such a frame MUST _Fail the WebSocket
      // Connection_."
      if (received.rsv1) throw new ProtocolError('compressed bit set on a continuation frame');
      if (!this.#decodeContData) return received;
      if (received.fin) this.#decodeContData = false;
    } else {
      // 5.4: fragments of one message are not interleaved with another's;
      // fail before inflating anything of the intruder.
      if (this.#decodeContData) throw new ProtocolError('expected a continuation frame');
      // 6: "the "Per-Message Compressed" bit ... on the first frame".
      if (!received.rsv1) return received;
      this.#decodeContData = !received.fin;
      // 7.1.1: under *_no_context_takeover the sender "will not use the
      // LZ77 sliding window it used to process preceding messages".
      if (this.remoteNoContextTakeover && this.#decoderDirty) this.#decoder?.reset();
    }
    this.#decoderDirty = true;
    const decoder = (this.#decoder ??= this.#createCodec(this.remoteMaxWindowBits));
    let data: Uint8Array;
    try {
      // 7.2.2: append 00 00 ff ff to the payload of the whole message, i.e.
      // after its final frame, then inflate.
      data = decoder.decompress(received.data, maxSize, received.fin);
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw new DecompressionError('decompression failed', { cause: error });
    }
    return frame(received.opcode, data, received.fin, false, received.rsv2, received.rsv3);
  }

  encode(outgoing: Frame): Frame {
    if (isControl(outgoing.opcode)) return outgoing;
    if (outgoing.opcode === Opcode.CONT) {
      if (!this.#encodeContData) return outgoing;
      if (outgoing.fin) this.#encodeContData = false;
      // 6.1: the "Per-Message Compressed" bit is set on the first frame only.
      return frame(Opcode.CONT, this.#compress(outgoing.data, outgoing.fin), outgoing.fin, false);
    }
    const skip = this.#skipNext;
    this.#skipNext = false;
    if (skip || outgoing.data.byteLength < this.#threshold) return outgoing;
    const shouldCompress = this.#options.shouldCompress;
    if (shouldCompress !== undefined && !shouldCompress(outgoing)) return outgoing;
    if (this.localNoContextTakeover && this.#encoderDirty) this.#encoder?.reset();
    this.#encoderDirty = true;
    this.#encodeContData = !outgoing.fin;
    return frame(
      outgoing.opcode,
      this.#compress(outgoing.data, outgoing.fin),
      outgoing.fin,
      true,
      outgoing.rsv2,
      outgoing.rsv3,
    );
  }

  /** Human-readable summary, as in `Sec-WebSocket-Extensions` terms. */
  toString(): string {
    return (
      `PerMessageDeflate(remoteNoContextTakeover=${this.remoteNoContextTakeover}, ` +
      `localNoContextTakeover=${this.localNoContextTakeover}, ` +
      `remoteMaxWindowBits=${this.remoteMaxWindowBits}, localMaxWindowBits=${this.localMaxWindowBits})`
    );
  }

  #compress(data: Uint8Array, fin: boolean): Uint8Array {
    const encoder = (this.#encoder ??= this.#createCodec(this.localMaxWindowBits));
    const compressed = encoder.compress(data);
    // 7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail
    // end" of the message. Non-final frames keep theirs: the sync flush
    // makes each frame decodable on arrival.
    if (!fin) return compressed;
    if (endsWithEmptyStoredBlock(compressed)) return compressed.subarray(0, compressed.byteLength - 4);
    // Nothing new to flush gives no output at all. 7.2.1: "If the resulting
    // data does not end with an empty DEFLATE block with no compression
    // (the "BTYPE" bits are set to 00), append an empty DEFLATE block with
    // no compression to the tail end", then remove 4 octets: 00 remains
    // (7.2.3.6, "Generating an Empty Fragment").
    if (compressed.byteLength === 0) return new Uint8Array([0x00]);
    return compressed;
  }

  #createCodec(windowBits: number): DeflateCodec {
    const options = this.#options;
    const create = options.codec ?? createDeflateCodec;
    return create({
      windowBits,
      ...(options.level === undefined ? {} : { level: options.level }),
      ...(options.memLevel === undefined ? {} : { memLevel: options.memLevel }),
    });
  }
}

function endsWithEmptyStoredBlock(data: Uint8Array): boolean {
  const n = data.byteLength;
  return (
    n >= 4 && data[n - 4] === 0x00 && data[n - 3] === 0x00 && data[n - 2] === 0xff && data[n - 1] === 0xff
  );
}

function checkWindowBits(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 8 || value > 15)
    throw new RangeError(`${name} must be an integer between 8 and 15`);
}

function checkCompressionOptions(options: PerMessageDeflateCompressionOptions): void {
  if (
    options.level !== undefined &&
    (!Number.isInteger(options.level) || options.level < 0 || options.level > 9)
  )
    throw new RangeError('level must be an integer between 0 and 9');
  if (
    options.memLevel !== undefined &&
    (!Number.isInteger(options.memLevel) || options.memLevel < 1 || options.memLevel > 9)
  )
    throw new RangeError('memLevel must be an integer between 1 and 9');
  if (options.threshold !== undefined && (!Number.isSafeInteger(options.threshold) || options.threshold < 0))
    throw new RangeError('threshold must be a non-negative integer');
}

// ---------------------------------------------------------------------------
// Parameters (RFC 7692, 7.1)

/** The four parameters of an offer or a response; `null` when absent. */
export interface PerMessageDeflateOffer {
  readonly serverNoContextTakeover: boolean;
  readonly clientNoContextTakeover: boolean;
  readonly serverMaxWindowBits: number | null;
  /** `true`: present without a value, which only an offer may do (7.1.2.2). */
  readonly clientMaxWindowBits: number | true | null;
}

/**
 * 7.1.2.1: "The value MUST conform to the following ABNF.
 * `server-max-window-bits = 1*DIGIT`... the value ... MUST be an integer
 * value in the range of 8 to 15 inclusive" (quoted strings are unquoted by
 * the header parser). Leading zeros and signs are rejected.
 */
function parseWindowBits(name: string, value: string | null): number {
  if (value === null || !/^(?:[89]|1[0-5])$/.test(value)) {
    throw new InvalidParameterError(
      value === null
        ? `${name} requires a value between 8 and 15`
        : `invalid value for ${name}: ${value} (expected an integer between 8 and 15)`,
    );
  }
  return Number(value);
}

/**
 * Parse the parameters of an offer (`isOffer`) or a response.
 *
 * @throws {@link InvalidParameterError} for an unknown, duplicate or invalid
 *   parameter (7.1: "A server MUST decline an extension negotiation offer ...
 *   if ... the negotiation offer contains an extension parameter not defined
 *   for use in an offer", "has an extension parameter with an invalid value",
 *   or "includes multiple extension parameters with the same name"; a client
 *   fails the connection on such a response).
 */
export function parsePerMessageDeflateParams(
  params: readonly ExtensionParameter[],
  isOffer: boolean,
): PerMessageDeflateOffer {
  let serverNoContextTakeover = false;
  let clientNoContextTakeover = false;
  let serverMaxWindowBits: number | null = null;
  let clientMaxWindowBits: number | true | null = null;
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) throw new InvalidParameterError(`duplicate parameter: ${name}`);
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        // 7.1.1.1, 7.1.1.2: "This extension parameter has no value."
        if (value !== null) throw new InvalidParameterError(`${name} takes no value, got: ${value}`);
        if (name === 'server_no_context_takeover') serverNoContextTakeover = true;
        else clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        serverMaxWindowBits = parseWindowBits(name, value);
        break;
      case 'client_max_window_bits':
        // 7.1.2.2: "This parameter has no value or a decimal integer value"
        // in an offer; a response "MUST" give a value.
        clientMaxWindowBits = value === null && isOffer ? true : parseWindowBits(name, value);
        break;
      default:
        throw new InvalidParameterError(`unknown parameter: ${name}`);
    }
  }
  return { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits };
}

/** Build parameters in the order RFC 7692 lists them. */
export function buildPerMessageDeflateParams(offer: PerMessageDeflateOffer): ExtensionParameter[] {
  const params: ExtensionParameter[] = [];
  if (offer.serverNoContextTakeover) params.push(['server_no_context_takeover', null]);
  if (offer.clientNoContextTakeover) params.push(['client_no_context_takeover', null]);
  if (offer.serverMaxWindowBits !== null)
    params.push(['server_max_window_bits', String(offer.serverMaxWindowBits)]);
  if (offer.clientMaxWindowBits === true) params.push(['client_max_window_bits', null]);
  else if (offer.clientMaxWindowBits !== null)
    params.push(['client_max_window_bits', String(offer.clientMaxWindowBits)]);
  return params;
}

function checkOptionalWindowBits(name: string, value: number | null | undefined): void {
  if (value !== undefined && value !== null) checkWindowBits(name, value);
}

// ---------------------------------------------------------------------------
// Client

/** What a client offers, and how it compresses. */
export interface ClientPerMessageDeflateOptions extends PerMessageDeflateCompressionOptions {
  /** Ask the server not to use context takeover (7.1.1.1). @defaultValue false */
  readonly serverNoContextTakeover?: boolean;
  /** Announce that this client won't use context takeover (7.1.1.2). @defaultValue false */
  readonly clientNoContextTakeover?: boolean;
  /** Limit the server's window, 8 to 15 bits (7.1.2.1); `null`: no limit. @defaultValue null */
  readonly serverMaxWindowBits?: number | null;
  /**
   * This client's window (7.1.2.2): a number 8 to 15 to limit it, `true` to
   * let the server choose (a value-less parameter), `null` to leave the
   * parameter out, which keeps the server from limiting it.
   * @defaultValue true
   */
  readonly clientMaxWindowBits?: number | true | null;
}

/**
 * Client side of the negotiation: one offer. Several factories make
 * several offers, in order of preference; the client accepts the server's
 * response with the first factory that finds it acceptable.
 */
export class ClientPerMessageDeflateFactory implements ClientExtensionFactory {
  readonly name = NAME;
  readonly #offer: PerMessageDeflateOffer;
  readonly #options: ClientPerMessageDeflateOptions;

  /** @throws RangeError if a window size or compression option is out of range. */
  constructor(options: ClientPerMessageDeflateOptions = {}) {
    checkOptionalWindowBits('serverMaxWindowBits', options.serverMaxWindowBits);
    if (options.clientMaxWindowBits !== true)
      checkOptionalWindowBits('clientMaxWindowBits', options.clientMaxWindowBits);
    checkCompressionOptions(options);
    this.#offer = {
      serverNoContextTakeover: options.serverNoContextTakeover ?? false,
      clientNoContextTakeover: options.clientNoContextTakeover ?? false,
      serverMaxWindowBits: options.serverMaxWindowBits ?? null,
      clientMaxWindowBits: options.clientMaxWindowBits === undefined ? true : options.clientMaxWindowBits,
    };
    this.#options = options;
  }

  getRequestParams(): readonly ExtensionParameter[] {
    return buildPerMessageDeflateParams(this.#offer);
  }

  processResponseParams(
    params: readonly ExtensionParameter[],
    accepted: readonly Extension[],
  ): PerMessageDeflate {
    // RFC 6455 9.1 / RFC 7692 5: one permessage-deflate per connection.
    if (accepted.some((e) => e.name === NAME)) throw new NegotiationError(`received duplicate ${NAME}`);
    const offer = this.#offer;
    const response = parsePerMessageDeflateParams(params, false);

    // 7.1.1.1: "A server accepts an extension negotiation offer that
    // includes the "server_no_context_takeover" extension parameter by
    // including the "server_no_context_takeover" extension parameter in the
    // corresponding extension negotiation response".
    if (offer.serverNoContextTakeover && !response.serverNoContextTakeover)
      throw new NegotiationError('expected server_no_context_takeover in the response');

    // 7.1.1.2: the server may add client_no_context_takeover; once offered,
    // the client keeps its promise whatever the response says.
    const clientNoContextTakeover = offer.clientNoContextTakeover || response.clientNoContextTakeover;

    // 7.1.2.1: "A server accepts an extension negotiation offer with this
    // parameter by including the "server_max_window_bits" extension
    // parameter in the extension negotiation response to send back to the
    // client with the same or smaller value as the offer." Anything else
    // answers no offer of this factory.
    if (offer.serverMaxWindowBits !== null) {
      if (response.serverMaxWindowBits === null)
        throw new NegotiationError('expected server_max_window_bits in the response');
      if (response.serverMaxWindowBits > offer.serverMaxWindowBits)
        throw new NegotiationError(
          `server_max_window_bits=${response.serverMaxWindowBits} exceeds the offered ${offer.serverMaxWindowBits}`,
        );
    }

    // 7.1.2.2: "If a received extension negotiation offer doesn't have the
    // client_max_window_bits extension parameter, the corresponding
    // extension negotiation response to the offer MUST NOT include the
    // client_max_window_bits extension parameter."
    let clientMaxWindowBits = response.clientMaxWindowBits as number | null;
    if (offer.clientMaxWindowBits === null) {
      if (clientMaxWindowBits !== null)
        throw new NegotiationError('unexpected client_max_window_bits in the response');
    } else if (offer.clientMaxWindowBits !== true) {
      // An offered value is a promise: keep it if the response is silent;
      // a larger value in the response is invalid.
      if (clientMaxWindowBits === null) clientMaxWindowBits = offer.clientMaxWindowBits;
      else if (clientMaxWindowBits > offer.clientMaxWindowBits)
        throw new NegotiationError(
          `client_max_window_bits=${clientMaxWindowBits} exceeds the offered ${offer.clientMaxWindowBits}`,
        );
    }

    return new PerMessageDeflate(
      {
        remoteNoContextTakeover: response.serverNoContextTakeover,
        localNoContextTakeover: clientNoContextTakeover,
        remoteMaxWindowBits: response.serverMaxWindowBits ?? 15,
        localMaxWindowBits: clientMaxWindowBits ?? 15,
      },
      this.#options,
    );
  }
}

// ---------------------------------------------------------------------------
// Server

/** How a server answers offers, and how it compresses. */
export interface ServerPerMessageDeflateOptions extends PerMessageDeflateCompressionOptions {
  /** Never use context takeover when sending (answer with server_no_context_takeover). @defaultValue false */
  readonly serverNoContextTakeover?: boolean;
  /** Require the client not to use context takeover (answer with client_no_context_takeover). @defaultValue false */
  readonly clientNoContextTakeover?: boolean;
  /** Cap this server's window, 8 to 15 bits (answer with server_max_window_bits). @defaultValue null: 15, or what the client asks */
  readonly serverMaxWindowBits?: number | null;
  /**
   * Cap the client's window, 8 to 15 bits, when its offer allows it (answer
   * with client_max_window_bits).
   * @defaultValue null: the client's choice
   */
  readonly clientMaxWindowBits?: number | null;
  /**
   * Decline offers without client_max_window_bits rather than accept a
   * 15-bit client window. Needs `clientMaxWindowBits`.
   * @defaultValue false
   */
  readonly requireClientMaxWindowBits?: boolean;
  /**
   * Last say on each acceptable offer: return `false` to decline it (the
   * server then considers the client's next offer).
   * @defaultValue accept
   */
  readonly acceptOffer?: (offer: PerMessageDeflateOffer) => boolean;
}

/**
 * Server side of the negotiation: accepts the first acceptable offer
 * (RFC 6455 9.1: offers are in the client's order of preference) and
 * declines the rest.
 */
export class ServerPerMessageDeflateFactory implements ServerExtensionFactory {
  readonly name = NAME;
  readonly #options: ServerPerMessageDeflateOptions;

  /** @throws RangeError if a window size or compression option is out of range. */
  constructor(options: ServerPerMessageDeflateOptions = {}) {
    checkOptionalWindowBits('serverMaxWindowBits', options.serverMaxWindowBits);
    checkOptionalWindowBits('clientMaxWindowBits', options.clientMaxWindowBits);
    checkCompressionOptions(options);
    if (options.requireClientMaxWindowBits && (options.clientMaxWindowBits ?? null) === null)
      throw new RangeError('requireClientMaxWindowBits needs clientMaxWindowBits');
    this.#options = options;
  }

  processRequestParams(
    params: readonly ExtensionParameter[],
    accepted: readonly Extension[],
  ): readonly [response: readonly ExtensionParameter[], extension: PerMessageDeflate] {
    if (accepted.some((e) => e.name === NAME)) throw new NegotiationError(`skipped duplicate ${NAME}`);
    const options = this.#options;
    const offer = parsePerMessageDeflateParams(params, true);

    // 7.1.1.1: accepting server_no_context_takeover means answering with it;
    // the server may also use it unasked.
    const serverNoContextTakeover =
      offer.serverNoContextTakeover || (options.serverNoContextTakeover ?? false);

    // 7.1.1.2: "the server MAY include client_no_context_takeover in the
    // response" whether offered or not; answer with it when configured or
    // offered, so that both ends agree.
    const clientNoContextTakeover =
      offer.clientNoContextTakeover || (options.clientNoContextTakeover ?? false);

    // 7.1.2.1: the server's window: at most what the client offered, and
    // at most the configured cap.
    let serverMaxWindowBits = offer.serverMaxWindowBits;
    const serverCap = options.serverMaxWindowBits ?? null;
    if (serverCap !== null && (serverMaxWindowBits === null || serverMaxWindowBits > serverCap))
      serverMaxWindowBits = serverCap;

    // 7.1.2.2: the response may limit the client's window only if the
    // offer has client_max_window_bits, and not above an offered value.
    let clientMaxWindowBits: number | null;
    const clientCap = options.clientMaxWindowBits ?? null;
    if (offer.clientMaxWindowBits === null) {
      if (options.requireClientMaxWindowBits)
        throw new NegotiationError('required client_max_window_bits is missing from the offer');
      clientMaxWindowBits = null;
    } else if (offer.clientMaxWindowBits === true) {
      clientMaxWindowBits = clientCap;
    } else {
      clientMaxWindowBits =
        clientCap !== null && clientCap < offer.clientMaxWindowBits ? clientCap : offer.clientMaxWindowBits;
    }

    const response: PerMessageDeflateOffer = {
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits,
      clientMaxWindowBits,
    };
    if (options.acceptOffer !== undefined && !options.acceptOffer(offer))
      throw new NegotiationError(`declined ${NAME} offer`);
    return [
      buildPerMessageDeflateParams(response),
      new PerMessageDeflate(
        {
          remoteNoContextTakeover: clientNoContextTakeover,
          localNoContextTakeover: serverNoContextTakeover,
          remoteMaxWindowBits: clientMaxWindowBits ?? 15,
          localMaxWindowBits: serverMaxWindowBits ?? 15,
        },
        options,
      ),
    ];
  }
}

// ---------------------------------------------------------------------------
// Defaults

/**
 * Client defaults, as websockets' `enable_client_permessage_deflate`: offer
 * `permessage-deflate; client_max_window_bits`, compress with memLevel 5.
 */
export const DEFAULT_CLIENT_PERMESSAGE_DEFLATE: ClientPerMessageDeflateOptions = { memLevel: 5 };

/**
 * Server defaults, as websockets' `enable_server_permessage_deflate`: 12-bit
 * windows both ways (4 KiB instead of 32 KiB of history per direction and
 * connection) and memLevel 5, trading a little ratio for memory.
 */
export const DEFAULT_SERVER_PERMESSAGE_DEFLATE: ServerPerMessageDeflateOptions = {
  serverMaxWindowBits: 12,
  clientMaxWindowBits: 12,
  memLevel: 5,
};

/**
 * Add permessage-deflate with default settings to client extensions, unless
 * one is there already (perhaps with other settings).
 *
 * @param offers - Offers to make instead of the default one, in order of
 *   preference.
 */
export function enableClientPermessageDeflate(
  extensions: readonly ClientExtensionFactory[] = [],
  offers: readonly ClientPerMessageDeflateOptions[] = [DEFAULT_CLIENT_PERMESSAGE_DEFLATE],
): ClientExtensionFactory[] {
  if (extensions.some((f) => f.name === NAME)) return [...extensions];
  return [...extensions, ...offers.map((o) => new ClientPerMessageDeflateFactory(o))];
}

/**
 * Add permessage-deflate with default settings to server extensions, unless
 * one is there already (perhaps with other settings).
 */
export function enableServerPermessageDeflate(
  extensions: readonly ServerExtensionFactory[] = [],
  options: ServerPerMessageDeflateOptions = DEFAULT_SERVER_PERMESSAGE_DEFLATE,
): ServerExtensionFactory[] {
  if (extensions.some((f) => f.name === NAME)) return [...extensions];
  return [...extensions, new ServerPerMessageDeflateFactory(options)];
}
