import { describe, expect, test } from 'vitest';
import { fixedRandom } from '../testing/chunking.js';
import { computeAccept, generateKey } from './handshake.js';

describe('Sec-WebSocket-Key and Sec-WebSocket-Accept', () => {
  test('RFC 6455 1.3 example', () => {
    expect(computeAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  test('a key is 16 random bytes, base64-encoded', () => {
    expect(generateKey(fixedRandom(0))).toBe('AAAAAAAAAAAAAAAAAAAAAA==');
    const a = generateKey((b) => crypto.getRandomValues(b));
    const b = generateKey((b) => crypto.getRandomValues(b));
    expect(Buffer.from(a, 'base64').byteLength).toBe(16);
    expect(a).not.toBe(b);
  });
});
