import { createHash } from 'node:crypto';
import { sha1 as nobleSha1 } from '@noble/hashes/legacy.js';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { toHex } from '../testing/chunking.js';
import { sha1 } from './sha1.js';

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const nodeSha1 = (bytes: Uint8Array) => createHash('sha1').update(bytes).digest('hex');

describe('SHA-1 (FIPS 180-4)', () => {
  test('FIPS 180 / RFC 3174 test vectors', () => {
    const vectors: Array<[Uint8Array, string]> = [
      [new Uint8Array(0), 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
      [latin1('abc'), 'a9993e364706816aba3e25717850c26c9cd0d89d'],
      // 448 bits: the padding needs a second block.
      [
        latin1('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
        '84983e441c3bd26ebaae4aa1f95129e5e54670f1',
      ],
      // 896 bits.
      [
        latin1(
          'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
        ),
        'a49b2446a02c645bf419f995b67091253a04a259',
      ],
      [new Uint8Array(1_000_000).fill(0x61), '34aa973cd4c4daa4f61eeb2bdbad27316534016f'],
    ];
    for (const [message, digest] of vectors) expect(toHex(sha1(message))).toBe(digest);
  });

  test('every length around the block boundaries, 0 to 130 bytes', () => {
    for (let length = 0; length <= 130; length++) {
      const message = Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 0xff);
      expect(toHex(sha1(message)), `length ${length}`).toBe(nodeSha1(message));
    }
  });

  test('does not read outside a view, nor mutate it', () => {
    const buffer = Uint8Array.from({ length: 100 }, (_, i) => i);
    const view = buffer.subarray(10, 75);
    const before = buffer.slice();
    expect(toHex(sha1(view))).toBe(nodeSha1(view));
    expect(buffer).toEqual(before);
  });

  test('agrees with node:crypto and @noble/hashes on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1000 }), (message) => {
        const digest = toHex(sha1(message));
        expect(digest).toBe(nodeSha1(message));
        expect(digest).toBe(toHex(nobleSha1(message)));
      }),
      { numRuns: 500, seed: 20261126 },
    );
  });
});
