/**
 * A transport over `chrome.sockets.tcp`, the raw TCP API of Chrome Apps
 * (deprecated by Google; Chromium 150 on Linux still runs an MV2 app loaded
 * with `--load-extension`, and the e2e tests use one; also in ChromeOS
 * kiosk apps and NW.js).
 *
 * How the API is mapped to the transport contract:
 *
 * - Received data arrives through two global events, `onReceive` and
 *   `onReceiveError`, for every socket of the app. One pair of listeners per
 *   API object dispatches by `socketId` to a map of transports; it is added
 *   with the first socket and removed with the last, so no listener outlives
 *   its connections.
 * - `onReceiveError` with `-100` (`net::ERR_CONNECTION_CLOSED`) is the
 *   peer's FIN: `end`. Any other code is a failure. Chrome pauses the socket
 *   after either, so no `data` follows.
 * - There is no half-close (`disconnect()` closes both directions), so
 *   `supportsHalfClose` is `false` and `end()` flushes, then closes.
 * - `wss:` uses `secure()`, on a socket paused from before `connect()` so
 *   that no read starts before TLS does.
 * - The API has no read backpressure: Chrome reads as fast as the network
 *   delivers and queues `onReceive` events. When more than
 *   `readHighWaterMark` bytes arrive before the event loop gets to a timer
 *   (the consumer is behind), the socket is paused with `setPaused(true)`,
 *   and resumed once a timer runs again. `pause()` and `resume()` (a
 *   consumer that stops reading, e.g. a `WebSocketStream` whose readable is
 *   not read) pause it too: reading resumes once neither wants it paused.
 * - Errors come from `chrome.runtime.lastError`, read inside each callback
 *   (Chrome reports an unchecked one otherwise).
 */
import { Transport, type TransportFactory, type TransportTarget, toError } from './transport.js';

// ---------------------------------------------------------------------------
// Structural typings of the parts of `chrome.sockets.tcp` and `chrome.runtime`
// the transport uses, so that no @types/chrome is needed.

/** A `chrome.events.Event`. @internal */
export interface ChromeEventLike<Listener> {
  addListener(listener: Listener): void;
  removeListener(listener: Listener): void;
}

/** `chrome.sockets.tcp.ReceiveInfo`. @internal */
export interface ChromeReceiveInfo {
  readonly socketId: number;
  readonly data: ArrayBuffer;
}

/** `chrome.sockets.tcp.ReceiveErrorInfo`. @internal */
export interface ChromeReceiveErrorInfo {
  readonly socketId: number;
  readonly resultCode: number;
}

/** `chrome.sockets.tcp.SendInfo`. @internal */
export interface ChromeSendInfo {
  readonly resultCode: number;
  readonly bytesSent?: number;
}

/** `chrome.sockets.tcp.SecureOptions`. @internal */
export interface ChromeSecureOptions {
  readonly tlsVersion?: { readonly min?: string; readonly max?: string };
}

/** `chrome.sockets.tcp`. @internal */
export interface ChromeSocketsTcpLike {
  create(
    properties: { readonly persistent?: boolean; readonly name?: string; readonly bufferSize?: number },
    callback: (createInfo: { readonly socketId: number }) => void,
  ): void;
  connect(socketId: number, peerAddress: string, peerPort: number, callback: (result: number) => void): void;
  secure(socketId: number, options: ChromeSecureOptions, callback: (result: number) => void): void;
  setPaused(socketId: number, paused: boolean, callback?: () => void): void;
  setNoDelay(socketId: number, noDelay: boolean, callback: (result: number) => void): void;
  send(socketId: number, data: ArrayBuffer, callback: (sendInfo: ChromeSendInfo) => void): void;
  disconnect(socketId: number, callback?: () => void): void;
  close(socketId: number, callback?: () => void): void;
  readonly onReceive: ChromeEventLike<(info: ChromeReceiveInfo) => void>;
  readonly onReceiveError: ChromeEventLike<(info: ChromeReceiveErrorInfo) => void>;
}

/** The `chrome` global, as far as this transport uses it. @internal */
export interface ChromeLike {
  readonly runtime: { readonly lastError?: { readonly message?: string } | undefined };
  readonly sockets: { readonly tcp: ChromeSocketsTcpLike };
}

