import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { seededRandom } from '../testing/chunking.js';
import { applyMask, maskInto, maskIntoJs, SIMD_MIN_BYTES, setSimdMasker } from './mask.js';
import {
  createSimdMasker,
  type Masker,
  SIMD_CHUNK,
  simdModuleBytes,
  type WebAssemblyApi,
} from './mask-simd.js';

function reference(data: Uint8Array, key: Uint8Array): Uint8Array {
  return data.map((byte, i) => byte ^ key[i % 4]!);
}

describe('applyMask', () => {
  test('RFC 6455 5.7: masked "Hello"', () => {
    const data = new TextEncoder().encode('Hello');
    applyMask(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
    expect(data).toEqual(new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]));
  });

  test('matches the byte-wise definition at every alignment and length', () => {
    const random = seededRandom(42);
    const key = new Uint8Array([0x12, 0x34, 0x56, 0x78]);
    for (const length of [0, 1, 3, 4, 15, 16, 31, 32, 33, 100, 1000, 4099]) {
      for (let offset = 0; offset < 8; offset++) {
        const backing = Uint8Array.from({ length: length + 8 }, () => Math.floor(random() * 256));
        const data = backing.subarray(offset, offset + length);
        const expected = reference(data, key);
        applyMask(data, key);
        expect(data).toEqual(expected);
      }
    }
  });

  test('maskInto copies into another array with different alignments without touching the source', () => {
    const random = seededRandom(7);
    const key = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    for (const length of [5, 64, 1027]) {
      for (let from = 0; from < 4; from++) {
        for (let to = 0; to < 4; to++) {
          const source = Uint8Array.from({ length: length + 4 }, () => Math.floor(random() * 256)).subarray(
            from,
          );
          const before = source.slice();
          const target = new Uint8Array(length + 8).subarray(to, to + source.length);
          maskInto(source, target, key);
          expect(target).toEqual(reference(before, key));
          expect(source).toEqual(before);
        }
      }
    }
  });

  test('masking twice restores the data', () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const key = new Uint8Array([1, 2, 3, 4]);
    applyMask(data, key);
    applyMask(data, key);
    expect(data).toEqual(Uint8Array.from({ length: 300 }, (_, i) => i & 0xff));
  });
});

/** The SIMD masker with one-page chunks (the default) and with 64-byte chunks (every chunk boundary). */
function simdMaskers(): [string, Masker][] {
  const maskers: [string, Masker][] = [];
  for (const chunk of [SIMD_CHUNK, 64]) {
    const masker = createSimdMasker(chunk);
    if (masker === null) throw new Error('this Node has WebAssembly SIMD: the masker must be created');
    maskers.push([`SIMD, ${chunk}-byte chunks`, masker]);
  }
  return maskers;
}

/** Where `actual` differs from the byte-wise definition, as text (empty when it matches). */
function mismatch(source: Uint8Array, actual: Uint8Array, key: Uint8Array): string {
  if (actual.length !== source.length) return `length ${actual.length}, expected ${source.length}`;
  for (let i = 0; i < source.length; i++) {
    if (actual[i] !== (source[i]! ^ key[i & 3]!)) return `byte ${i} of ${source.length}`;
  }
  return '';
}

