/**
 * `@reclaimprotocol/tls` (TLS 1.2/1.3 in JavaScript) over a Node TCP
 * socket, for bench/tls.bench.ts: the option issue 14 evaluated and the
 * project rejected (README, "wss:// through a gateway"), measured here and
 * nowhere wired into src/. Crypto is its WebCrypto implementation (Node's
 * `crypto.webcrypto`, as a browser's `crypto.subtle` would be), certificates
 * are verified against the benchmark's test CA.
 */
import * as net from 'node:net';
import { loadX509FromPem, makeTLSClient, setCryptoImplementation } from '@reclaimprotocol/tls';
import { webcryptoCrypto } from '@reclaimprotocol/tls/webcrypto';
import type { OpenedStreams } from '../src/node.js';

setCryptoImplementation(webcryptoCrypto);

/** The TLS versions measured. */
export type ReclaimVersion = 'TLS1_3' | 'TLS1_2';

/** A TLS connection made by `@reclaimprotocol/tls`, handshake done. */
export interface ReclaimConnection {
  /** Encrypt and send; resolves once the records were handed to the socket (after 'drain' if it was full). */
  write(chunk: Uint8Array): Promise<void>;
  /** Application data as it is decrypted. */
  onData: (chunk: Uint8Array) => void;
  /** Called once when the connection ends, with the error if it failed. */
  onEnd: (error?: Error) => void;
  /** close_notify, then FIN; resolves when the socket closed (bounded by `destroy` after 5 s). */
  close(): Promise<void>;
  destroy(): void;
}

/** Its own logging is not part of the measurement. */
const SILENT = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/**
 * Connect to `port` on 127.0.0.1 and make a TLS connection for `serverName`
 * (SNI and the name verified), trusting `caPem` only.
 */
export function connectReclaim(
  port: number,
  serverName: string,
  caPem: string,
  version: ReclaimVersion,
): Promise<ReclaimConnection> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  let ended = false;
  const connection: ReclaimConnection = {
    write: (chunk) => tls.write(chunk),
    onData: () => {},
    onEnd: () => {},
    close: async () => {
      const closed = new Promise<void>((resolve) => {
        if (socket.destroyed) resolve();
        else socket.once('close', () => resolve());
      });
      const timer = setTimeout(() => socket.destroy(), 5_000);
      await tls.end().catch(() => {});
      socket.end();
      await closed;
      clearTimeout(timer);
    },
    destroy: () => socket.destroy(),
  };
  const end = (error?: Error): void => {
    if (ended) return;
    ended = true;
    connection.onEnd(error);
  };
  let handshake: { resolve: () => void; reject: (error: Error) => void } | null = null;
  const tls = makeTLSClient({
    host: serverName,
    verifyServerCertificate: true,
    rootCAs: [loadX509FromPem(caPem)],
    supportedProtocolVersions: [version],
    logger: SILENT,
    // One socket write per record; wait only when the socket's buffer is full.
    write: ({ header, content }) => {
      const record = new Uint8Array(header.byteLength + content.byteLength);
      record.set(header, 0);
      record.set(content, header.byteLength);
      if (socket.write(record)) return;
      return new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    },
    onHandshake: () => handshake?.resolve(),
    onApplicationData: (plaintext) => connection.onData(plaintext),
    onTlsEnd: (error) => {
      handshake?.reject(error ?? new Error('TLS ended during the handshake'));
      end(error);
      socket.destroy();
    },
  });
  socket.on('data', (chunk: Buffer) => {
    // The library queues records itself, in order; errors end the connection through onTlsEnd.
    tls.handleReceivedBytes(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)).catch(() => {});
  });
  socket.on('error', (error) => {
    handshake?.reject(error);
    end(error);
  });
  socket.on('close', () => {
    handshake?.reject(new Error('socket closed during the TLS handshake'));
    end();
  });
  return new Promise<ReclaimConnection>((resolve, reject) => {
    handshake = {
      resolve: () => {
        handshake = null;
        resolve(connection);
      },
      reject: (error) => {
        handshake = null;
        socket.destroy();
        reject(error);
      },
    };
    socket.once('connect', () => {
      tls.startHandshake().catch((error: unknown) => handshake?.reject(error as Error));
    });
  });
}

/**
 * The connection as the `{ readable, writable }` pair of polysocket's
 * `streamsTransport()`: the WebSocket runs over it as over any byte pipe.
 */
export async function reclaimStreams(
  port: number,
  serverName: string,
  caPem: string,
  version: ReclaimVersion,
): Promise<OpenedStreams> {
  const connection = await connectReclaim(port, serverName, caPem, version);
  let readableClosed = false;
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      connection.onData = (chunk) => {
        if (!readableClosed) controller.enqueue(chunk);
      };
      connection.onEnd = (error) => {
        if (readableClosed) return;
        readableClosed = true;
        if (error === undefined) controller.close();
        else controller.error(error);
      };
    },
    cancel() {
      readableClosed = true;
      connection.destroy();
    },
  });
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => connection.write(chunk),
    close: () => connection.close(),
    abort: () => connection.destroy(),
  });
  return { readable, writable };
}
