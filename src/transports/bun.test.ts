/**
 * BunTransport against a fake `Bun.connect()` that behaves as Bun 1.4.5 was
 * seen to: partial writes (the rest is not buffered), `drain`, `end` for
 * the peer's FIN, `close` without `end` when the peer's FIN follows ours,
 * and `open` even for an unauthorized TLS socket. The real Bun runs in
 * e2e/runtimes.
 */
import { describe, expect, test } from 'vitest';
import {
  type BunConnectOptionsLike,
  type BunLike,
  type BunSocketHandlerLike,
  type BunSocketLike,
  BunTransport,
} from './bun.js';
import type { Transport, TransportTarget } from './transport.js';

function target(secure = false): TransportTarget {
  return { url: `${secure ? 'wss' : 'ws'}://127.0.0.1:9000/`, host: '127.0.0.1', port: 9000, secure };
}

class FakeSocket implements BunSocketLike {
  /** How many bytes the next write() takes (then unlimited). */
  capacity = Number.POSITIVE_INFINITY;
  readonly written: number[] = [];
  readonly calls: string[] = [];
  authorized = true;
  closed = false;

  write(data: Uint8Array): number {
    if (this.closed) return -1;
    const taken = Math.min(data.byteLength, this.capacity);
    this.capacity -= taken;
    this.written.push(...data.subarray(0, taken));
    return taken;
  }
  shutdown(): void {
    this.calls.push('shutdown');
  }
  end(): void {
    this.calls.push('end');
  }
  terminate(): void {
    this.calls.push('terminate');
    this.closed = true;
  }
  setNoDelay(): boolean {
    return true;
  }
  getAuthorizationError(): Error | null {
    return this.authorized ? null : new Error('self signed certificate');
  }
}

function fakeBun(): {
  bun: BunLike;
  connected: Promise<{ options: BunConnectOptionsLike; socket: FakeSocket }>;
} {
  let resolve: (value: { options: BunConnectOptionsLike; socket: FakeSocket }) => void = () => {};
  const connected = new Promise<{ options: BunConnectOptionsLike; socket: FakeSocket }>((r) => {
    resolve = r;
  });
  const bun: BunLike = {
    connect(options) {
      const socket = new FakeSocket();
      resolve({ options, socket });
      return new Promise(() => {}); // settled by the handlers, as far as the transport cares
    },
  };
  return { bun, connected };
}

