import { describe, expect, test } from 'vitest';
import { hex, utf8 } from '../testing/chunking.js';
import { isValidCloseCode, parseClose, serializeClose, truncateReason } from './close.js';
import { InvalidUtf8Error, ProtocolError } from './errors.js';

describe('close payloads', () => {
  test('valid codes on the wire: 1000-1003, 1007-1014, 3000-4999', () => {
    const valid = [];
    for (let code = 0; code < 6000; code++) if (isValidCloseCode(code)) valid.push(code);
    const expected = [1000, 1001, 1002, 1003, ...Array.from({ length: 8 }, (_, i) => 1007 + i)];
    for (let code = 3000; code <= 4999; code++) expected.push(code);
    expect(valid).toEqual(expected);
  });

  test('parses code and reason', () => {
    expect(parseClose(hex('03e8 627965'))).toEqual({ code: 1000, reason: 'bye' });
    expect(parseClose(hex('0fa0'))).toEqual({ code: 4000, reason: '' });
  });

  test('an empty payload means 1005, no status received', () => {
    expect(parseClose(new Uint8Array(0))).toEqual({ code: 1005, reason: '' });
  });

  test.each([
    ['one byte', '03', 'close frame too short'],
    ['1005 on the wire', '03ed', 'invalid close code: 1005'],
    ['1006 on the wire', '03ee', 'invalid close code: 1006'],
    ['1015 on the wire', '03f7', 'invalid close code: 1015'],
    ['1004 reserved', '03ec', 'invalid close code: 1004'],
    ['999', '03e7', 'invalid close code: 999'],
    ['5000', '1388', 'invalid close code: 5000'],
  ])('rejects %s', (_, payload, message) => {
    expect(() => parseClose(hex(payload))).toThrow(new ProtocolError(message));
  });

  test('rejects an invalid UTF-8 reason with InvalidUtf8Error (1007)', () => {
    let error: unknown;
    try {
      parseClose(hex('03e8 ff'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidUtf8Error);
    expect((error as InvalidUtf8Error).closeCode).toBe(1007);
  });

  test('serializes, limiting the reason to 123 bytes', () => {
    expect(serializeClose({ code: 1001, reason: 'é' })).toEqual(hex('03e9 c3a9'));
    expect(serializeClose({ code: 3000, reason: 'x'.repeat(123) }).byteLength).toBe(125);
    expect(() => serializeClose({ code: 3000, reason: 'x'.repeat(124) })).toThrow(ProtocolError);
    expect(() => serializeClose({ code: 1006, reason: '' })).toThrow(ProtocolError);
  });

  test('truncateReason cuts on a code point boundary', () => {
    const reason = `${'x'.repeat(121)}😀`; // 121 + 4 bytes
    const truncated = truncateReason(reason);
    expect(truncated).toBe('x'.repeat(121));
    expect(utf8(truncateReason('é'.repeat(100))).byteLength).toBe(122);
    expect(truncateReason('short')).toBe('short');
  });
});
