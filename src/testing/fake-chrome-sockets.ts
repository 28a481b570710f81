/**
 * A faithful stand-in for `chrome.sockets.tcp` (and `chrome.runtime.lastError`)
 * over real `node:net`/`node:tls` sockets, for tests of the Chrome sockets
 * transport against real servers on 127.0.0.1. What it reproduces:
 *
 * - callbacks run asynchronously, with `chrome.runtime.lastError` set only
 *   while an erroring callback runs (Chrome's contract), and negative
 *   `net::` result codes (-102 refused, -101 reset, -100 closed, ...);
 * - `onReceive`/`onReceiveError` are app-wide events carrying `socketId`;
 *   `data` is an `ArrayBuffer` of at most `bufferSize` (4096) bytes;
 * - the peer's FIN is `onReceiveError` with -100, and after any receive
 *   error the socket is paused (no more `onReceive`);
 * - `setPaused(true)` stops reading (TCP backpressure reaches the peer);
 * - `send()` takes an `ArrayBuffer` only and calls back once everything was
 *   written; `disconnect()` closes both directions (no half-close);
 * - `secure()` upgrades a connected, paused socket to TLS, verifying the
 *   certificate against `ca` (Chrome uses the system store);
 * - unknown socket ids give "Socket not found" errors.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type {
  ChromeLike,
  ChromeReceiveErrorInfo,
  ChromeReceiveInfo,
  ChromeSecureOptions,
  ChromeSendInfo,
  ChromeSocketsTcpLike,
} from '../transports/chrome-sockets.js';

/** Options of {@link FakeChrome}. */
export interface FakeChromeOptions {
  /** CA certificates `secure()` trusts. */
  readonly ca?: string | readonly string[];
}

/** net error codes Chrome reports, by Node error code. */
const NET_ERRORS: Record<string, [number, string]> = {
  ECONNREFUSED: [-102, 'net::ERR_CONNECTION_REFUSED'],
  ECONNRESET: [-101, 'net::ERR_CONNECTION_RESET'],
  ETIMEDOUT: [-118, 'net::ERR_CONNECTION_TIMED_OUT'],
  ENOTFOUND: [-105, 'net::ERR_NAME_NOT_RESOLVED'],
  EPIPE: [-100, 'net::ERR_CONNECTION_CLOSED'],
};

function netError(error: Error): [number, string] {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('ERR_TLS_CERT') || code.includes('CERT') || code.startsWith('UNABLE_TO_VERIFY')) {
    return [-202, 'net::ERR_CERT_AUTHORITY_INVALID'];
  }
  return NET_ERRORS[code] ?? [-2, 'net::ERR_FAILED'];
}

class FakeEvent<Info> {
  readonly listeners = new Set<(info: Info) => void>();
  addListener(listener: (info: Info) => void): void {
    this.listeners.add(listener);
  }
  removeListener(listener: (info: Info) => void): void {
    this.listeners.delete(listener);
  }
  hasListener(listener: (info: Info) => void): boolean {
    return this.listeners.has(listener);
  }
  dispatch(info: Info): void {
    for (const listener of [...this.listeners]) listener(info);
  }
}

interface SocketEntry {
  readonly id: number;
  readonly bufferSize: number;
  socket: net.Socket | null;
  host: string;
  paused: boolean;
  connected: boolean;
  /** A receive error was raised: Chrome keeps the socket paused for good. */
  receiveFailed: boolean;
}

/** A fake `chrome` global with `runtime.lastError` and `sockets.tcp`. */
export class FakeChrome implements ChromeLike {
  readonly runtime: { lastError?: { message: string } | undefined } = {};
  readonly sockets: { readonly tcp: ChromeSocketsTcpLike };
  /** Every `setPaused` call, in order: `[socketId, paused]`. */
  readonly pauseLog: Array<[number, boolean]> = [];
  readonly onReceive = new FakeEvent<ChromeReceiveInfo>();
  readonly onReceiveError = new FakeEvent<ChromeReceiveErrorInfo>();
  readonly #entries = new Map<number, SocketEntry>();
  readonly #ca: string | readonly string[] | undefined;
  #nextId = 1;

