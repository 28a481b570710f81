/**
 * The only platform services the Sans-I/O core uses, declared structurally so
 * that the core compiles with `lib: ["ES2022"]` and `types: []`, i.e. without
 * DOM or Node typings. Randomness can be replaced through options.
 */

/** Fills `bytes` with cryptographically strong random values. */
export type RandomSource = (bytes: Uint8Array<ArrayBuffer>) => void;

interface GlobalWithCrypto {
  crypto?: { getRandomValues(bytes: Uint8Array<ArrayBuffer>): unknown };
}

const POOL_SIZE = 8 * 1024; // getRandomValues() accepts at most 65536 bytes
let pool: Uint8Array<ArrayBuffer> | undefined;
let poolOffset = POOL_SIZE;

/**
 * Default random source: `crypto.getRandomValues()` (a CSPRNG in every
 * runtime: browsers, Node ≥ 19, Deno, Bun, Workers), drawn from a pool so that
 * masking a small frame doesn't cost one call into the platform.
 *
 * @throws Error if the runtime has no `crypto.getRandomValues()`: masking keys
 * must never come from a predictable source (RFC 6455, section 10.3).
 */
export const defaultRandom: RandomSource = (bytes) => {
  const crypto = (globalThis as GlobalWithCrypto).crypto;
  if (crypto === undefined) throw new Error('crypto.getRandomValues() is unavailable');
  if (bytes.byteLength > POOL_SIZE) {
    crypto.getRandomValues(bytes);
    return;
  }
  if (pool === undefined || poolOffset + bytes.byteLength > POOL_SIZE) {
    pool ??= new Uint8Array(POOL_SIZE);
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  for (let i = 0; i < bytes.byteLength; i++) bytes[i] = pool[poolOffset + i]!;
  // Never hand out the same random bytes twice.
  pool.fill(0, poolOffset, poolOffset + bytes.byteLength);
  poolOffset += bytes.byteLength;
};

interface GlobalWithBuffer {
  Buffer?: { allocUnsafeSlow?(size: number): Uint8Array };
}

/** Below this size, zero-filling costs little and a plain allocation is simplest. */
const UNINITIALIZED_THRESHOLD = 64 * 1024;

/**
 * Allocate `size` bytes that the caller overwrites entirely before anyone
 * reads them. JavaScript zero-fills every new `Uint8Array`; on Node, where
 * a received frame that spans socket chunks must be copied into one array,
 * that zero-fill costs 10–30% of parsing large frames. Node's
 * `Buffer.allocUnsafeSlow()` skips it and never hands out pooled memory
 * (unlike `allocUnsafe()`), and the result is re-wrapped as a plain
 * `Uint8Array`, so `Buffer` semantics (a `slice()` that is a view) never
 * leak out. Elsewhere this is `new Uint8Array(size)`.
 */
export function allocUninitialized(size: number): Uint8Array<ArrayBuffer> {
  if (size >= UNINITIALIZED_THRESHOLD) {
    const allocUnsafeSlow = (globalThis as GlobalWithBuffer).Buffer?.allocUnsafeSlow;
    if (typeof allocUnsafeSlow === 'function') {
      const buffer = allocUnsafeSlow(size);
      return new Uint8Array(buffer.buffer as ArrayBuffer, buffer.byteOffset, size);
    }
  }
  return new Uint8Array(size);
}

/** `chunks` in order, in one array: a single chunk is returned as it is, not copied. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let length = 0;
  for (const chunk of chunks) length += chunk.byteLength;
  const out = allocUninitialized(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

interface TextCodecs {
  TextEncoder: new () => { encode(text: string): Uint8Array<ArrayBuffer> };
  TextDecoder: new (
    label?: string,
    options?: { fatal?: boolean; ignoreBOM?: boolean },
  ) => { decode(bytes: Uint8Array): string };
}

let encoder: { encode(text: string): Uint8Array<ArrayBuffer> } | undefined;
let decoder: { decode(bytes: Uint8Array): string } | undefined;

/** Encode a string as UTF-8 (lone surrogates become U+FFFD, as in `WebSocket.send`). */
export function encodeUtf8(text: string): Uint8Array<ArrayBuffer> {
  const length = text.length;
  if (length <= SHORT_TEXT) {
    // ASCII is its own UTF-8. A short array filled here stays on V8's heap,
    // where `TextEncoder` makes a native call and an off-heap buffer every
    // time: 48 against 316 ns for 16 characters on Node 20.
    const out = new Uint8Array(length);
    let i = 0;
    for (; i < length; i++) {
      const unit = text.charCodeAt(i);
      if (unit > 0x7f) break;
      out[i] = unit;
    }
    if (i === length) return out;
  }
  encoder ??= new (globalThis as unknown as TextCodecs).TextEncoder();
  return encoder.encode(text);
}

/**
 * Strings up to this many UTF-16 code units take `encodeUtf8`'s ASCII path:
 * V8 keeps typed arrays of up to 64 bytes on its heap; beyond that, the JS
 * loop loses to `TextEncoder` (128 characters: 636 against 495 ns).
 */
const SHORT_TEXT = 64;

/**
 * Decode bytes already checked by a `Utf8Validator`. A leading BOM is kept:
 * it is part of the message (RFC 6455 transmits text verbatim).
 */
export function decodeUtf8(bytes: Uint8Array): string {
  decoder ??= new (globalThis as unknown as TextCodecs).TextDecoder('utf-8', { ignoreBOM: true });
  return decoder.decode(bytes);
}

/**
 * Decode HTTP header bytes as ISO-8859-1. Never `TextDecoder('latin1')`:
 * under the WHATWG Encoding Standard that label means windows-1252, and
 * runtimes disagree on bytes 0x80–0x9f.
 */
export function decodeLatin1(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

/** Encode a string whose characters are all ≤ U+00FF as ISO-8859-1. */
export function encodeLatin1(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
