/**
 * DenoTransport against a fake `Deno` whose connection behaves as Deno
 * 2.9.6's was seen to: `read()` returns `null` at the peer's FIN and
 * leaves the connection open, `closeWrite()` half-closes, and `close()`
 * throws `BadResource` once closed. The real Deno runs in e2e/runtimes.
 */

import { describe, expect, test } from 'vitest';
import { concat } from '../testing/chunking.js';
import {
  type DenoConnectOptionsLike,
  type DenoConnectTlsOptionsLike,
  type DenoConnLike,
  type DenoLike,
  DenoTransport,
} from './deno.js';
import type { Transport, TransportTarget } from './transport.js';

function target(secure = false): TransportTarget {
  return { url: `${secure ? 'wss' : 'ws'}://127.0.0.1:9000/`, host: '127.0.0.1', port: 9000, secure };
}

class FakeConn implements DenoConnLike {
  readonly calls: string[] = [];
  readonly written: number[] = [];
  readonly writable: WritableStream<Uint8Array>;
  /** Chunks the peer sends; `null` is its FIN. */
  readonly #incoming: Array<Uint8Array | null> = [];
  #wake: (() => void) | null = null;
  #closed = false;
  handshakeError: Error | null = null;

  constructor() {
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => {
        if (this.#closed) throw new Error('BadResource');
        this.written.push(...chunk);
      },
    });
  }
  push(chunk: Uint8Array | null): void {
    this.#incoming.push(chunk);
    this.#wake?.();
  }
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#incoming.length === 0) {
      if (this.#closed) throw new Error('BadResource');
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    const chunk = this.#incoming.shift() as Uint8Array | null;
    if (chunk === null) return null;
    buffer.set(chunk);
    return chunk.byteLength;
  }
  async closeWrite(): Promise<void> {
    this.calls.push('closeWrite');
  }
  close(): void {
    if (this.#closed) throw new Error('BadResource');
    this.#closed = true;
    this.calls.push('close');
    this.#wake?.();
  }
  setNoDelay(): void {
    this.calls.push('setNoDelay');
  }
}

function fakeDeno(conn: FakeConn, fail?: Error) {
  const requests: Array<DenoConnectOptionsLike | DenoConnectTlsOptionsLike> = [];
  const deno: DenoLike = {
    async connect(options) {
      requests.push(options);
      if (fail) throw fail;
      return conn;
    },
    async connectTls(options) {
      requests.push(options);
      const tls = conn as FakeConn & { handshake?: () => Promise<void> };
      tls.handshake = async () => {
        if (conn.handshakeError) throw conn.handshakeError;
      };
      return tls;
    },
  };
  return { deno, requests };
}