  constructor(options: FakeChromeOptions = {}) {
    this.#ca = options.ca;
    this.sockets = {
      tcp: {
        create: (properties, callback) => this.#create(properties, callback),
        connect: (id, host, port, callback) => this.#connect(id, host, port, callback),
        secure: (id, options, callback) => this.#secure(id, options, callback),
        setPaused: (id, paused, callback) => this.#setPaused(id, paused, callback),
        setNoDelay: (id, noDelay, callback) => this.#setNoDelay(id, noDelay, callback),
        send: (id, data, callback) => this.#send(id, data, callback),
        disconnect: (id, callback) => this.#disconnect(id, false, callback),
        close: (id, callback) => this.#disconnect(id, true, callback),
        onReceive: this.onReceive,
        onReceiveError: this.onReceiveError,
      },
    };
  }

  /** Sockets created and not closed. */
  get openSockets(): number {
    return this.#entries.size;
  }

  /** Listeners on `onReceive` plus `onReceiveError`. */
  get listenerCount(): number {
    return this.onReceive.listeners.size + this.onReceiveError.listeners.size;
  }

  /** Close every socket (test cleanup). */
  closeAll(): void {
    for (const entry of this.#entries.values()) entry.socket?.destroy();
    this.#entries.clear();
  }

  /** Run `callback` in a later task, with `lastError` set to `error` while it runs. */
  #later<Args extends unknown[]>(
    callback: ((...args: Args) => void) | undefined,
    error: string | null,
    ...args: Args
  ) {
    setImmediate(() => {
      this.runtime.lastError = error === null ? undefined : { message: error };
      try {
        callback?.(...args);
      } finally {
        this.runtime.lastError = undefined;
      }
    });
  }

