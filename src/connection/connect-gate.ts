/**
 * One connection at a time in CONNECTING per remote host and port.
 *
 * RFC 6455, 4.1, client requirement 2: "If the client already has a
 * WebSocket connection to the remote host (IP address) identified by /host/
 * and port /port/ pair, even if the remote host is known by another name,
 * the client MUST wait until that connection has been established or for
 * that connection to have failed. There MUST be no more than one connection
 * in a CONNECTING state." The point is to keep a script from flooding a
 * host with handshakes.
 *
 * The key is the host as the URL names it (lower-cased) and the port: the
 * transport resolves names itself, after this gate, so two names of one
 * address are not recognised as one host. The RFC allows that ("If the
 * client cannot determine the IP address of the remote host [...] the client
 * MUST at least treat each host name as a distinct remote host").
 *
 * Only transports made by a factory wait: the factory is called when it is
 * the connection's turn. A transport object handed over ready-made is
 * already connecting, so there is nothing left to hold back.
 *
 * The queue lives for the module's realm (one per page, worker or process),
 * as a browser keeps one per profile.
 */
import { Transport, type TransportFactory, type TransportTarget, toError } from '../transports/transport.js';

/** A transport made through the gate, and how to give up the host's turn. */
export interface GatedTransport {
  readonly transport: Transport;
  /**
   * The connection left CONNECTING (established, failed or closed): the next
   * connection to the host may start. Idempotent.
   */
  readonly release: () => void;
}

/** Per host key: connections waiting their turn, while one is connecting. */
const connecting = new Map<string, Array<() => void>>();

/** The gate's key for a target. */
function keyOf(target: TransportTarget): string {
  return `${target.host.toLowerCase()}|${target.port}`;
}

/**
 * Make the transport for `target` with `factory` now if no connection to the
 * same host and port is connecting, or when it is this one's turn.
 */
export function connectThroughGate(target: TransportTarget, factory: TransportFactory): GatedTransport {
  const key = keyOf(target);
  const queue = connecting.get(key);
  if (queue === undefined) {
    connecting.set(key, []);
    let transport: Transport;
    try {
      transport = factory(target);
    } catch (error) {
      next(key);
      throw error;
    }
    return { transport, release: once(() => next(key)) };
  }
  const deferred = new DeferredTransport(target, factory);
  let started = false;
  const start = () => {
    started = true;
    deferred.start();
  };
  queue.push(start);
  return {
    transport: deferred,
    release: once(() => {
      if (started) {
        next(key);
        return;
      }
      // Gave up while waiting (closed, timed out): leave the queue.
      const index = queue.indexOf(start);
      if (index !== -1) queue.splice(index, 1);
    }),
  };
}

/** The host's connection left CONNECTING: start the next one waiting, if any. */
function next(key: string): void {
  const queue = connecting.get(key);
  const start = queue?.shift();
  if (start === undefined) {
    connecting.delete(key);
    return;
  }
  start();
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}

/**
 * A transport that never connects: `destroy()` closes it. For a connection
 * refused before it starts (a blocked port), which still ends the way every
 * connection does, with the transport's `close`.
 */
export function idleTransport(target: TransportTarget): Transport {
  return new DeferredTransport(target, () => {
    throw new Error('an idle transport never connects');
  });
}

/**
 * A transport whose factory is called later (`start()`); until then it is
 * idle, and `destroy()` closes it without ever connecting. Afterwards it
 * forwards everything to and from the transport the factory made.
 */
class DeferredTransport extends Transport {
  readonly #target: TransportTarget;
  readonly #factory: TransportFactory;
  #inner: Transport | null = null;
  #destroyed = false;
  #paused = false;

  constructor(target: TransportTarget, factory: TransportFactory) {
    super();
    this.#target = target;
    this.#factory = factory;
  }

  get supportsHalfClose(): boolean {
    return this.#inner?.supportsHalfClose ?? false;
  }

  get secure(): boolean {
    return this.#inner?.secure ?? false;
  }

  override get releasesWrittenChunks(): boolean {
    return this.#inner?.releasesWrittenChunks ?? false;
  }

  /** The host's turn came: connect. */
  start(): void {
    if (this.#destroyed) return;
    let inner: Transport;
    try {
      inner = this.#factory(this.#target);
    } catch (error) {
      // As a transport that failed to connect: `close` with the error.
      this.#destroyed = true;
      queueMicrotask(() => this.emit('close', toError(error)));
      return;
    }
    this.#inner = inner;
    inner.on('open', () => this.emit('open'));
    inner.on('data', (chunk) => this.emit('data', chunk));
    inner.on('end', () => this.emit('end'));
    inner.on('close', (error) => {
      inner.removeAllListeners();
      this.emit('close', error);
    });
    if (this.#paused) inner.pause();
    // Reading in place passes through: whoever reads this transport decides.
    inner.readTarget = () => this.readTarget?.() ?? null;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.#inner === null) return Promise.reject(new Error('the transport is not connected'));
    return this.#inner.write(chunk);
  }

  end(): Promise<void> {
    return this.#inner === null ? Promise.resolve() : this.#inner.end();
  }

  destroy(error?: Error): void {
    if (this.#inner !== null) {
      this.#inner.destroy(error);
      return;
    }
    if (this.#destroyed) return;
    this.#destroyed = true;
    // Never connected: `close` follows asynchronously, as from any transport.
    queueMicrotask(() => this.emit('close', error));
  }

  override pause(): void {
    this.#paused = true;
    this.#inner?.pause();
  }

  override resume(): void {
    this.#paused = false;
    this.#inner?.resume();
  }
}
