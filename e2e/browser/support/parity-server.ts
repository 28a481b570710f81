/**
 * The server of the parity tests (parity.spec.ts): a `ws` WebSocketServer
 * with permessage-deflate enabled (as a browser's peer usually has it), on
 * 127.0.0.1. Chromium's native WebSocket reaches it directly and polysocket
 * through the gateway, so both see the very same server. The request path
 * selects what it does:
 *
 *     /echo                          echo every message (text stays text)
 *     /close?code=C&reason=R&send=T  send text T first if given, then close with
 *                                    code C and reason R (no code: an empty close frame)
 *     /messages                      send a fixed series of messages (text, binary, empty,
 *                                    fragmented, after a ping), then echo
 *     /burst?n=N                     send N numbered text messages at once, then echo
 *     /reject-403                    answer the handshake with 403 Forbidden
 *     /bad-accept                    answer 101 with a wrong Sec-WebSocket-Accept
 *     /vanish?how=destroy|reset|     once the first message arrives, drop the TCP
 *            midframe|midmessage     connection without a close frame: at once (FIN or
 *                                    RST), after half a frame, or after the first
 *                                    fragment of a message
 *     /subprotocol?pick=P            select P (offered or not); pick=none selects none
 *     /force-protocol?pick=P         send Sec-WebSocket-Protocol: P though none was offered
 *     /invalid-utf8                  send a text frame that is not UTF-8
 *     /hostile?violation=V           answer 101 (no extensions), then a message ('ok') and a frame
 *                                    that breaks RFC 6455 (V: rsv, opcode, utf8, control,
 *                                    close-code, masked), then keep TCP open, reading and
 *                                    ignoring everything, never closing
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { computeAccept } from '../../../src/protocol/handshake.js';

/** The frames of /hostile, each breaking RFC 6455 in one way. */
const VIOLATIONS: Record<string, Buffer> = {
  // RSV1 set, no extension negotiated (5.2).
  rsv: Buffer.from([0xc1, 0x02, 0x6f, 0x6b]),
  // Opcode 3 is reserved (5.2).
  opcode: Buffer.from([0x83, 0x00]),
  // A text frame that is not UTF-8 (8.1).
  utf8: Buffer.from([0x81, 0x02, 0xc3, 0x28]),
  // A ping of 126 bytes: control frames carry 125 at most (5.5).
  control: Buffer.concat([Buffer.from([0x89, 0x7e, 0x00, 0x7e]), Buffer.alloc(126, 0x61)]),
  // Close code 999 is not a valid code (7.4).
  'close-code': Buffer.from([0x88, 0x02, 0x03, 0xe7]),
  // A masked frame from the server (5.1).
  masked: Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x6e, 0x6d]),
};

/** A running parity server. */
export interface ParityServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Start the parity server on 127.0.0.1 and a free port. */
export async function startParityServer(): Promise<ParityServer> {
  const server = http.createServer((_, response) => response.end('the parity server\n'));
  const wss = new WebSocketServer({
    noServer: true,
    // Room for the large-message scenarios.
    maxPayload: 64 * 2 ** 20,
    // ws's defaults (no window-bits preference, 1 KiB threshold): messages
    // of 1 KiB and more are compressed both ways.
    perMessageDeflate: true,
    handleProtocols: (offered, request) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const pick = url.searchParams.get('pick');
      if (url.pathname === '/subprotocol' && pick !== null) return pick === 'none' ? false : pick;
      // Otherwise ws's default: the first offered.
      return offered.values().next().value ?? false;
    },
  });
  // No Sec-WebSocket-Protocol was offered, yet one is sent (ws would not).
  wss.on('headers', (headers, request) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/force-protocol') {
      headers.push(`Sec-WebSocket-Protocol: ${url.searchParams.get('pick') ?? 'chat'}`);
    }
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (request, socket: Socket, head) => {
    socket.on('error', () => {});
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/reject-403') {
      socket.end(
        'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nforbidden\n',
      );
      return;
    }
    if (url.pathname === '/hostile') {
      const violation = VIOLATIONS[url.searchParams.get('violation') ?? ''];
      const key = request.headers['sec-websocket-key'];
      if (violation === undefined || typeof key !== 'string') {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      socket.on('data', () => {});
      socket.write(
        Buffer.concat([
          Buffer.from(
            'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
              `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
          ),
          // 'ok', a valid message first; not before the oversized ping:
          // Chromium 156 drops the frames it read together with a control
          // frame header over 125 bytes (polysocket dispatches them).
          violation === VIOLATIONS['control'] ? Buffer.alloc(0) : Buffer.from([0x81, 0x02, 0x6f, 0x6b]),
          violation,
        ]),
      );
      return;
    }
    if (url.pathname === '/bad-accept') {
      socket.end(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => serve(ws, url, socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serve(ws: WebSocket, url: URL, socket: Socket): void {
  ws.on('error', () => {});
  const echo = () => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  switch (url.pathname) {
    case '/close': {
      const send = url.searchParams.get('send');
      if (send !== null) ws.send(send);
      const code = url.searchParams.get('code');
      if (code === null) ws.close();
      else ws.close(Number(code), url.searchParams.get('reason') ?? '');
      return;
    }
    case '/messages':
      ws.ping('are you there');
      ws.send('héllo ✓');
      ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
      ws.send('');
      ws.send(new Uint8Array(0));
      ws.send('frag', { fin: false });
      ws.send('ment', { fin: false });
      ws.send('ed', { fin: true });
      ws.send(new Uint8Array([7]), { binary: true, fin: false });
      ws.send(new Uint8Array([8, 9]), { binary: true, fin: true });
      // A compressible message larger than ws's 1 KiB threshold: compressed.
      ws.send('z'.repeat(3000));
      echo();
      return;
    case '/burst': {
      const n = Number(url.searchParams.get('n') ?? '10');
      for (let i = 0; i < n; i++) ws.send(`message ${i}`);
      echo();
      return;
    }
    case '/vanish':
      ws.once('message', () => {
        const how = url.searchParams.get('how');
        if (how === 'reset') socket.resetAndDestroy();
        // FIN + text, 5 bytes announced, 2 sent.
        else if (how === 'midframe')
          socket.write(Buffer.from([0x81, 0x05, 0x61, 0x62]), () => socket.destroy());
        else if (how === 'midmessage') ws.send('frag', { fin: false }, () => socket.destroy());
        else socket.destroy();
      });
      return;
    case '/invalid-utf8':
      // FIN + text, 4-byte payload: 'ok' then an invalid UTF-8 sequence.
      socket.write(Buffer.from([0x81, 0x04, 0x6f, 0x6b, 0xc3, 0x28]));
      echo();
      return;
    default:
      echo();
  }
}
