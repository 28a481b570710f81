/**
 * WebSocket frames (RFC 6455, section 5): the `Frame` type, a restartable
 * parser over a `ByteQueue`, and a serializer that masks while copying.
 */
import type { ByteQueue } from './byte-queue.js';
import { PayloadTooBigError, ProtocolError } from './errors.js';
import { MAX_CONTROL_PAYLOAD } from './limits.js';
import { applyMask, MASK_AT_LIMIT, maskAt, maskInto } from './mask.js';
import { allocUninitialized } from './platform.js';

/** Opcode values for WebSocket frames (RFC 6455, section 5.2). */
export const Opcode = {
  CONT: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/**
 * A WebSocket frame.
 *
 * The MASK bit, payload length and masking key are handled while parsing and
 * serializing. Every frame has every field, so that all frames share one
 * object shape.
 */
export interface Frame {
  readonly kind: 'frame';
  readonly opcode: Opcode;
  /** Payload, unmasked. Owned by whoever receives the frame. */
  readonly data: Uint8Array;
  readonly fin: boolean;
  readonly rsv1: boolean;
  readonly rsv2: boolean;
  readonly rsv3: boolean;
}

/** Build a frame; the one factory, so that every frame has the same shape. */
export function frame(
  opcode: Opcode,
  data: Uint8Array,
  fin = true,
  rsv1 = false,
  rsv2 = false,
  rsv3 = false,
): Frame {
  return { kind: 'frame', opcode, data, fin, rsv1, rsv2, rsv3 };
}

/** Whether `opcode` is a control opcode (RFC 6455, section 5.5). */
export function isControl(opcode: Opcode): boolean {
  return opcode >= 0x8;
}

export interface ParseFrameOptions {
  /** Whether incoming frames must be masked, i.e. whether this is a server. */
  readonly mask: boolean;
  /** Maximum payload size in bytes; `null` disables the limit. */
  readonly maxSize: number | null;
  /**
   * Called with the header of a data frame whose header is checked and
   * buffered but whose payload is not complete yet (the protocol validates
   * text as it arrives).
   */
  readonly incomplete?: ((header: FrameHeader) => void) | undefined;
}

// 2 ** 53 - 1 is the largest safe integer: reject 64-bit lengths above it.
const MAX_SAFE_HIGH_WORD = 2 ** 21 - 1;

/**
 * Parse one frame from the front of `queue`, unmasking its payload in place.
 *
 * Returns `null`, consuming nothing, when the queue doesn't hold a whole
 * frame yet. Call again after pushing more data. Limits and control-frame
 * rules are checked as soon as the header is known, before waiting for the
 * payload. Reserved bits are not checked here: extensions may use them, so
 * the protocol checks them after decoding (see {@link checkReservedBits}).
 *
 * @throws {@link ProtocolError} if the frame violates RFC 6455.
 * @throws {@link PayloadTooBigError} if the payload exceeds `maxSize`.
 */
export function parseFrame(queue: ByteQueue, options: ParseFrameOptions): Frame | null {
  const available = queue.length;
  if (available < 2) return null;
  const head1 = queue.peek(0);
  const head2 = queue.peek(1);

  const opcode = head1 & 0b00001111;
  // 5.2: "If an unknown opcode is received, the receiving endpoint MUST
  // _Fail the WebSocket Connection_."
  if (!isOpcode(opcode)) throw new ProtocolError(`invalid opcode: 0x${opcode.toString(16)}`);
  const fin = (head1 & 0b10000000) !== 0;
  // 5.1: "The server MUST close the connection upon receiving a frame that is
  // not masked." and "A client MUST close a connection if it detects a
  // masked frame."
  const masked = (head2 & 0b10000000) !== 0;
  if (masked !== options.mask) throw new ProtocolError('incorrect masking');

  let length = head2 & 0b01111111;
  let headerLength = 2;
  if (length === 126) {
    if (available < 4) return null;
    length = (queue.peek(2) << 8) | queue.peek(3);
    headerLength = 4;
  } else if (length === 127) {
    if (available < 10) return null;
    const high = readUint32(queue, 2);
    // 5.2: "the most significant bit MUST be 0"
    if (high >= 0x80000000) throw new ProtocolError('invalid 64-bit payload length');
    if (high > MAX_SAFE_HIGH_WORD) throw new PayloadTooBigError(null, Number.MAX_SAFE_INTEGER);
    length = high * 2 ** 32 + readUint32(queue, 6);
    headerLength = 10;
  }
  if (opcode >= 0x8) {
    // 5.5: "All control frames MUST have a payload length of 125 bytes or
    // less and MUST NOT be fragmented."
    if (length > MAX_CONTROL_PAYLOAD) throw new ProtocolError('control frame too long');
    if (!fin) throw new ProtocolError('fragmented control frame');
  }
  // Limits bound data frames; control frames are bounded by 125 bytes above.
  if (opcode < 0x8 && options.maxSize !== null && length > options.maxSize) {
    throw new PayloadTooBigError(length, options.maxSize);
  }

  const maskLength = masked ? 4 : 0;
  if (available < headerLength + maskLength + length) {
    // The payload will be taken whole: let the queue assemble it as it arrives.
    queue.reserve(headerLength + maskLength, length);
    if (options.incomplete !== undefined && opcode < 0x8 && available >= headerLength + maskLength) {
      options.incomplete({
        opcode,
        reserved: (head1 & 0b01110000) !== 0,
        masked,
        payloadOffset: headerLength + maskLength,
        length,
      });
    }
    return null;
  }

  // The whole frame is buffered: commit.
  queue.skip(headerLength);
  let data: Uint8Array;
  if (masked) {
    for (let i = 0; i < 4; i++) MASK_KEY[i] = queue.peek(i);
    queue.skip(4);
    data = queue.take(length);
    applyMask(data, MASK_KEY);
  } else {
    data = queue.take(length);
  }

  return frame(
    opcode,
    data,
    fin,
    (head1 & 0b01000000) !== 0,
    (head1 & 0b00100000) !== 0,
    (head1 & 0b00010000) !== 0,
  );
}

const MASK_KEY = new Uint8Array(4);

/** The header of a frame whose payload is not complete yet (see `ParseFrameOptions.incomplete`). */
export interface FrameHeader {
  readonly opcode: number;
  /** Any of RSV1, RSV2, RSV3 is set. */
  readonly reserved: boolean;
  readonly masked: boolean;
  /** Offset of the payload from the front of the queue (after the masking key). */
  readonly payloadOffset: number;
  readonly length: number;
}

/**
 * 5.2: "RSV1, RSV2, RSV3: 1 bit each. MUST be 0 unless an extension is
 * negotiated that defines meanings for non-zero values. If a nonzero value is
 * received and none of the negotiated extensions defines the meaning of such
 * a nonzero value, the receiving endpoint MUST _Fail the WebSocket
 * Connection_." Called after extensions decoded the frame and cleared the
 * bits they own.
 *
 * @throws {@link ProtocolError} if a reserved bit is set.
 */
export function checkReservedBits(received: Frame): void {
  if (received.rsv1 || received.rsv2 || received.rsv3) throw new ProtocolError('reserved bits must be 0');
}

function isOpcode(value: number): value is Opcode {
  return value <= 0x2 || (value >= 0x8 && value <= 0xa);
}

function readUint32(queue: ByteQueue, offset: number): number {
  return (
    queue.peek(offset) * 2 ** 24 +
    ((queue.peek(offset + 1) << 16) | (queue.peek(offset + 2) << 8) | queue.peek(offset + 3))
  );
}

/** Length of the header of a frame with a payload of `length` bytes. */
export function headerLength(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Write the frame header into `target` at `offset` and return the offset of
 * the payload. The masking key, if any, is written last.
 */
function writeHeader(
  outgoing: Frame,
  maskKey: Uint8Array | null,
  target: Uint8Array,
  offset: number,
): number {
  const length = outgoing.data.byteLength;
  target[offset] =
    (outgoing.fin ? 0x80 : 0) |
    (outgoing.rsv1 ? 0x40 : 0) |
    (outgoing.rsv2 ? 0x20 : 0) |
    (outgoing.rsv3 ? 0x10 : 0) |
    outgoing.opcode;
  const maskBit = maskKey === null ? 0 : 0x80;
  let o = offset + 2;
  if (length < 126) {
    target[offset + 1] = maskBit | length;
  } else if (length < 65536) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = length >>> 8;
    target[offset + 3] = length & 0xff;
    o = offset + 4;
  } else {
    target[offset + 1] = maskBit | 127;
    // 64-bit big-endian length, written from the last byte up (a length is
    // below 2 ** 53, so division by 256 stays exact).
    for (let i = offset + 9, rest = length; i > offset + 1; i--, rest = Math.floor(rest / 256)) {
      target[i] = rest % 256;
    }
    o = offset + 10;
  }
  if (maskKey !== null) {
    target.set(maskKey.subarray(0, 4), o);
    o += 4;
  }
  return o;
}

/**
 * Serialize a frame into one new array. With a masking key (clients), the
 * payload is masked while copying: the caller's array is never mutated.
 * `allocate` gives the array, of exactly the size asked for, which is
 * overwritten entirely (see `ProtocolOptions.allocateFrame`).
 */
export function serializeFrame(
  outgoing: Frame,
  maskKey: Uint8Array | null,
  allocate: (size: number) => Uint8Array<ArrayBuffer> = allocUninitialized,
): Uint8Array<ArrayBuffer> {
  const data = outgoing.data;
  // Every byte is written below (header, then payload), so a large frame
  // needs no zero-fill.
  const out = allocate(headerLength(data.byteLength, maskKey !== null) + data.byteLength);
  const start = writeHeader(outgoing, maskKey, out, 0);
  if (maskKey === null) out.set(data, start);
  else if (data.byteLength < MASK_AT_LIMIT) maskAt(data, out, start, maskKey);
  else maskInto(data, out.subarray(start), maskKey);
  return out;
}

/** Serialize only the header of an unmasked frame, for writing a large payload without copying it. */
export function serializeFrameHeader(outgoing: Frame): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(headerLength(outgoing.data.byteLength, false));
  writeHeader(outgoing, null, out, 0);
  return out;
}
