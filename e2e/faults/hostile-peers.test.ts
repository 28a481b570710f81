/**
 * Peers that stop cooperating, over real sockets on 127.0.0.1: polysocket's
 * WebSocket (Node entry point) against raw `net` servers that misbehave in
 * time rather than in bytes. Each case ends in a bounded time with the right
 * events, no event after `close`, and no socket, timer or listener left.
 *
 * - a server that accepts TCP and says nothing: openTimeoutMs, then error
 *   and close 1006;
 * - a server that sends half of its 101 and stalls: the same;
 * - a server that never answers our close frame (and never closes TCP):
 *   closeTimeoutMs, then close 1006 (no error: as in Chromium);
 * - a server that answers our close but never closes TCP, or that starts
 *   the closing handshake and never closes TCP: closeTimeoutMs, then a
 *   clean close with its code (the closing handshake did complete);
 * - a server that half-closes (FIN) after the closing handshake but never
 *   closes the connection: closes at once, cleanly;
 * - a slow-reading peer: bufferedAmount grows while it doesn't read and
 *   drains to 0 when it does, and every message is echoed intact.
 */
import type * as net from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { WebSocket } from '../../src/node.js';
import { rawServer as startRawServer, upgrade } from './raw-server.js';
import { expectNothingLeft, resources } from './resources.js';

const TIMEOUT_MS = 300;
/** Upper bound for a case that should end after TIMEOUT_MS (2 cores, other tests running). */
const SLACK_MS = 5_000;
const AFTER_CLOSE_MS = 100;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A raw server (raw-server.ts) whose client went away closes its end too, so only the client's sockets are counted afterwards. */
async function rawServer(onRequest: (socket: net.Socket, key: string) => void): Promise<string> {
  const server = await startRawServer((socket, key) => {
    socket.on('end', () => socket.destroy());
    onRequest(socket, key);
  });
  cleanups.push(() => server.stop());
  return server.url;
}

/** Unmasked close frame from the server. */
function closeFrame(code: number, reason = ''): Buffer {
  const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
  return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
}

interface Run {
  readonly events: string[];
  readonly afterClose: string[];
  readonly elapsedMs: number;
  readonly close: { code: number; reason: string; wasClean: boolean };
}

