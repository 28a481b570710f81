/**
 * The demo's WebSocket server (npm `ws`, on 127.0.0.1): an echo room and a
 * tiny broadcast chat between demo tabs. Both rooms answer the page's
 * timestamped pings to the sender alone, so that round-trip times work in
 * either.
 *
 *     /echo   every message comes back unchanged (text stays text)
 *     /chat   every message goes to everyone in the room, sender included;
 *             text as {"type":"chat","from","text","at"}, binary as is.
 *             On join: {"type":"welcome","name","peers"}; then
 *             {"type":"presence","peers","joined"|"left"} to everyone.
 *     /flood  numbered binary messages as fast as the client reads them, up
 *             to a cap, and /flood-stats, the server's figures for one
 *             flood (see flood-protocol.ts)
 *
 * The server selects the first subprotocol the client offers, and
 * negotiates permessage-deflate (compressing messages of 256 bytes or more).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { floodRooms } from './flood.js';

/** A running demo server. */
export interface DemoServer {
  readonly port: number;
  /** `ws://127.0.0.1:<port>` */
  readonly url: string;
  stop(): Promise<void>;
}

/** Options of {@link startDemoServer}. */
export interface DemoServerOptions {
  /** @defaultValue `0`: any free port */
  readonly port?: number;
  /** Called with one line per connection and close. */
  readonly log?: (line: string) => void;
}

/** What the page sends to measure round trips; answered to the sender only. */
export interface Ping {
  readonly type: 'ping';
  readonly seq: number;
  readonly t: number;
}

/** True if `text` is a {@link Ping}. */
export function isPing(text: string): boolean {
  if (!text.startsWith('{"type":"ping"')) return false;
  try {
    const value = JSON.parse(text) as Partial<Ping>;
    return value.type === 'ping' && typeof value.seq === 'number' && typeof value.t === 'number';
  } catch {
    return false;
  }
}

/** Largest message the server accepts (the page's binary sizes stay below it). */
export const DEMO_MAX_PAYLOAD = 64 * 2 ** 20;

/** Start the echo, chat and flood server on 127.0.0.1. */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const log = options.log ?? (() => {});
  const server = http.createServer((_, response) => {
    response.setHeader('content-type', 'text/plain; charset=utf-8');
    response.end('polysocket demo WebSocket server: ws://…/echo, ws://…/chat and ws://…/flood\n');
  });
  const wss = new WebSocketServer({
    server,
    maxPayload: DEMO_MAX_PAYLOAD,
    perMessageDeflate: { threshold: 256 },
    handleProtocols: (protocols) => {
      const [first] = protocols;
      return first ?? false;
    },
  });
  const floods = floodRooms(log);
  const chat = new Set<WebSocket>();
  let guests = 0;
  const broadcast = (data: string | Buffer, binary: boolean) => {
    for (const peer of chat) if (peer.readyState === peer.OPEN) peer.send(data, { binary });
  };
  wss.on('connection', (ws, request) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    const from = `${request.socket.remoteAddress}:${request.socket.remotePort}`;
    ws.on('error', () => {});
    if (floods.handle(ws, request, path)) return;
    if (path === '/chat') {
      const name = `guest-${++guests}`;
      chat.add(ws);
      log(`chat: ${name} joined from ${from} (${chat.size} in the room)`);
      ws.send(JSON.stringify({ type: 'welcome', name, peers: chat.size }));
      broadcast(JSON.stringify({ type: 'presence', peers: chat.size, joined: name }), false);
      ws.on('message', (data, isBinary) => {
        const buffer = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
        if (isBinary) {
          broadcast(buffer, true);
          return;
        }
        const text = buffer.toString('utf8');
        if (isPing(text)) ws.send(text);
        else broadcast(JSON.stringify({ type: 'chat', from: name, text, at: Date.now() }), false);
      });
      ws.on('close', (code, reason) => {
        chat.delete(ws);
        log(`chat: ${name} left (${code} ${reason.toString()})`);
        broadcast(JSON.stringify({ type: 'presence', peers: chat.size, left: name }), false);
      });
      return;
    }
    log(`echo: connection from ${from} to ${path}`);
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on('close', (code, reason) => log(`echo: ${from} closed (${code} ${reason.toString()})`));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    stop: async () => {
      floods.stop();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
