/**
 * Synchronous raw DEFLATE (RFC 1951) as permessage-deflate needs it
 * (RFC 7692): compression that ends every call with a sync flush, and
 * decompression bounded while it runs.
 *
 * The web platform's `CompressionStream('deflate-raw')` is asynchronous and
 * cannot flush, so the Sans-I/O core can't use it. The default codec runs
 * pako (a JavaScript port of zlib) through its low-level `z_stream`
 * interface: it honours every window size RFC 7692 allows, and it inflates
 * into an output buffer of our choosing, which is what bounds a zip bomb.
 * fflate was measured too (`bench/results/deflate.md`): it is
 * smaller, but its compressor always uses a 32 KiB window, so it cannot
 * honour a negotiated `*_max_window_bits` below 15, and its inflater grows
 * its output without a bound while it runs.
 */
import {
  ZStream,
  zlibDeflate,
  zlibDeflateInit2,
  zlibDeflateReset,
  zlibInflate,
  zlibInflateInit2,
  zlibInflateReset,
  zlibInflateResetKeep,
} from 'pako';
import { PayloadTooBigError, ProtocolError } from '../errors.js';
import { concat } from '../platform.js';

// zlib constants (zlib.h), spelled out so that only functions are imported.
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_BUF_ERROR = -5;
const Z_SYNC_FLUSH = 2;
const Z_DEFLATED = 8;
const Z_DEFAULT_STRATEGY = 0;

/** Synchronous raw DEFLATE (RFC 1951) as permessage-deflate needs it (RFC 7692). */
export interface DeflateCodec {
  /**
   * Compress `data`, continuing the stream, and end with a sync flush: the
   * output ends with an empty stored block, `00 00 ff ff`, for the caller
   * to strip from the last frame of a message (RFC 7692, 7.2.1).
   */
  compress(data: Uint8Array): Uint8Array;
  /**
   * Decompress `data`, continuing the stream. With `endOfMessage`, first
   * append the empty stored block the sender stripped (RFC 7692, 7.2.2:
   * "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload
   * of the message"). A block with BFINAL set ends the DEFLATE stream; what
   * follows starts a new one that keeps the sliding window.
   *
   * @param maxLength - Largest output allowed; `null` means no limit.
   *   Checked while inflating: no more than `maxLength + 1` bytes are ever
   *   produced.
   * @throws {@link PayloadTooBigError} if the output would exceed `maxLength`.
   * @throws {@link DecompressionError} if `data` is not valid DEFLATE.
   */
  decompress(data: Uint8Array, maxLength: number | null, endOfMessage: boolean): Uint8Array;
  /** Drop the sliding window and any state: the next call starts a new stream (`*_no_context_takeover`). */
  reset(): void;
}

/** Settings of a codec, for one direction of one connection. */
export interface DeflateCodecOptions {
  /**
   * Base-2 logarithm of the LZ77 sliding window, 8 to 15 (RFC 7692, 7.1.2).
   * The compressor never refers further back than `2 ** windowBits` bytes;
   * the decompressor keeps that much history.
   */
  readonly windowBits: number;
  /** Compression level, 0 (store) to 9 (best). @defaultValue 6 */
  readonly level?: number;
  /** zlib's `memLevel`, 1 to 9: memory for the compressor's match finder. @defaultValue 8 */
  readonly memLevel?: number;
}

/** Builds a codec; `PerMessageDeflate` builds one per direction, lazily. */
export type DeflateCodecFactory = (options: DeflateCodecOptions) => DeflateCodec;

/**
 * Invalid compressed data (close code 1007). RFC 7692 names no close code
 * for it; 1007 is RFC 6455's (7.4.1) for "data within a message that was not
 * consistent with the type of the message", which a compressed message that
 * does not inflate is, and it is what `ws` sends. (Python websockets sends 1002.)
 */
export class DecompressionError extends ProtocolError {
  override readonly name: string = 'DecompressionError';
  override readonly closeCode: number = 1007;
}

/** The empty stored block that ends a sync flush (RFC 7692, 7.2.1). */
const EMPTY_STORED_BLOCK = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/**
 * Output buffer shared by every codec: calls are synchronous and never
 * re-entered, and results are copied out, so one buffer serves all
 * connections instead of one per connection.
 */
const SCRATCH_SIZE = 64 * 1024;
let scratch: Uint8Array<ArrayBuffer> | null = null;
function getScratch(): Uint8Array<ArrayBuffer> {
  scratch ??= new Uint8Array(SCRATCH_SIZE);
  return scratch;
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new RangeError(`${name} must be an integer between ${min} and ${max}`);
}

/**
 * A codec's settings, defaults applied and checked: what every codec's
 * constructor does first.
 *
 * @throws RangeError if an option is out of range.
 * @internal
 */
export function codecSettings(options: DeflateCodecOptions): {
  windowBits: number;
  level: number;
  memLevel: number;
} {
  const { windowBits, level = 6, memLevel = 8 } = options;
  checkRange('windowBits', windowBits, 8, 15);
  checkRange('level', level, 0, 9);
  checkRange('memLevel', memLevel, 1, 9);
  return { windowBits, level, memLevel };
}

