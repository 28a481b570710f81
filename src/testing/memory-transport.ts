/**
 * An in-memory transport pair for tests: what one end writes, the other
 * receives, with TCP-like half-close. Delivery happens in microtasks, in
 * order; `hold()` keeps writes pending (a full socket buffer) until
 * `release()`.
 */
import { Transport, type TransportFactory, type TransportTarget } from '../transports/transport.js';

/** Options of {@link memoryTransportPair}. */
export interface MemoryTransportOptions {
  /** Emit `open` on both ends in a microtask; else call `open()`. @defaultValue `true` */
  readonly autoOpen?: boolean;
  /** Value of `secure` on both ends. @defaultValue `false` */
  readonly secure?: boolean;
}

type Pending =
  | { readonly kind: 'data'; readonly chunk: Uint8Array; readonly resolve: () => void }
  | { readonly kind: 'end'; readonly resolve: () => void };

/** One end of an in-memory byte stream. */
export class MemoryTransport extends Transport {
  readonly supportsHalfClose = true;
  readonly secure: boolean;
  /** Number of `write()` calls so far. */
  writeCount = 0;
  /** Bytes passed to `write()` so far. */
  bytesWritten = 0;
  #peer: MemoryTransport | null = null;
  #opened = false;
  #endSent = false;
  #endReceived = false;
  #closed = false;
  #held = false;
  #pending: Pending[] = [];
  #rejects = new Set<(error: Error) => void>();

  constructor(secure = false) {
    super();
    this.secure = secure;
  }

  /** Whether `close` was emitted or is about to be. */
  get closed(): boolean {
    return this.#closed;
  }

  /** @internal */
  link(peer: MemoryTransport): void {
    this.#peer = peer;
  }

  /** Emit `open` (once). */
  open(): void {
    if (this.#opened || this.#closed) return;
    this.#opened = true;
    this.emit('open');
  }

  /** Keep writes pending, as if the socket buffer were full, until `release()`. */
  hold(): void {
    this.#held = true;
  }

  /** Deliver held writes and resolve their promises. */
  release(): void {
    this.#held = false;
    this.#drain();
  }

  override write(chunk: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('write after close'));
    if (!this.#opened) return Promise.reject(new Error('write before open'));
    if (this.#endSent) return Promise.reject(new Error('write after end'));
    this.writeCount++;
    this.bytesWritten += chunk.byteLength;
    // The wire copies: the receiver owns what it gets.
    const copy = new Uint8Array(chunk);
    return new Promise<void>((resolve, reject) => {
      this.#rejects.add(reject);
      this.#pending.push({
        kind: 'data',
        chunk: copy,
        resolve: () => {
          this.#rejects.delete(reject);
          resolve();
        },
      });
      this.#drain();
    });
  }

  override end(): Promise<void> {
    if (this.#endSent || this.#closed) return Promise.resolve();
    this.#endSent = true;
    return new Promise<void>((resolve) => {
      this.#pending.push({ kind: 'end', resolve });
      this.#drain();
    });
  }

  override destroy(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    const dropped = error ?? new Error('transport destroyed');
    for (const reject of this.#rejects) reject(dropped);
    this.#rejects.clear();
    for (const item of this.#pending) if (item.kind === 'end') item.resolve();
    this.#pending = [];
    queueMicrotask(() => this.emit('close', error));
    // The peer sees the stream end, as after a FIN, then the close.
    const peer = this.#peer;
    if (peer !== null) queueMicrotask(() => peer.#receiveEnd());
  }

  #drain(): void {
    while (!this.#held && this.#pending.length > 0) {
      const item = this.#pending.shift()!;
      queueMicrotask(() => {
        const peer = this.#peer;
        if (item.kind === 'data') {
          if (peer !== null && !peer.#closed && !peer.#endReceived) peer.emit('data', item.chunk);
        } else {
          if (peer !== null) peer.#receiveEnd();
          this.#maybeClose();
        }
        item.resolve();
      });
    }
  }

  #receiveEnd(): void {
    if (this.#endReceived || this.#closed) return;
    this.#endReceived = true;
    this.emit('end');
    this.#maybeClose();
    // The other end is gone entirely: nothing more can be exchanged.
    if (this.#peer?.closed === true) this.destroy();
  }

  #maybeClose(): void {
    if (this.#closed || !this.#endSent || !this.#endReceived || this.#pending.length > 0) return;
    this.#closed = true;
    queueMicrotask(() => this.emit('close'));
  }
}

/** Two linked ends: what one writes, the other receives. */
export function memoryTransportPair(
  options: MemoryTransportOptions = {},
): [client: MemoryTransport, server: MemoryTransport] {
  const a = new MemoryTransport(options.secure ?? false);
  const b = new MemoryTransport(options.secure ?? false);
  a.link(b);
  b.link(a);
  if (options.autoOpen ?? true) {
    queueMicrotask(() => {
      b.open();
      a.open();
    });
  }
  return [a, b];
}

/**
 * A `TransportFactory` whose every connection is a new memory pair; the
 * server end goes to `accept`.
 */
export function memoryTransportFactory(
  accept: (server: MemoryTransport, target: TransportTarget) => void,
  options: MemoryTransportOptions = {},
): TransportFactory {
  return (target) => {
    const [client, server] = memoryTransportPair({ secure: target.secure, ...options });
    accept(server, target);
    return client;
  };
}

/** Record every event a transport emits as a string (`data:` chunks decoded as UTF-8). */
export function recordEvents(transport: Transport): string[] {
  const log: string[] = [];
  const decoder = new TextDecoder();
  transport.on('open', () => log.push('open'));
  transport.on('data', (chunk) => log.push(`data:${decoder.decode(chunk)}`));
  transport.on('end', () => log.push('end'));
  transport.on('close', (error) => log.push(error === undefined ? 'close' : `close:${error.message}`));
  return log;
}
