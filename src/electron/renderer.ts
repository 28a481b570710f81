/**
 * The renderer half of polysocket's Electron transport: a `Transport` over
 * the socket API that `polysocket/electron/preload` exposes, backed by
 * real TCP/TLS sockets in the main process (`polysocket/electron/main`).
 *
 * ```ts
 * // WebSocket: polysocket; electronTransport: polysocket/electron/renderer
 * const ws = new WebSocket('wss://chat.example.com/', [], { transport: electronTransport() });
 * ```
 *
 * Node sockets half-close, so `supportsHalfClose` is `true`. Writes are cut
 * into pieces of at most `maxWriteChunk` bytes, and at most `writeWindow`
 * bytes are in flight to the main process; the rest waits here, so the main
 * process' buffer stays bounded. Received bytes are acknowledged once the
 * event loop gets to a timer after handing them on, which lets the main
 * process pause the socket while the page is busy.
 */
import { Transport, type TransportFactory, type TransportTarget } from '../transports/transport.js';
import type { SocketBridgeApi, ToRenderer } from './messages.js';

export type { SocketBridgeApi } from './messages.js';

/** Options of {@link ElectronTransport}. */
export interface ElectronTransportOptions {
  /** The preload's API. @defaultValue `globalThis[key]` */
  readonly bridge?: SocketBridgeApi;
  /** Where the preload exposed it. @defaultValue `'polysocket'` */
  readonly key?: string;
  /** Bytes sent to the main process and not yet taken by its socket. @defaultValue `1048576` */
  readonly writeWindow?: number;
  /** Largest single IPC write. @defaultValue `262144` */
  readonly maxWriteChunk?: number;
}

interface Piece {
  readonly data: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** TCP/TLS through the Electron main process. */
export class ElectronTransport extends Transport {
  readonly supportsHalfClose = true;
  readonly secure: boolean;
  readonly #bridge: SocketBridgeApi | undefined;
  readonly #window: number;
  readonly #maxChunk: number;
  #id = 0;
  #open = false;
  #closed = false;
  /** Pieces waiting for room in the window. */
  #queue: Piece[] = [];
  /** Pieces sent, waiting for `written`, oldest first. */
  #inFlight: Piece[] = [];
  #inFlightBytes = 0;
  #endRequested = false;
  #endSent = false;
  #endWaiters: Array<() => void> = [];
  #unacknowledged = 0;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Ask the main process to connect to `target`.
   *
   * @param target - Host, port and whether the main process does TLS.
   */
  constructor(target: TransportTarget, options: ElectronTransportOptions = {}) {
    super();
    this.secure = target.secure;
    this.#window = options.writeWindow ?? 1024 * 1024;
    this.#maxChunk = Math.min(options.maxWriteChunk ?? 256 * 1024, this.#window);
    const key = options.key ?? 'polysocket';
    this.#bridge =
      options.bridge ?? ((globalThis as Record<string, unknown>)[key] as SocketBridgeApi | undefined);
    if (this.#bridge === undefined) {
      this.#finish(
        new Error(
          `window.${key} is missing: expose it with polysocket/electron/preload's exposeSocketBridge()`,
        ),
      );
      return;
    }
    this.#id = this.#bridge.connect(
      { host: target.host, port: target.port, secure: target.secure },
      (message) => this.#onMessage(message),
    );
  }

  override write(chunk: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('write after close'));
    if (!this.#open) return Promise.reject(new Error('write before open'));
    if (this.#endRequested) return Promise.reject(new Error('write after end'));
    if (chunk.byteLength === 0) return Promise.resolve();
    const written: Promise<void>[] = [];
    for (let offset = 0; offset < chunk.byteLength; offset += this.#maxChunk) {
      const data = chunk.subarray(offset, offset + this.#maxChunk);
      written.push(new Promise((resolve, reject) => this.#queue.push({ data, resolve, reject })));
    }
    this.#pump();
    return written.length === 1 ? written[0]! : Promise.all(written).then(() => {});
  }

  override end(): Promise<void> {
    if (this.#closed || this.#endSent) return Promise.resolve();
    this.#endRequested = true;
    const ended = new Promise<void>((resolve) => this.#endWaiters.push(resolve));
    this.#pump();
    return ended;
  }

  override destroy(error?: Error): void {
    if (this.#closed) return;
    this.#bridge?.destroy(this.#id);
    this.#finish(error);
  }

  /** Send queued pieces while they fit in the window; then the FIN if asked. */
  #pump(): void {
    const bridge = this.#bridge;
    if (bridge === undefined || this.#closed) return;
    for (;;) {
      const next = this.#queue[0];
      if (next === undefined) break;
      // One piece is always allowed, so a window smaller than a piece can't stall.
      if (this.#inFlightBytes > 0 && this.#inFlightBytes + next.data.byteLength > this.#window) return;
      this.#queue.shift();
      this.#inFlight.push(next);
      this.#inFlightBytes += next.data.byteLength;
      bridge.write(this.#id, next.data);
    }
    if (this.#endRequested && !this.#endSent) {
      // IPC keeps order: the main process ends the socket after these writes.
      this.#endSent = true;
      bridge.end(this.#id);
    }
  }

  #onMessage(message: ToRenderer): void {
    if (this.#closed) return;
    switch (message.op) {
      case 'open':
        this.#open = true;
        this.emit('open');
        return;
      case 'data':
        this.#acknowledge(message.data.byteLength);
        // IPC delivered a copy: the listener may own it.
        this.emit('data', message.data);
        return;
      case 'written': {
        const piece = this.#inFlight.shift();
        if (piece === undefined) return;
        this.#inFlightBytes -= piece.data.byteLength;
        piece.resolve();
        this.#pump();
        return;
      }
      case 'ended':
        for (const wake of this.#endWaiters.splice(0)) wake();
        return;
      case 'end':
        this.emit('end');
        return;
      case 'close': {
        const error =
          message.error === undefined
            ? undefined
            : Object.assign(
                new Error(message.error.message),
                message.error.code ? { code: message.error.code } : {},
              );
        this.#finish(error);
        return;
      }
    }
  }

  /** Tell the main process the bytes were handed on, once the event loop is free again. */
  #acknowledge(bytes: number): void {
    this.#unacknowledged += bytes;
    if (this.#ackTimer !== undefined) return;
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      const acknowledged = this.#unacknowledged;
      this.#unacknowledged = 0;
      if (!this.#closed) this.#bridge?.consumed(this.#id, acknowledged);
    }, 0);
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const dropped = error ?? new Error('transport closed');
    for (const piece of [...this.#inFlight, ...this.#queue]) piece.reject(dropped);
    this.#inFlight = [];
    this.#queue = [];
    for (const wake of this.#endWaiters.splice(0)) wake();
    // Always asynchronous: never from inside the constructor, write(), end() or destroy().
    queueMicrotask(() => {
      this.emit('close', error);
      this.removeAllListeners();
    });
  }
}

/**
 * A `TransportFactory` of {@link ElectronTransport}s:
 * `new WebSocket(url, [], { transport: electronTransport() })`.
 */
export function electronTransport(options: ElectronTransportOptions = {}): TransportFactory {
  return (target) => new ElectronTransport(target, options);
}