function events(transport: Transport): string[] {
  const log: string[] = [];
  transport.on('open', () => log.push('open'));
  transport.on('data', (chunk) => log.push(`data ${chunk.byteLength}`));
  transport.on('end', () => log.push('end'));
  transport.on('close', (error) => log.push(error === undefined ? 'close' : `close ${error.message}`));
  return log;
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

async function opened(secure = false): Promise<{
  transport: BunTransport;
  handlers: BunSocketHandlerLike;
  options: BunConnectOptionsLike;
  socket: FakeSocket;
  log: string[];
}> {
  const { bun, connected } = fakeBun();
  const transport = new BunTransport(target(secure), { Bun: bun, tls: { ca: 'PEM' } });
  const log = events(transport);
  const { options, socket } = await connected;
  options.socket.open(socket);
  return { transport, handlers: options.socket, options, socket, log };
}

describe('BunTransport', () => {
  test('connects half-open, with TLS options only for wss:', async () => {
    const plain = await opened(false);
    expect(plain.options.allowHalfOpen).toBe(true);
    expect(plain.options.tls).toBeUndefined();
    expect(plain.log).toEqual(['open']);
    const secure = await opened(true);
    expect(secure.options.tls).toEqual({ ca: 'PEM' });
    expect(secure.transport.secure).toBe(true);
  });

  test('partial writes: the rest goes out on drain, in order; the promise resolves when all was taken', async () => {
    const { transport, handlers, socket } = await opened();
    socket.capacity = 3;
    let first = false;
    let second = false;
    void transport.write(new Uint8Array([1, 2, 3, 4, 5])).then(() => {
      first = true;
    });
    void transport.write(new Uint8Array([6, 7])).then(() => {
      second = true;
    });
    await tick();
    expect(socket.written).toEqual([1, 2, 3]);
    expect([first, second]).toEqual([false, false]);
    socket.capacity = 3;
    handlers.drain(socket);
    await tick();
    expect(socket.written).toEqual([1, 2, 3, 4, 5, 6]);
    expect([first, second]).toEqual([true, false]);
    socket.capacity = Number.POSITIVE_INFINITY;
    handlers.drain(socket);
    await tick();
    expect(socket.written).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(second).toBe(true);
  });

  test('end() waits for the queue, then shuts down; close after the peer FIN implies end', async () => {
    const { transport, handlers, socket, log } = await opened();
    socket.capacity = 1;
    void transport.write(new Uint8Array([1, 2]));
    const ended = transport.end();
    await tick();
    expect(socket.calls).toEqual([]);
    socket.capacity = 10;
    handlers.drain(socket);
    await ended;
    expect(socket.calls).toEqual(['shutdown']);
    await expect(transport.write(new Uint8Array([3]))).rejects.toThrow('write after end');
    // Bun reports the peer's FIN that follows ours as `close` alone.
    handlers.close(socket);
    await tick();
    expect(log).toEqual(['open', 'end', 'close']);
  });

  test('the peer ends first: reading stops, writing goes on until end()', async () => {
    const { transport, handlers, socket, log } = await opened();
    handlers.data(socket, new Uint8Array(4));
    handlers.end(socket);
    await transport.write(new Uint8Array([9]));
    expect(socket.written).toEqual([9]);
    await transport.end();
    handlers.close(socket);
    await tick();
    expect(log).toEqual(['open', 'data 4', 'end', 'close']);
  });

  test('a close without our FIN nor an error is a failure; a close with one reports it', async () => {
    const a = await opened();
    a.handlers.close(a.socket);
    await tick();
    expect(a.log.at(-1)).toMatch(/^close Bun: the connection to 127\.0\.0\.1:9000 closed unexpectedly/);
    const b = await opened();
    const pending = b.transport.write(new Uint8Array(10));
    b.socket.capacity = 0; // nothing more taken
    const queued = b.transport.write(new Uint8Array(10));
    b.handlers.close(b.socket, new Error('ECONNRESET'));
    await pending;
    await expect(queued).rejects.toThrow('ECONNRESET');
    await tick();
    expect(b.log).toEqual(['open', 'close ECONNRESET']);
  });

  test('an unauthorized TLS socket never opens', async () => {
    const { bun, connected } = fakeBun();
    const transport = new BunTransport(target(true), { Bun: bun });
    const log = events(transport);
    const { options, socket } = await connected;
    expect(options.tls).toBe(true);
    socket.authorized = false;
    options.socket.open(socket);
    await tick();
    expect(socket.calls).toEqual(['terminate']);
    expect(log).toEqual(['close Bun: TLS with 127.0.0.1:9000 failed: self signed certificate']);
  });

  test('connectError closes with the error; destroy() while connecting terminates the late socket', async () => {
    const a = fakeBun();
    const failing = new BunTransport(target(), { Bun: a.bun });
    const log = events(failing);
    const { options, socket } = await a.connected;
    options.socket.connectError(socket, new Error('ECONNREFUSED'));
    await tick();
    expect(log).toEqual(['close Bun: connecting to 127.0.0.1:9000 failed: ECONNREFUSED']);

    const b = fakeBun();
    const destroyed = new BunTransport(target(), { Bun: b.bun });
    const logB = events(destroyed);
    destroyed.destroy();
    const late = await b.connected;
    late.options.socket.open(late.socket);
    await tick();
    expect(late.socket.calls).toEqual(['terminate']);
    expect(logB).toEqual(['close']);
  });

  test('without Bun, the transport closes with an error (asynchronously)', async () => {
    const transport = new BunTransport(target());
    const log = events(transport);
    await tick();
    expect(log).toEqual(['close Bun.connect is not available: bunTransport() needs Bun']);
  });
});
