/**
 * The Electron bridge: the main-process half with real node:net/node:tls
 * sockets, the preload and renderer halves joined to it by a stand-in for
 * Electron's IPC and contextBridge (structured clone, async delivery),
 * against real servers on 127.0.0.1: raw TCP, `ws`, Python websockets.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type RawData, WebSocketServer } from 'ws';
import { testCertificate } from '../testing/certs.js';
import { concat } from '../testing/chunking.js';
import { electronStandIn, type FakeRenderer } from '../testing/electron-ipc.js';
import { recordEvents } from '../testing/memory-transport.js';
import type { Transport, TransportTarget } from '../transports/transport.js';
import { WebSocket } from '../websocket.js';
import { registerSocketBridge, type SocketBridge, type SocketBridgeOptions } from './main.js';
import type { SocketBridgeApi } from './messages.js';
import { exposeSocketBridge } from './preload.js';
import { ElectronTransport, electronTransport } from './renderer.js';

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

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 8000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

/** A TCP server whose sockets are tracked and destroyed at cleanup. */
async function listen(
  server: net.Server,
): Promise<{ port: number; sockets: Set<net.Socket>; connections: () => number }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<net.Socket>();
  let connections = 0;
  server.on('connection', (socket: net.Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, sockets, connections: () => connections };
}

function echoServer(): ReturnType<typeof listen> {
  return listen(
    net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('end', () => socket.end());
    }),
  );
}

/** The main-process bridge, and a renderer with the preload run in it. */
function setUp(options: SocketBridgeOptions): {
  bridge: SocketBridge;
  renderer: FakeRenderer;
  api: SocketBridgeApi;
  newRenderer(): { renderer: FakeRenderer; api: SocketBridgeApi };
} {
  const { ipcMain, createRenderer } = electronStandIn();
  const bridge = registerSocketBridge(ipcMain, options);
  cleanups.push(() => bridge.dispose());
  const newRenderer = () => {
    const renderer = createRenderer();
    exposeSocketBridge(renderer, { page: renderer.page });
    return { renderer, api: renderer.mainWorld['polysocket'] as SocketBridgeApi };
  };
  const first = newRenderer();
  return { bridge, ...first, newRenderer };
}

