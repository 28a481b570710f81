/**
 * permessage-deflate's codec (RFC 7692) over the runtime's native zlib, for
 * the `./node` entry point: Node.js, Electron's main and preload processes,
 * Deno and Bun. Browsers keep the pako codec of the core.
 *
 * Why native: compressing 64 KiB of JSON text costs pako 1.6 times what it
 * costs `ws` over node:zlib (bench/results/deflate.md), and native zlib
 * closes that gap. Why not node:zlib's public API: its streams are
 * asynchronous, and `deflateRawSync()`/`inflateRawSync()` start a new
 * stream on every call, so no context takeover (RFC 7692, 7.1.1). The core
 * is synchronous, so this codec drives the native handle inside a zlib
 * stream object directly, as node:zlib's own `*Sync` functions do (its
 * `processChunkSync()`):
 *
 * - `_handle.writeSync(flush, input, inOffset, inLength, output, outOffset,
 *   outLength)` runs one zlib `deflate()`/`inflate()` call on the calling
 *   thread; `_writeState` then holds `[availOutAfter, availInAfter]`;
 * - `_handle.onerror(message, errno, code)` is called back, synchronously,
 *   if zlib fails.
 *
 * These are internals; Deno's and Bun's node:zlib, ports of Node's, have
 * them too (tested here: Node.js 20, Deno 2.9, Bun 1.4). {@link createNodeDeflateCodec} checks them once
 * ({@link nativeDeflateSupport}) and uses pako for what is missing or
 * misbehaves. Node's `_processChunk(chunk, flush)`, the layer above and
 * what the `fast-zlib` package wraps, suits less: it closes the handle
 * after every call (fast-zlib swaps `close` for a no-op around it), adds an
 * `error` listener per call, returns a view of a buffer the next call
 * overwrites (a copy each time), and checks an output limit only after each
 * 16 KiB of output, a limit fixed when the stream is made, where a message
 * size limit needs inflation to stop at `maxLength + 1` bytes.
 *
 * The codec takes and returns plain `Uint8Array`s, no Buffers.
 */
import zlib from 'node:zlib';
import { PayloadTooBigError } from '../protocol/errors.js';
import {
  codecSettings,
  DecompressionError,
  type DeflateCodec,
  type DeflateCodecFactory,
  type DeflateCodecOptions,
  PakoDeflateCodec,
} from '../protocol/extensions/deflate-codec.js';
import { concat } from '../protocol/platform.js';

const { Z_SYNC_FLUSH } = zlib.constants;

/** The native zlib handle inside a node:zlib stream (`binding.Zlib`). */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  onerror: (message: string, errno: number, code?: string) => void;
  reset(): void;
  close(): void;
}

/** What this codec uses of a node:zlib `DeflateRaw`/`InflateRaw`. */
interface ZlibEngine {
  readonly _handle: ZlibHandle | null | undefined;
  /** `[availOutAfter, availInAfter]` of the last write. */
  readonly _writeState: Uint32Array | undefined;
}

/** One native stream: the handle, its write state, and the error its last write reported. */
class Engine {
  readonly handle: ZlibHandle;
  readonly state: Uint32Array;
  error: string | null = null;

  constructor(stream: zlib.DeflateRaw | zlib.InflateRaw) {
    const internals = stream as unknown as ZlibEngine;
    const handle = internals._handle;
    const state = internals._writeState;
    if (typeof handle?.writeSync !== 'function' || !(state instanceof Uint32Array) || state.length < 2)
      throw new Error('node:zlib has no synchronous handle');
    this.handle = handle;
    this.state = state;
    // Replaces node:zlib's handler, which destroys the stream and emits
    // 'error' on a later tick, where nobody listens. The codec throws
    // instead, synchronously, and the connection fails.
    handle.onerror = (message) => {
      this.error = message;
    };
  }

