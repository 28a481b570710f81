/**
 * The commands a benchmark's `ws` server obeys on each WebSocket
 * (bench/tls.bench.ts, bench/browser.bench.ts), sent by the client as text
 * messages:
 *
 * - `recv <size> <count>`: the server sends `count` binary messages of
 *   `size` bytes, as fast as its socket drains, never more than
 *   `queueLimit` bytes queued in the socket.
 * - `send <size> <count>`: the server counts the binary messages that
 *   follow and answers `done` once `size * count` bytes arrived.
 * - `echo`: from now on every binary message is sent back as it is.
 */
import type * as net from 'node:net';

/** What the commands use of a `ws` server-side WebSocket. */
export interface WsServerSocket {
  readonly _socket: net.Socket;
  send(data: Buffer | string, options?: { binary: boolean }): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error' | 'close', listener: () => void): this;
}

/** Obey the commands on `socket` (a `ws` WebSocket); `payload(size)` is what `recv` sends. */
export function serveBenchCommands(
  socket: unknown,
  payload: (size: number) => Buffer,
  queueLimit: number,
): void {
  const ws = socket as WsServerSocket;
  ws.on('error', () => {});
  let expect = 0;
  let received = 0;
  let echo = false;
  let closed = false;
  ws.on('close', () => {
    closed = true;
  });
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      if (echo) {
        ws.send(data, { binary: true });
        return;
      }
      received += data.byteLength;
      if (expect > 0 && received >= expect) {
        expect = 0;
        ws.send('done');
      }
      return;
    }
    const [command, sizeText, countText] = data.toString().split(' ');
    const size = Number(sizeText);
    const count = Number(countText);
    echo = command === 'echo';
    if (command === 'send') {
      expect = size * count;
      received = 0;
    } else if (command === 'recv') {
      const raw = ws._socket;
      const bytes = payload(size);
      let sent = 0;
      // As fast as the socket drains, never more than queueLimit queued in it.
      const pump = (): void => {
        while (!closed && sent < count && raw.writableLength < queueLimit) {
          ws.send(bytes, { binary: true });
          sent++;
        }
        if (!closed && sent < count) raw.once('drain', pump);
      };
      pump();
    }
  });
}
