import { describe, expect, test } from 'vitest';
import { concat, hex, splits, utf8 } from '../testing/chunking.js';
import { ByteQueue } from './byte-queue.js';
import { PayloadTooBigError, ProtocolError } from './errors.js';
import { checkReservedBits, frame, Opcode, parseFrame, serializeFrame } from './frames.js';

function parseAll(chunks: Uint8Array[], mask: boolean, maxSize: number | null = null) {
  const queue = new ByteQueue();
  const frames = [];
  for (const chunk of chunks) {
    queue.push(chunk);
    for (let f = parseFrame(queue, { mask, maxSize }); f !== null; f = parseFrame(queue, { mask, maxSize })) {
      frames.push(f);
    }
  }
  expect(queue.length).toBe(0);
  return frames;
}

function parseOne(bytes: string, mask = false, maxSize: number | null = null) {
  const queue = new ByteQueue();
  queue.push(hex(bytes));
  return parseFrame(queue, { mask, maxSize });
}

const KEY = hex('37fa213d');

// RFC 6455, section 5.7: examples, each parsed whole, bytewise and in random splits.
const examples: Array<[name: string, bytes: string, masked: boolean, expected: ReturnType<typeof frame>]> = [
  ['unmasked text "Hello"', '81 05 48656c6c6f', false, frame(Opcode.TEXT, utf8('Hello'))],
  ['masked text "Hello"', '81 85 37fa213d 7f9f4d5158', true, frame(Opcode.TEXT, utf8('Hello'))],
  ['fragmented "Hel"', '01 03 48656c', false, frame(Opcode.TEXT, utf8('Hel'), false)],
  ['fragmented "lo"', '80 02 6c6f', false, frame(Opcode.CONT, utf8('lo'))],
  ['unmasked ping "Hello"', '89 05 48656c6c6f', false, frame(Opcode.PING, utf8('Hello'))],
  ['masked pong "Hello"', '8a 85 37fa213d 7f9f4d5158', true, frame(Opcode.PONG, utf8('Hello'))],
  ['256 bytes binary', `82 7e 0100 ${'00'.repeat(256)}`, false, frame(Opcode.BINARY, new Uint8Array(256))],
  [
    '64 KiB binary',
    `82 7f 0000000000010000 ${'00'.repeat(65536)}`,
    false,
    frame(Opcode.BINARY, new Uint8Array(65536)),
  ],
  ['close 1000', '88 02 03e8', false, frame(Opcode.CLOSE, hex('03e8'))],
  ['rsv1 set', 'c1 00', false, frame(Opcode.TEXT, new Uint8Array(0), true, true)],
];

describe('parseFrame: RFC 6455 5.7 examples', () => {
  for (const [name, bytes, masked, expected] of examples) {
    for (const [split, chunks] of splits(hex(bytes), 3, bytes.length > 1000 ? 1 : 4)) {
      if (split === 'bytewise' && bytes.length > 1000) continue;
      test(`${name} (${split})`, () => {
        expect(parseAll(chunks, masked)).toEqual([expected]);
      });
    }
  }

  test('a 64 KiB frame split bytewise', () => {
    const bytes = hex(`82 7f 0000000000010000 ${'ab'.repeat(65536)}`);
    const chunks = Array.from(bytes, (_, i) => bytes.slice(i, i + 1));
    expect(parseAll(chunks, false)).toEqual([frame(Opcode.BINARY, new Uint8Array(65536).fill(0xab))]);
  });

  test('several frames in one chunk', () => {
    expect(parseAll([hex('01 03 48656c 89 00 80 02 6c6f')], false)).toEqual([
      frame(Opcode.TEXT, utf8('Hel'), false),
      frame(Opcode.PING, new Uint8Array(0)),
      frame(Opcode.CONT, utf8('lo')),
    ]);
  });
});