  /**
   * One zlib call. Returns the bytes written to `output` and leaves in
   * `state[1]` the input left over.
   */
  write(input: Uint8Array, inOffset: number, inLength: number, output: Uint8Array, room: number): number {
    this.error = null;
    this.handle.writeSync(Z_SYNC_FLUSH, input, inOffset, inLength, output, 0, room);
    return room - this.state[0]!;
  }

  close(): void {
    this.handle.close();
  }
}

/**
 * Output buffer shared by every codec, as in the pako codec: calls are
 * synchronous and never re-entered, and results are copied out.
 */
const SCRATCH_SIZE = 64 * 1024;
let scratch: Uint8Array<ArrayBuffer> | null = null;
function getScratch(): Uint8Array<ArrayBuffer> {
  scratch ??= new Uint8Array(SCRATCH_SIZE);
  return scratch;
}

const EMPTY_STORED_BLOCK = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/**
 * Size of the output buffer each node:zlib stream allocates for itself
 * (16 KiB by default): the smallest allowed, as the codec writes into its
 * own scratch buffer and never uses the stream's.
 */
const UNUSED_OUTPUT_BUFFER = zlib.constants.Z_MIN_CHUNK;

/**
 * The last `2 ** windowBits` bytes of inflated output: what a new native
 * inflater needs as its dictionary to go on after a DEFLATE stream ended
 * (see {@link NodeDeflateCodec.decompress}), as Node's zlib handle has no
 * `inflateResetKeep()`. Costs one copy of at most a window per call.
 */
class History {
  readonly #ring: Uint8Array;
  #position = 0;
  #filled = 0;

  constructor(size: number) {
    this.#ring = new Uint8Array(size);
  }

