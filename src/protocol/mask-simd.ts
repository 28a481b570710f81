/**
 * Masking in WebAssembly SIMD (RFC 6455, section 5.3): "Octet i of the
 * transformed data ("transformed-octet-i") is the XOR of octet i of the
 * original data ("original-octet-i") with octet at index i modulo 4 of the
 * masking key ("masking-key-octet-j")".
 *
 * Why: a client masks every byte it sends. In JavaScript the fastest loop
 * XORs one 32-bit word at a time; a WebAssembly `v128.xor` does 16 bytes at
 * a time, which pays for copying the payload into the module's memory and
 * back (measured in bench/mask.bench.ts, see bench/README.md). `WebAssembly`
 * is an ECMAScript-embedding builtin (Node, Deno, Bun, browsers), so the
 * Sans-I/O core may use it; it stays optional: where it is missing, lacks
 * SIMD, or may not compile (a Content-Security-Policy without
 * 'wasm-unsafe-eval'), {@link createSimdMasker} returns null and the caller
 * keeps its JavaScript loop.
 *
 * The payload goes through the module's memory in chunks of at most
 * `chunkBytes` (60 KiB by default, so that chunk and placement fit one
 * WebAssembly page): the memory never grows, a chunk stays in cache between
 * the copy in, the XOR and the copy out, and any payload size works.
 *
 * Where a chunk goes in that memory matters. Measured on an AMD EPYC with
 * glibc: a copy (`TypedArray.prototype.set`, i.e. memmove) of tens of KiB
 * runs at 0.5–1 GB/s instead of 10–20 GB/s when the destination's address
 * minus the source's, modulo 4096, is within a few dozen bytes of 0
 * (most likely 4K aliasing between the copy's loads and its pending
 * stores). A frame's
 * payload sits 14 bytes after the start of a fresh frame array and a
 * caller's payload usually at the start of its own, and large allocations
 * and the module's memory start at or near page boundaries: both copies hit
 * that case if the chunk sits at the start of the memory. So each call puts
 * its chunks at the offset, modulo 4096, farthest from both the source's and
 * the target's byte offsets (at least ~1 KiB from each, assuming the
 * buffers' own starts are alike modulo 4096, as page-aligned ones are).
 */

/** `source` XOR the masking key, written into `target` (which may be `source` itself). */
export type Masker = (source: Uint8Array, target: Uint8Array, key: Uint8Array) => void;

/** The parts of the WebAssembly JS API used here, declared structurally (the core compiles without DOM typings). */
export interface WebAssemblyApi {
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object) => { readonly exports: object };
}

interface MaskExports {
  /** The module's memory: one 64 KiB page, grown only for chunks above 60 KiB. */
  readonly m: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  /** XOR memory from `p` to `end` (rounded up to 64 bytes past `p`) with the splatted key word `k`. */
  readonly x: (p: number, end: number, k: number) => void;
}

/** One WebAssembly page. */
const PAGE = 65536;

/** Room before a chunk in the module's memory, to place it (see above). */
const PLACEMENT = 4096;

/** Bytes per pass through the module's memory by default: one page less the placement room. */
export const SIMD_CHUNK = PAGE - PLACEMENT;

/**
 * The module, assembled by hand (138 bytes). In the text format:
 *
 *   (module
 *     (memory (export "m") 1)
 *     (func (export "x") (param $p i32) (param $end i32) (param $k i32)
 *       (local $v v128)
 *       (local.set $v (i32x4.splat (local.get $k)))
 *       (block (loop
 *         (br_if 1 (i32.ge_u (local.get $p) (local.get $end)))
 *         ;; four times, at offset O = 0, 16, 32 and 48:
 *         (v128.store offset=O (local.get $p)
 *           (v128.xor (v128.load offset=O (local.get $p)) (local.get $v)))
 *         (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *         (br 0))))
 *
 * It XORs 64 bytes per iteration and stops at the first multiple of 64 past
 * `p` at or past `end`: the bytes past `end` are scratch that is never
 * copied out, so there is no scalar tail. WebAssembly memory is
 * little-endian on every platform, so the key word is built from the key
 * bytes in that order; chunks start at a multiple of 4 in the payload and
 * in memory, so octet i of a chunk takes key octet i modulo 4 with the same
 * word for every chunk.
 */
