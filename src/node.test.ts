/**
 * The Node entry point against real servers on 127.0.0.1: `ws` in-process,
 * Python websockets 10.4 (Debian's, always /usr/bin/python3) in a child
 * process, and raw `net` servers that misbehave on purpose.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as https from 'node:https';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { type RawData, WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { FramePool } from './connection/frame-pool.js';
import { CloseEvent, nodeTransport, WebSocket } from './node.js';
import { computeAccept } from './protocol/handshake.js';
import { testCertificate } from './testing/certs.js';

/** One unit of time for every bound in this file. */
const MS = 1;
const TIMEOUT = 5000 * MS;

interface Tracked {
  readonly log: string[];
  readonly closed: Promise<CloseEvent>;
  readonly opened: Promise<void>;
  readonly messages: unknown[];
}

function track(ws: WebSocket): Tracked {
  const log: string[] = [];
  const messages: unknown[] = [];
  ws.onopen = () => log.push('open');
  ws.onmessage = (event) => {
    messages.push(event.data);
    log.push('message');
  };
  ws.onerror = () => log.push('error');
  const closed = new Promise<CloseEvent>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no close event')), TIMEOUT);
    ws.onclose = (event) => {
      clearTimeout(timer);
      log.push(`close:${event.code}:${event.reason}:${event.wasClean}`);
      resolve(event);
    };
  });
  const opened = new Promise<void>((resolve) => ws.addEventListener('open', () => resolve()));
  return { log, closed, opened, messages };
}

