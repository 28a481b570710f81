/**
 * The Node.js transport: TCP through `node:net` for `ws:`, TLS through
 * `node:tls` for `wss:`, directly or through an HTTP(S) or SOCKS5 proxy
 * (the `proxy` option, or the environment: `wss_proxy`, `https_proxy`, …,
 * `no_proxy`; see proxy-environment.ts). Reachable only from the `./node`
 * entry point; runs on Node.js, Electron's main and preload processes, Deno
 * and Bun.
 */
import { lookup } from 'node:dns/promises';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { failedTransport, tunnelTransport } from '../transports/proxy.js';
import { type ProxyEnvironment, proxyForUrl } from '../transports/proxy-environment.js';
import { type ProxyConfig, parseProxyUrl } from '../transports/proxy-url.js';
import { Transport, type TransportFactory, type TransportTarget, toError } from '../transports/transport.js';
import { TransportDuplex } from './transport-duplex.js';

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
  /**
   * The proxy to connect through: `http://[user:password@]host:port`,
   * `https://…` (TLS to the proxy, then the target's TLS inside the tunnel
   * for `wss:`), `socks5://…` (the target's name resolved here) or
   * `socks5h://…` (resolved by the proxy); `false` for none, whatever the
   * environment says. Used by {@link nodeTransport} (the `NodeTransport`
   * class itself connects directly).
   * @defaultValue the environment's: `wss_proxy`, `https_proxy`,
   * `all_proxy` for `wss:`; `ws_proxy`, `http_proxy`, `all_proxy` for `ws:`;
   * `no_proxy` lists hosts to reach directly (lower case first, then upper)
   */
  readonly proxy?: string | URL | false;
  /** TLS options for an `https:` proxy's own certificate (`ca`, …). @defaultValue `{}` */
  readonly proxyTls?: Readonly<tls.ConnectionOptions>;
  /**
   * The environment the proxy is read from when `proxy` is not given. Where
   * it may not be read (Deno without `--allow-env`), no proxy is used.
   * @defaultValue `process.env`
   */
  readonly env?: ProxyEnvironment;
}

/** What one socket read takes at most when not reading into a payload: what Node reads by default. */
const READ_SIZE = 64 * 1024;
/** Reads of at least this many bytes are handed on in the buffer they were read into; shorter ones are copied. */
const HAND_ON_SIZE = 8 * 1024;

/** A buffer to read into: every byte handed on is one the socket wrote, so it needs no zero-fill. */
function readBuffer(): Uint8Array {
  const buffer = Buffer.allocUnsafeSlow(READ_SIZE);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, READ_SIZE);
}

/** TCP (`ws:`) or TLS (`wss:`) via Node's `net`/`tls`. */
export class NodeTransport extends Transport {
  readonly supportsHalfClose = true;
  readonly secure: boolean;
  readonly #socket: net.Socket;
  #error: Error | undefined;

  /**
   * Node calls a socket write's callback once the bytes went to the kernel
   * (or, over TLS, were encrypted and went), and keeps no reference after.
   */
  override get releasesWrittenChunks(): boolean {
    return true;
  }

