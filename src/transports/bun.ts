/**
 * A transport over Bun's sockets: `Bun.connect()` (Bun 1.x), TCP for `ws:`
 * and TLS (`tls`) for `wss:`.
 *
 * Bun's socket API is callback-based, and this class implements the
 * transport contract on it directly:
 *
 * - **Writes may be partial.** `socket.write()` returns how many bytes the
 *   socket took, and the rest is not buffered: the transport queues it and
 *   writes it on `drain`. A `write()` promise resolves once all its bytes
 *   were taken, which is what `bufferedAmount` measures.
 * - **Half-close.** The connection is opened with `allowHalfOpen: true`, so
 *   that the peer's FIN (`end` handler) doesn't close our side; `end()`
 *   flushes the queue and sends our FIN with `socket.shutdown()`. Bun then
 *   reports `close` once both directions are done, without calling `end` if
 *   the peer's FIN came after ours: the transport emits `end` itself then.
 * - **TLS.** Bun calls `open` even when the certificate was not accepted
 *   (and closes the socket right after, without an error): `open` is only
 *   emitted for an authorized socket, else the transport closes with
 *   `getAuthorizationError()`.
 * - **Data** arrives as a fresh `Uint8Array` per callback
 *   (`binaryType: 'uint8array'`), which the listener may own.
 */
import { Transport, type TransportFactory, type TransportTarget, toError } from './transport.js';

// ---------------------------------------------------------------------------
// Structural typings of the part of Bun's API the transport uses, so that
// this file needs no Bun type declarations.

/** A Bun `Socket`. @internal */
export interface BunSocketLike {
  /** Writes what the socket takes now: the number of bytes taken, `-1` once it is closed. */
  write(data: Uint8Array): number;
  /** Half-close: send FIN, keep reading. */
  shutdown(halfClose?: boolean): void;
  /** Close gracefully (FIN, then close). */
  end(): unknown;
  /** Close now. */
  terminate(): void;
  setNoDelay?(noDelay?: boolean): boolean;
  readonly authorized?: boolean;
  getAuthorizationError?(): Error | null;
}

/** The handlers given to `Bun.connect()`. @internal */
export interface BunSocketHandlerLike {
  readonly binaryType: 'uint8array';
  open(socket: BunSocketLike): void;
  data(socket: BunSocketLike, data: Uint8Array): void;
  drain(socket: BunSocketLike): void;
  end(socket: BunSocketLike): void;
  close(socket: BunSocketLike, error?: Error): void;
  error(socket: BunSocketLike, error: Error): void;
  connectError(socket: BunSocketLike, error: Error): void;
}

/** TLS options of `Bun.connect()` (a subset; others are passed through). @internal */
export interface BunTLSOptionsLike {
  /** Trusted CA certificates in PEM. */
  readonly ca?: string | readonly string[];
  /** Host name to send (SNI) and check the certificate against. */
  readonly serverName?: string;
  /** `false` accepts any certificate. @defaultValue `true` */
  readonly rejectUnauthorized?: boolean;
  readonly [option: string]: unknown;
}

/** Options of `Bun.connect()`. @internal */
export interface BunConnectOptionsLike {
  readonly hostname: string;
  readonly port: number;
  readonly allowHalfOpen: boolean;
  readonly tls?: boolean | BunTLSOptionsLike;
  readonly socket: BunSocketHandlerLike;
}

/** The `Bun` namespace, as far as the transport uses it. @internal */
export interface BunLike {
  connect(options: BunConnectOptionsLike): Promise<BunSocketLike>;
}

/** Options of {@link BunTransport}. */
export interface BunTransportOptions {
  /**
   * TLS options for `wss:`, passed to `Bun.connect({ tls })`: `ca`,
   * `serverName`, client `cert`/`key`, ... Certificates are verified unless
   * `rejectUnauthorized: false` is given explicitly.
   * @defaultValue `{}`
   */
  readonly tls?: BunTLSOptionsLike;
  /** Disable Nagle's algorithm: frames leave at once. @defaultValue `true` */
  readonly noDelay?: boolean;
  /**
   * The `Bun` namespace to use; tests pass a fake.
   * @defaultValue `globalThis.Bun`
   */
  readonly Bun?: BunLike;
}

