import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, test } from 'vitest';
import { testCertificate } from '../testing/certs.js';
import { recordEvents } from '../testing/memory-transport.js';
import type { Transport, TransportTarget } from '../transports/transport.js';
import { NodeTransport, nodeTransport } from './transport.js';

const te = new TextEncoder();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function target(port: number, secure = false, host = '127.0.0.1'): TransportTarget {
  return { url: `${secure ? 'wss' : 'ws'}://${host}:${port}/`, host, port, secure };
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

function once(transport: Transport, event: 'open' | 'end' | 'close'): Promise<Error | undefined> {
  return new Promise((resolve) => transport.once(event, (error?: Error) => resolve(error)));
}

/** An echo server that half-closes when the client does; its sockets are tracked. */
async function echoServer(): Promise<{ port: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('end', () => socket.end());
  });
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
  });
  return { port: await listen(server), sockets };
}

describe('NodeTransport over TCP', () => {
  test('opens, echoes, half-closes, then closes without error', async () => {
    const { port } = await echoServer();
    const transport = new NodeTransport(target(port));
    const log = recordEvents(transport);
    expect(transport.secure).toBe(false);
    expect(transport.supportsHalfClose).toBe(true);
    await once(transport, 'open');
    await transport.write(te.encode('ping'));
    const closed = once(transport, 'close');
    await transport.end();
    expect(await closed).toBeUndefined();
    expect(log).toEqual(['open', 'data:ping', 'end', 'close']);
    expect(transport.listenerCount('data')).toBe(0);
  });

  test('hands on plain Uint8Arrays, not Buffers', async () => {
    const { port } = await echoServer();
    const transport = new NodeTransport(target(port));
    const chunks: Uint8Array[] = [];
    transport.on('data', (chunk) => chunks.push(chunk));
    await once(transport, 'open');
    await transport.write(te.encode('abc'));
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of chunks) expect(Object.getPrototypeOf(chunk)).toBe(Uint8Array.prototype);
  });

  test('reads into the array readTarget() gives, and hands on a view of it; else copies of its own buffer', async () => {
    const sent = new Uint8Array(600_000).map((_, i) => (i * 7) % 251);
    const server = net.createServer((socket) => socket.end(sent));
    const port = await listen(server);
    const transport = new NodeTransport(target(port));
    const payload = new Uint8Array(sent.byteLength); // where a protocol would assemble the bytes
    let filled = 0;
    transport.readTarget = () => (filled < 200_000 ? null : payload.subarray(filled));
    const chunks: Uint8Array[] = [];
    transport.on('data', (chunk) => {
      chunks.push(chunk);
      if (chunk.buffer !== payload.buffer) payload.set(chunk, filled);
      filled += chunk.byteLength;
    });
    const closed = once(transport, 'close');
    await once(transport, 'end');
    await transport.end();
    expect(await closed).toBeUndefined();
    expect(filled).toBe(sent.byteLength);
    expect(payload).toEqual(sent);
    const inPlace = chunks.filter((chunk) => chunk.buffer === payload.buffer);
    const copied = chunks.filter((chunk) => chunk.buffer !== payload.buffer);
    expect(inPlace.length).toBeGreaterThan(0);
    // A target shorter than a read is not used: the rest of the bytes come in the transport's own buffer.
    expect(inPlace.reduce((n, chunk) => n + chunk.byteLength, 0)).toBeGreaterThan(
      sent.byteLength - 200_000 - 2 * 65_536,
    );
    // A short read is an exact copy; a long one the buffer it was read into, never reused.
    for (const chunk of copied) {
      expect(chunk.byteOffset).toBe(0);
      if (chunk.byteLength < 8 * 1024) expect(chunk.buffer.byteLength).toBe(chunk.byteLength);
    }
    expect(new Set(copied.map((chunk) => chunk.buffer)).size).toBe(copied.length);
  });

  test('keeps writing after the peer half-closed (allowHalfOpen)', async () => {
    const received: string[] = [];
    let serverClosed!: Promise<void>;
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.end();
      socket.on('data', (chunk) => received.push(chunk.toString()));
      serverClosed = new Promise((resolve) => socket.on('close', () => resolve()));
    });
    const port = await listen(server);
    const transport = new NodeTransport(target(port));
    await once(transport, 'end');
    await transport.write(te.encode('after FIN'));
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    await serverClosed;
    expect(received.join('')).toBe('after FIN');
  });

  test('a refused connection closes with the error and never opens', async () => {
    const server = net.createServer();
    const port = await listen(server);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    cleanups.pop();
    const transport = nodeTransport()(target(port));
    const log = recordEvents(transport);
    const error = await once(transport, 'close');
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(log).toEqual([`close:${error?.message}`]);
  });

  test('destroy(error) closes with that error; writes then reject', async () => {
    const { port } = await echoServer();
    const transport = new NodeTransport(target(port));
    await once(transport, 'open');
    const closed = once(transport, 'close');
    transport.destroy(new Error('local failure'));
    transport.destroy();
    expect((await closed)?.message).toBe('local failure');
    await expect(transport.write(te.encode('x'))).rejects.toThrow();
    await transport.end();
  });

  test('a write still pending when destroy() is called rejects', async () => {
    // Regression: Node calls back a write that destroy() cancelled without
    // an error, so the promise resolved for bytes never sent (and
    // WebSocket.bufferedAmount dropped for them).
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.pause(); // never reads
    });
    const port = await listen(server);
    // Runs before the server closes (cleanups run in reverse): a paused socket never sees the end.
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
    });
    const transport = new NodeTransport(target(port));
    await once(transport, 'open');
    let settled = false;
    // More than the kernel's socket buffers hold: stays pending.
    const write = transport.write(new Uint8Array(64 * 2 ** 20)).finally(() => (settled = true));
    write.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    const closed = once(transport, 'close');
    transport.destroy();
    await expect(write).rejects.toThrow();
    expect(await closed).toBeUndefined();
  });

  test('the peer resetting the connection closes with an error', async () => {
    const server = net.createServer((socket) => socket.resetAndDestroy());
    const port = await listen(server);
    const transport = new NodeTransport(target(port));
    const error = await once(transport, 'close');
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });
});

