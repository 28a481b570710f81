/**
 * The `compression` option end to end: the Node entry offers
 * permessage-deflate by default, against a real `ws` server on 127.0.0.1.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { WebSocket as LiteWebSocket } from './lite.js';
import { WebSocket } from './node.js';
import { memoryServer } from './testing/memory-server.js';

let wss: WebSocketServer;
let url: string;
const offers: Array<string | undefined> = [];

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
  wss.on('connection', (socket, request) => {
    offers.push(request.headers['sec-websocket-extensions']);
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  for (const client of wss.clients) client.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

function echo(ws: globalThis.WebSocket, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.onmessage = (event) => resolve(event.data as string);
    ws.onerror = () => reject(new Error('error event'));
    if (ws.readyState === WebSocket.OPEN) ws.send(message);
    else ws.onopen = () => ws.send(message);
  });
}

function closed(ws: globalThis.WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => ws.addEventListener('close', (event) => resolve(event as CloseEvent)));
}

describe('compression', () => {
  test('offered by default, negotiated with ws, and used both ways', async () => {
    const ws = new WebSocket(url);
    const message = 'compress me '.repeat(1000);
    expect(await echo(ws, message)).toBe(message);
    expect(offers.at(-1)).toBe('permessage-deflate; client_max_window_bits');
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    ws.close(1000);
    expect((await closed(ws)).wasClean).toBe(true);
  });

  test('compression: false offers nothing', async () => {
    const ws = new WebSocket(url, [], { compression: false });
    expect(await echo(ws, 'plain')).toBe('plain');
    expect(offers.at(-1)).toBeUndefined();
    expect(ws.extensions).toBe('');
    ws.close();
    await closed(ws);
  });

  test('compression settings are passed to the offer', async () => {
    const ws = new WebSocket(url, [], {
      compression: { serverNoContextTakeover: true, clientMaxWindowBits: 10 },
    });
    expect(await echo(ws, 'tuned '.repeat(100))).toBe('tuned '.repeat(100));
    expect(offers.at(-1)).toBe('permessage-deflate; server_no_context_takeover; client_max_window_bits=10');
    ws.close();
    await closed(ws);
  });

  test('polysocket/lite has no compressor: compression other than false is refused', () => {
    const server = memoryServer();
    expect(
      () => new LiteWebSocket('ws://example.com/', [], { transport: server.factory, compression: true }),
    ).toThrow(TypeError);
  });
});