describe('Electron bridge: raw TCP', () => {
  test('echo, then half-close: the server sees our FIN and may still send', async () => {
    let serverSawEnd = false;
    const { port } = await listen(
      net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.on('data', (chunk) => socket.write(chunk));
        socket.on('end', () => {
          serverSawEnd = true;
          socket.end('after your FIN');
        });
      }),
    );
    const { api, bridge, renderer } = setUp({ allow: [`127.0.0.1:${port}`] });
    expect(Object.isFrozen(api)).toBe(true);
    const transport = new ElectronTransport(target(port), { bridge: api });
    const log = recordEvents(transport);
    expect(transport.supportsHalfClose).toBe(true);
    await once(transport, 'open');
    await transport.write(te.encode('ping'));
    await until(() => log.includes('data:ping'), 'the echo');
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    expect(serverSawEnd).toBe(true);
    expect(log).toEqual(['open', 'data:ping', 'data:after your FIN', 'end', 'close']);
    await until(() => bridge.stats.sockets === 0, 'the main socket to close');
    // The preload's IPC listener goes with the last socket.
    expect(renderer.ipcRenderer.listenerCount('polysocket:socket')).toBe(0);
  });

  test('a target outside the allow-list is refused without any connection', async () => {
    const { port, connections } = await echoServer();
    const { api, bridge } = setUp({ allow: [`127.0.0.1:${port + 1}`, `localhost:${port}`] });
    const transport = electronTransport({ bridge: api })(target(port));
    const log = recordEvents(transport);
    const error = await once(transport, 'close');
    expect(error?.message).toBe(`polysocket: 127.0.0.1:${port} is not allowed by the main process`);
    expect((error as Error & { code: string }).code).toBe('EACCES');
    expect(log).toEqual([`close:${error?.message}`]);
    expect(bridge.stats.refused).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(connections()).toBe(0);
  });

  test('the check function decides what the list does not cover, and sees the sender', async () => {
    const { port, connections } = await echoServer();
    const seen: Array<[string, number]> = [];
    const { api, renderer } = setUp({
      check: async (where, sender) => {
        seen.push([`${where.host}:${where.port}`, sender.id]);
        return where.port === port && !where.secure;
      },
    });
    const ok = new ElectronTransport(target(port), { bridge: api });
    await once(ok, 'open');
    const refused = new ElectronTransport(target(port, true), { bridge: api });
    expect((await once(refused, 'close'))?.message).toMatch(/is not allowed/);
    expect(seen).toEqual([
      [`127.0.0.1:${port}`, renderer.webContents.id],
      [`127.0.0.1:${port}`, renderer.webContents.id],
    ]);
    expect(connections()).toBe(1);
    ok.destroy();
  });

  test('a refused connection reports the socket error', async () => {
    const server = net.createServer();
    const { port } = await listen(server);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    cleanups.pop();
    const { api } = setUp({ allow: [`127.0.0.1:${port}`] });
    const transport = new ElectronTransport(target(port), { bridge: api });
    const error = await once(transport, 'close');
    expect(error?.message).toMatch(/ECONNREFUSED/);
    expect((error as Error & { code: string }).code).toBe('ECONNREFUSED');
  });

  test('without the preload API it closes with a clear error', async () => {
    const transport = new ElectronTransport(target(1));
    expect((await once(transport, 'close'))?.message).toMatch(/window\.polysocket is missing/);
  });

  test("a renderer's sockets close when its WebContents is destroyed", async () => {
    const { port, sockets } = await echoServer();
    const { api, bridge, renderer, newRenderer } = setUp({ allow: [`127.0.0.1:${port}`] });
    const other = newRenderer();
    const mine = [0, 1, 2].map(() => new ElectronTransport(target(port), { bridge: api }));
    const theirs = new ElectronTransport(target(port), { bridge: other.api });
    await Promise.all([...mine, theirs].map((transport) => once(transport, 'open')));
    await until(() => sockets.size === 4, 'four server sockets');
    renderer.webContents.destroy();
    await until(() => sockets.size === 1, 'the destroyed renderer’s sockets to close');
    expect(bridge.stats.sockets).toBe(1);
    // The other renderer is untouched.
    const echoed = new Promise<string>((resolve) =>
      theirs.once('data', (chunk) => resolve(td.decode(chunk))),
    );
    await theirs.write(te.encode('still here'));
    expect(await echoed).toBe('still here');
    theirs.destroy();
    await until(() => sockets.size === 0, 'all server sockets to close');
  });

  test('a crashed renderer process and a page unload also close its sockets', async () => {
    const { port, sockets } = await echoServer();
    const { api, bridge, renderer, newRenderer } = setUp({ allow: [`127.0.0.1:${port}`] });
    await once(new ElectronTransport(target(port), { bridge: api }), 'open');
    renderer.webContents.crash();
    await until(() => bridge.stats.sockets === 0 && sockets.size === 0, 'the crash cleanup');

    const other = newRenderer();
    await once(new ElectronTransport(target(port), { bridge: other.api }), 'open');
    other.renderer.page.hide(true); // bfcache: kept
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(bridge.stats.sockets).toBe(1);
    other.renderer.page.hide(false); // unloaded: gone
    await until(() => bridge.stats.sockets === 0 && sockets.size === 0, 'the pagehide cleanup');
  });

  test('a reloaded page (new preload, same WebContents) closes the old page’s sockets', async () => {
    const { port, sockets } = await echoServer();
    const { ipcMain, createRenderer } = electronStandIn();
    const bridge = registerSocketBridge(ipcMain, { allow: [`127.0.0.1:${port}`] });
    cleanups.push(() => bridge.dispose());
    const renderer = createRenderer();
    exposeSocketBridge(renderer, { page: renderer.page });
    const old = new ElectronTransport(target(port), {
      bridge: renderer.mainWorld['polysocket'] as SocketBridgeApi,
    });
    await once(old, 'open');
    // The page reloads: a fresh world and preload, the same WebContents and ipcRenderer.
    const world: Record<string, unknown> = {};
    const { FakeContextBridge } = await import('../testing/electron-ipc.js');
    exposeSocketBridge({ contextBridge: new FakeContextBridge(world), ipcRenderer: renderer.ipcRenderer });
    const fresh = new ElectronTransport(target(port), { bridge: world['polysocket'] as SocketBridgeApi });
    await once(fresh, 'open');
    await until(() => sockets.size === 1 && bridge.stats.sockets === 1, 'the old socket to close');
    fresh.destroy();
    old.destroy();
  });

  test('16 MiB both ways with a slow page: the main process pauses, buffers stay bounded', async () => {
    const { port } = await echoServer();
    // Below one socket read (64 KiB), so that the main process must pause
    // whatever the scheduling: with 512 KiB, whether one poll phase read past
    // the mark before the page's acknowledgement depended on timing (about
    // one run in six did not pause).
    const readHighWaterMark = 16 * 1024;
    const { api, bridge } = setUp({ allow: [`127.0.0.1:${port}`], readHighWaterMark });
    const transport = new ElectronTransport(target(port), { bridge: api, writeWindow: 1024 * 1024 });
    const chunks: Uint8Array[] = [];
    let received = 0;
    transport.on('data', (chunk) => {
      chunks.push(chunk);
      received += chunk.byteLength;
      const busyUntil = Date.now() + 1; // a page with work to do
      while (Date.now() < busyUntil) {}
    });
    await once(transport, 'open');
    const size = 16 * 1024 * 1024 + 3;
    const payload = new Uint8Array(size).map((_, i) => (i * 29) >> 3);
    await transport.write(payload);
    await until(() => received >= size, 'the 16 MiB echo');
    expect(sameBytes(concat(chunks), payload)).toBe(true);
    expect(bridge.stats.pauses).toBeGreaterThan(0);
    // At most one socket read past the mark before the pause.
    expect(bridge.stats.maxUnacknowledged).toBeLessThan(readHighWaterMark + 1024 * 1024);
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
  }, 30_000);

  test('a page that writes past the window is cut off; malformed messages are ignored', async () => {
    const { port } = await listen(net.createServer({ allowHalfOpen: true }, (socket) => socket.pause()));
    const { api, bridge, renderer } = setUp({ allow: [`127.0.0.1:${port}`], maxWriteBuffer: 1024 * 1024 });
    // Straight through ipcRenderer, as a compromised page with the preload's powers could.
    renderer.ipcRenderer.send('polysocket:socket', { op: 'connect', page: 'x', id: 0, host: 'h', port: 1 });
    renderer.ipcRenderer.send('polysocket:socket', { op: 'write', page: 'x', id: 1, data: 'text' });
    renderer.ipcRenderer.send('polysocket:socket', 'nonsense');
    await until(() => bridge.stats.malformed === 3, 'three malformed messages');
    const messages: string[] = [];
    const id = api.connect({ host: '127.0.0.1', port, secure: false }, (message) =>
      messages.push(message.op),
    );
    await until(() => messages.includes('open'), 'open');
    // Ignore the written acknowledgements: flood 64 MiB to a server that doesn't read.
    const block = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 64; i++) api.write(id, block);
    await until(() => messages.includes('close'), 'the bridge to cut the connection');
    expect(bridge.stats.sockets).toBe(0);
  });
});