async function nextMessage(tracked: Tracked, count: number): Promise<unknown> {
  const deadline = Date.now() + TIMEOUT;
  while (tracked.messages.length < count) {
    if (Date.now() > deadline) throw new Error('no message');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return tracked.messages[count - 1];
}

/** Sockets and timers alive besides the test's servers must not grow. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

// ---------------------------------------------------------------------------
// ws

describe('against ws', () => {
  let wss: WebSocketServer;
  let url: string;
  const serverCloses: Array<{ code: number; reason: string }> = [];
  let before: Record<string, number>;

  beforeAll(async () => {
    wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
      verifyClient: (info, callback) => callback(!info.req.url?.startsWith('/forbidden'), 403, 'Forbidden'),
    });
    await new Promise((resolve) => wss.once('listening', resolve));
    url = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`;
    wss.on('connection', (socket: WsSocket, request) => {
      socket.on('close', (code, reason) => serverCloses.push({ code, reason: reason.toString() }));
      const path = request.url ?? '/';
      if (path.startsWith('/close')) {
        const query = new URL(path, 'ws://x').searchParams;
        socket.close(Number(query.get('code')), query.get('reason') ?? '');
        return;
      }
      socket.on('message', (data: RawData, isBinary) => socket.send(data, { binary: isBinary }));
    });
  });
  afterAll(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });
  beforeEach(() => {
    serverCloses.length = 0;
    before = resources();
  });
  afterEach(async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const after = resources();
    // No socket or timer may outlive a closed connection.
    expect(after['TCPSocketWrap'] ?? 0).toBeLessThanOrEqual(before['TCPSocketWrap'] ?? 0);
    expect(after['Timeout'] ?? 0).toBeLessThanOrEqual(before['Timeout'] ?? 0);
  });

  test('echo of text, ArrayBuffer, typed arrays and Blob; binaryType', async () => {
    const ws = new WebSocket(`${url}/echo`);
    const tracked = track(ws);
    await tracked.opened;
    expect(ws.url).toBe(`${url}/echo`);
    ws.send('héllo');
    expect(await nextMessage(tracked, 1)).toBe('héllo');
    ws.send(Uint8Array.of(1, 2, 3).buffer);
    const blob = await nextMessage(tracked, 2);
    expect(blob).toBeInstanceOf(Blob);
    expect([...new Uint8Array(await (blob as Blob).arrayBuffer())]).toEqual([1, 2, 3]);
    ws.binaryType = 'arraybuffer';
    ws.send(new Uint16Array([0x0201, 0x0403]).subarray(1));
    expect([...new Uint8Array((await nextMessage(tracked, 3)) as ArrayBuffer)]).toEqual([3, 4]);
    ws.send(new Blob(['bl', Uint8Array.of(0x6f, 0x62)]));
    ws.send('after the blob');
    expect(new TextDecoder().decode((await nextMessage(tracked, 4)) as ArrayBuffer)).toBe('blob');
    expect(await nextMessage(tracked, 5)).toBe('after the blob');
    ws.close();
    await tracked.closed;
    expect(tracked.log.at(-1)).toBe('close:1005::true');
  });

  test('a large message: bufferedAmount before and after the writes complete', async () => {
    const ws = new WebSocket(`${url}/echo`);
    const tracked = track(ws);
    await tracked.opened;
    const payload = new Uint8Array(4 * 2 ** 20).fill(7);
    ws.send(payload);
    ws.send('x');
    expect(ws.bufferedAmount).toBe(payload.byteLength + 1);
    ws.binaryType = 'arraybuffer';
    const echoed = (await nextMessage(tracked, 1)) as ArrayBuffer;
    expect(echoed.byteLength).toBe(payload.byteLength);
    expect(ws.bufferedAmount).toBe(0);
    ws.close(1000);
    await tracked.closed;
  });

  test('large messages in a row: frame arrays written and given back are reused, and no message takes bytes of another', async () => {
    const released = vi.spyOn(FramePool.prototype, 'release');
    try {
      const ws = new WebSocket(`${url}/echo`);
      const tracked = track(ws);
      await tracked.opened;
      ws.binaryType = 'arraybuffer';
      const sizes = [20_000, 70_000, 300_000, 2 ** 20, 40_000, 2 ** 20 - 7, 150_000];
      const sent: Uint8Array[] = [];
      let count = 0;
      for (let round = 0; round < 4; round++) {
        // A burst (several frames in flight at once), then wait for the echoes.
        for (const size of sizes) {
          const payload = Uint8Array.from({ length: size }, (_, i) => (i * 7 + sent.length * 13) & 0xff);
          sent.push(payload);
          ws.send(payload);
        }
        for (let i = 0; i < sizes.length; i++) {
          const echoed = new Uint8Array((await nextMessage(tracked, ++count)) as ArrayBuffer);
          const expected = sent[count - 1]!;
          expect(echoed.byteLength).toBe(expected.byteLength);
          expect(Buffer.compare(echoed, expected), `message ${count}`).toBe(0);
        }
      }
      // Every large frame went back once written.
      expect(released).toHaveBeenCalledTimes(sent.length);
      ws.close(1000);
      await tracked.closed;
    } finally {
      released.mockRestore();
    }
  });

  test('close codes and reasons, client to server', async () => {
    const ws = new WebSocket(`${url}/echo`);
    const tracked = track(ws);
    await tracked.opened;
    ws.close(4001, 'client réason');
    const event = await tracked.closed;
    while (serverCloses.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(serverCloses).toEqual([{ code: 4001, reason: 'client réason' }]);
    expect([event.code, event.reason, event.wasClean]).toEqual([4001, 'client réason', true]);
    expect(event).toBeInstanceOf(CloseEvent);
  });

  test('close codes and reasons, server to client', async () => {
    const ws = new WebSocket(`${url}/close?code=4002&reason=server%20reason`);
    const tracked = track(ws);
    const event = await tracked.closed;
    expect(tracked.log).toEqual(['open', 'close:4002:server reason:true']);
    expect(event.wasClean).toBe(true);
  });

  test('subprotocol negotiated; handshake rejected with 403', async () => {
    const ws = new WebSocket(`${url}/echo`, ['superchat', 'chat']);
    const tracked = track(ws);
    await tracked.opened;
    expect(ws.protocol).toBe('chat');
    ws.close();
    await tracked.closed;
    const rejected = track(new WebSocket(`${url}/forbidden`));
    await rejected.closed;
    expect(rejected.log).toEqual(['error', 'close:1006::false']);
  });

  test('wss: verifies certificates by default; a custom CA through nodeTransport', async () => {
    const { cert, key } = testCertificate();
    const server = https.createServer({ cert, key });
    const secure = new WebSocketServer({ server });
    secure.on('connection', (socket) =>
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
    );
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const rejected = track(new WebSocket(`wss://localhost:${port}/`));
      await rejected.closed;
      expect(rejected.log).toEqual(['error', 'close:1006::false']);
      const ws = new WebSocket(`wss://localhost:${port}/`, [], {
        transport: nodeTransport({ tls: { ca: cert } }),
      });
      const tracked = track(ws);
      await tracked.opened;
      ws.send('over TLS');
      expect(await nextMessage(tracked, 1)).toBe('over TLS');
      ws.close(1000, 'bye');
      expect((await tracked.closed).wasClean).toBe(true);
    } finally {
      for (const client of secure.clients) client.terminate();
      secure.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

// ---------------------------------------------------------------------------
// Raw servers that misbehave

/** A TCP server whose connections get `onRequest(socket, key)` once the request head is read. */
async function rawServer(
  onRequest: (socket: net.Socket, key: string) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let head = '';
    socket.on('data', (chunk) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '';
      onRequest(socket, key);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function upgrade(key: string, accept = computeAccept(key)): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
}

describe('against misbehaving servers', () => {
  test('a refused connection: error, then close 1006', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const tracked = track(new WebSocket(`ws://127.0.0.1:${port}/`));
    await tracked.closed;
    expect(tracked.log).toEqual(['error', 'close:1006::false']);
  });

  test('a wrong Sec-WebSocket-Accept: error, then close 1006', async () => {
    const server = await rawServer((socket) => socket.write(upgrade('', 'd3JvbmcgYWNjZXB0IHZhbHVlPQ==')));
    try {
      const tracked = track(new WebSocket(server.url));
      await tracked.closed;
      expect(tracked.log).toEqual(['error', 'close:1006::false']);
    } finally {
      await server.close();
    }
  });

  test('the server closes in the middle of a frame: close 1006 without error (a lost connection)', async () => {
    const server = await rawServer((socket, key) => {
      socket.write(upgrade(key));
      socket.end(Buffer.from([0x81, 0x05, 0x48, 0x65]));
    });
    try {
      const tracked = track(new WebSocket(server.url));
      await tracked.closed;
      expect(tracked.log).toEqual(['open', 'close:1006::false']);
    } finally {
      await server.close();
    }
  });

  test('a server that never answers: openTimeoutMs', async () => {
    const server = await rawServer(() => {});
    try {
      const tracked = track(new WebSocket(server.url, [], { openTimeoutMs: 50 * MS }));
      await tracked.closed;
      expect(tracked.log).toEqual(['error', 'close:1006::false']);
    } finally {
      await server.close();
    }
  });
});

// ---------------------------------------------------------------------------
// Python websockets 10.4

describe('against Python websockets 10.4', () => {
  let peer: ChildProcessWithoutNullStreams;
  let base: string;
  const lines: Array<Record<string, unknown>> = [];
  let waiters: Array<() => void> = [];

  beforeAll(async () => {
    const script = fileURLToPath(new URL('./testing/peers/python-ws-server.py', import.meta.url));
    peer = spawn('/usr/bin/python3', [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    const reader = createInterface({ input: peer.stdout });
    reader.on('line', (line) => {
      lines.push(JSON.parse(line) as Record<string, unknown>);
      for (const wake of waiters.splice(0)) wake();
    });
    while (lines.length === 0) {
      await new Promise<void>((resolve, reject) => {
        waiters.push(resolve);
        peer.once('exit', () => reject(new Error('python server exited')));
      });
    }
    base = `ws://127.0.0.1:${lines.shift()?.['port']}`;
  }, 15_000);
  afterAll(async () => {
    peer.stdin.end();
    const exited = new Promise((resolve) => peer.once('exit', resolve));
    const timer = setTimeout(() => peer.kill(), 3000);
    await exited;
    clearTimeout(timer);
    waiters = [];
  });

  async function serverSaw(path: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + TIMEOUT;
    for (;;) {
      const index = lines.findIndex((line) => line['path'] === path);
      if (index !== -1) return lines.splice(index, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no report for ${path}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  test('echo; close code and reason reach the server', async () => {
    const ws = new WebSocket(`${base}/echo`);
    const tracked = track(ws);
    await tracked.opened;
    ws.send('from polysocket ✓');
    ws.send(new Float64Array([1.5]));
    expect(await nextMessage(tracked, 1)).toBe('from polysocket ✓');
    const echoed = (await nextMessage(tracked, 2)) as Blob;
    expect(new Float64Array(await echoed.arrayBuffer())[0]).toBe(1.5);
    ws.close(4100, 'done here');
    const event = await tracked.closed;
    expect([event.code, event.reason, event.wasClean]).toEqual([4100, 'done here', true]);
    expect(await serverSaw('/echo')).toMatchObject({ code: 4100, reason: 'done here' });
  });

  test('the server closes with a code and reason', async () => {
    const tracked = track(new WebSocket(`${base}/close?code=4200&reason=py%20bye`));
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'close:4200:py bye:true']);
  });

  test('subprotocol negotiation', async () => {
    const ws = new WebSocket(`${base}/subprotocol`, ['superchat']);
    const tracked = track(ws);
    expect(await nextMessage(tracked, 1)).toBe('superchat');
    expect(ws.protocol).toBe('superchat');
    ws.close();
    await tracked.closed;
  });

  test('invalid UTF-8 from the server: 1007 reaches it; error, then close 1006', async () => {
    const tracked = track(new WebSocket(`${base}/invalid-utf8`));
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'error', 'close:1006::false']);
    expect(await serverSaw('/invalid-utf8')).toMatchObject({ code: 1007 });
  });

  test('the server closes in the middle of a frame', async () => {
    const tracked = track(new WebSocket(`${base}/mid-frame`));
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'close:1006::false']);
  });

  test('handshake rejected with 403', async () => {
    const tracked = track(new WebSocket(`${base}/reject`));
    await tracked.closed;
    expect(tracked.log).toEqual(['error', 'close:1006::false']);
  });
});
