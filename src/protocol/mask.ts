import { createSimdMasker, type Masker } from './mask-simd.js';

/**
 * XOR `data` in place with the 4-byte masking key (RFC 6455, section 5.3):
 * "Octet i of the transformed data ("transformed-octet-i") is the XOR of
 * octet i of the original data ("original-octet-i") with octet at index
 * i modulo 4 of the masking key ("masking-key-octet-j")".
 *
 * Payloads of SIMD_MIN_BYTES or more are masked in WebAssembly SIMD where
 * the runtime has it (see mask-simd.ts), otherwise one 32-bit word at a
 * time once `data` is 4-byte aligned in memory, with the key rotated to
 * match the alignment.
 */
export function applyMask(data: Uint8Array, key: Uint8Array): void {
  maskInto(data, data, key);
}

/**
 * From this many bytes on, payloads are masked in WebAssembly SIMD where
 * available. Measured (bench/mask.bench.ts, Node 20): SIMD, copies included,
 * costs half the CPU of the JavaScript word loop at 128 B and a tenth from
 * 16 KiB on; smaller payloads mostly go through `maskAt` (below
 * MASK_AT_LIMIT), where a call into WebAssembly would not pay.
 */
export const SIMD_MIN_BYTES = 128;

/**
 * The SIMD masker: undefined until the first payload of SIMD_MIN_BYTES or
 * more, then the masker, or null where WebAssembly SIMD is unavailable (then
 * it is not tried again). This is the module's only state, and it is safe to
 * share: masking is a pure function of its arguments (no I/O, no timers),
 * the module's memory is scratch that a call fills before reading and never
 * hands out, and JavaScript runs one call at a time per agent (workers have
 * their own module instances). Bundles pay for the code only: nothing is
 * compiled until a payload of SIMD_MIN_BYTES or more is masked.
 */
let simd: Masker | null | undefined;

/**
 * Tests and benchmarks: mask with `masker`, or only in JavaScript (null), or
 * detect SIMD again on the next large payload (undefined). Not exported from
 * the package.
 */
export function setSimdMasker(masker: Masker | null | undefined): void {
  simd = masker;
}

/**
 * Write `source` XOR `key` into `target`, which may be `source` itself or
 * another array at least as long. Used to mask while copying, so that a
 * client never mutates the caller's payload.
 */
export function maskInto(source: Uint8Array, target: Uint8Array, key: Uint8Array): void {
  if (source.length >= SIMD_MIN_BYTES) {
    if (simd === undefined) simd = createSimdMasker();
    if (simd !== null) {
      simd(source, target, key);
      return;
    }
  }
  maskIntoJs(source, target, key);
}

/** {@link maskInto} in JavaScript only: the fallback, and the whole path below SIMD_MIN_BYTES. */
export function maskIntoJs(source: Uint8Array, target: Uint8Array, key: Uint8Array): void {
  const length = source.length;
  const k0 = key[0]!;
  const k1 = key[1]!;
  const k2 = key[2]!;
  const k3 = key[3]!;
  let i = 0;
  if (length >= 32 && (source.byteOffset & 3) === (target.byteOffset & 3)) {
    // Align to 4 bytes, then XOR whole words with the rotated key.
    while (((target.byteOffset + i) & 3) !== 0) {
      target[i] = source[i]! ^ key[i & 3]!;
      i++;
    }
    const words = (length - i) >>> 2;
    const src = new Uint32Array(source.buffer, source.byteOffset + i, words);
    const dst =
      src.buffer === target.buffer && source.byteOffset === target.byteOffset
        ? src
        : new Uint32Array(target.buffer, target.byteOffset + i, words);
    // The word's bytes in memory must equal key[(i + 0..3) & 3]; build the
    // word in platform byte order from those bytes.
    ROTATED[0] = key[i & 3]!;
    ROTATED[1] = key[(i + 1) & 3]!;
    ROTATED[2] = key[(i + 2) & 3]!;
    ROTATED[3] = key[(i + 3) & 3]!;
    const keyWord = ROTATED_WORD[0]!;
    for (let w = 0; w < words; w++) dst[w] = src[w]! ^ keyWord;
    i += words << 2;
  } else if (length >= 32) {
    // Misaligned copy (a client's payload after a 6- or 14-byte header):
    // copying first, then masking the copy word by word in place, is about
    // twice as fast as masking byte by byte.
    target.set(source);
    maskIntoJs(target.subarray(0, length), target, key);
    return;
  } else {
    for (; i + 3 < length; i += 4) {
      // i is a multiple of 4 here, so the key is not rotated.
      target[i] = source[i]! ^ k0;
      target[i + 1] = source[i + 1]! ^ k1;
      target[i + 2] = source[i + 2]! ^ k2;
      target[i + 3] = source[i + 3]! ^ k3;
    }
  }
  for (; i < length; i++) target[i] = source[i]! ^ key[i & 3]!;
}

/**
 * Below this many bytes, a payload is masked byte by byte straight into the
 * frame (`maskAt`): the word loop would not pay for itself, and a view of a
 * small frame would cost more than the masking. V8 keeps typed arrays of up
 * to 64 bytes on its heap; `subarray()` of one first moves it off the heap
 * (an allocation: ~250 ns, most of sending a small message).
 */
export const MASK_AT_LIMIT = 32;

/** `source` XOR `key` written into `target` from `offset`, byte by byte, without a view. */
export function maskAt(source: Uint8Array, target: Uint8Array, offset: number, key: Uint8Array): void {
  for (let i = 0; i < source.length; i++) target[offset + i] = source[i]! ^ key[i & 3]!;
}

const ROTATED = new Uint8Array(4);
const ROTATED_WORD = new Uint32Array(ROTATED.buffer);