function record(transport: Transport): { log: string[]; chunks: Uint8Array[]; closed: Promise<void> } {
  const log: string[] = [];
  const chunks: Uint8Array[] = [];
  transport.on('open', () => log.push('open'));
  transport.on('data', (chunk) => {
    chunks.push(chunk);
    log.push(`data ${chunk.byteLength}`);
  });
  transport.on('end', () => log.push('end'));
  const closed = new Promise<void>((resolve) =>
    transport.on('close', (error) => {
      log.push(error === undefined ? 'close' : `close ${error.message}`);
      resolve();
    }),
  );
  return { log, chunks, closed };
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe('DenoTransport', () => {
  test('after the peer FIN it still writes, then half-closes and frees the connection', async () => {
    const conn = new FakeConn();
    const { deno, requests } = fakeDeno(conn);
    const transport = new DenoTransport(target(), { Deno: deno });
    const { log, closed } = record(transport);
    await tick();
    expect(requests).toEqual([{ hostname: '127.0.0.1', port: 9000, transport: 'tcp' }]);
    conn.push(new Uint8Array([1, 2, 3]));
    conn.push(null);
    await tick();
    expect(log).toEqual(['open', 'data 3', 'end']);
    await transport.write(new Uint8Array([7, 8]));
    expect(conn.written).toEqual([7, 8]);
    await transport.end();
    await closed;
    expect(conn.calls).toEqual(['setNoDelay', 'closeWrite', 'close']);
    expect(log).toEqual(['open', 'data 3', 'end', 'close']);
  });

  test('our FIN first: reading goes on until the peer ends', async () => {
    const conn = new FakeConn();
    const transport = new DenoTransport(target(), { Deno: fakeDeno(conn).deno });
    const { log, closed } = record(transport);
    await tick();
    await transport.end();
    expect(conn.calls).toEqual(['setNoDelay', 'closeWrite']);
    conn.push(new Uint8Array(5));
    conn.push(null);
    await closed;
    expect(log).toEqual(['open', 'data 5', 'end', 'close']);
    expect(conn.calls.at(-1)).toBe('close');
  });

  test('small reads are copied out of the read buffer, large ones handed over', async () => {
    const conn = new FakeConn();
    const transport = new DenoTransport(target(), { Deno: fakeDeno(conn).deno, readSize: 16 });
    const { chunks } = record(transport);
    await tick();
    conn.push(new Uint8Array([1, 2]));
    conn.push(new Uint8Array(12).fill(9));
    conn.push(new Uint8Array([3]));
    await tick();
    expect(chunks.map((chunk) => [...chunk])).toEqual([[1, 2], new Array(12).fill(9), [3]]);
    expect(chunks[0]?.buffer.byteLength).toBe(2); // a copy
    expect(chunks[1]?.buffer.byteLength).toBe(16); // the read buffer itself
    expect(chunks[2]?.buffer).not.toBe(chunks[1]?.buffer);
    transport.destroy();
  });

  test("the rest of a large payload is read from the connection straight into the reader's array (BYOB)", async () => {
    const conn = new FakeConn();
    const transport = new DenoTransport(target(), { Deno: fakeDeno(conn).deno, readSize: 16_384 });
    const { chunks } = record(transport);
    const region = new Uint8Array(100_000);
    transport.readTarget = () => (chunks.length === 1 ? region : null);
    await tick();
    const bytes = Uint8Array.from({ length: 110_000 }, (_, i) => i % 251);
    for (let at = 0; at < bytes.byteLength; at += 10_000) conn.push(bytes.slice(at, at + 10_000));
    for (let i = 0; i < 50 && chunks.length < 2; i++) await tick();
    expect(chunks.map((chunk) => chunk.byteLength)).toEqual([10_000, 100_000]);
    expect(region.byteLength).toBe(0); // transferred by the read
    expect(chunks[1]!.buffer.byteLength).toBe(100_000); // read into that memory, not copied
    expect(concat(chunks)).toEqual(bytes);
    transport.destroy();
  });

  test('destroy() closes the connection at once', async () => {
    const conn = new FakeConn();
    const transport = new DenoTransport(target(), { Deno: fakeDeno(conn).deno });
    const { log, closed } = record(transport);
    await tick();
    transport.destroy(new Error('boom'));
    await closed;
    expect(log).toEqual(['open', 'close boom']);
    expect(conn.calls).toContain('close');
  });

  test('wss: connectTls with ALPN http/1.1 and the CA; a failed handshake never opens', async () => {
    const conn = new FakeConn();
    conn.handshakeError = new Error('invalid peer certificate: UnknownIssuer');
    const { deno, requests } = fakeDeno(conn);
    const transport = new DenoTransport(target(true), { Deno: deno, caCerts: ['PEM'] });
    const { log, closed } = record(transport);
    await closed;
    expect(requests).toEqual([
      { hostname: '127.0.0.1', port: 9000, alpnProtocols: ['http/1.1'], caCerts: ['PEM'] },
    ]);
    expect(log).toEqual([
      'close Deno: TLS with 127.0.0.1:9000 failed: invalid peer certificate: UnknownIssuer',
    ]);
    expect(conn.calls).toEqual(['close']);
  });

  test('a refused connection closes with the error; no Deno, no connection', async () => {
    const refused = Object.assign(new Error('Connection refused (os error 111)'), {
      name: 'ConnectionRefused',
    });
    const transport = new DenoTransport(target(), { Deno: fakeDeno(new FakeConn(), refused).deno });
    const { log, closed } = record(transport);
    await closed;
    expect(log).toEqual([
      'close Deno: connecting to 127.0.0.1:9000 failed: ConnectionRefused: Connection refused (os error 111)',
    ]);
    const missing = record(new DenoTransport(target()));
    await missing.closed;
    expect(missing.log).toEqual(['close Deno.connect is not available: denoTransport() needs Deno']);
    expect(() => new DenoTransport(target(), { readSize: 0 })).toThrow(RangeError);
  });
});
