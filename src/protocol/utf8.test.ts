import { describe, expect, test } from 'vitest';
import { hex, seededRandom } from '../testing/chunking.js';
import { isValidUtf8, Utf8Validator } from './utf8.js';

describe('Utf8Validator', () => {
  test.each([
    ['ascii', '48656c6c6f', true],
    ['emoji', 'f09f9880', true],
    ['max code point U+10FFFF', 'f48fbfbf', true],
    ['above U+10FFFF', 'f4908080', false],
    ['overlong 2-byte', 'c0af', false],
    ['overlong 3-byte', 'e080af', false],
    ['overlong 4-byte', 'f08080af', false],
    ['surrogate U+D800', 'eda080', false],
    ['lone continuation', '80', false],
    ['truncated at end', 'e282', false],
    ['invalid byte ff', 'ff', false],
    ['BOM', 'efbbbf', true],
  ])('%s', (_, bytes, valid) => {
    expect(isValidUtf8(hex(bytes))).toBe(valid);
  });

  test('fails fast on the first invalid fragment, before the message ends', () => {
    const validator = new Utf8Validator();
    expect(validator.update(hex('cebae1bd b9cf83'))).toBe(true);
    expect(validator.update(hex('ce'))).toBe(true); // incomplete so far, still fine
    expect(validator.update(hex('bc 80'))).toBe(false);
  });

  test('sequences split across fragments at every position', () => {
    const bytes = hex('f09f9880 e282ac c3a9');
    for (let cut = 0; cut <= bytes.length; cut++) {
      const validator = new Utf8Validator();
      expect(
        validator.update(bytes.subarray(0, cut)) && validator.update(bytes.subarray(cut)) && validator.end(),
      ).toBe(true);
    }
  });

  test('agrees with a fatal TextDecoder on random input (differential)', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const random = seededRandom(7);
    const interesting = [
      0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0,
      0xf4, 0xf5, 0xff,
    ];
    for (let n = 0; n < 100_000; n++) {
      const length = 1 + Math.floor(random() * 7);
      const bytes = Uint8Array.from(
        { length },
        () => interesting[Math.floor(random() * interesting.length)]!,
      );
      let expected = true;
      try {
        decoder.decode(bytes);
      } catch {
        expected = false;
      }
      const validator = new Utf8Validator();
      const cut = Math.floor(random() * (length + 1));
      const actual =
        validator.update(bytes.subarray(0, cut)) && validator.update(bytes.subarray(cut)) && validator.end();
      expect(actual, `bytes ${Array.from(bytes, (b) => b.toString(16))}`).toBe(expected);
    }
  });

  test('long ASCII runs, scanned four bytes at a time, at every alignment: one bad byte anywhere is found', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const random = seededRandom(11);
    const backing = new Uint8Array(1100);
    for (let n = 0; n < 3000; n++) {
      const offset = Math.floor(random() * 8);
      const length = 120 + Math.floor(random() * 900);
      const bytes = backing.subarray(offset, offset + length);
      for (let i = 0; i < length; i++) bytes[i] = 0x20 + Math.floor(random() * 0x5f);
      const mode = n % 3;
      if (mode === 1) bytes[Math.floor(random() * length)] = 0x80 + Math.floor(random() * 0x80);
      if (mode === 2) bytes.set([0xe2, 0x82, 0xac].slice(0, length), Math.floor(random() * (length - 3)));
      let expected = true;
      try {
        decoder.decode(bytes);
      } catch {
        expected = false;
      }
      expect(isValidUtf8(bytes), `offset ${offset}, length ${length}, mode ${mode}`).toBe(expected);
    }
  });
});