/** Bytes of one `write()` that the socket has not taken yet. */
interface PendingWrite {
  chunk: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

function errorText(error: unknown): string {
  const e = toError(error);
  return e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message;
}

/**
 * TCP (`ws:`) or TLS (`wss:`) over `Bun.connect()`, with a real half-close;
 * see the module documentation.
 */
export class BunTransport extends Transport {
  readonly supportsHalfClose = true;
  readonly secure: boolean;
  readonly #where: string;
  readonly #verify: boolean;
  readonly #noDelay: boolean;
  #socket: BunSocketLike | null = null;
  /** `close` was emitted or is queued: nothing else is emitted. */
  #closed = false;
  #opened = false;
  #ending = false;
  /** Our FIN was sent. */
  #writeDone = false;
  /** `end` was emitted (the peer's FIN). */
  #peerEnded = false;
  #error: Error | undefined;
  /** Writes the socket hasn't fully taken yet, in order. */
  readonly #queue: PendingWrite[] = [];
  /** Called once `#queue` is empty (end() waits for it). */
  #onDrained: (() => void) | null = null;

  /**
   * Start connecting to `target`.
   *
   * @param target - Host, port and whether TLS is required.
   * @param options - TLS options for `wss:`, Nagle.
   */
  constructor(target: TransportTarget, options: BunTransportOptions = {}) {
    super();
    this.secure = target.secure;
    this.#where = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    this.#verify = options.tls?.rejectUnauthorized !== false;
    this.#noDelay = options.noDelay ?? true;
    const bun = options.Bun ?? (globalThis as { Bun?: BunLike }).Bun;
    if (bun === undefined) {
      this.#failSoon(new Error('Bun.connect is not available: bunTransport() needs Bun'));
      return;
    }
    const handlers: BunSocketHandlerLike = {
      binaryType: 'uint8array',
      open: (socket) => this.#onOpen(socket),
      data: (_socket, data) => {
        // A fresh buffer per callback: ownership passes to the listener.
        if (!this.#closed && data.byteLength > 0) this.emit('data', data);
      },
      drain: () => this.#drain(),
      end: () => this.#onPeerEnd(),
      close: (_socket, error) => this.#onClose(error),
      error: (_socket, error) => {
        // A TLS failure (Bun closes the socket next) or a throwing listener.
        this.#error ??= error;
        this.destroy(error);
      },
      connectError: (_socket, error) => {
        this.#finish(
          new Error(`Bun: connecting to ${this.#where} failed: ${errorText(error)}`, { cause: error }),
        );
      },
    };
    try {
      bun
        .connect({
          hostname: target.host,
          port: target.port,
          // The protocol decides when to half-close (SEND_EOF), and keeps
          // reading after the peer's FIN (RFC 6455, 7.1.1).
          allowHalfOpen: true,
          ...(target.secure ? { tls: options.tls === undefined ? true : { ...options.tls } } : {}),
          socket: handlers,
        })
        // connectError reports the failure; this keeps the rejection handled.
        .catch((error: unknown) =>
          this.#finish(
            new Error(`Bun: connecting to ${this.#where} failed: ${errorText(error)}`, { cause: error }),
          ),
        );
    } catch (error) {
      // Invalid options throw synchronously.
      this.#failSoon(toError(error));
    }
  }

