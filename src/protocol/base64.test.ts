import { describe, expect, test } from 'vitest';
import { seededRandom } from '../testing/chunking.js';
import { decodeBase64, encodeBase64 } from './base64.js';

describe('base64', () => {
  test('RFC 4648 test vectors', () => {
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of vectors) {
      const bytes = new TextEncoder().encode(plain);
      expect(encodeBase64(bytes)).toBe(encoded);
      expect(decodeBase64(encoded)).toEqual(bytes);
    }
  });

  test('round-trips random bytes and agrees with Node', () => {
    const random = seededRandom(3);
    for (let n = 0; n < 500; n++) {
      const bytes = Uint8Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
      const encoded = encodeBase64(bytes);
      expect(encoded).toBe(Buffer.from(bytes).toString('base64'));
      expect(decodeBase64(encoded)).toEqual(bytes);
    }
  });

  test.each(['abc', 'ab=c', 'a===', 'Zh==', 'Zm9=', '!!!!', 'Zg==Zg==', 'Zg=\n'])('rejects %j', (text) => {
    expect(decodeBase64(text)).toBeNull();
  });
});
