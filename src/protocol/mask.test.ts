import { describe, expect, test } from 'vitest';
import { seededRandom } from '../testing/chunking.js';
import { applyMask, maskInto } from './mask.js';

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
