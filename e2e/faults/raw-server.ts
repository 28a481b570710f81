/**
 * A raw TCP server for the fault suites: it reads the client's request head
 * and hands the socket over, so that a test can answer with any bytes at
 * all, or none, and keep the connection open as long as it likes.
 */
import * as net from 'node:net';
import { computeAccept } from '../../src/protocol/handshake.js';

/** A running raw server. */
export interface RawServer {
  /** `ws://127.0.0.1:<port>/` */
  readonly url: string;
  /** Destroy every connection and stop listening. */
  stop(): Promise<void>;
}

/**
 * Listen on 127.0.0.1; `onRequest` runs once a connection's request head is
 * read, with the client's `Sec-WebSocket-Key`. Connections allow half-open:
 * when the client ends its side, the server's stays open unless `onRequest`
 * says otherwise.
 */
export async function rawServer(onRequest: (socket: net.Socket, key: string) => void): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      onRequest(socket, /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '');
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A 101 response accepting the WebSocket whose key is `key`, without extensions. */
export function upgrade(key: string): string {
  return (
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`
  );
}