function randomBytes(random: () => number, length: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

describe('masking in WebAssembly SIMD', () => {
  afterEach(() => setSimdMasker(undefined));

  test('the hand-assembled module validates and exports its memory and function', () => {
    const bytes = simdModuleBytes();
    expect(bytes.byteLength).toBe(138);
    expect(WebAssembly.validate(bytes)).toBe(true);
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(bytes));
    expect(exports).toEqual([
      { name: 'm', kind: 'memory' },
      { name: 'x', kind: 'function' },
    ]);
  });

  test('SIMD == JS == the byte-wise definition for every length 0..300 at every alignment, copying and in place', () => {
    const random = seededRandom(2026);
    const maskers: [string, Masker][] = [['JS', maskIntoJs], ...simdMaskers()];
    const failures: string[] = [];
    for (let length = 0; length <= 300; length++) {
      const key = randomBytes(random, 4);
      for (let from = 0; from < 8; from++) {
        const backing = randomBytes(random, length + 8);
        const source = backing.subarray(from, from + length);
        const before = source.slice();
        for (const [name, masker] of maskers) {
          for (let to = 0; to < 8; to++) {
            // Sentinels around the target: nothing outside it may be written.
            const targetBacking = new Uint8Array(length + 16).fill(0xa5);
            const target = targetBacking.subarray(to, to + length);
            masker(source, target, key);
            const wrong = mismatch(before, target, key);
            if (wrong !== '') failures.push(`${name}, copying, from ${from} to ${to}: ${wrong}`);
            if (targetBacking.subarray(0, to).some((byte) => byte !== 0xa5)) {
              failures.push(`${name}, copying, from ${from} to ${to}: wrote before the target`);
            }
            if (targetBacking.subarray(to + length).some((byte) => byte !== 0xa5)) {
              failures.push(`${name}, copying, from ${from} to ${to}: wrote past the target`);
            }
          }
          if (mismatch(before, source, new Uint8Array(4)) !== '')
            failures.push(`${name}: changed the source`);
          const inPlace = backing.slice().subarray(from, from + length);
          masker(inPlace, inPlace, key);
          const wrong = mismatch(before, inPlace, key);
          if (wrong !== '') failures.push(`${name}, in place at ${from}: ${wrong}`);
        }
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });

  test.each([
    ['1 MiB', 1024 * 1024],
    ['16 MiB + 3', 16 * 1024 * 1024 + 3],
  ])(
    'SIMD == JS == the byte-wise definition at %s, copying after a frame header and in place',
    (_, length) => {
      const random = seededRandom(length);
      const key = randomBytes(random, 4);
      const source = new Uint8Array(length);
      for (let i = 0; i < length; i += 4096) source.set(randomBytes(random, Math.min(64, length - i)), i);
      const [[, simd]] = simdMaskers() as [[string, Masker]];
      for (const [name, masker] of [
        ['JS', maskIntoJs],
        ['SIMD', simd],
      ] as const) {
        // 14 bytes: the header of a masked frame with a 64-bit length.
        const target = new Uint8Array(length + 14).subarray(14);
        masker(source, target, key);
        expect(mismatch(source, target, key), name).toBe('');
        const inPlace = source.slice();
        masker(inPlace, inPlace, key);
        expect(mismatch(source, inPlace, key), name).toBe('');
      }
    },
  );

  test('property: SIMD (any chunk size) == the byte-wise definition', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 1, max: 40 }),
        (data, key, to, chunks) => {
          const masker = createSimdMasker(chunks * 64);
          expect(masker).not.toBeNull();
          const target = new Uint8Array(data.length + to).subarray(to);
          masker!(data, target, key);
          expect(mismatch(data, target, key)).toBe('');
        },
      ),
    );
  });

  test('maskInto uses SIMD from SIMD_MIN_BYTES on, and JavaScript below', () => {
    const lengths: number[] = [];
    setSimdMasker((source, target, key) => {
      lengths.push(source.length);
      maskIntoJs(source, target, key);
    });
    const key = new Uint8Array([1, 2, 3, 4]);
    for (const length of [0, 31, SIMD_MIN_BYTES - 1, SIMD_MIN_BYTES, 3 * SIMD_CHUNK + 5]) {
      const data = new Uint8Array(length).fill(0x5a);
      const target = new Uint8Array(length);
      maskInto(data, target, key);
      expect(mismatch(data, target, key)).toBe('');
    }
    expect(lengths).toEqual([SIMD_MIN_BYTES, 3 * SIMD_CHUNK + 5]);
  });

  test('without WebAssembly SIMD, maskInto falls back to JavaScript', () => {
    const noSimd: WebAssemblyApi = {
      validate: () => false,
      Module: WebAssembly.Module,
      Instance: WebAssembly.Instance,
    };
    const refused: WebAssemblyApi = {
      // As under a Content-Security-Policy without 'wasm-unsafe-eval'.
      validate: () => true,
      Module: class {
        constructor() {
          throw new Error('Refused to compile or instantiate WebAssembly module');
        }
      },
      Instance: WebAssembly.Instance,
    };
    expect(createSimdMasker(SIMD_CHUNK, null)).toBeNull();
    expect(createSimdMasker(SIMD_CHUNK, noSimd)).toBeNull();
    expect(createSimdMasker(SIMD_CHUNK, refused)).toBeNull();

    setSimdMasker(createSimdMasker(SIMD_CHUNK, noSimd));
    const random = seededRandom(3);
    const key = randomBytes(random, 4);
    const data = randomBytes(random, 2 * SIMD_CHUNK + 7);
    const before = data.slice();
    const target = new Uint8Array(data.length + 14).subarray(14);
    maskInto(data, target, key);
    expect(mismatch(before, target, key)).toBe('');
    applyMask(data, key);
    expect(mismatch(before, data, key)).toBe('');
  });
});