describe('Electron bridge: WebSocket sessions', () => {
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

  async function wsServer(secure = false): Promise<{ port: number; closes: Array<[number, string]> }> {
    const { cert, key } = testCertificate();
    const server = secure ? https.createServer({ cert, key }) : http.createServer();
    const closes: Array<[number, string]> = [];
    const wss = new WebSocketServer({
      server,
      handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
    });
    wss.on('connection', (socket, request) => {
      if (request.url === '/close') socket.close(4201, 'server bye');
      socket.on('message', (data: RawData, isBinary) => socket.send(data, { binary: isBinary }));
      socket.on('close', (code, reason) => closes.push([code, reason.toString()]));
    });
    const { port } = await listen(server);
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    return { port, closes };
  }

  test('against ws: subprotocol, text, binary, 5 MiB, close codes both ways', async () => {
    const { port, closes } = await wsServer();
    const { api, bridge } = setUp({ allow: [`127.0.0.1:${port}`] });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, ['chat'], {
      transport: electronTransport({ bridge: api }),
    });
    const { messages, closed, opened } = session(ws);
    await opened;
    expect(ws.protocol).toBe('chat');
    ws.send('héllo from the renderer');
    ws.send(new Uint8Array([9, 8, 7]));
    const big = new Uint8Array(5 * 1024 * 1024 + 1).map((_, i) => i % 241);
    ws.send(big);
    await until(() => messages.length === 3, 'three echoes');
    expect(messages[0]).toBe('héllo from the renderer');
    expect([...new Uint8Array(messages[1] as ArrayBuffer)]).toEqual([9, 8, 7]);
    expect(sameBytes(new Uint8Array(messages[2] as ArrayBuffer), big)).toBe(true);
    ws.close(4100, 'renderer bye');
    const event = await closed;
    expect([event.code, event.reason, event.wasClean]).toEqual([4100, 'renderer bye', true]);
    await until(() => closes.length === 1, 'the server to see the close');
    expect(closes[0]).toEqual([4100, 'renderer bye']);
    await until(() => bridge.stats.sockets === 0, 'the main socket to close');

    const second = session(
      new WebSocket(`ws://127.0.0.1:${port}/close`, [], { transport: electronTransport({ bridge: api }) }),
    );
    const serverClose = await second.closed;
    expect([serverClose.code, serverClose.reason, serverClose.wasClean]).toEqual([4201, 'server bye', true]);
  });

  test('against ws over TLS (wss:), with the main process trusting the test CA', async () => {
    const { port } = await wsServer(true);
    const { api } = setUp({ allow: [`localhost:${port}`], tls: { ca: testCertificate().cert } });
    const ws = new WebSocket(`wss://localhost:${port}/`, [], {
      transport: electronTransport({ bridge: api }),
    });
    const { messages, closed, opened } = session(ws);
    await opened;
    ws.send('over TLS');
    await until(() => messages.length === 1, 'the echo');
    expect(messages[0]).toBe('over TLS');
    ws.close(1000);
    expect((await closed).wasClean).toBe(true);
  });

  test('a refused target fails the WebSocket (error, then close 1006)', async () => {
    const { api } = setUp({ allow: [] });
    const ws = new WebSocket('ws://127.0.0.1:8/', [], { transport: electronTransport({ bridge: api }) });
    const log: string[] = [];
    ws.onerror = () => log.push('error');
    const event = await new Promise<CloseEvent>((resolve) => {
      ws.onclose = (e) => resolve(e as CloseEvent);
    });
    expect(log).toEqual(['error']);
    expect([event.code, event.wasClean]).toEqual([1006, false]);
  });

  describe('against Python websockets', () => {
    let peer: ChildProcessWithoutNullStreams;
    let port = 0;
    const lines: Array<Record<string, unknown>> = [];

    beforeAll(async () => {
      const script = fileURLToPath(new URL('../testing/peers/python-ws-server.py', import.meta.url));
      peer = spawn('/usr/bin/python3', [script], { stdio: ['pipe', 'pipe', 'pipe'] });
      createInterface({ input: peer.stdout }).on('line', (line) => {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      });
      await until(() => lines.length > 0 || peer.exitCode !== null, 'the python server');
      port = Number(lines.shift()?.['port']);
    }, 15_000);

    afterAll(async () => {
      peer.stdin.end();
      const exited = new Promise((resolve) => peer.once('exit', resolve));
      const timer = setTimeout(() => peer.kill(), 3000);
      await exited;
      clearTimeout(timer);
    });

    test('echo text and binary, client close code reaches the server', async () => {
      const { api } = setUp({ allow: [`127.0.0.1:${port}`] });
      const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, [], {
        transport: electronTransport({ bridge: api }),
      });
      const { messages, closed, opened } = session(ws);
      await opened;
      ws.send('from the renderer ✓');
      const big = new Uint8Array(700_001).map((_, i) => i % 239);
      ws.send(big);
      await until(() => messages.length === 2, 'two echoes');
      expect(messages[0]).toBe('from the renderer ✓');
      expect(sameBytes(new Uint8Array(messages[1] as ArrayBuffer), big)).toBe(true);
      ws.close(4300, 'py bye');
      const event = await closed;
      expect([event.code, event.reason, event.wasClean]).toEqual([4300, 'py bye', true]);
      await until(() => lines.some((line) => line['path'] === '/echo'), 'the server report');
      expect(lines.find((line) => line['path'] === '/echo')).toMatchObject({ code: 4300, reason: 'py bye' });
    });

    test('the server closes with a code and reason', async () => {
      const { api } = setUp({ allow: [`127.0.0.1:${port}`] });
      const ws = new WebSocket(`ws://127.0.0.1:${port}/close?code=4200&reason=py%20closes`, [], {
        transport: electronTransport({ bridge: api }),
      });
      const event = await session(ws).closed;
      expect([event.code, event.reason, event.wasClean]).toEqual([4200, 'py closes', true]);
    });
  });
});