/**
 * The default codec, over pako's zlib port. Each direction's state is
 * created on first use, so a codec that only compresses never allocates an
 * inflater and vice versa.
 */
export class PakoDeflateCodec implements DeflateCodec {
  readonly #windowBits: number;
  readonly #level: number;
  readonly #memLevel: number;
  #deflater: ZStream | null = null;
  #inflater: ZStream | null = null;

  /** @throws RangeError if an option is out of range. */
  constructor(options: DeflateCodecOptions) {
    ({ windowBits: this.#windowBits, level: this.#level, memLevel: this.#memLevel } = codecSettings(options));
  }

  compress(data: Uint8Array): Uint8Array {
    const strm = this.#deflater ?? this.#initDeflater();
    strm.input = data;
    strm.next_in = 0;
    strm.avail_in = data.byteLength;
    const buffer = getScratch();
    const chunks: Uint8Array[] = [];
    for (;;) {
      strm.output = buffer;
      strm.next_out = 0;
      strm.avail_out = buffer.byteLength;
      const status = zlibDeflate(strm, Z_SYNC_FLUSH);
      if (status !== Z_OK && status !== Z_BUF_ERROR) throw new Error(`deflate failed: ${strm.msg || status}`);
      chunks.push(buffer.slice(0, strm.next_out));
      // zlib: the flush is complete when deflate() leaves output space unused.
      if (strm.avail_out !== 0) break;
    }
    strm.input = EMPTY_INPUT;
    return concat(chunks);
  }

  decompress(data: Uint8Array, maxLength: number | null, endOfMessage: boolean): Uint8Array {
    const strm = this.#inflater ?? this.#initInflater();
    const chunks: Uint8Array[] = [];
    let length = 0;
    const inputs = endOfMessage ? [data, EMPTY_STORED_BLOCK] : [data];
    const buffer = getScratch();
    for (const input of inputs) {
      strm.input = input;
      strm.next_in = 0;
      strm.avail_in = input.byteLength;
      for (;;) {
        // Never produce more than one byte past the limit: a zip bomb
        // stops here, having allocated at most `maxLength + 1` bytes.
        const room =
          maxLength === null ? buffer.byteLength : Math.min(buffer.byteLength, maxLength - length + 1);
        strm.output = buffer;
        strm.next_out = 0;
        strm.avail_out = room;
        const status = zlibInflate(strm, Z_SYNC_FLUSH);
        if (status !== Z_OK && status !== Z_STREAM_END && status !== Z_BUF_ERROR) {
          strm.input = EMPTY_INPUT;
          throw new DecompressionError(`decompression failed: ${strm.msg || `error ${status}`}`);
        }
        const produced = strm.next_out;
        if (produced > 0) {
          length += produced;
          if (maxLength !== null && length > maxLength) {
            strm.input = EMPTY_INPUT;
            throw new PayloadTooBigError(null, maxLength, 'decompressed message');
          }
          chunks.push(buffer.slice(0, produced));
        }
        if (status === Z_STREAM_END) {
          // A block with BFINAL set ended the stream (RFC 7692, 7.2.3.4).
          // Start a new stream that keeps the window: the next message may
          // still refer to this one.
          zlibInflateResetKeep(strm);
          if (strm.avail_in === 0) break;
          continue;
        }
        if (strm.avail_out !== 0 && strm.avail_in === 0) break;
        if (status === Z_BUF_ERROR && produced === 0) break;
      }
    }
    strm.input = EMPTY_INPUT;
    return chunks.length === 0 ? new Uint8Array(0) : concat(chunks);
  }

  reset(): void {
    if (this.#deflater !== null) zlibDeflateReset(this.#deflater);
    if (this.#inflater !== null) zlibInflateReset(this.#inflater);
  }

  #initDeflater(): ZStream {
    const strm = new ZStream();
    // zlib (and pako) refuse a raw deflate window of 8 bits: "a windowBits
    // value of 8 (a window size of 256 bytes) is not supported" (zlib.h).
    // Use 9, as Node's zlib does: zlib's compressor never refers further
    // back than the window size minus MIN_LOOKAHEAD (262), so with 9 bits
    // (512) every distance is at most 250 and the stream is valid for a
    // 256-byte window. The tests check distances with a strict inflater.
    const windowBits = Math.max(this.#windowBits, 9);
    const status = zlibDeflateInit2(
      strm,
      this.#level,
      Z_DEFLATED,
      -windowBits,
      this.#memLevel,
      Z_DEFAULT_STRATEGY,
    );
    if (status !== Z_OK) throw new Error(`deflateInit2 failed: ${status}`);
    this.#deflater = strm;
    return strm;
  }

  #initInflater(): ZStream {
    const strm = new ZStream();
    const status = zlibInflateInit2(strm, -this.#windowBits);
    if (status !== Z_OK) throw new Error(`inflateInit2 failed: ${status}`);
    this.#inflater = strm;
    return strm;
  }
}

const EMPTY_INPUT = new Uint8Array(0);

/** The default {@link DeflateCodecFactory}: a {@link PakoDeflateCodec}. */
export const createDeflateCodec: DeflateCodecFactory = (options) => new PakoDeflateCodec(options);