/** Connect, run `onOpen`, wait (bounded) for close, then listen for stray events. */
async function run(url: string, onOpen: (ws: WebSocket) => void = () => {}): Promise<Run> {
  const ws = new WebSocket(url, [], { openTimeoutMs: TIMEOUT_MS, closeTimeoutMs: TIMEOUT_MS });
  const events: string[] = [];
  const afterClose: string[] = [];
  let closeEvent: CloseEvent | null = null;
  const started = Date.now();
  let elapsedMs = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no close event; events: ${events}`)),
      TIMEOUT_MS + SLACK_MS,
    );
    for (const type of ['open', 'message', 'error', 'close']) {
      ws.addEventListener(type, (event) => {
        if (closeEvent !== null) {
          afterClose.push(type);
          return;
        }
        events.push(type);
        if (type === 'open') onOpen(ws);
        if (type === 'close') {
          closeEvent = event as CloseEvent;
          elapsedMs = Date.now() - started;
          clearTimeout(timer);
          resolve();
        }
      });
    }
  });
  await new Promise((resolve) => setTimeout(resolve, AFTER_CLOSE_MS));
  const { code, reason, wasClean } = closeEvent as unknown as CloseEvent;
  expect(ws.readyState).toBe(WebSocket.CLOSED);
  return { events, afterClose, elapsedMs, close: { code, reason, wasClean } };
}

describe('peers that stop cooperating: bounded time, right events, nothing left behind', () => {
  test('a server that accepts TCP and never answers the handshake', async () => {
    const url = await rawServer(() => {});
    const before = resources();
    const result = await run(url);
    expect(result.events).toEqual(['error', 'close']);
    expect(result.close).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(result.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(result.afterClose).toEqual([]);
    await expectNothingLeft(before);
  });

  test('a server that sends half of its 101 response and stalls', async () => {
    const url = await rawServer((socket, key) => socket.write(upgrade(key).slice(0, 50)));
    const before = resources();
    const result = await run(url);
    expect(result.events).toEqual(['error', 'close']);
    expect(result.close).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(result.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(result.afterClose).toEqual([]);
    await expectNothingLeft(before);
  });

  test('a server that never answers our close frame nor closes TCP', async () => {
    // It keeps reading (and ignores what it reads).
    const url = await rawServer((socket, key) => {
      socket.write(upgrade(key));
      socket.on('data', () => {});
    });
    const before = resources();
    let closedAt = 0;
    const result = await run(url, (ws) => {
      closedAt = Date.now();
      ws.close(1000, 'done');
    });
    // Lost, not failed: no error event, as in Chromium.
    expect(result.events).toEqual(['open', 'close']);
    expect(result.close).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(result.afterClose).toEqual([]);
    await expectNothingLeft(before);
  });

  test('a server that answers our close but never closes TCP', async () => {
    const url = await rawServer((socket, key) => {
      socket.write(upgrade(key));
      socket.once('data', () => socket.write(closeFrame(1000, 'done'))); // our close frame
    });
    const before = resources();
    let closedAt = 0;
    const result = await run(url, (ws) => {
      closedAt = Date.now();
      ws.close(1000, 'done');
    });
    expect(result.events).toEqual(['open', 'close']);
    expect(result.close).toEqual({ code: 1000, reason: 'done', wasClean: true });
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(result.afterClose).toEqual([]);
    await expectNothingLeft(before);
  });

  test('a server that starts the closing handshake and never closes TCP', async () => {
    const url = await rawServer((socket, key) => {
      socket.write(upgrade(key));
      setTimeout(() => socket.write(closeFrame(4000, 'bye')), 20);
      socket.on('data', () => {}); // reads our echo, then does nothing
    });
    const before = resources();
    const result = await run(url);
    expect(result.events).toEqual(['open', 'close']);
    expect(result.close).toEqual({ code: 4000, reason: 'bye', wasClean: true });
    expect(result.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(result.afterClose).toEqual([]);
    await expectNothingLeft(before);
  });

  test('a server that half-closes after the closing handshake and never closes the connection', async () => {
    const url = await rawServer((socket, key) => {
      socket.write(upgrade(key));
      socket.once('data', () => {
        socket.write(closeFrame(1000));
        socket.end(); // FIN; the socket stays open for reading (allowHalfOpen)
      });
    });
    const before = resources();
    let closedAt = 0;
    const result = await run(url, (ws) => {
      closedAt = Date.now();
      ws.close(1000);
    });
    expect(result.events).toEqual(['open', 'close']);
    expect(result.close).toEqual({ code: 1000, reason: '', wasClean: true });
    // Our FIN answers theirs at once: no timeout needed.
    expect(Date.now() - closedAt).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expect(result.afterClose).toEqual([]);
    await expectNothingLeft(before);
  });
});

describe('a slow-reading peer over TCP', () => {
  test('bufferedAmount grows while it does not read, drains to 0 when it does; every message is echoed', {
    timeout: 60_000,
  }, async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise((resolve) => wss.once('listening', resolve));
    cleanups.push(async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    });
    // The peer reads nothing until the test has seen bufferedAmount stall:
    // resumed by the test, not after a set time, which a busy machine can
    // spend on the sends alone.
    let resume = (): void => {};
    wss.on('connection', (socket, request) => {
      socket.on('error', () => {});
      socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
      request.socket.pause();
      resume = () => request.socket.resume();
    });
    const url = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/`;
    const ws = new WebSocket(url, [], { compression: false });
    ws.binaryType = 'arraybuffer';
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const COUNT = 64;
    const SIZE = 512 * 1024; // 32 MiB in all: more than the socket buffers hold
    // Listening before anything is sent: an echo dispatched with no listener is lost.
    const received: ArrayBuffer[] = [];
    const echoed = new Promise<void>((resolve) => {
      ws.onmessage = (event) => {
        received.push(event.data as ArrayBuffer);
        if (received.length === COUNT) resolve();
      };
    });
    const sent: Uint8Array[] = [];
    for (let i = 0; i < COUNT; i++) {
      const message = new Uint8Array(SIZE).fill(i);
      new DataView(message.buffer).setUint32(0, i);
      ws.send(message);
      sent.push(message);
    }
    expect(ws.bufferedAmount).toBe(COUNT * SIZE);
    // Time for the transport to write what the socket buffers take; however
    // long, the peer reads nothing until resume().
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stalled = ws.bufferedAmount;
    // The peer isn't reading: most of it is still buffered.
    expect(stalled).toBeGreaterThan(COUNT * SIZE - 16 * 2 ** 20);
    resume();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      echoed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${received.length}/${COUNT} echoed`)), 50_000);
      }),
    ]).finally(() => clearTimeout(timer));
    expect(ws.bufferedAmount).toBe(0);
    const differing = received.findIndex((b, i) => Buffer.compare(new Uint8Array(b), sent[i]!) !== 0);
    expect(differing).toBe(-1);
    const closed = new Promise<CloseEvent>((resolve) => {
      ws.onclose = (event) => resolve(event);
    });
    ws.close(1000, 'done');
    expect((await closed).wasClean).toBe(true);
  });
});