/** Options of {@link ChromeSocketsTransport}. */
export interface ChromeSocketsOptions {
  /** Disable Nagle's algorithm: frames leave at once. @defaultValue `true` */
  readonly noDelay?: boolean;
  /** `SocketProperties.bufferSize`: the largest `onReceive` chunk. @defaultValue Chrome's (4096) */
  readonly bufferSize?: number;
  /** Minimum TLS version for `wss:` (`'tls1.2'`, `'tls1.3'`). @defaultValue `'tls1.2'` */
  readonly minTlsVersion?: string;
  /**
   * Pause reading once this many bytes arrived without the event loop
   * getting to a timer in between (the consumer is behind).
   * @defaultValue `1048576` (1 MiB)
   */
  readonly readHighWaterMark?: number;
  /**
   * The `chrome` object to use; tests pass a fake.
   * @defaultValue `globalThis.chrome`
   */
  readonly chrome?: ChromeLike;
}

/** `net::ERR_CONNECTION_CLOSED`: how `onReceiveError` reports the peer's FIN. */
const ERR_CONNECTION_CLOSED = -100;

// ---------------------------------------------------------------------------
// One onReceive/onReceiveError pair per API object, dispatching by socketId.

interface Dispatcher {
  readonly transports: Map<number, ChromeSocketsTransport>;
  readonly onReceive: (info: ChromeReceiveInfo) => void;
  readonly onReceiveError: (info: ChromeReceiveErrorInfo) => void;
}

const dispatchers = new Map<ChromeSocketsTcpLike, Dispatcher>();

function register(tcp: ChromeSocketsTcpLike, socketId: number, transport: ChromeSocketsTransport): void {
  let dispatcher = dispatchers.get(tcp);
  if (dispatcher === undefined) {
    const transports = new Map<number, ChromeSocketsTransport>();
    dispatcher = {
      transports,
      onReceive: (info) => transports.get(info.socketId)?.receive(info.data),
      onReceiveError: (info) => transports.get(info.socketId)?.receiveError(info.resultCode),
    };
    dispatchers.set(tcp, dispatcher);
    tcp.onReceive.addListener(dispatcher.onReceive);
    tcp.onReceiveError.addListener(dispatcher.onReceiveError);
  }
  dispatcher.transports.set(socketId, transport);
}

function unregister(tcp: ChromeSocketsTcpLike, socketId: number): void {
  const dispatcher = dispatchers.get(tcp);
  if (dispatcher === undefined) return;
  dispatcher.transports.delete(socketId);
  if (dispatcher.transports.size > 0) return;
  tcp.onReceive.removeListener(dispatcher.onReceive);
  tcp.onReceiveError.removeListener(dispatcher.onReceiveError);
  dispatchers.delete(tcp);
}

/** Number of sockets with listeners registered on `tcp` (for tests). @internal */
export function chromeSocketsRegistered(tcp: ChromeSocketsTcpLike): number {
  return dispatchers.get(tcp)?.transports.size ?? 0;
}

/** The bytes of `chunk` as an ArrayBuffer of their own: `send()` takes nothing else. */
function toArrayBuffer(chunk: Uint8Array): ArrayBuffer {
  const { buffer } = chunk;
  if (buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) {
    return buffer;
  }
  return chunk.slice().buffer as ArrayBuffer;
}

interface PendingSend {
  readonly data: ArrayBuffer;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** TCP (and TLS for `wss:`) over `chrome.sockets.tcp`; see the module documentation. */
export class ChromeSocketsTransport extends Transport {
  readonly supportsHalfClose = false;
  readonly secure: boolean;
  readonly #chrome: ChromeLike | undefined;
  readonly #highWaterMark: number;
  readonly #where: string;
  #socketId: number | null = null;
  #open = false;
  #ending = false;
  #closed = false;
  /** Sends run one at a time, in order; the head is in flight. */
  #sends: PendingSend[] = [];
  #endWaiters: Array<() => void> = [];
  /** Bytes received since the last timer tick; reading pauses above the mark. */
  #burst = 0;
  #tick: ReturnType<typeof setTimeout> | undefined;
  /** Reading stopped for a burst above the high-water mark, until a timer runs. */
  #burstPaused = false;
  /** `pause()` was called (and not `resume()`). */
  #consumerPaused = false;
  /** Reading stopped until `secure()` completed: TLS must see every byte. */
  #securing = false;
  /** The peer's FIN came (`end` is emitted once): Chrome paused the socket, and there is nothing more to read. */
  #ended = false;
  /** What `setPaused` was last asked. */
  #paused = false;