  /**
   * Start connecting to `target`.
   *
   * @param target - Host, port and whether TLS is required.
   * @param over - For `wss:` only: a transport that carries the bytes (a
   *   proxy tunnel) instead of a new TCP connection; TLS runs over it.
   */
  constructor(target: TransportTarget, options: NodeTransportOptions = {}, over?: Transport) {
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
        // Node reads decrypted bytes into the caller's buffer too (onread),
        // unless TLS runs over another transport (`socket`).
        ...(over === undefined ? { onread: this.#onread() } : { socket: new TransportDuplex(over) }),
        // SNI (RFC 6066, 3) carries host names only: "Literal IPv4 and IPv6
        // addresses are not permitted in "HostName"."
        ...(net.isIP(target.host) === 0 ? { servername: target.host } : {}),
        // The opening handshake is HTTP/1.1 (RFC 6455, 4.1); a server that
        // negotiates ALPN must not pick h2 (RFC 8441 is another protocol).
        ALPNProtocols: ['http/1.1'],
        ...options.tls,
      });
      this.#socket.once('secureConnect', () => this.emit('open'));
      if (over !== undefined) {
        // Hand on a plain Uint8Array view of the Buffer's bytes (no copy), so
        // that Buffer semantics (slice() is a view) never leak downstream.
        this.#socket.on('data', (chunk: Buffer) =>
          this.emit('data', new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)),
        );
      }
    } else {
      this.#socket = net.connect({ ...base, onread: this.#onread() });
      this.#socket.once('connect', () => this.emit('open'));
    }
    if (over === undefined) this.#socket.setNoDelay(options.noDelay ?? true);
    this.#socket.on('end', () => this.emit('end'));
    this.#socket.on('error', (error) => {
      this.#error ??= error; // 'close' follows and reports it
    });
    this.#socket.once('close', () => {
      this.emit('close', this.#error);
      this.removeAllListeners();
    });
  }

  /**
   * Reads go where `readTarget` says: into the array a large payload is
   * assembled in, so that its bytes are never copied (Node's `onread`, which
   * asks for the next read's buffer after each read). Other reads go into a
   * buffer of this transport's: a read that filled a good part of it is
   * handed on as a view, and the next read gets a new buffer (Node's own
   * reads allocate one per read too); a short read is copied out at its
   * exact size and the buffer reused, so that small messages do not each
   * keep 64 KiB alive or count it against the heap.
   */
  #onread(): net.OnReadOpts {
    let own = readBuffer();
    return {
      buffer: () => {
        const wanted = this.readTarget?.() ?? null;
        // A short rest is read with what follows it, into our own buffer.
        return wanted !== null && wanted.byteLength >= READ_SIZE ? wanted : own;
      },
      callback: (count, buffer) => {
        let chunk: Uint8Array;
        if (buffer !== own) {
          // Read into the target readTarget gave.
          chunk = buffer.subarray(0, count);
        } else if (count < HAND_ON_SIZE) {
          chunk = own.slice(0, count);
        } else {
          chunk = own.subarray(0, count);
          own = readBuffer();
        }
        this.emit('data', chunk);
        return true; // flow control is pause()/resume()
      },
    };
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
 * custom CA for `wss:`: `{ transport: nodeTransport({ tls: { ca } }) }`,
 * through the proxy that `options.proxy` or the environment names.
 *
 * @throws TypeError for a `proxy` option that cannot be parsed. A proxy URL
 *   from the environment that cannot be parsed fails each connection it
 *   applies to instead.
 */
export function nodeTransport(options: NodeTransportOptions = {}): TransportFactory {
  const explicit =
    options.proxy === undefined || options.proxy === false ? null : parseProxyUrl(options.proxy);
  return (target) => {
    let proxy: ProxyConfig | null = explicit;
    if (options.proxy === undefined) {
      let named: string | null = null;
      try {
        named = proxyForUrl(target.url, options.env ?? process.env);
      } catch {
        // An environment that may not be read (Deno without --allow-env
        // throws NotCapable) names no proxy: connect directly, as before
        // proxies were read from it.
      }
      try {
        proxy = named === null ? null : parseProxyUrl(named);
      } catch (error) {
        return failedTransport(toError(error));
      }
    }
    if (proxy === null) return new NodeTransport(target, options);
    const { net: netOptions, noDelay, proxyTls } = options;
    return tunnelTransport(target, proxy, {
      connect: (hop) =>
        new NodeTransport(hop, {
          ...(netOptions === undefined ? {} : { net: netOptions }),
          ...(noDelay === undefined ? {} : { noDelay }),
          ...(proxyTls === undefined ? {} : { tls: proxyTls }),
        }),
      resolve: async (host) =>
        (await lookup(host, netOptions?.family === undefined ? {} : { family: netOptions.family })).address,
      tls: (tunnel, secureTarget) => new NodeTransport(secureTarget, options, tunnel),
    });
  };
}