describe('parseFrame: errors, raised as soon as the header is known', () => {
  test.each([
    ['reserved data opcode 3', '83 00', 'invalid opcode: 0x3'],
    ['reserved control opcode 0xb', '8b 00', 'invalid opcode: 0xb'],
    ['control frame of 126 bytes', '89 7e 007e', 'control frame too long'],
    ['fragmented ping', '09 00', 'fragmented control frame'],
    ['64-bit length with the top bit set', '82 7f 8000000000000000', 'invalid 64-bit payload length'],
  ])('%s', (_, bytes, message) => {
    expect(() => parseOne(bytes)).toThrow(new ProtocolError(message));
  });

  test('masked frame to a client, unmasked frame to a server', () => {
    expect(() => parseOne('81 85 37fa213d 7f9f4d5158', false)).toThrow(
      new ProtocolError('incorrect masking'),
    );
    expect(() => parseOne('81 05 48656c6c6f', true)).toThrow(new ProtocolError('incorrect masking'));
  });

  test('a 64-bit length above 2^53 - 1 fails with 1009 before any payload', () => {
    expect(() => parseOne('82 7f 0020000000000000')).toThrow(PayloadTooBigError);
    expect(() => parseOne('82 7f 7fffffffffffffff')).toThrow(PayloadTooBigError);
  });

  test('a length above maxSize fails before the payload is buffered', () => {
    let error: unknown;
    try {
      parseOne('82 7e 0401', false, 1024);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PayloadTooBigError);
    expect((error as PayloadTooBigError).closeCode).toBe(1009);
    expect((error as PayloadTooBigError).size).toBe(1025);
    expect(parseOne(`82 7e 0400 ${'00'.repeat(1024)}`, false, 1024)?.data.byteLength).toBe(1024);
  });

  test('maxSize does not apply to control frames', () => {
    expect(parseOne('89 05 48656c6c6f', false, 0)).toEqual(frame(Opcode.PING, utf8('Hello')));
  });

  test('incomplete frames return null and consume nothing', () => {
    for (const partial of ['81', '82 7e 01', '82 7f 00000000', '81 85 37fa', '81 05 4865']) {
      const queue = new ByteQueue();
      queue.push(hex(partial));
      expect(parseFrame(queue, { mask: partial.includes('85'), maxSize: null })).toBeNull();
      expect(queue.length).toBe(hex(partial).length);
    }
  });

  test('reserved bits are checked after extensions', () => {
    expect(() => checkReservedBits(frame(Opcode.TEXT, new Uint8Array(0), true, false, true))).toThrow(
      new ProtocolError('reserved bits must be 0'),
    );
    expect(() => checkReservedBits(frame(Opcode.TEXT, new Uint8Array(0)))).not.toThrow();
  });
});

describe('serializeFrame', () => {
  test('unmasked "Hello" (RFC 6455 5.7)', () => {
    expect(serializeFrame(frame(Opcode.TEXT, utf8('Hello')), null)).toEqual(hex('81 05 48656c6c6f'));
  });

  test('masked "Hello" (RFC 6455 5.7) without mutating the payload', () => {
    const payload = utf8('Hello');
    expect(serializeFrame(frame(Opcode.TEXT, payload), KEY)).toEqual(hex('81 85 37fa213d 7f9f4d5158'));
    expect(payload).toEqual(utf8('Hello'));
  });

  test('masked payloads on both sides of the byte-wise/word-wise boundary equal the definition', () => {
    // Below MASK_AT_LIMIT the payload is masked straight into the frame,
    // from 32 bytes on through a view with the word loop.
    const key = hex('a1b2c3d4');
    for (let length = 0; length <= 40; length++) {
      const payload = Uint8Array.from({ length }, (_, i) => (i * 37 + 11) & 0xff);
      const out = serializeFrame(frame(Opcode.BINARY, payload), key);
      const header = length < 126 ? 2 : 4;
      expect(out.subarray(header, header + 4)).toEqual(key);
      expect(out.subarray(header + 4)).toEqual(payload.map((byte, i) => byte ^ key[i & 3]!));
      expect(payload).toEqual(Uint8Array.from({ length }, (_, i) => (i * 37 + 11) & 0xff));
    }
  });

  test('7-, 16- and 64-bit lengths at their boundaries', () => {
    for (const [length, header] of [
      [125, '82 7d'],
      [126, '82 7e 007e'],
      [65535, '82 7e ffff'],
      [65536, '82 7f 0000000000010000'],
    ] as const) {
      const out = serializeFrame(frame(Opcode.BINARY, new Uint8Array(length)), null);
      expect(out.subarray(0, hex(header).length)).toEqual(hex(header));
      expect(out.byteLength).toBe(hex(header).length + length);
    }
  });

  test('flags: fin clear, rsv1', () => {
    expect(serializeFrame(frame(Opcode.TEXT, utf8('Hel'), false), null)).toEqual(hex('01 03 48656c'));
    expect(serializeFrame(frame(Opcode.TEXT, new Uint8Array(0), true, true), null)).toEqual(hex('c1 00'));
  });

  test('round-trips through parseFrame, masked and unmasked', () => {
    for (const length of [0, 1, 125, 126, 1000, 70000]) {
      const data = Uint8Array.from({ length }, (_, i) => i & 0xff);
      for (const key of [null, KEY]) {
        const bytes = serializeFrame(frame(Opcode.BINARY, data), key);
        expect(parseAll([bytes], key !== null)).toEqual([frame(Opcode.BINARY, data)]);
      }
    }
  });

  test('concat joins chunks', () => {
    expect(concat([hex('01'), hex('02')])).toEqual(hex('0102'));
  });
});
