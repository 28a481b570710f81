/**
 * The chrome.sockets.tcp transport against a faithful fake of the API over
 * real node:net/node:tls sockets, talking to real servers on 127.0.0.1.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, test } from 'vitest';
import { type RawData, WebSocketServer } from 'ws';
import { testCertificate } from '../testing/certs.js';
import { concat } from '../testing/chunking.js';
import { FakeChrome } from '../testing/fake-chrome-sockets.js';
import { recordEvents } from '../testing/memory-transport.js';
import { WebSocket } from '../websocket.js';
import { ChromeSocketsTransport, chromeSocketsRegistered, chromeSocketsTransport } from './chrome-sockets.js';
import type { Transport, TransportTarget } from './transport.js';

const te = new TextEncoder();
const td = new TextDecoder();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function target(port: number, secure = false, host = '127.0.0.1'): TransportTarget {
  return { url: `${secure ? 'wss' : 'ws'}://${host}:${port}/`, host, port, secure };
}

function once(transport: Transport, event: 'open' | 'end' | 'close'): Promise<Error | undefined> {
  return new Promise((resolve) => transport.once(event, (error?: Error) => resolve(error)));
}

function fakeChrome(options: ConstructorParameters<typeof FakeChrome>[0] = {}): FakeChrome {
  const chrome = new FakeChrome(options);
  cleanups.push(() => chrome.closeAll());
  return chrome;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

function echoServer(): Promise<number> {
  return listen(
    net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('end', () => socket.end());
    }),
  );
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

describe('ChromeSocketsTransport over TCP', () => {
  test('opens, echoes, closes on end(); its listeners come and go with the socket', async () => {
    const port = await echoServer();
    const chrome = fakeChrome();
    const transport = new ChromeSocketsTransport(target(port), { chrome });
    const log = recordEvents(transport);
    expect(transport.supportsHalfClose).toBe(false);
    expect(transport.secure).toBe(false);
    expect(chrome.listenerCount).toBe(0);
    await once(transport, 'open');
    expect(chrome.listenerCount).toBe(2);
    await transport.write(te.encode('ping'));
    await until(() => log.includes('data:ping'), 'the echo');
    const closed = once(transport, 'close');
    await transport.end();
    expect(await closed).toBeUndefined();
    expect(log).toEqual(['open', 'data:ping', 'close']);
    expect(chrome.listenerCount).toBe(0);
    expect(chrome.openSockets).toBe(0);
    expect(chromeSocketsRegistered(chrome.sockets.tcp)).toBe(0);
    await expect(transport.write(te.encode('late'))).rejects.toThrow('write after close');
  });

  test('one listener pair dispatches to several sockets by socketId', async () => {
    const port = await echoServer();
    const chrome = fakeChrome();
    const transports = [0, 1, 2].map(() => new ChromeSocketsTransport(target(port), { chrome }));
    const received = transports.map(() => [] as string[]);
    for (const [i, transport] of transports.entries()) {
      transport.on('data', (chunk) => received[i]!.push(td.decode(chunk)));
    }
    await Promise.all(transports.map((transport) => once(transport, 'open')));
    expect(chrome.onReceive.listeners.size).toBe(1);
    expect(chrome.onReceiveError.listeners.size).toBe(1);
    expect(chromeSocketsRegistered(chrome.sockets.tcp)).toBe(3);
    await Promise.all(transports.map((transport, i) => transport.write(te.encode(`socket ${i}`))));
    await until(() => received.every((texts) => texts.length > 0), 'three echoes');
    expect(received.map((texts) => texts.join(''))).toEqual(['socket 0', 'socket 1', 'socket 2']);
    await transports[0]!.end();
    expect(chrome.listenerCount).toBe(2);
    transports[1]!.destroy();
    await transports[2]!.end();
    expect(chrome.listenerCount).toBe(0);
  });

  test('the peer closing first gives end; sending still works until end()', async () => {
    const got: Buffer[] = [];
    let serverSawClose!: Promise<void>;
    const port = await listen(
      net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.end('bye');
        socket.on('data', (chunk) => got.push(chunk));
        serverSawClose = new Promise((resolve) => socket.on('close', () => resolve()));
      }),
    );
    const transport = new ChromeSocketsTransport(target(port), { chrome: fakeChrome() });
    const log = recordEvents(transport);
    await once(transport, 'end');
    await transport.write(te.encode('after FIN'));
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    await serverSawClose;
    expect(log).toEqual(['open', 'data:bye', 'end', 'close']);
    expect(Buffer.concat(got).toString()).toBe('after FIN');
  });

  test('a refused connection closes with the net error and leaves nothing behind', async () => {
    const server = net.createServer();
    const port = await listen(server);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    cleanups.pop();
    const chrome = fakeChrome();
    const transport = chromeSocketsTransport({ chrome })(target(port));
    const log = recordEvents(transport);
    const error = await once(transport, 'close');
    expect(error?.message).toBe(
      `chrome.sockets.tcp: connect to 127.0.0.1:${port} failed: net::ERR_CONNECTION_REFUSED (net error -102)`,
    );
    expect(log).toEqual([`close:${error?.message}`]);
    await until(() => chrome.openSockets === 0, 'the socket to be closed');
    expect(chrome.listenerCount).toBe(0);
  });

  test('without chrome.sockets.tcp it closes with a clear error', async () => {
    const transport = new ChromeSocketsTransport(target(1));
    const error = await once(transport, 'close');
    expect(error?.message).toMatch(/chrome\.sockets\.tcp is not available/);
  });

  test('a reset closes with the error', async () => {
    const port = await listen(net.createServer((socket) => setTimeout(() => socket.resetAndDestroy(), 20)));
    const transport = new ChromeSocketsTransport(target(port), { chrome: fakeChrome() });
    const log = recordEvents(transport);
    const error = await once(transport, 'close');
    expect(error?.message).toMatch(/receive from 127\.0\.0\.1:\d+ failed: net error -101/);
    expect(log[0]).toBe('open');
  });

  test('writes are sent in order, as ArrayBuffers of their own bytes, 4 MiB both ways', async () => {
    const port = await echoServer();
    const transport = new ChromeSocketsTransport(target(port), { chrome: fakeChrome(), bufferSize: 65_536 });
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    transport.on('data', (chunk) => {
      chunks.push(chunk);
      bytes += chunk.byteLength;
    });
    await once(transport, 'open');
    const size = 4 * 1024 * 1024;
    const payload = new Uint8Array(size).map((_, i) => (i * 13) >> 2);
    const writes: Promise<void>[] = [];
    // Views into one big buffer, at odd offsets and sizes.
    for (let offset = 0, k = 0; offset < size; k++) {
      const length = Math.min(1 + ((k * 7919) % 100_000), size - offset);
      writes.push(transport.write(payload.subarray(offset, offset + length)));
      offset += length;
    }
    await Promise.all(writes);
    await until(() => bytes >= size, 'the echo of 4 MiB');
    expect(sameBytes(concat(chunks), payload)).toBe(true);
    transport.destroy();
    await once(transport, 'close');
  });

  test('a slow consumer pauses reading (setPaused) and resumes it, losing nothing', async () => {
    const size = 8 * 1024 * 1024;
    const payload = new Uint8Array(size).map((_, i) => i % 251);
    const port = await listen(net.createServer((socket) => socket.end(payload)));
    const chrome = fakeChrome();
    const transport = new ChromeSocketsTransport(target(port), {
      chrome,
      bufferSize: 65_536,
      readHighWaterMark: 64 * 1024,
    });
    const chunks: Uint8Array[] = [];
    transport.on('data', (chunk) => {
      chunks.push(chunk);
      // A consumer that takes its time with every chunk.
      const until = Date.now() + 1;
      while (Date.now() < until) {}
    });
    await once(transport, 'end');
    const socketId = chrome.pauseLog[0]?.[0];
    expect(chrome.pauseLog.filter(([, paused]) => paused).length).toBeGreaterThan(0);
    expect(chrome.pauseLog.filter(([id, paused]) => id === socketId && !paused).length).toBeGreaterThan(0);
    expect(sameBytes(concat(chunks), payload)).toBe(true);
    transport.destroy();
    await once(transport, 'close');
  });

  test('pause() stops reading until resume(): the peer is held back, nothing is lost', async () => {
    const size = 4 * 1024 * 1024;
    const payload = new Uint8Array(size).map((_, i) => i % 253);
    let written = false;
    const port = await listen(
      net.createServer((socket) => {
        socket.end(payload, () => (written = true));
      }),
    );
    const chrome = fakeChrome();
    const transport = new ChromeSocketsTransport(target(port), { chrome, bufferSize: 65_536 });
    // Before the socket exists: applied once it is connected.
    transport.pause();
    const chunks: Uint8Array[] = [];
    transport.on('data', (chunk) => chunks.push(chunk));
    await once(transport, 'open');
    const socketId = chrome.pauseLog[0]?.[0];
    expect(chrome.pauseLog).toEqual([[socketId, true]]);
    // The peer cannot write 4 MiB into a paused socket's buffers.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(written).toBe(false);
    const ended = once(transport, 'end');
    transport.resume();
    await ended;
    expect(chrome.pauseLog.at(-1)).toEqual([socketId, false]);
    expect(sameBytes(concat(chunks), payload)).toBe(true);
    transport.destroy();
    await once(transport, 'close');
  });

  test('a burst does not resume a socket the consumer paused', async () => {
    const size = 8 * 1024 * 1024;
    const port = await listen(net.createServer((socket) => socket.end(new Uint8Array(size))));
    const chrome = fakeChrome();
    const transport = new ChromeSocketsTransport(target(port), {
      chrome,
      bufferSize: 65_536,
      readHighWaterMark: 64 * 1024,
    });
    let bytes = 0;
    let pausedAt = -1;
    transport.on('data', (chunk) => {
      bytes += chunk.byteLength;
      // The consumer stops reading once a burst paused the socket.
      if (pausedAt < 0 && chrome.pauseLog.some(([, paused]) => paused)) {
        pausedAt = chrome.pauseLog.length;
        transport.pause();
      }
    });
    await until(() => pausedAt > 0, 'a burst pause');
    // Timers run (the burst is over), and the socket stays paused.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(chrome.pauseLog.slice(pausedAt).filter(([, paused]) => !paused)).toEqual([]);
    expect(bytes).toBeLessThan(size);
    const ended = once(transport, 'end');
    transport.resume();
    await ended;
    expect(bytes).toBe(size);
    transport.destroy();
    await once(transport, 'close');
  });

  test('destroy() rejects pending writes and closes with the error', async () => {
    const port = await listen(net.createServer(() => {}));
    const transport = new ChromeSocketsTransport(target(port), { chrome: fakeChrome() });
    await once(transport, 'open');
    const pending = transport.write(new Uint8Array(100));
    const closed = once(transport, 'close');
    transport.destroy(new Error('local failure'));
    transport.destroy();
    await expect(pending).rejects.toThrow('local failure');
    expect((await closed)?.message).toBe('local failure');
  });

  test('destroy() while connecting closes the socket it gets', async () => {
    const port = await echoServer();
    const chrome = fakeChrome();
    const transport = new ChromeSocketsTransport(target(port), { chrome });
    const log = recordEvents(transport);
    transport.destroy();
    await once(transport, 'close');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log).toEqual(['close']);
    expect(chrome.openSockets).toBe(0);
    expect(chrome.listenerCount).toBe(0);
  });
});

describe('ChromeSocketsTransport over TLS (secure())', () => {
  async function tlsEcho(): Promise<number> {
    const { cert, key } = testCertificate();
    const server = tls.createServer({ cert, key, allowHalfOpen: true }, (socket) => {
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('end', () => socket.end());
    });
    server.on('tlsClientError', () => {});
    return listen(server);
  }

  test('upgrades a paused socket to TLS and echoes', async () => {
    const port = await tlsEcho();
    const chrome = fakeChrome({ ca: testCertificate().cert });
    const transport = new ChromeSocketsTransport(target(port, true, 'localhost'), { chrome });
    const log = recordEvents(transport);
    expect(transport.secure).toBe(true);
    await once(transport, 'open');
    // Paused before connect, resumed after the TLS handshake.
    expect(chrome.pauseLog.map(([, paused]) => paused).slice(0, 2)).toEqual([true, false]);
    await transport.write(te.encode('over TLS'));
    await until(() => log.includes('data:over TLS'), 'the echo');
    await transport.end();
  });

  test('an untrusted certificate fails with the net error', async () => {
    const port = await tlsEcho();
    const transport = new ChromeSocketsTransport(target(port, true, 'localhost'), { chrome: fakeChrome() });
    const error = await once(transport, 'close');
    expect(error?.message).toMatch(/secure \(TLS\) to localhost:\d+ failed: net::ERR_CERT_AUTHORITY_INVALID/);
  });
});

describe('WebSocket over chrome.sockets.tcp against ws', () => {
  async function wsServer(options: { secure?: boolean } = {}): Promise<{
    port: number;
    closes: Array<{ code: number; reason: string }>;
  }> {
    const closes: Array<{ code: number; reason: string }> = [];
    const { cert, key } = testCertificate();
    const httpServer = options.secure ? https.createServer({ cert, key }) : http.createServer();
    const wss = new WebSocketServer({ server: httpServer });
    wss.on('connection', (socket, request) => {
      if (request.url === '/close') socket.close(4201, 'server says bye');
      socket.on('message', (data: RawData, isBinary) => socket.send(data, { binary: isBinary }));
      socket.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
    });
    const port = await listen(httpServer);
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    return { port, closes };
  }

  function session(ws: WebSocket): {
    messages: unknown[];
    closed: Promise<CloseEvent>;
    opened: Promise<void>;
  } {
    const messages: unknown[] = [];
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (event) => messages.push(event.data);
    const closed = new Promise<CloseEvent>((resolve) => {
      ws.onclose = (event) => resolve(event as CloseEvent);
    });
    const opened = new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error('error event'));
    });
    return { messages, closed, opened };
  }

  test('text, binary, a large message, and a close code from the client', async () => {
    const { port, closes } = await wsServer();
    const chrome = fakeChrome();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, [], {
      transport: chromeSocketsTransport({ chrome }),
    });
    const { messages, closed, opened } = session(ws);
    await opened;
    ws.send('héllo ✓');
    ws.send(new Uint8Array([1, 2, 3]));
    const big = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => i % 253);
    ws.send(big);
    await until(() => messages.length === 3, 'three echoes');
    expect(messages[0]).toBe('héllo ✓');
    expect([...new Uint8Array(messages[1] as ArrayBuffer)]).toEqual([1, 2, 3]);
    expect(sameBytes(new Uint8Array(messages[2] as ArrayBuffer), big)).toBe(true);
    ws.close(4000, 'client bye');
    const event = await closed;
    expect([event.code, event.reason, event.wasClean]).toEqual([4000, 'client bye', true]);
    await until(() => closes.length === 1, 'the server close');
    expect(closes[0]).toEqual({ code: 4000, reason: 'client bye' });
    expect(chrome.listenerCount).toBe(0);
  });

  test('the server closes with a code and reason', async () => {
    const { port } = await wsServer();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/close`, [], {
      transport: chromeSocketsTransport({ chrome: fakeChrome() }),
    });
    const event = await session(ws).closed;
    expect([event.code, event.reason, event.wasClean]).toEqual([4201, 'server says bye', true]);
  });

  test('wss: through secure()', async () => {
    const { port } = await wsServer({ secure: true });
    const ws = new WebSocket(`wss://localhost:${port}/`, [], {
      transport: chromeSocketsTransport({ chrome: fakeChrome({ ca: testCertificate().cert }) }),
    });
    const { messages, closed, opened } = session(ws);
    await opened;
    ws.send('secret');
    await until(() => messages.length === 1, 'the echo');
    expect(messages[0]).toBe('secret');
    ws.close();
    expect((await closed).code).toBe(1005);
  });
});