// biome-ignore format: one instruction a line, each with its comment
const MODULE = [
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00, // type section: 1 type, func (i32, i32, i32) -> ()
  0x03, 0x02, 0x01, 0x00, // function section: 1 function, of type 0
  0x05, 0x03, 0x01, 0x00, 0x01, // memory section: 1 memory, no maximum, minimum 1 page
  0x07, 0x09, 0x02, // export section (9 bytes), 2 exports:
  0x01, 0x6d, 0x02, 0x00, //   "m": memory 0
  0x01, 0x78, 0x00, 0x00, //   "x": function 0
  0x0a, 0x63, 0x01, 0x61, // code section (99 bytes), 1 body (97 bytes)
  0x01, 0x01, 0x7b, // locals: 1 v128 ($v, local 3; the parameters are locals 0 to 2)
  0x20, 0x02, // local.get $k
  0xfd, 0x11, // i32x4.splat: the key word in all four lanes
  0x21, 0x03, // local.set $v
  0x02, 0x40, // block
  0x03, 0x40, //   loop
  0x20, 0x00, //     local.get $p
  0x20, 0x01, //     local.get $end
  0x4f, //           i32.ge_u
  0x0d, 0x01, //     br_if 1: leave the block once $p >= $end
  0x20, 0x00, 0x20, 0x00, // local.get $p (store address), local.get $p (load address)
  0xfd, 0x00, 0x04, 0x00, // v128.load align=16 offset=0
  0x20, 0x03, 0xfd, 0x51, // local.get $v, v128.xor
  0xfd, 0x0b, 0x04, 0x00, // v128.store align=16 offset=0
  0x20, 0x00, 0x20, 0x00, // the same at offset=16
  0xfd, 0x00, 0x04, 0x10,
  0x20, 0x03, 0xfd, 0x51,
  0xfd, 0x0b, 0x04, 0x10,
  0x20, 0x00, 0x20, 0x00, // the same at offset=32
  0xfd, 0x00, 0x04, 0x20,
  0x20, 0x03, 0xfd, 0x51,
  0xfd, 0x0b, 0x04, 0x20,
  0x20, 0x00, 0x20, 0x00, // the same at offset=48
  0xfd, 0x00, 0x04, 0x30,
  0x20, 0x03, 0xfd, 0x51,
  0xfd, 0x0b, 0x04, 0x30,
  0x20, 0x00, //     local.get $p
  0x41, 0xc0, 0x00, // i32.const 64 (signed LEB128)
  0x6a, //           i32.add
  0x21, 0x00, //     local.set $p
  0x0c, 0x00, //     br 0: next iteration
  0x0b, //         end loop
  0x0b, //       end block
  0x0b, //     end function
];

/** The module's bytes, for tests and benchmarks. */
export function simdModuleBytes(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(MODULE);
}

/**
 * A masker that XORs in WebAssembly SIMD, or null where that is not
 * available: no `WebAssembly`, no SIMD (`validate` fails), or compiling
 * throws. Compiles synchronously: the module is far below the 4 KB that
 * browsers allow `new WebAssembly.Module()` on the main thread.
 *
 * @param chunkBytes bytes per pass through the module's memory: a positive
 *   multiple of 64, the module's stride (every chunk starts at key octet 0
 *   and its rounded-up end stays in memory), and of 4096 for speed (every
 *   chunk at the same offsets modulo 4096); above 60 KiB, the memory grows
 *   once, here. Not checked: only this package's code, tests and benchmarks
 *   pass it.
 * @param wasm the WebAssembly API to use, null where there is none: tests
 *   pass null or a stand-in to exercise the fallback without touching the
 *   global.
 */
export function createSimdMasker(
  chunkBytes: number = SIMD_CHUNK,
  wasm: WebAssemblyApi | null = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly ?? null,
): Masker | null {
  let exports: MaskExports;
  try {
    const bytes = simdModuleBytes();
    if (wasm === null || !wasm.validate(bytes)) return null;
    exports = new wasm.Instance(new wasm.Module(bytes)).exports as MaskExports;
    const pages = Math.ceil((chunkBytes + PLACEMENT) / PAGE);
    if (pages > 1) exports.m.grow(pages - 1);
  } catch {
    return null;
  }
  // The memory never grows after this, so its buffer stays attached.
  const memory = new Uint8Array(exports.m.buffer);
  const xor = exports.x;
  return (source, target, key) => {
    const length = source.length;
    const keyWord = key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24);
    // The chunk's place: the middle of the longer arc between the source's
    // and the target's offsets on a circle of 4096 bytes, rounded down to 64
    // bytes. Chunks of a multiple of 4096 bytes keep both offsets modulo
    // 4096, so one place serves every chunk.
    const from = source.byteOffset & 4095;
    const distance = (target.byteOffset - from) & 4095;
    const place = (from + (distance >> 1) + (distance < 2048 ? 2048 : 0)) & 4032;
    // A chunk is read whole before it is written back, so `target` may be `source`.
    for (let offset = 0; offset < length; offset += chunkBytes) {
      const n = Math.min(chunkBytes, length - offset);
      memory.set(n === length ? source : source.subarray(offset, offset + n), place);
      xor(place, place + n, keyWord);
      target.set(memory.subarray(place, place + n), offset);
    }
  };
}
