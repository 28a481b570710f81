/**
 * What is Node-specific about the native codec. The contract both codecs
 * share (sync flush, window sizes, reset, bounds, RFC 7692 examples) is
 * tested over both in src/protocol/extensions/deflate-codec.test.ts; here:
 * interoperation with pako-made and `ws`-made streams, the restart after a
 * BFINAL block (node:zlib has no inflateResetKeep), buffers that are views,
 * errors without stray 'error' events, the fallback to pako, and Deno and
 * Bun, where `polysocket/node` runs too.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { PayloadTooBigError } from '../protocol/errors.js';
import {
  createDeflateCodec,
  DecompressionError,
  PakoDeflateCodec,
} from '../protocol/extensions/deflate-codec.js';
import { concat, hex, toHex, utf8 } from '../testing/chunking.js';
import { mulberry32 } from '../testing/fault-transport.js';
import { createNodeDeflateCodec, NodeDeflateCodec, nativeDeflateSupport } from './deflate-codec.js';

const require = createRequire(import.meta.url);

interface WsPerMessageDeflate {
  accept(configurations: Array<Record<string, unknown[]>>): Record<string, unknown>;
  compress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  decompress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  cleanup(): void;
}
// Not exported by ws' package.json: loaded by path, as bench/deflate.bench.ts does.
const wsRoot = dirname(require.resolve('ws/package.json'));
const WsPerMessageDeflate = require(join(wsRoot, 'lib/permessage-deflate.js')) as new (
  options: Record<string, unknown>,
) => WsPerMessageDeflate;

/** Byte equality; `toEqual` walks large arrays element by element, slowly. */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)).toBe(true);
}

/** Deterministic PRNG (mulberry32). */
const prng = mulberry32;

/** JSON-like text of `size` bytes, with repeats within and across messages. */
function text(random: () => number, size: number): Uint8Array {
  const words = ['"id":', '"status":"done"', '"price":', ',', '{', '}', '"user":"alpha"', '"items":[]'];
  let out = '';
  while (out.length < size)
    out += random() < 0.3 ? String(Math.floor(random() * 1e6)) : words[Math.floor(random() * words.length)];
  return utf8(out.slice(0, size));
}

/** Messages from a few bytes to 100 KiB, some incompressible. */
function messages(seed: number, count: number): Uint8Array[] {
  const random = prng(seed);
  return Array.from({ length: count }, () => {
    const size = Math.floor(random() ** 3 * 100_000);
    return random() < 0.15 ? new Uint8Array(size).map(() => Math.floor(random() * 256)) : text(random, size);
  });
}

/** As permessage-deflate sends a message: the sync flush's 00 00 ff ff removed (RFC 7692, 7.2.1). */
function strip(compressed: Uint8Array): Uint8Array {
  const n = compressed.byteLength;
  if (n >= 4 && compressed[n - 4] === 0 && compressed[n - 3] === 0 && compressed[n - 1] === 0xff)
    return compressed.subarray(0, n - 4);
  return n === 0 ? new Uint8Array([0]) : compressed;
}

function call(
  method: (data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void) => void,
  data: Uint8Array,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    method(Buffer.from(data), true, (error, result) => (error ? reject(error) : resolve(result!))),
  );
}