  push(chunk: Uint8Array): void {
    const ring = this.#ring;
    const size = ring.byteLength;
    if (chunk.byteLength >= size) {
      ring.set(chunk.subarray(chunk.byteLength - size));
      this.#position = 0;
      this.#filled = size;
      return;
    }
    const first = Math.min(chunk.byteLength, size - this.#position);
    ring.set(chunk.subarray(0, first), this.#position);
    if (first < chunk.byteLength) ring.set(chunk.subarray(first), 0);
    this.#position = (this.#position + chunk.byteLength) % size;
    this.#filled = Math.min(size, this.#filled + chunk.byteLength);
  }

  /** The window, oldest byte first. */
  contents(): Uint8Array {
    if (this.#filled < this.#ring.byteLength) return this.#ring.slice(0, this.#filled);
    return concat([this.#ring.subarray(this.#position), this.#ring.subarray(0, this.#position)]);
  }

  clear(): void {
    this.#position = 0;
    this.#filled = 0;
  }
}

/**
 * A {@link DeflateCodec} over native zlib, with the pako codec's behaviour:
 * the same options, sync-flushed output, output bounded at `maxLength + 1`
 * bytes, {@link DecompressionError} for invalid data. Each direction's
 * native stream is created on first use.
 */
export class NodeDeflateCodec implements DeflateCodec {
  readonly #windowBits: number;
  readonly #level: number;
  readonly #memLevel: number;
  #deflater: Engine | null = null;
  #inflater: Engine | null = null;
  /** The inflater was created with a dictionary, which its reset() would restore. */
  #inflaterPrimed = false;
  #history: History | null = null;

  /**
   * @throws RangeError if an option is out of range. The first call of
   *   a direction throws Error if this runtime's node:zlib lacks the
   *   internals the codec uses; {@link createNodeDeflateCodec} checks first.
   */
  constructor(options: DeflateCodecOptions) {
    ({ windowBits: this.#windowBits, level: this.#level, memLevel: this.#memLevel } = codecSettings(options));
  }

  compress(data: Uint8Array): Uint8Array {
    const engine = (this.#deflater ??= this.#createDeflater());
    const buffer = getScratch();
    const chunks: Uint8Array[] = [];
    let offset = 0;
    let left = data.byteLength;
    for (;;) {
      const produced = engine.write(data, offset, left, buffer, buffer.byteLength);
      if (engine.error !== null) throw new Error(`deflate failed: ${engine.error}`);
      offset += left - engine.state[1]!;
      left = engine.state[1]!;
      chunks.push(buffer.slice(0, produced));
      // zlib: the flush is complete when deflate() leaves output space unused.
      if (produced < buffer.byteLength) break;
    }
    return concat(chunks);
  }

  decompress(data: Uint8Array, maxLength: number | null, endOfMessage: boolean): Uint8Array {
    const chunks: Uint8Array[] = [];
    let length = 0;
    const buffer = getScratch();
    const history = (this.#history ??= new History(2 ** this.#windowBits));
    // RFC 7692, 7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail
    // end of the payload of the message."
    const inputs = endOfMessage ? [data, EMPTY_STORED_BLOCK] : [data];
    for (const input of inputs) {
      let offset = 0;
      let left = input.byteLength;
      let restarted = false;
      for (;;) {
        const engine = (this.#inflater ??= this.#createInflater(null));
        // Never produce more than one byte past the limit: a zip bomb
        // stops here, having allocated at most `maxLength + 1` bytes.
        const room =
          maxLength === null ? buffer.byteLength : Math.min(buffer.byteLength, maxLength - length + 1);
        const produced = engine.write(input, offset, left, buffer, room);
        if (engine.error !== null) throw new DecompressionError(`decompression failed: ${engine.error}`);
        const consumed = left - engine.state[1]!;
        offset += consumed;
        left -= consumed;
        if (produced > 0) {
          length += produced;
          if (maxLength !== null && length > maxLength)
            throw new PayloadTooBigError(null, maxLength, 'decompressed message');
          const chunk = buffer.slice(0, produced);
          chunks.push(chunk);
          history.push(chunk);
        }
        // Output space full: zlib may hold more output.
        if (produced === room) continue;
        if (left === 0) break;
        // Input left over and output space unused: zlib's inflate() stopped
        // at the end of a DEFLATE stream, a block with BFINAL set (RFC 7692,
        // 7.2.3.4). What follows starts a new stream that keeps the window:
        // it may refer to what came before. A fresh inflater that takes
        // nothing at all would loop; it cannot happen (zlib reads a block
        // header or fails), but stop rather than spin.
        if (restarted && consumed === 0 && produced === 0)
          throw new DecompressionError('decompression failed: inflater made no progress');
        this.#inflater.close();
        this.#inflater = this.#createInflater(history.contents());
        restarted = true;
      }
    }
    return chunks.length === 0 ? new Uint8Array(0) : concat(chunks);
  }

  reset(): void {
    this.#deflater?.handle.reset();
    this.#history?.clear();
    if (this.#inflater === null) return;
    if (this.#inflaterPrimed) {
      // Resetting would load the dictionary again; start afresh instead.
      this.#inflater.close();
      this.#inflater = null;
    } else {
      this.#inflater.handle.reset();
    }
  }

  #createDeflater(): Engine {
    // zlib refuses a raw deflate window of 8 bits: "a windowBits value of 8
    // (a window size of 256 bytes) is not supported" (zlib.h); node:zlib's
    // DeflateRaw turns 8 into 9 itself, and the pako codec does the same,
    // for the same reason: zlib's compressor never refers further back than
    // the window size minus MIN_LOOKAHEAD (262), so with 9 bits (512) every
    // distance is at most 250 and the stream is valid for a 256-byte window.
    // The tests check distances with a strict inflater.
    return new Engine(
      zlib.createDeflateRaw({
        chunkSize: UNUSED_OUTPUT_BUFFER,
        windowBits: Math.max(this.#windowBits, 9),
        level: this.#level,
        memLevel: this.#memLevel,
        strategy: zlib.constants.Z_DEFAULT_STRATEGY,
      }),
    );
  }

  #createInflater(dictionary: Uint8Array | null): Engine {
    const primed = dictionary !== null && dictionary.byteLength > 0;
    this.#inflaterPrimed = primed;
    return new Engine(
      zlib.createInflateRaw({
        chunkSize: UNUSED_OUTPUT_BUFFER,
        windowBits: this.#windowBits,
        ...(primed ? { dictionary } : {}),
      }),
    );
  }
}

/**
 * A codec that compresses with one codec and inflates with another: native
 * compression where only native inflation is missing something. Each
 * direction's state is created on first use, so the unused half of each
 * costs nothing.
 */
class SplitDeflateCodec implements DeflateCodec {
  readonly #compressor: DeflateCodec;
  readonly #decompressor: DeflateCodec;

  constructor(compressor: DeflateCodec, decompressor: DeflateCodec) {
    this.#compressor = compressor;
    this.#decompressor = decompressor;
  }

  compress(data: Uint8Array): Uint8Array {
    return this.#compressor.compress(data);
  }

  decompress(data: Uint8Array, maxLength: number | null, endOfMessage: boolean): Uint8Array {
    return this.#decompressor.decompress(data, maxLength, endOfMessage);
  }

  reset(): void {
    this.#compressor.reset();
    this.#decompressor.reset();
  }
}

/** What of the native codec works in this runtime; see {@link nativeDeflateSupport}. */
export interface NativeDeflateSupport {
  /** Native compression, with context takeover. */
  readonly compress: boolean;
  /**
   * Native inflation, with context takeover and across a block with BFINAL
   * set, which needs a raw inflater primed with a dictionary. Deno 2.9's
   * node:zlib ignores the `dictionary` of a raw inflater, so there the
   * codec inflates with pako and still compresses natively.
   */
  readonly decompress: boolean;
}

let support: NativeDeflateSupport | null = null;

function probe(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

/**
 * Whether this runtime's node:zlib has the synchronous handle the native
 * codec drives, and whether it behaves: checked once, on RFC 7692's
 * examples, against the pako codec.
 */
export function nativeDeflateSupport(): NativeDeflateSupport {
  if (support !== null) return support;
  const hello = new Uint8Array([0x48, 0x65, 0x6c, 0x6c, 0x6f]);
  const hex = (h: string) => Uint8Array.from(h.match(/../g)!, (byte) => Number.parseInt(byte, 16));
  support = {
    compress: probe(() => {
      const codec = new NodeDeflateCodec({ windowBits: 15 });
      const reference = new PakoDeflateCodec({ windowBits: 15 });
      const first = codec.compress(hello);
      const second = codec.compress(hello);
      // 7.2.3.2: the second "Hello" refers to the first.
      return (
        second.byteLength < first.byteLength &&
        [first, second].every((c) => sameBytes(reference.decompress(c, 5, false), hello))
      );
    }),
    decompress: probe(() => {
      const codec = new NodeDeflateCodec({ windowBits: 15 });
      // 7.2.3.1 then 7.2.3.2, then 7.2.3.4 (BFINAL set) then 7.2.3.2 again.
      return ['f248cdc9c90700', 'f200110000', 'f348cdc9c9070000', 'f200110000'].every((message) =>
        sameBytes(codec.decompress(hex(message), 5, true), hello),
      );
    }),
  };
  return support;
}

/**
 * The {@link DeflateCodecFactory} of the `./node` entry point: a
 * {@link NodeDeflateCodec}; where node:zlib lacks what it needs (see
 * {@link nativeDeflateSupport}), pako for what it can't do natively.
 */
export const createNodeDeflateCodec: DeflateCodecFactory = (options) => {
  const { compress, decompress } = nativeDeflateSupport();
  if (compress && decompress) return new NodeDeflateCodec(options);
  if (compress) return new SplitDeflateCodec(new NodeDeflateCodec(options), new PakoDeflateCodec(options));
  return new PakoDeflateCodec(options);
};