  #entry(id: number): SocketEntry | undefined {
    if (typeof id !== 'number') throw new TypeError('Error in invocation: socketId must be an integer');
    return this.#entries.get(id);
  }

  #create(properties: { readonly bufferSize?: number }, callback: (info: { socketId: number }) => void) {
    const id = this.#nextId++;
    this.#entries.set(id, {
      id,
      bufferSize: properties.bufferSize ?? 4096,
      socket: null,
      host: '',
      paused: false,
      connected: false,
      receiveFailed: false,
    });
    this.#later(callback, null, { socketId: id });
  }

  #connect(id: number, host: string, port: number, callback: (result: number) => void) {
    const entry = this.#entry(id);
    if (entry === undefined) return this.#later(callback, 'Socket not found', -2);
    if (entry.socket !== null) return this.#later(callback, 'Socket is already connected', -23);
    entry.host = host;
    const socket = net.connect({ host, port, allowHalfOpen: true });
    entry.socket = socket;
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      entry.connected = true;
      this.#attach(entry, socket);
      this.#later(callback, null, 0);
    });
    socket.once('error', (error) => {
      if (connected) return;
      const [code, message] = netError(error);
      entry.socket = null;
      this.#later(callback, message, code);
    });
  }

  /** Forward reads as Chrome does: onReceive chunks of bufferSize, then one onReceiveError. */
  #attach(entry: SocketEntry, socket: net.Socket | tls.TLSSocket) {
    if (entry.paused) socket.pause();
    socket.on('data', (chunk: Buffer) => {
      for (let offset = 0; offset < chunk.byteLength; offset += entry.bufferSize) {
        const piece = chunk.subarray(offset, offset + entry.bufferSize);
        const data = piece.buffer.slice(piece.byteOffset, piece.byteOffset + piece.byteLength) as ArrayBuffer;
        this.onReceive.dispatch({ socketId: entry.id, data });
      }
    });
    const receiveError = (resultCode: number) => {
      if (entry.receiveFailed || !this.#entries.has(entry.id)) return;
      entry.receiveFailed = true;
      entry.paused = true;
      this.onReceiveError.dispatch({ socketId: entry.id, resultCode });
    };
    socket.on('end', () => receiveError(-100));
    socket.on('error', (error) => receiveError(netError(error)[0]));
  }

  #secure(id: number, options: ChromeSecureOptions, callback: (result: number) => void) {
    const entry = this.#entry(id);
    if (entry === undefined) return this.#later(callback, 'Socket not found', -2);
    const raw = entry.socket;
    if (raw === null || !entry.connected) return this.#later(callback, 'Socket is not connected', -15);
    // Chrome refuses to start TLS on a socket that may be reading.
    if (!entry.paused) return this.#later(callback, 'Socket must be paused before secure()', -2);
    raw.removeAllListeners('data');
    raw.removeAllListeners('end');
    raw.removeAllListeners('error');
    const secured = tls.connect({
      socket: raw,
      ...(net.isIP(entry.host) === 0 ? { servername: entry.host } : {}),
      ...(this.#ca !== undefined ? { ca: this.#ca as string | string[] } : {}),
      minVersion: options.tlsVersion?.min === 'tls1.3' ? 'TLSv1.3' : 'TLSv1.2',
      allowHalfOpen: true,
      // Chrome checks the name against the peer address passed to connect().
      checkServerIdentity: (_, cert) => tls.checkServerIdentity(entry.host, cert),
    } as tls.ConnectionOptions);
    entry.socket = secured;
    let done = false;
    secured.once('secureConnect', () => {
      done = true;
      this.#attach(entry, secured);
      this.#later(callback, null, 0);
    });
    secured.once('error', (error) => {
      if (done) return;
      done = true;
      const [code, message] = netError(error);
      this.#later(callback, message, code);
    });
  }

  #setPaused(id: number, paused: boolean, callback?: () => void) {
    const entry = this.#entry(id);
    if (entry === undefined) return this.#later(callback, 'Socket not found');
    this.pauseLog.push([id, paused]);
    if (entry.receiveFailed) paused = true;
    entry.paused = paused;
    if (entry.connected && entry.socket !== null) {
      if (paused) entry.socket.pause();
      else entry.socket.resume();
    }
    this.#later(callback, null);
  }

  #setNoDelay(id: number, noDelay: boolean, callback: (result: number) => void) {
    const entry = this.#entry(id);
    if (entry?.socket == null) return this.#later(callback, 'Socket not found', -2);
    entry.socket.setNoDelay(noDelay);
    this.#later(callback, null, 0);
  }

  #send(id: number, data: ArrayBuffer, callback: (info: ChromeSendInfo) => void) {
    if (!(data instanceof ArrayBuffer)) {
      throw new TypeError(
        'Error in invocation of sockets.tcp.send(integer socketId, binary data, function callback): ' +
          'No matching signature.',
      );
    }
    const entry = this.#entry(id);
    if (entry === undefined) return this.#later(callback, 'Socket not found', { resultCode: -2 });
    const socket = entry.socket;
    if (socket === null || !entry.connected || socket.destroyed) {
      return this.#later(callback, 'Socket is not connected', { resultCode: -15 });
    }
    const bytes = new Uint8Array(data.slice(0));
    socket.write(bytes, (error) => {
      if (error) {
        const [code, message] = netError(error);
        this.#later(callback, message, { resultCode: code });
      } else {
        this.#later(callback, null, { resultCode: 0, bytesSent: bytes.byteLength });
      }
    });
  }

  #disconnect(id: number, remove: boolean, callback?: () => void) {
    const entry = this.#entry(id);
    if (entry === undefined) return this.#later(callback, 'Socket not found');
    entry.socket?.destroy();
    entry.socket = null;
    entry.connected = false;
    if (remove) this.#entries.delete(id);
    this.#later(callback, null);
  }
}
