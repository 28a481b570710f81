import zlib from 'node:zlib';
import { ZStream, zlibInflate, zlibInflateInit2 } from 'pako';
import { describe, expect, it } from 'vitest';
import { NodeDeflateCodec } from '../../node/deflate-codec.js';
import { concat, hex, toHex, utf8 } from '../../testing/chunking.js';
import { mulberry32 } from '../../testing/fault-transport.js';
import { PayloadTooBigError } from '../errors.js';
import { createDeflateCodec, DecompressionError, type DeflateCodecFactory } from './deflate-codec.js';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Byte equality; `toEqual` walks large arrays element by element, slowly. */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)).toBe(true);
}

/** Compress each message with node:zlib's streaming deflater and a sync flush, as `ws` does. */
async function zlibMessages(messages: readonly Uint8Array[], windowBits: number): Promise<Buffer[]> {
  const deflater = zlib.createDeflateRaw({ windowBits });
  const chunks: Buffer[] = [];
  deflater.on('data', (chunk: Buffer) => chunks.push(chunk));
  const out: Buffer[] = [];
  for (const message of messages) {
    deflater.write(message);
    await new Promise<void>((resolve) => deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    out.push(Buffer.concat(chunks.splice(0)));
  }
  deflater.close();
  return out;
}

/** Deterministic PRNG (mulberry32). */
const prng = mulberry32;

/** Compressible bytes with repeats at every distance up to 32 KiB. */
function payload(random: () => number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let i = 0;
  while (i < size) {
    if (i > 16 && random() < 0.5) {
      const distance = 1 + Math.floor(random() * Math.min(i, 32768));
      const length = Math.min(size - i, 3 + Math.floor(random() * 80));
      for (let j = 0; j < length; j++, i++) out[i] = out[i - distance]!;
    } else {
      out[i++] = 97 + Math.floor(random() * 8);
    }
  }
  return out;
}

/**
 * Inflate one byte of output per call, so that every back-reference goes
 * through the window: pako (like zlib) then fails with "invalid distance too
 * far back" on any distance larger than `2 ** windowBits`.
 */
function strictInflate(data: Uint8Array, windowBits: number): Uint8Array {
  const strm = new ZStream();
  expect(zlibInflateInit2(strm, -windowBits)).toBe(0);
  strm.input = data;
  strm.next_in = 0;
  strm.avail_in = data.byteLength;
  const out: number[] = [];
  const one = new Uint8Array(1);
  for (;;) {
    strm.output = one;
    strm.next_out = 0;
    strm.avail_out = 1;
    const status = zlibInflate(strm, 2);
    if (status < 0 && status !== -5) throw new Error(strm.msg || `inflate error ${status}`);
    if (strm.next_out === 1) out.push(one[0]!);
    else break;
  }
  return Uint8Array.from(out);
}

/**
 * Every codec keeps the same contract, so one suite runs over each: the
 * core's pako codec, and the `./node` entry's codec over native zlib
 * (src/node/deflate-codec.ts, whose own tests add what is Node-specific).
 */
const CODECS: ReadonlyArray<{ name: string; create: DeflateCodecFactory }> = [
  { name: 'PakoDeflateCodec', create: createDeflateCodec },
  { name: 'NodeDeflateCodec', create: (options) => new NodeDeflateCodec(options) },
];

for (const { name, create } of CODECS) {
  describe(name, () => {
    it('ends every compress() with a sync flush (RFC 7692, 7.2.3.1)', () => {
      const codec = create({ windowBits: 15 });
      expect(toHex(codec.compress(utf8('Hello')))).toBe('f248cdc9c907000000ffff');
      // 7.2.3.2: with the window kept, the second "Hello" is a back-reference.
      expect(toHex(codec.compress(utf8('Hello')))).toBe('f200110000' + '0000ffff');
    });

    it('forgets the window on reset() (no context takeover)', () => {
      const codec = create({ windowBits: 15 });
      codec.compress(utf8('Hello'));
      codec.reset();
      expect(toHex(codec.compress(utf8('Hello')))).toBe('f248cdc9c907000000ffff');
      const decoder = create({ windowBits: 15 });
      expect(decoder.decompress(hex('f248cdc9c90700'), null, true)).toEqual(utf8('Hello'));
      decoder.reset();
      // A back-reference into a forgotten window is invalid.
      expect(() => decoder.decompress(hex('f200110000'), null, true)).toThrow(DecompressionError);
    });

    it('decompresses the RFC 7692 examples (7.2.3.1 to 7.2.3.6)', () => {
      const codec = create({ windowBits: 15 });
      const d = (h: string, end = true) => Buffer.from(codec.decompress(hex(h), null, end)).toString();
      expect(d('f248cd', false) + d('c9c90700')).toBe('Hello'); // 7.2.3.1, fragmented
      expect(d('f200110000')).toBe('Hello'); // 7.2.3.2
      expect(d('000500faff48656c6c6f00')).toBe('Hello'); // 7.2.3.3, stored block
      expect(d('f348cdc9c9070000')).toBe('Hello'); // 7.2.3.4, BFINAL set
      expect(d('f24805000000ffffcac9c90700')).toBe('Hello'); // 7.2.3.5, two blocks
      expect(d('f248cdc9c907000000ffff', false) + d('00')).toBe('Hello'); // 7.2.3.6, empty fragment
      // The window survives a BFINAL block: this refers to the "Hello" before.
      expect(d('f200110000')).toBe('Hello');
    });

    it('rejects corrupt data', () => {
      const codec = create({ windowBits: 15 });
      expect(() => codec.decompress(hex('ffffffff'), null, true)).toThrow(
        /decompression failed: invalid block type/,
      );
    });

    it('stops inflating one byte past maxLength', () => {
      const data = new Uint8Array(100_000).fill(120);
      const compressed = create({ windowBits: 15 }).compress(data);
      expectBytes(create({ windowBits: 15 }).decompress(compressed, 100_000, false), data);
      const error = (() => {
        try {
          create({ windowBits: 15 }).decompress(compressed, 99_999, false);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(error).toBeInstanceOf(PayloadTooBigError);
      expect((error as PayloadTooBigError).closeCode).toBe(1009);
      expect((error as PayloadTooBigError).maxSize).toBe(99_999);
    });

    it('validates its options', () => {
      expect(() => create({ windowBits: 7 })).toThrow(RangeError);
      expect(() => create({ windowBits: 16 })).toThrow(RangeError);
      expect(() => create({ windowBits: 15, level: 10 })).toThrow(RangeError);
      expect(() => create({ windowBits: 15, memLevel: 0 })).toThrow(RangeError);
    });

    it('handles outputs larger than its scratch buffer', () => {
      const random = prng(7);
      const data = new Uint8Array(300_000).map(() => Math.floor(random() * 256));
      const codec = create({ windowBits: 15 });
      const compressed = codec.compress(data);
      expect(compressed.byteLength).toBeGreaterThan(300_000);
      expectBytes(create({ windowBits: 15 }).decompress(compressed, null, false), data);
    });

    describe('window bits', () => {
      for (const windowBits of [8, 9, 10, 11, 12, 13, 14, 15]) {
        it(`never refers further back than ${2 ** windowBits} bytes with windowBits ${windowBits}`, () => {
          const random = prng(windowBits);
          const codec = create({ windowBits, level: 9, memLevel: 9 });
          const messages = [payload(random, 20_000), payload(random, 5_000), payload(random, 40_000)];
          const stream = concat(messages.map((m) => codec.compress(m)));
          expectBytes(strictInflate(stream, windowBits), concat(messages));
        });
      }

      it('strict inflation does catch distances beyond the window', () => {
        const random = prng(1);
        const codec = create({ windowBits: 15 });
        const stream = codec.compress(payload(random, 40_000));
        expect(() => strictInflate(stream, 9)).toThrow(/too far back/);
      });

      it('works around zlib refusing a raw 8-bit window for compression', () => {
        expect(() => zlib.deflateRawSync(Buffer.alloc(1), { windowBits: 8 })).not.toThrow(); // Node maps 8 to 9
        const codec = create({ windowBits: 8 });
        expect(codec.decompress(codec.compress(utf8('Hello')), null, false)).toEqual(utf8('Hello'));
      });
    });

    describe('differential against node:zlib', () => {
      const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
      for (const windowBits of [9, 10, 11, 12, 13, 14, 15]) {
        it(`interoperates with windowBits ${windowBits}`, async () => {
          const random = prng(100 + windowBits);
          const messages: Uint8Array[] = [];
          for (let i = 0; i < 30; i++) {
            const size = Math.floor(random() ** 3 * 70_000);
            messages.push(
              random() < 0.2
                ? new Uint8Array(size).map(() => Math.floor(random() * 256))
                : payload(random, size),
            );
          }
          // Ours → zlib, with context takeover: zlib inflates the whole stream.
          const ours = create({ windowBits });
          const stream = concat(messages.map((m) => ours.compress(m)));
          expectBytes(
            zlib.inflateRawSync(stream, { windowBits, finishFlush: Z_SYNC_FLUSH }),
            concat(messages),
          );
          // A strict inflater with the same window accepts it too.
          expect(strictInflate(stream.subarray(0, 30_000), windowBits).byteLength).toBeGreaterThan(0);

          // zlib → ours, with context takeover: message by message, each
          // sync-flushed with its trailer stripped, as a peer sends them.
          const inflater = create({ windowBits });
          const theirs = await zlibMessages(messages, windowBits);
          theirs.forEach((compressed, i) => {
            expect(compressed.subarray(-4)).toEqual(TAIL);
            expectBytes(inflater.decompress(compressed.subarray(0, -4), null, true), messages[i]!);
          });

          // Without context takeover, one-shot on each side.
          const fresh = create({ windowBits });
          for (const message of messages.slice(0, 10)) {
            fresh.reset();
            expectBytes(
              zlib.inflateRawSync(fresh.compress(message), { windowBits, finishFlush: Z_SYNC_FLUSH }),
              message,
            );
            const theirs = zlib.deflateRawSync(message, { windowBits, finishFlush: Z_SYNC_FLUSH });
            fresh.reset();
            expectBytes(fresh.decompress(theirs, null, false), message);
          }
        });
      }
    });
  });
}