describe('NodeTransport over TLS', () => {
  async function tlsServer(): Promise<{
    port: number;
    servernames: Array<string | false>;
    alpn: Array<string | false | null>;
  }> {
    const { cert, key } = testCertificate();
    const servernames: Array<string | false> = [];
    const alpn: Array<string | false | null> = [];
    const sockets: tls.TLSSocket[] = [];
    const server = tls.createServer({ cert, key, ALPNProtocols: ['h2', 'http/1.1'] }, (socket) => {
      sockets.push(socket);
      servernames.push((socket as tls.TLSSocket & { servername: string | false }).servername);
      alpn.push(socket.alpnProtocol);
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('end', () => socket.end());
    });
    server.on('tlsClientError', () => {});
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
    });
    return { port: await listen(server), servernames, alpn };
  }

  test('verifies the certificate by default', async () => {
    const { port } = await tlsServer();
    const transport = new NodeTransport(target(port, true, 'localhost'));
    const log = recordEvents(transport);
    const error = await once(transport, 'close');
    expect((error as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(log).not.toContain('open');
  });

  test('with a custom CA: opens with SNI and ALPN http/1.1', async () => {
    const { port, servernames, alpn } = await tlsServer();
    const transport = nodeTransport({ tls: { ca: testCertificate().cert } })(target(port, true, 'localhost'));
    expect(transport.secure).toBe(true);
    const log = recordEvents(transport);
    await once(transport, 'open');
    await transport.write(te.encode('secret'));
    const closed = once(transport, 'close');
    await transport.end();
    expect(await closed).toBeUndefined();
    expect(log).toEqual(['open', 'data:secret', 'end', 'close']);
    expect(servernames).toEqual(['localhost']);
    expect(alpn).toEqual(['http/1.1']);
  });

  test('sends no SNI for an IP address', async () => {
    const { port, servernames } = await tlsServer();
    const transport = nodeTransport({ tls: { ca: testCertificate().cert } })(target(port, true, '127.0.0.1'));
    await once(transport, 'open');
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    expect(servernames).toEqual([false]);
  });
});
