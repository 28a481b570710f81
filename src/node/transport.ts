/**
 * The Node.js transport: TCP through `node:net` for `ws:`, TLS through
 * `node:tls` for `wss:`. Reachable only from the `./node` entry point; runs
 * on Node.js, Electron's main and preload processes, Deno and Bun.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

import { Transport, type TransportFactory, type TransportTarget } from '../transports/transport.js';

/** Options of {@link NodeTransport}. */
export interface NodeTransportOptions {
  /**
   * TLS options for `wss:`, passed to `tls.connect()`: `ca`, `cert`, `key`,
   * `checkServerIdentity`, `minVersion`, ... Certificates are verified unless
   * `rejectUnauthorized: false` is given explicitly.
   * @defaultValue `{}`
   */
  readonly tls?: Readonly<tls.ConnectionOptions>;
  /**
   * TCP options passed to `net.connect()` (and to `tls.connect()`):
   * `family`, `localAddress`, `lookup`, ...
   * @defaultValue `{}`
   */
  readonly net?: Readonly<Omit<net.TcpNetConnectOpts, 'host' | 'port' | 'allowHalfOpen'>>;
  /** Disable Nagle's algorithm: frames leave at once. @defaultValue `true` */
  readonly noDelay?: boolean;
}

/** TCP (`ws:`) or TLS (`wss:`) via Node's `net`/`tls`. */
export class NodeTransport extends Transport {
  readonly supportsHalfClose = true;
  readonly secure: boolean;
  readonly #socket: net.Socket;
  #error: Error | undefined;

  /**
   * Start connecting to `target`.
   *
   * @param target - Host, port and whether TLS is required.
   */
  constructor(target: TransportTarget, options: NodeTransportOptions = {}) {
    super();
    this.secure = target.secure;
    const base = {
      ...options.net,
      host: target.host,
      port: target.port,
      // The protocol decides when to half-close (SEND_EOF), and keeps reading
      // after the peer's FIN until it has seen everything (RFC 6455, 7.1.1).
      allowHalfOpen: true,
    };
    if (target.secure) {
      this.#socket = tls.connect({
        ...base,
        // SNI (RFC 6066, 3) carries host names only: "Literal IPv4 and IPv6
        // addresses are not permitted in "HostName"."
        ...(net.isIP(target.host) === 0 ? { servername: target.host } : {}),
        // The opening handshake is HTTP/1.1 (RFC 6455, 4.1); a server that
        // negotiates ALPN must not pick h2 (RFC 8441 is another protocol).
        ALPNProtocols: ['http/1.1'],
        ...options.tls,
      });
      this.#socket.once('secureConnect', () => this.emit('open'));
    } else {
      this.#socket = net.connect(base);
      this.#socket.once('connect', () => this.emit('open'));
    }
    this.#socket.setNoDelay(options.noDelay ?? true);
    // Hand on a plain Uint8Array view of the Buffer's bytes (no copy), so
    // that Buffer semantics (slice() is a view) never leak downstream.
    this.#socket.on('data', (chunk: Buffer) =>
      this.emit('data', new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)),
    );
    this.#socket.on('end', () => this.emit('end'));
    this.#socket.on('error', (error) => {
      this.#error ??= error; // 'close' follows and reports it
    });
    this.#socket.once('close', () => {
      this.emit('close', this.#error);
      this.removeAllListeners();
    });
  }

  override write(chunk: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed || this.#socket.writableEnded) {
        reject(new Error('write after end'));
        return;
      }
      this.#socket.write(chunk, (error) => {
        if (error) reject(error);
        // Node calls back a write that destroy() cancelled (still queued in
        // the handle) without an error: the bytes were never sent.
        else if (this.#socket.destroyed)
          reject(this.#error ?? new Error('socket destroyed before the write completed'));
        else resolve();
      });
    });
  }

  override end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.destroyed || this.#socket.writableFinished) {
        resolve();
        return;
      }
      this.#socket.once('close', () => resolve());
      this.#socket.end(() => resolve());
    });
  }

  override destroy(error?: Error): void {
    if (error !== undefined) this.#error ??= error;
    this.#socket.destroy();
  }

  override pause(): void {
    this.#socket.pause();
  }

  override resume(): void {
    this.#socket.resume();
  }
}

/**
 * A `TransportFactory` of {@link NodeTransport}s with `options`, e.g. a
 * custom CA for `wss:`: `{ transport: nodeTransport({ tls: { ca } }) }`.
 */
export function nodeTransport(options: NodeTransportOptions = {}): TransportFactory {
  return (target) => new NodeTransport(target, options);
}