describe('the ./node entry', () => {
  let server: WebSocketServer;
  let url: string;
  beforeAll(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
    server.on('connection', (socket) =>
      socket.on('message', (data, binary) => socket.send(data, { binary })),
    );
    await new Promise((resolve) => server.once('listening', resolve));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function echo(options: Record<string, unknown>): Promise<string> {
    const { WebSocket } = await import('../node.js');
    const socket = new WebSocket(url, [], options);
    const message = 'compress me '.repeat(1000);
    const received = await new Promise<string>((resolve, reject) => {
      socket.onopen = () => socket.send(message);
      socket.onmessage = (event) => resolve(event.data as string);
      socket.onerror = () => reject(new Error('error event'));
    });
    expect(socket.extensions).toMatch(/^permessage-deflate/);
    socket.close();
    return received === message ? 'echoed' : 'garbled';
  }

  it('compresses and inflates with native zlib by default', async () => {
    const compress = vi.spyOn(NodeDeflateCodec.prototype, 'compress');
    const decompress = vi.spyOn(NodeDeflateCodec.prototype, 'decompress');
    const pako = vi.spyOn(PakoDeflateCodec.prototype, 'compress');
    expect(await echo({})).toBe('echoed');
    expect(compress).toHaveBeenCalled();
    expect(decompress).toHaveBeenCalled();
    expect(pako).not.toHaveBeenCalled();
  });

  it('keeps the codec that `compression` names', async () => {
    const native = vi.spyOn(NodeDeflateCodec.prototype, 'compress');
    const pako = vi.spyOn(PakoDeflateCodec.prototype, 'compress');
    expect(await echo({ compression: { codec: createDeflateCodec } })).toBe('echoed');
    expect(pako).toHaveBeenCalled();
    expect(native).not.toHaveBeenCalled();
  });
});

describe('NodeDeflateCodec', () => {
  it('is what the ./node entry uses on Node', () => {
    expect(nativeDeflateSupport()).toEqual({ compress: true, decompress: true });
    expect(createNodeDeflateCodec({ windowBits: 15 })).toBeInstanceOf(NodeDeflateCodec);
  });

  describe('interoperates with pako, both ways', () => {
    for (const windowBits of [8, 9, 12, 15]) {
      for (const takeover of [true, false]) {
        it(`windowBits ${windowBits}, context takeover ${takeover ? 'on' : 'off'}`, () => {
          const input = messages(windowBits, 25);
          for (const [Sender, Receiver] of [
            [NodeDeflateCodec, PakoDeflateCodec],
            [PakoDeflateCodec, NodeDeflateCodec],
          ] as const) {
            const sender = new Sender({ windowBits, level: 9, memLevel: 9 });
            const receiver = new Receiver({ windowBits });
            for (const message of input) {
              if (!takeover) {
                sender.reset();
                receiver.reset();
              }
              expectBytes(receiver.decompress(strip(sender.compress(message)), null, true), message);
            }
          }
        });
      }
    }

    it('produces the same bytes as pako, zlib for zlib', () => {
      // Not a requirement, but it makes differences easy to see: both are
      // zlib, with the same settings.
      const node = new NodeDeflateCodec({ windowBits: 15 });
      const pako = new PakoDeflateCodec({ windowBits: 15 });
      for (const message of messages(3, 10)) expectBytes(node.compress(message), pako.compress(message));
    });
  });

  describe('interoperates with ws, both ways', () => {
    for (const windowBits of [8, 10, 15]) {
      for (const takeover of [true, false]) {
        it(`windowBits ${windowBits}, context takeover ${takeover ? 'on' : 'off'}`, async () => {
          // ws is the server: it compresses with the server's parameters
          // and inflates with the client's.
          const ws = new WsPerMessageDeflate({
            isServer: true,
            threshold: 0,
            serverMaxWindowBits: windowBits,
            clientMaxWindowBits: windowBits,
            serverNoContextTakeover: !takeover,
            clientNoContextTakeover: !takeover,
          });
          ws.accept([{ client_max_window_bits: [true] }]);
          const encoder = new NodeDeflateCodec({ windowBits });
          const decoder = new NodeDeflateCodec({ windowBits });
          for (const message of messages(20 + windowBits, 20)) {
            if (!takeover) encoder.reset();
            const ours = strip(encoder.compress(message));
            expectBytes(await call(ws.decompress.bind(ws), ours), message);
            if (!takeover) decoder.reset();
            const theirs = await call(ws.compress.bind(ws), message);
            expectBytes(decoder.decompress(theirs, null, true), message);
          }
          ws.cleanup();
        });
      }
    }
  });

  describe('after a block with BFINAL set', () => {
    /**
     * A whole DEFLATE stream (Z_FINISH: its last block has BFINAL set) as
     * a message: RFC 7692, 7.2.1: "If the resulting data does not end with
     * an empty DEFLATE block with no compression [...], append an empty
     * DEFLATE block with no compression to the tail end", then remove 4
     * octets; one 0x00 remains, as in the example of 7.2.3.4.
     */
    const finished = (data: Uint8Array, options: zlib.ZlibOptions = {}) =>
      concat([zlib.deflateRawSync(data, options), new Uint8Array([0])]);
    const first = utf8('The quick brown fox jumps over the lazy dog. ');
    const second = utf8('The quick brown fox jumps over the lazy dog again. ');
    // A stream that ends, then one whose back-references reach into the
    // bytes of the first.
    const ended = zlib.deflateRawSync(first);
    const following = strip(
      zlib.deflateRawSync(second, { dictionary: first, finishFlush: zlib.constants.Z_SYNC_FLUSH }),
    );

    it('refers to the bytes before (RFC 7692, 7.2.3.4)', () => {
      expect(
        zlib.deflateRawSync(second, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).byteLength - 4,
      ).toBeGreaterThan(following.byteLength);
      // Separate messages.
      const codec = new NodeDeflateCodec({ windowBits: 15 });
      expectBytes(codec.decompress(finished(first), null, true), first);
      expectBytes(codec.decompress(following, null, true), second);
      // Both streams in one message: the restart happens within a call.
      const one = new NodeDeflateCodec({ windowBits: 15 });
      expectBytes(one.decompress(concat([ended, following]), null, true), concat([first, second]));
      // Two frames split right after the BFINAL block: the restart
      // happens at the start of the second call.
      const split = new NodeDeflateCodec({ windowBits: 15 });
      expectBytes(split.decompress(ended, null, false), first);
      expectBytes(split.decompress(following, null, true), second);
    });

    it('keeps a full window, across messages', () => {
      const random = prng(5);
      for (const windowBits of [9, 15]) {
        const size = 2 ** windowBits;
        const deflateBits = Math.max(windowBits, 9);
        const history = text(random, size * 3);
        const window = history.subarray(history.byteLength - size);
        // zlib's compressor refers at most 2 ** windowBits - 262 bytes back.
        const next = concat([window.subarray(270, 310), window.subarray(size - 300, size - 200)]);
        const codec = new NodeDeflateCodec({ windowBits });
        const sender = new PakoDeflateCodec({ windowBits });
        const head = history.subarray(0, size);
        expectBytes(codec.decompress(strip(sender.compress(head)), null, true), head);
        const rest = history.subarray(size);
        expectBytes(codec.decompress(finished(rest, { windowBits: deflateBits }), null, true), rest);
        const tail = zlib.deflateRawSync(next, {
          windowBits: deflateBits,
          dictionary: window,
          finishFlush: zlib.constants.Z_SYNC_FLUSH,
        });
        // It does refer back, far.
        if (windowBits === 15) expect(tail.byteLength).toBeLessThan(zlib.deflateRawSync(next).byteLength / 2);
        expectBytes(codec.decompress(strip(tail), null, true), next);
      }
    });

    it('forgets the window on reset(), dictionary and all', () => {
      const codec = new NodeDeflateCodec({ windowBits: 15 });
      expectBytes(codec.decompress(finished(first), null, true), first);
      // A second stream: the restart primes the new inflater with "first".
      expectBytes(codec.decompress(finished(first), null, true), first);
      codec.reset();
      expect(() => codec.decompress(following, null, true)).toThrow(/too far back/);
    });

    it('still bounds the output', () => {
      const codec = new NodeDeflateCodec({ windowBits: 15 });
      const whole = concat([ended, following]);
      expect(() => codec.decompress(whole, first.byteLength + 10, true)).toThrow(PayloadTooBigError);
      const exact = new NodeDeflateCodec({ windowBits: 15 });
      expect(exact.decompress(whole, first.byteLength + second.byteLength, true).byteLength).toBe(
        first.byteLength + second.byteLength,
      );
    });
  });

  it('takes views into larger buffers, and returns results that later calls leave alone', () => {
    const backing = new Uint8Array(1000).fill(0x61);
    backing.set(utf8('Hello, hello!'), 500);
    const codec = new NodeDeflateCodec({ windowBits: 15 });
    const a = codec.compress(backing.subarray(500, 513));
    const b = codec.compress(backing.subarray(500, 513));
    const aCopy = Uint8Array.from(a);
    const packed = new Uint8Array(a.byteLength + b.byteLength + 20);
    packed.set(a, 7);
    packed.set(b, 7 + a.byteLength);
    const inflater = new NodeDeflateCodec({ windowBits: 15 });
    const x = inflater.decompress(packed.subarray(7, 7 + a.byteLength), null, false);
    const y = inflater.decompress(
      packed.subarray(7 + a.byteLength, 7 + a.byteLength + b.byteLength),
      null,
      false,
    );
    expect(a).toEqual(aCopy);
    expect(x).toEqual(utf8('Hello, hello!'));
    expect(y).toEqual(utf8('Hello, hello!'));
  });

  describe('invalid data', () => {
    const uncaught = vi.fn();
    afterEach(() => {
      process.off('uncaughtException', uncaught);
    });

    it('throws DecompressionError synchronously, and nothing later', async () => {
      process.on('uncaughtException', uncaught);
      const codec = new NodeDeflateCodec({ windowBits: 15 });
      expect(() => codec.decompress(hex('ffffffff'), null, true)).toThrow(DecompressionError);
      // A back-reference further back than anything inflated so far.
      const fresh = new NodeDeflateCodec({ windowBits: 15 });
      expect(() => fresh.decompress(hex('f200110000'), null, true)).toThrow(/too far back/);
      // node:zlib's own handler would emit 'error' on a later tick.
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(uncaught).not.toHaveBeenCalled();
    });
  });

  describe('where node:zlib lacks something', () => {
    afterEach(() => {
      vi.doUnmock('node:zlib');
      vi.resetModules();
    });

    /** The codec's module over a node:zlib whose raw streams pass through `change`. */
    async function withZlib(change: (stream: object, options: zlib.ZlibOptions) => object) {
      vi.resetModules();
      vi.doMock('node:zlib', async (importOriginal) => {
        const { default: original } = await importOriginal<{ default: typeof zlib }>();
        return {
          default: {
            ...original,
            createDeflateRaw: (options: zlib.ZlibOptions) =>
              change(original.createDeflateRaw(options), options),
            createInflateRaw: (options: zlib.ZlibOptions) =>
              change(original.createInflateRaw(options), options),
          },
        };
      });
      return {
        node: await import('./deflate-codec.js'),
        pako: await import('../protocol/extensions/deflate-codec.js'),
      };
    }

    it('the synchronous handle: pako', async () => {
      const { node, pako } = await withZlib((stream) => Object.assign(stream, { _handle: undefined }));
      expect(node.nativeDeflateSupport()).toEqual({ compress: false, decompress: false });
      const codec = node.createNodeDeflateCodec({ windowBits: 15 });
      expect(codec).toBeInstanceOf(pako.PakoDeflateCodec);
      expect(codec.decompress(codec.compress(utf8('Hello')), null, false)).toEqual(utf8('Hello'));
    });

    it("a raw inflater's dictionary (Deno 2.9): native compression, pako inflation", async () => {
      const { default: original } = await import('node:zlib');
      const { node } = await withZlib((stream, options) =>
        options.dictionary === undefined
          ? stream
          : original.createInflateRaw({ ...options, dictionary: undefined }),
      );
      expect(node.nativeDeflateSupport()).toEqual({ compress: true, decompress: false });
      const codec = node.createNodeDeflateCodec({ windowBits: 15 });
      expect(codec).not.toBeInstanceOf(node.NodeDeflateCodec);
      expect(toHex(codec.compress(utf8('Hello')))).toBe('f248cdc9c907000000ffff');
      expect(codec.decompress(hex('f348cdc9c9070000'), null, true)).toEqual(utf8('Hello'));
      expect(codec.decompress(hex('f200110000'), null, true)).toEqual(utf8('Hello'));
      codec.reset();
      expect(toHex(codec.compress(utf8('Hello')))).toBe('f248cdc9c907000000ffff');
      // (Another DecompressionError class: the modules were loaded anew.)
      expect(() => codec.decompress(hex('f200110000'), null, true)).toThrow(/too far back/);
    });
  });

  describe('on Deno and Bun, where polysocket/node runs too', () => {
    const ROOT = fileURLToPath(new URL('../../', import.meta.url));
    const MODULE = fileURLToPath(new URL('./deflate-codec.ts', import.meta.url));
    // Self-contained: round trips over every window size with and without
    // context takeover, a BFINAL restart, a bound and corrupt data.
    const script = `
      const m = await import(${JSON.stringify(MODULE)});
      const { PakoDeflateCodec } = await import(${JSON.stringify(`${ROOT}src/protocol/extensions/deflate-codec.ts`)});
      const enc = (s) => new TextEncoder().encode(s);
      const same = (a, b) => a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
      const results = { native: m.nativeDeflateSupport(), roundTrips: 0, errors: [] };
      for (let bits = 8; bits <= 15; bits++) {
        for (const takeover of [true, false]) {
          const a = m.createNodeDeflateCodec({ windowBits: bits });
          const b = new PakoDeflateCodec({ windowBits: bits });
          for (let i = 0; i < 20; i++) {
            const message = enc(JSON.stringify({ i, text: 'abcdefgh'.repeat(i * 50), n: i * 7919 }));
            if (!takeover) { a.reset(); b.reset(); }
            const x = a.compress(message);
            if (!same(b.decompress(x, null, false), message)) results.errors.push('native to pako ' + bits);
            if (!same(a.decompress(b.compress(message), null, false), message)) results.errors.push('pako to native ' + bits);
            results.roundTrips++;
          }
        }
      }
      const c = m.createNodeDeflateCodec({ windowBits: 15 });
      const hex = (h) => Uint8Array.from(h.match(/../g).map((x) => parseInt(x, 16)));
      const text = (h) => new TextDecoder().decode(c.decompress(hex(h), null, true));
      results.bfinal = text('f348cdc9c9070000') + text('f200110000');
      const big = m.createNodeDeflateCodec({ windowBits: 15 }).compress(new Uint8Array(100000));
      try { m.createNodeDeflateCodec({ windowBits: 15 }).decompress(big, 99999, false); } catch (e) { results.bounded = e.name; }
      try { m.createNodeDeflateCodec({ windowBits: 15 }).decompress(hex('ffffffff'), null, true); } catch (e) { results.corrupt = e.name; }
      console.log(JSON.stringify(results));
    `;
    const expected = {
      roundTrips: 320,
      errors: [],
      bfinal: 'HelloHello',
      bounded: 'PayloadTooBigError',
      corrupt: 'DecompressionError',
    };
    const runtimes = {
      deno: [`${ROOT}node_modules/.bin/deno`, ['eval', '--sloppy-imports', '--no-lock', script]],
      bun: [`${ROOT}node_modules/.bin/bun`, ['-e', script]],
    } as const;
    for (const [name, [command, args]] of Object.entries(runtimes)) {
      it(name, () => {
        const run = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
        expect(run.stderr).toBe('');
        // Deno 2.9.6 (the devDependency) ignores a raw inflater's
        // dictionary; see nativeDeflateSupport().
        const native = { compress: true, decompress: name !== 'deno' };
        expect(JSON.parse(run.stdout.trim().split('\n').pop()!)).toEqual({ ...expected, native });
      });
    }
  });
});