  override write(chunk: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#closed) return Promise.reject(new Error('write after close'));
    if (socket === null || !this.#opened) return Promise.reject(new Error('write before open'));
    if (this.#ending) return Promise.reject(new Error('write after end'));
    if (chunk.byteLength === 0) return Promise.resolve();
    if (this.#queue.length === 0) {
      const taken = socket.write(chunk);
      if (taken === chunk.byteLength) return Promise.resolve();
      if (taken < 0) {
        const error = new Error('the socket is closed');
        this.destroy(error);
        return Promise.reject(error);
      }
      // The rest goes out on `drain`. Keep a reference, not a copy: the
      // contract lets us hold `chunk` until the promise settles.
      chunk = chunk.subarray(taken);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ chunk, resolve, reject });
    });
  }

  override async end(): Promise<void> {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    const socket = this.#socket;
    if (socket === null || !this.#opened) {
      // Not open yet: there is nothing to flush and no stream to end.
      this.destroy();
      return;
    }
    if (this.#queue.length > 0) {
      await new Promise<void>((resolve) => {
        this.#onDrained = resolve;
      });
    }
    if (this.#closed) return;
    this.#writeDone = true;
    // With the peer's FIN seen, our FIN ends the connection and Bun reports
    // `close`; else it comes after the peer's FIN.
    socket.shutdown();
  }

  override destroy(error?: Error): void {
    if (this.#closed) return;
    this.#socket?.terminate();
    this.#finish(error ?? this.#error);
  }

  #onOpen(socket: BunSocketLike): void {
    if (this.#closed) {
      // Destroyed while connecting.
      socket.terminate();
      return;
    }
    this.#socket = socket;
    if (this.secure && this.#verify && socket.authorized !== true) {
      // Bun closes an unauthorized TLS socket itself, after this handler.
      const reason = socket.getAuthorizationError?.() ?? null;
      const error = new Error(
        `Bun: TLS with ${this.#where} failed: ${reason === null ? 'certificate not authorized' : errorText(reason)}`,
        reason === null ? {} : { cause: reason },
      );
      socket.terminate();
      this.#finish(error);
      return;
    }
    socket.setNoDelay?.(this.#noDelay);
    this.#opened = true;
    this.emit('open');
  }

  #drain(): void {
    const socket = this.#socket;
    if (socket === null || this.#closed) return;
    while (this.#queue.length > 0) {
      const pending = this.#queue[0] as PendingWrite;
      const taken = socket.write(pending.chunk);
      if (taken < 0) {
        this.destroy(new Error('the socket is closed'));
        return;
      }
      if (taken < pending.chunk.byteLength) {
        pending.chunk = pending.chunk.subarray(taken);
        return; // the next `drain` goes on
      }
      this.#queue.shift();
      pending.resolve();
    }
    const drained = this.#onDrained;
    this.#onDrained = null;
    drained?.();
  }

  #onPeerEnd(): void {
    if (this.#closed || this.#peerEnded) return;
    this.#peerEnded = true;
    this.emit('end');
  }

  #onClose(error: Error | undefined): void {
    if (this.#closed) return;
    const failure = error ?? this.#error;
    if (failure === undefined && !this.#writeDone) {
      // Closed without our FIN nor an error: the peer or the platform ended
      // the connection while we could still write (or an unauthorized TLS
      // socket that open() already reported).
      this.#finish(new Error(`Bun: the connection to ${this.#where} closed unexpectedly`));
      return;
    }
    // Bun doesn't call `end` when the peer's FIN follows ours.
    if (failure === undefined) this.#onPeerEnd();
    this.#finish(failure);
  }

  #failSoon(error: Error): void {
    // Never emit from the constructor: the caller attaches its listeners first.
    queueMicrotask(() => this.#finish(error));
  }

  /** Emit `close` (asynchronously), once. */
  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    const dropped = error ?? new Error('transport closed');
    for (const pending of this.#queue.splice(0)) pending.reject(dropped);
    const drained = this.#onDrained;
    this.#onDrained = null;
    drained?.();
    queueMicrotask(() => {
      this.emit('close', error);
      this.removeAllListeners();
    });
  }
}

/**
 * A `TransportFactory` of {@link BunTransport}s, for
 * `new WebSocket(url, [], { transport: bunTransport() })` on Bun; with a
 * private CA for `wss:`: `bunTransport({ tls: { ca } })`.
 */
export function bunTransport(options: BunTransportOptions = {}): TransportFactory {
  return (target) => new BunTransport(target, options);
}
