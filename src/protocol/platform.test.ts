import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodeUtf8, encodeUtf8 } from './platform.js';

describe('encodeUtf8', () => {
  const reference = new TextEncoder();

  test.each([
    ['empty', ''],
    ['ASCII', 'hello'],
    ['64 ASCII characters (the last of the short path)', 'x'.repeat(64)],
    ['65 ASCII characters', 'x'.repeat(65)],
    ['non-ASCII at the end of a short string', `${'a'.repeat(15)}é`],
    ['non-ASCII first', 'éa'],
    ['a DEL (0x7f) stays ASCII', '\u007f'],
    ['emoji (a surrogate pair)', 'a😀b'],
    ['lone high surrogate becomes U+FFFD', 'a\ud800b'],
    ['lone low surrogate becomes U+FFFD', '\udc00'],
  ])('%s: the bytes of TextEncoder', (_, text) => {
    expect(encodeUtf8(text)).toEqual(reference.encode(text));
  });

  test('any string of up to 80 code units (both paths): the bytes of TextEncoder, and round-trips', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80, unit: 'binary' }),
          fc.string({ maxLength: 80 }),
          fc.string({ maxLength: 80, unit: fc.constantFrom('a', 'é', '\ud800', '\udc00', '😀') }),
        ),
        (text) => {
          const bytes = encodeUtf8(text);
          expect(bytes).toEqual(reference.encode(text));
          // USVString conversion: what TextDecoder gives back is the string with
          // lone surrogates replaced, i.e. TextEncoder's own round trip.
          expect(decodeUtf8(bytes)).toBe(new TextDecoder().decode(reference.encode(text)));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('the result is a plain Uint8Array of its own, safe to hand over', () => {
    const bytes = encodeUtf8('abc');
    expect(bytes.constructor).toBe(Uint8Array);
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(3);
  });
});
