/**
 * The servers of the cross-runtime scenarios, run in Node on 127.0.0.1: a
 * `ws` server with permessage-deflate over HTTP and over HTTPS (a certificate
 * from a throwaway CA), and a port where nothing listens.
 *
 * Paths: `/echo` echoes every message as it came (text or binary) and
 * answers `__stats__` with how many bytes its socket read; `/server-close`
 * sends `bye soon` and closes with 4001; `/slow-reader` stops reading for
 * 500 ms at the first frame, then answers each message with its size and
 * FNV-1a hash; `/forbidden` rejects the handshake
 * with 403. The server picks subprotocol `polysocket.v2` when offered.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { testCertificateChain } from './certs.js';
import type { ServerInfo } from './scenarios.js';

export interface RunningServers {
  readonly info: ServerInfo;
  close(): Promise<void>;
}

function listen(server: HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no port'));
      else resolve(address.port);
    });
  });
}

/** A port that refuses connections: bound once, then released. */
async function refusedPort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** FNV-1a (32 bits), as scenarios.ts computes it. */
function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

function attachWebSockets(server: HttpServer): WebSocketServer {
  const wss = new WebSocketServer({
    server,
    perMessageDeflate: true,
    maxPayload: 64 * 2 ** 20,
    handleProtocols: (protocols) => (protocols.has('polysocket.v2') ? 'polysocket.v2' : false),
    verifyClient: (info, done) => {
      if (info.req.url === '/forbidden') done(false, 403, 'Forbidden');
      else done(true);
    },
  });
  wss.on('connection', (ws, request) => {
    ws.on('error', () => {});
    if (request.url === '/server-close') {
      ws.send('bye soon');
      ws.close(4001, 'server says bye');
      return;
    }
    if (request.url === '/slow-reader') {
      // Stops reading for 500 ms once the first frame's bytes arrive, so
      // that the client's writes back up (partial writes, drain) for sure.
      request.socket.once('data', () => {
        request.socket.pause();
        setTimeout(() => request.socket.resume(), 500);
      });
      ws.on('message', (data: Buffer) => {
        ws.send(JSON.stringify({ bytes: data.byteLength, fnv: fnv1a(data) }));
      });
      return;
    }
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === '__stats__') {
        ws.send(JSON.stringify({ bytesRead: request.socket.bytesRead }));
        return;
      }
      ws.send(data as Buffer, { binary: isBinary });
    });
  });
  return wss;
}

/** Start the servers; `close()` stops them and drops their connections. */
export async function startServers(): Promise<RunningServers> {
  const { ca, cert, key } = testCertificateChain();
  const plain = createServer();
  const secure = createHttpsServer({ cert, key });
  const sockets = new Set<Duplex>();
  for (const server of [plain, secure]) {
    server.on('connection', (socket: Duplex) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.on('secureConnection', (socket: Duplex) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  }
  const servers = [attachWebSockets(plain), attachWebSockets(secure)];
  const [plainPort, securePort, closedPort] = await Promise.all([
    listen(plain),
    listen(secure),
    refusedPort(),
  ]);
  return {
    info: {
      ws: `ws://127.0.0.1:${plainPort}`,
      wss: `wss://127.0.0.1:${securePort}`,
      refused: `ws://127.0.0.1:${closedPort}`,
      ca,
    },
    async close() {
      for (const wss of servers) wss.close();
      for (const socket of sockets) socket.destroy();
      await Promise.all(
        [plain, secure].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
    },
  };
}