  /**
   * Start connecting to `target`.
   *
   * @param target - Host, port and whether to use TLS (`secure()`).
   */
  constructor(target: TransportTarget, options: ChromeSocketsOptions = {}) {
    super();
    this.secure = target.secure;
    this.#chrome = options.chrome ?? (globalThis as { chrome?: ChromeLike }).chrome;
    this.#highWaterMark = options.readHighWaterMark ?? 1024 * 1024;
    this.#where = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    const tcp = this.#chrome?.sockets?.tcp;
    if (tcp === undefined) {
      this.#fail(
        new Error('chrome.sockets.tcp is not available: it needs a Chrome App with the "sockets" permission'),
      );
      return;
    }
    try {
      tcp.create(options.bufferSize !== undefined ? { bufferSize: options.bufferSize } : {}, (info) => {
        const error = this.#lastError('create');
        if (error !== null) return this.#fail(error);
        this.#socketId = info.socketId;
        if (this.#closed) {
          tcp.close(info.socketId, () => void this.#lastError('close'));
          return;
        }
        register(tcp, info.socketId, this);
        this.#connect(tcp, info.socketId, target, options);
      });
    } catch (error) {
      // The bindings throw on invalid arguments.
      this.#fail(toError(error));
    }
  }

  override write(chunk: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('write after close'));
    if (!this.#open) return Promise.reject(new Error('write before open'));
    if (this.#ending) return Promise.reject(new Error('write after end'));
    if (chunk.byteLength === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#sends.push({ data: toArrayBuffer(chunk), resolve, reject });
      if (this.#sends.length === 1) this.#sendNext();
    });
  }

  override async end(): Promise<void> {
    if (this.#ending || this.#closed) return;
    this.#ending = true;
    if (this.#sends.length > 0) await new Promise<void>((resolve) => this.#endWaiters.push(resolve));
    // No half-close in this API: close both directions once flushed.
    this.#finish(undefined);
  }

  override destroy(error?: Error): void {
    this.#finish(error);
  }

  /** @internal Called by the dispatcher. */
  receive(data: ArrayBuffer): void {
    if (this.#closed || data.byteLength === 0) return;
    this.#burst += data.byteLength;
    if (this.#tick === undefined) {
      // A timer runs only once the queued events (and the consumer's work)
      // are done: until then the burst keeps growing.
      this.#tick = setTimeout(() => this.#onTick(), 0);
    }
    if (!this.#burstPaused && this.#burst > this.#highWaterMark) {
      this.#burstPaused = true;
      this.#updatePaused();
    }
    // A fresh ArrayBuffer per event: the listener may own the view.
    this.emit('data', new Uint8Array(data));
  }

  /** @internal Called by the dispatcher. */
  receiveError(resultCode: number): void {
    if (this.#closed) return;
    if (resultCode === ERR_CONNECTION_CLOSED) {
      // The peer's FIN. Chrome pauses the socket; sending still works.
      if (this.#ended) return;
      this.#ended = true;
      this.emit('end');
      return;
    }
    this.#fail(new Error(`chrome.sockets.tcp: receive from ${this.#where} failed: net error ${resultCode}`));
  }

  #connect(
    tcp: ChromeSocketsTcpLike,
    socketId: number,
    target: TransportTarget,
    options: ChromeSocketsOptions,
  ) {
    // secure() needs a socket that isn't reading yet: pause before connect.
    if (target.secure) {
      this.#securing = true;
      this.#updatePaused();
    }
    tcp.connect(socketId, target.host, target.port, (result) => {
      const error = this.#lastError('connect', result);
      if (error !== null) return this.#fail(error);
      if (this.#closed) return;
      tcp.setNoDelay(socketId, options.noDelay ?? true, () => void this.#lastError('setNoDelay'));
      if (!target.secure) return this.#opened();
      tcp.secure(socketId, { tlsVersion: { min: options.minTlsVersion ?? 'tls1.2' } }, (secured) => {
        const tlsError = this.#lastError('secure (TLS)', secured);
        if (tlsError !== null) return this.#fail(tlsError);
        if (this.#closed) return;
        this.#securing = false;
        this.#updatePaused();
        this.#opened();
      });
    });
  }

  #opened(): void {
    this.#open = true;
    // A pause() before the socket existed.
    this.#updatePaused();
    this.emit('open');
  }

  #sendNext(): void {
    const head = this.#sends[0];
    const tcp = this.#chrome?.sockets.tcp;
    if (head === undefined || tcp === undefined || this.#socketId === null || this.#closed) return;
    tcp.send(this.#socketId, head.data, (info) => {
      const error = this.#lastError('send', info.resultCode);
      if (this.#closed) return; // #finish() rejected it already
      if (error !== null) {
        this.#fail(error);
        return;
      }
      const sent = info.bytesSent ?? head.data.byteLength;
      if (sent < head.data.byteLength) {
        // Defensive: Chrome writes everything before calling back, but a
        // short write would otherwise lose bytes silently.
        this.#sends[0] = { ...head, data: head.data.slice(sent) };
      } else {
        this.#sends.shift();
        head.resolve();
      }
      if (this.#sends.length > 0) this.#sendNext();
      else for (const wake of this.#endWaiters.splice(0)) wake();
    });
  }

  #onTick(): void {
    this.#tick = undefined;
    this.#burst = 0;
    // The event loop caught up: read again (unless something else keeps the socket paused).
    if (this.#burstPaused) {
      this.#burstPaused = false;
      this.#updatePaused();
    }
  }

  override pause(): void {
    this.#consumerPaused = true;
    this.#updatePaused();
  }

  override resume(): void {
    this.#consumerPaused = false;
    this.#updatePaused();
  }

  /** Ask Chrome for the paused state the reasons above add up to, if it changed. */
  #updatePaused(): void {
    if (this.#closed || this.#ended) return;
    const paused = this.#securing || this.#burstPaused || this.#consumerPaused;
    if (paused !== this.#paused) this.#setPaused(paused);
  }

  #setPaused(paused: boolean): void {
    const tcp = this.#chrome?.sockets.tcp;
    if (tcp === undefined || this.#socketId === null) return;
    this.#paused = paused;
    tcp.setPaused(this.#socketId, paused, () => void this.#lastError('setPaused'));
  }

  /** Read and clear `chrome.runtime.lastError`; also turns a negative result code into an error. */
  #lastError(operation: string, result?: number): Error | null {
    const lastError = this.#chrome?.runtime.lastError;
    if (lastError === undefined && (result === undefined || result >= 0)) return null;
    const detail = lastError?.message ?? `net error ${result}`;
    const suffix =
      result !== undefined && result < 0 && lastError !== undefined ? ` (net error ${result})` : '';
    return new Error(`chrome.sockets.tcp: ${operation} to ${this.#where} failed: ${detail}${suffix}`);
  }

  #fail(error: Error): void {
    this.#finish(error);
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#tick);
    this.#tick = undefined;
    const dropped = error ?? new Error('transport closed');
    for (const send of this.#sends.splice(0)) send.reject(dropped);
    for (const wake of this.#endWaiters.splice(0)) wake();
    const tcp = this.#chrome?.sockets?.tcp;
    const socketId = this.#socketId;
    if (tcp !== undefined && socketId !== null) {
      unregister(tcp, socketId);
      // close() disconnects too; its callback only reports.
      tcp.close(socketId, () => void this.#lastError('close'));
    }
    // Always asynchronous: never from inside write(), end() or destroy().
    queueMicrotask(() => {
      this.emit('close', error);
      this.removeAllListeners();
    });
  }
}

/**
 * A `TransportFactory` of {@link ChromeSocketsTransport}s, for
 * `new WebSocket(url, [], { transport: chromeSocketsTransport() })` in a
 * Chrome App.
 */
export function chromeSocketsTransport(options: ChromeSocketsOptions = {}): TransportFactory {
  return (target) => new ChromeSocketsTransport(target, options);
}
