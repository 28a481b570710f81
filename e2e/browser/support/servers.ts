/**
 * Real WebSocket servers and port helpers for the end-to-end tests, all on
 * 127.0.0.1, over TCP (`ws:`) or, given a certificate, TLS (`wss:`). The
 * request path selects what a server does (both servers behave alike):
 *
 *     /echo                      echo every message (text stays text)
 *     /close?code=C&reason=R     close with that code and reason at once
 */
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { type Service, startService } from './processes.js';

/** Debian's interpreter: it has python3-websockets, whatever else is on PATH. */
export const PYTHON = '/usr/bin/python3';

/** A server with a port and a way to stop it. */
export interface RunningServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** A server certificate and key, PEM text and files (support/tls.ts). */
export interface ServerTls {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A `ws` WebSocket server (RFC 6455, npm `ws`) on a plain HTTP server, or on HTTPS with `tls`. */
export async function startWsServer(tls?: ServerTls): Promise<RunningServer> {
  const respond = (_: http.IncomingMessage, response: http.ServerResponse) =>
    response.end('a WebSocket server\n');
  const server =
    tls === undefined
      ? http.createServer(respond)
      : https.createServer({ cert: tls.cert, key: tls.key }, respond);
  // The gateway drops the handshakes whose certificate it refuses: not this server's error.
  server.on('tlsClientError', () => {});
  // 64 MiB: room for the large-message tests (ws's default is 100 MiB anyway).
  const wss = new WebSocketServer({ server, maxPayload: 64 * 2 ** 20 });
  wss.on('connection', (ws, request) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/close') {
      ws.close(Number(url.searchParams.get('code') ?? 1000), url.searchParams.get('reason') ?? '');
      return;
    }
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const port = await listenTcp(server);
  return {
    port,
    stop: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A Python `websockets` server (Debian's python3-websockets 10.4), over TLS with `tls`. */
export async function startPythonServer(
  logFile?: string,
  tls?: ServerTls,
): Promise<RunningServer & { service: Service }> {
  const script = fileURLToPath(new URL('./python-ws-server.py', import.meta.url));
  const service = await startService({
    name: `python websockets server${tls === undefined ? '' : ' (TLS)'}`,
    command: PYTHON,
    args: tls === undefined ? [script] : [script, '--tls', tls.certFile, tls.keyFile],
    ready: /^\{"port": (\d+)\}$/,
    stdin: true, // the server exits when its stdin closes
    ...(logFile === undefined ? {} : { logFile }),
  });
  return { port: Number(service.ready[1]), service, stop: () => service.stop() };
}

/** A plain TCP server that accepts and holds connections (for "not allow-listed": reachable, yet refused). */
export async function startTcpSink(): Promise<RunningServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listenTcp(server);
  return {
    port,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP port on 127.0.0.1 where nothing listens (bound, then released). */
export async function closedTcpPort(): Promise<number> {
  const server = net.createServer();
  const port = await listenTcp(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A UDP port on 127.0.0.1 where nothing listens: a gateway that is down. */
export async function closedUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

function listenTcp(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}
