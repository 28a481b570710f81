/**
 * A transport over Direct Sockets (`TCPSocket`), Chromium's raw TCP API for
 * Isolated Web Apps (https://wicg.github.io/direct-sockets/).
 *
 * What the API does and does not offer shapes this transport:
 *
 * - **No TLS.** Direct Sockets has plain TCP only (Chromium 150), so `wss:`
 *   fails at once with a clear error instead of silently sending cleartext.
 * - **No half-close.** `writable.close()` sends no FIN while the readable is
 *   open (the spec: "if readable is active, abort these steps"); the socket
 *   closes only when both streams are. So `supportsHalfClose` is `false` and
 *   `end()` flushes what was written, then closes both directions. A
 *   WebSocket client only half-closes after the server's EOF (RFC 6455,
 *   7.1.1: the server closes TCP first), so it loses nothing.
 * - **Writes into a full pipe are lost (Chromium 150).** The writable feeds
 *   a 64 KiB data pipe that the network service drains into the socket. A
 *   `write()` that starts while that pipe is full resolves at once and none
 *   of its bytes is ever sent; writes after it go through again, so the
 *   peer sees a gap (or, when every later write also finds the pipe full,
 *   a stall). A write that starts with room in the pipe is fine, whatever
 *   its size: what does not fit waits until the network service made room.
 *   The pipe is full at the start of a write when the previous write filled
 *   it to the byte (65536 bytes written since the network service last
 *   read) and the network service has not read since. How soon it reads is
 *   not observable from JavaScript: awaiting each write, or waiting a task
 *   or a timer before the next, lost data all the same in the measurements.
 *   The network service reads up to the pipe's end, so a write ending at a
 *   stream offset that is a multiple of 64 KiB leaves it full most often
 *   (sizes dividing 64 KiB, 60000 + 5536, 131072).
 *
 *   The workaround: one write at a time, and whatever was queued meanwhile
 *   is coalesced into the next write (but for chunks of 256 KiB or more,
 *   written as views of their own bytes rather than copied). A write larger than the pipe cannot
 *   complete within the task that started it unless it was lost (what does
 *   not fit waits for the network service, which Chromium reports in a
 *   later task), so such a write that resolves within its own task is
 *   written again, after a pause, until it is taken: no byte of a write
 *   larger than 64 KiB is lost, and bulk sending (a backlog of more than
 *   64 KiB, which is when the pipe fills) only makes such writes. Their ends
 *   are kept off multiples of 64 KiB. A write of at most 64 KiB gives no
 *   such sign, so it never starts while the pipe may be full: the transport
 *   counts what it wrote since it last took the pipe to be empty (nothing
 *   written for {@link DIRECT_SOCKETS_DRAIN_MS}, 100 ms, or longer where
 *   larger writes showed a slow drain), and holds the write back until
 *   then once that reaches 64 KiB, unless the backlog grows into a larger
 *   write first. Not covered: a network service kept from reading for
 *   longer than that (a peer that stopped reading, so that TCP pushes back,
 *   or a starved machine) while the page sends small messages one at a
 *   time (with 50 ms instead of 100, the e2e test once lost such a write on
 *   2 cores under a load average near 18).
 *
 *   The detection takes the pipe to hold 64 KiB
 *   ({@link DIRECT_SOCKETS_PIPE_SIZE}), as in Chromium 150: with a larger
 *   pipe, a write that fits would be written twice. The e2e tests keep a
 *   control that shows the bug with a raw `TCPSocket`, and
 *   `e2e/browser/probes/direct-sockets-stall.ts` re-measures it.
 *
 * The streams themselves are driven by {@link StreamsTransport}.
 */
import { type OpenedStreams, StreamsTransport } from './streams.js';
import { type TransportFactory, type TransportTarget, toError } from './transport.js';

// ---------------------------------------------------------------------------
// Structural typings of the Direct Sockets API, so that this file needs no
// DOM lib addition: only what the transport uses.

/** `TCPSocketOptions`. @internal */
export interface TCPSocketOptionsLike {
  readonly noDelay?: boolean;
  readonly keepAliveDelay?: number;
  readonly sendBufferSize?: number;
  readonly receiveBufferSize?: number;
  readonly dnsQueryType?: 'ipv4' | 'ipv6';
}

/** What `TCPSocket.opened` resolves to. @internal */
export interface TCPSocketOpenInfoLike {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
}

/** A `TCPSocket`. @internal */
export interface TCPSocketLike {
  readonly opened: Promise<TCPSocketOpenInfoLike>;
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** The `TCPSocket` constructor. @internal */
export type TCPSocketConstructor = new (
  remoteAddress: string,
  remotePort: number,
  options?: TCPSocketOptionsLike,
) => TCPSocketLike;

/** Options of {@link DirectSocketsTransport}. */
export interface DirectSocketsOptions {
  /** Disable Nagle's algorithm: frames leave at once. @defaultValue `true` */
  readonly noDelay?: boolean;
  /** TCP keep-alive delay in milliseconds (`TCPSocketOptions.keepAliveDelay`). */
  readonly keepAliveDelay?: number;
  /** `TCPSocketOptions.sendBufferSize`. */
  readonly sendBufferSize?: number;
  /** `TCPSocketOptions.receiveBufferSize`. */
  readonly receiveBufferSize?: number;
  /** Resolve host names to IPv4 or IPv6 only (`TCPSocketOptions.dnsQueryType`). */
  readonly dnsQueryType?: 'ipv4' | 'ipv6';
  /**
   * Largest single write to the socket's writable stream, in bytes; more
   * than 64 KiB (the pipe's size), so that a lost write can be detected
   * (see the module documentation). Bigger backlogs are written in pieces.
   * @defaultValue `1000000`
   */
  readonly maxWriteSize?: number;
  /**
   * The `TCPSocket` constructor to use; tests pass a fake.
   * @defaultValue `globalThis.TCPSocket`
   */
  readonly TCPSocket?: TCPSocketConstructor;
}

/** The default {@link DirectSocketsOptions.maxWriteSize}. */
export const DIRECT_SOCKETS_MAX_WRITE_SIZE = 1_000_000;

/** Bytes in the data pipe behind a `TCPSocket`'s writable (Chromium 150). @internal */
export const DIRECT_SOCKETS_PIPE_SIZE = 65_536;

/**
 * A chunk given to write() at least this large is written from its own
 * bytes (views of it), not copied into coalesced writes. @internal
 */
export const DIRECT_SOCKETS_VIEW_SIZE = 256 * 1024;

/**
 * The size of the next write to the socket, given the stream offset of its
 * first byte and the bytes queued: everything queued up to `max`, except
 * that a write larger than the pipe does not end on a multiple of the
 * pipe's size (where the network service's read stops, leaving the pipe
 * full most often) unless all that is queued is 65537 bytes ending there.
 * Writes of at most the pipe's size are left alone: they could only be
 * shifted, not made safe.
 * @internal
 */
export function directSocketsWriteSize(
  offset: number,
  queued: number,
  max: number = DIRECT_SOCKETS_MAX_WRITE_SIZE,
): number {
  const size = Math.min(queued, max);
  if (size <= DIRECT_SOCKETS_PIPE_SIZE || (offset + size) % DIRECT_SOCKETS_PIPE_SIZE !== 0) return size;
  // One byte less stays above the pipe's size unless size is 65537; then
  // one byte more, if there is one.
  if (size - 1 > DIRECT_SOCKETS_PIPE_SIZE) return size - 1;
  return queued > size ? size + 1 : size;
}

function validateMaxWriteSize(max: number): void {
  if (!Number.isSafeInteger(max) || max <= DIRECT_SOCKETS_PIPE_SIZE + 1) {
    throw new RangeError(`maxWriteSize must be an integer above 65537, got ${max}`);
  }
}

/** A chunk given to write(), waiting to be written, with its promise. */
interface QueuedChunk {
  readonly chunk: Uint8Array;
  /** Bytes of `chunk` already handed to the socket. */
  taken: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * How long the network service is given at least to drain the pipe: after
 * this long without a write, the pipe is taken to be empty. A connection
 * whose writes larger than the pipe show a slower drain gives it twice the
 * time they took per 64 KiB, up to {@link DIRECT_SOCKETS_MAX_DRAIN_MS}.
 * Under TCP backpressure even that may be short; see the module
 * documentation. @internal
 */
export const DIRECT_SOCKETS_DRAIN_MS = 100;

/** The most time the pipe is given to drain. @internal */
export const DIRECT_SOCKETS_MAX_DRAIN_MS = 1000;

const now: () => number =
  typeof performance !== 'undefined' && typeof performance.now === 'function'
    ? () => performance.now()
    : () => Date.now();

/** Pauses before writing a lost write again: the network service needs time to drain the pipe. */
const RETRY_DELAYS_MS = [0, 1, 2, 5, 10, 20];

/** How many microtask turns a synchronously resolved write takes at most to settle (a handful in practice). */
const SAME_TASK_TURNS = 32;

/**
 * Whether `promise` settles within the current task: a write Chromium took
 * whole resolves in microtasks, one that had to wait resolves in a later
 * task. `'rejected'` if it failed within the task.
 */
async function settlesWithinTask(promise: Promise<void>): Promise<'resolved' | 'rejected' | 'pending'> {
  let state: 'resolved' | 'rejected' | 'pending' = 'pending';
  promise.then(
    () => {
      state = 'resolved';
    },
    () => {
      state = 'rejected';
    },
  );
  for (let turn = 0; turn < SAME_TASK_TURNS && state === 'pending'; turn++) await undefined;
  return state;
}

function errorText(error: unknown): string {
  const e = toError(error);
  return e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message;
}

/** Start connecting; never throws: every failure becomes a rejected `opened`. */
function connect(
  target: TransportTarget,
  options: DirectSocketsOptions,
): { socket: TCPSocketLike | null; opened: Promise<OpenedStreams> } {
  const TCPSocket = options.TCPSocket ?? (globalThis as { TCPSocket?: TCPSocketConstructor }).TCPSocket;
  const fail = (message: string, cause?: unknown) => ({
    socket: null,
    opened: Promise.reject(new Error(message, cause === undefined ? {} : { cause })),
  });
  if (target.secure) {
    return fail(
      `Direct Sockets has no TLS: cannot connect to ${target.url} (use ws:, or terminate TLS elsewhere)`,
    );
  }
  if (TCPSocket === undefined) {
    return fail('Direct Sockets (TCPSocket) is not available: it needs an Isolated Web App');
  }
  const socketOptions: TCPSocketOptionsLike = {
    noDelay: options.noDelay ?? true,
    ...(options.keepAliveDelay !== undefined ? { keepAliveDelay: options.keepAliveDelay } : {}),
    ...(options.sendBufferSize !== undefined ? { sendBufferSize: options.sendBufferSize } : {}),
    ...(options.receiveBufferSize !== undefined ? { receiveBufferSize: options.receiveBufferSize } : {}),
    ...(options.dnsQueryType !== undefined ? { dnsQueryType: options.dnsQueryType } : {}),
  };
  const where = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  let socket: TCPSocketLike;
  try {
    // Throws synchronously when the frame may not use Direct Sockets
    // (NotAllowedError: not sufficiently isolated, permissions policy).
    socket = new TCPSocket(target.host, target.port, socketOptions);
  } catch (error) {
    return fail(`Direct Sockets: cannot connect to ${where}: ${errorText(error)}`, error);
  }
  // Observed, so that its rejection (after a failure the transport reports
  // itself) is never an unhandled rejection.
  socket.closed.catch(() => {});
  const opened = socket.opened.then(
    ({ readable, writable }) => ({ readable, writable }),
    (error: unknown) => {
      throw new Error(`Direct Sockets: connecting to ${where} failed: ${errorText(error)}`, { cause: error });
    },
  );
  return { socket, opened };
}

/**
 * TCP over Direct Sockets: a {@link StreamsTransport} over the socket's
 * streams, without half-close, writing one coalesced write at a time and
 * writing again a write larger than the pipe that Chromium 150 lost; see
 * the module documentation.
 */
export class DirectSocketsTransport extends StreamsTransport {
  readonly #maxWriteSize: number;
  readonly #queue: QueuedChunk[] = [];
  #queuedBytes = 0;
  /** Stream offset of the next byte to be written. */
  #offset = 0;
  #pumping = false;
  #state: 'connecting' | 'open' | 'ending' | 'closed' = 'connecting';
  /** Resolved whenever the queue is empty and no write is in flight. */
  #idleWaiters: Array<() => void> = [];
  /** What end() returns, once called. */
  #ended: Promise<void> | null = null;
  /**
   * Bytes that may still be in the pipe, counting from the last time it was
   * taken to be empty (nothing written for {@link DIRECT_SOCKETS_DRAIN_MS});
   * the pipe's size when unknown.
   */
  #mayHold = 0;
  /** When the last write to the socket settled (`performance.now()` or `Date.now()` time). */
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  /** How long the pipe is given to drain on this connection (see DIRECT_SOCKETS_DRAIN_MS). */
  #drainMs = DIRECT_SOCKETS_DRAIN_MS;
  /** Wakes a pump that holds back a small write, once the backlog allows a large one (or on close). */
  #wake: (() => void) | null = null;
  /**
   * The array coalesced writes are copied into, reused from one write to
   * the next: the pump writes one at a time and Chromium has copied a
   * write into the pipe by the time it resolves. A fresh array per write
   * cost the page a quarter of its time sending 64 KiB messages (each new
   * page faults in). Held weakly, so that an idle connection keeps none.
   */
  #scratch: WeakRef<ArrayBuffer> | null = null;
  /** Writes that were lost in the pipe and written again (for tests and diagnostics). @internal */
  rewrites = 0;

  /** How long the pipe is given to drain on this connection, in ms (for tests and diagnostics). @internal */
  get drainMs(): number {
    return this.#drainMs;
  }

  /**
   * Start connecting to `target`.
   *
   * @param target - Host and port; `secure` (wss:) fails, as Direct Sockets has no TLS.
   * @throws RangeError if `options.maxWriteSize` is invalid.
   */
  constructor(target: TransportTarget, options: DirectSocketsOptions = {}) {
    const maxWriteSize = options.maxWriteSize ?? DIRECT_SOCKETS_MAX_WRITE_SIZE;
    validateMaxWriteSize(maxWriteSize); // before connecting
    const { socket, opened } = connect(target, options);
    super(opened, {
      supportsHalfClose: false,
      // Chromium copies a write into the socket's data pipe before resolving
      // it, and the pump below resolves a chunk only once its last bytes
      // were written (rewrites of lost writes included).
      releasesWrittenChunks: true,
      // Chromium 150's TCPSocket readable never completes a BYOB read with
      // a `min` above what one pull delivers: read the target chunk by chunk.
      byobMin: false,
      // Called once both stream locks are released: close() rejects while
      // they are held. It may reject again if the streams closed it already.
      onClose: () => void socket?.close().catch(() => {}),
    });
    this.#maxWriteSize = maxWriteSize;
    this.once('open', () => {
      if (this.#state === 'connecting') this.#state = 'open';
    });
    this.once('close', (error) => {
      this.#state = 'closed';
      this.#rejectQueued(error ?? new Error('transport closed'));
      this.#wake?.();
    });
  }

  override write(chunk: Uint8Array): Promise<void> {
    // Before open and after close, the base class rejects with the reason.
    if (this.#state === 'connecting' || this.#state === 'closed') return super.write(chunk);
    if (this.#state === 'ending') return Promise.reject(new Error('write after end'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ chunk, taken: 0, resolve, reject });
      this.#queuedBytes += chunk.byteLength;
      if (!this.#pumping) void this.#pump();
      else if (this.#queuedBytes > DIRECT_SOCKETS_PIPE_SIZE) this.#wake?.();
    });
  }

  override end(): Promise<void> {
    if (this.#ended === null) {
      const flushed =
        this.#state === 'open' && (this.#pumping || this.#queue.length > 0)
          ? new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
          : Promise.resolve();
      if (this.#state === 'open') this.#state = 'ending';
      // The queue first: the base class flushes only what it was given.
      this.#ended = flushed.then(() => super.end());
    }
    return this.#ended;
  }

  /** Write the queue, one coalesced write at a time, until it is empty or the transport closed. */
  async #pump(): Promise<void> {
    this.#pumping = true;
    // Chunks written in the same run of code join the first write.
    await undefined;
    try {
      while (this.#queue.length > 0 && this.#state !== 'closed') {
        const size = directSocketsWriteSize(this.#offset, this.#coalescible(), this.#maxWriteSize);
        if (size > 0 && size <= DIRECT_SOCKETS_PIPE_SIZE) {
          // A write the pipe can hold gives no sign when it is lost, so it
          // must not start while the pipe may be full.
          const idle = now() - this.#lastWriteAt;
          if (idle >= this.#drainMs) this.#mayHold = 0;
          if (this.#mayHold >= DIRECT_SOCKETS_PIPE_SIZE) {
            // Hold it until the pipe has had time to drain, or until the
            // backlog makes a write larger than the pipe.
            await this.#hold(this.#drainMs - idle);
            continue;
          }
        }
        const { bytes, completed } = this.#take(size);
        const startedAt = now();
        let took: 'within-task' | 'waited' = 'within-task';
        try {
          if (size > 0) took = await this.#writeWhole(bytes);
        } catch (error) {
          for (const queued of completed) queued.reject(toError(error));
          throw error;
        }
        this.#offset += size;
        this.#lastWriteAt = now();
        if (took === 'waited' && size > DIRECT_SOCKETS_PIPE_SIZE) {
          // At least size - 64 KiB went through the pipe meanwhile: how
          // fast this connection drains it, pauses included.
          const msPerPipe =
            ((this.#lastWriteAt - startedAt) * DIRECT_SOCKETS_PIPE_SIZE) / (size - DIRECT_SOCKETS_PIPE_SIZE);
          this.#drainMs = Math.min(
            Math.max(2 * msPerPipe, DIRECT_SOCKETS_DRAIN_MS),
            DIRECT_SOCKETS_MAX_DRAIN_MS,
          );
        }
        // A write that had to wait, or one larger than the pipe, may have
        // left the pipe full: unknown.
        this.#mayHold =
          took === 'waited' || size > DIRECT_SOCKETS_PIPE_SIZE
            ? DIRECT_SOCKETS_PIPE_SIZE
            : Math.min(this.#mayHold + size, DIRECT_SOCKETS_PIPE_SIZE);
        for (const queued of completed) queued.resolve();
      }
    } catch (error) {
      // The base class failed the transport; what is still queued fails with it.
      this.#rejectQueued(toError(error));
    } finally {
      this.#pumping = false;
      for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  /**
   * How many queued bytes the next write may take: the chunks in order, up
   * to the largest write, except that a chunk of at least
   * {@link DIRECT_SOCKETS_VIEW_SIZE} (a large message's frame) is written
   * from its own bytes, as a view, rather than copied into a write with its
   * neighbours: alone when it comes first, not at all once the write is
   * larger than the pipe, and else only as much of it as makes the write
   * larger than the pipe (the rest is written as a view next). Copying each
   * 1 MiB frame into coalesced writes cost the page a copy of every byte it
   * sent (bench:browser: 15% of its time). Smaller frames are still
   * coalesced: one write at a time, each write larger than the pipe waits
   * for the network service, so writes of one 64 KiB frame each halved the
   * throughput of 64 KiB messages.
   */
  #coalescible(): number {
    let total = 0;
    // Bounded by the queue, and stops at the largest write.
    for (const queued of this.#queue) {
      const left = queued.chunk.byteLength - queued.taken;
      if (left >= DIRECT_SOCKETS_VIEW_SIZE) {
        return total === 0 ? left : Math.max(total, DIRECT_SOCKETS_PIPE_SIZE + 2);
      }
      total += left;
      if (total >= this.#maxWriteSize) break;
    }
    return total;
  }

  /**
   * Take `size` bytes off the queue: one chunk's bytes as a view, several
   * chunks' bytes copied into one buffer. `completed` are the chunks whose
   * last byte is among them.
   */
  #take(size: number): { bytes: Uint8Array; completed: QueuedChunk[] } {
    const completed: QueuedChunk[] = [];
    const head = this.#queue[0]!;
    let bytes: Uint8Array;
    if (head.chunk.byteLength - head.taken >= size) {
      bytes = head.chunk.subarray(head.taken, head.taken + size);
      head.taken += size;
    } else {
      bytes = this.#scratchOf(size);
      let filled = 0;
      for (const queued of this.#queue) {
        if (filled === size) break;
        const part = Math.min(queued.chunk.byteLength - queued.taken, size - filled);
        bytes.set(queued.chunk.subarray(queued.taken, queued.taken + part), filled);
        queued.taken += part;
        filled += part;
      }
    }
    // Zero-length chunks complete with the bytes before them.
    while (this.#queue.length > 0 && this.#queue[0]!.taken === this.#queue[0]!.chunk.byteLength) {
      completed.push(this.#queue.shift()!);
    }
    this.#queuedBytes -= size;
    return { bytes, completed };
  }

  /** Wait `ms`, or less if woken. */
  #hold(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    }).finally(() => {
      this.#wake = null;
    });
  }

  /**
   * Write `bytes` to the socket; a write larger than the pipe that was lost
   * is written again. Says whether the socket took the bytes within the
   * task (they fitted) or had to wait for room.
   */
  /** `size` bytes of the coalescing array (see #scratch), which every write up to the largest fits. */
  #scratchOf(size: number): Uint8Array<ArrayBuffer> {
    let scratch = this.#scratch?.deref();
    if (scratch === undefined || scratch.byteLength < size) {
      scratch = new ArrayBuffer(Math.max(size, this.#maxWriteSize));
      this.#scratch = new WeakRef(scratch);
    }
    return new Uint8Array(scratch, 0, size);
  }

  async #writeWhole(bytes: Uint8Array): Promise<'within-task' | 'waited'> {
    for (let attempt = 0; ; attempt++) {
      const written = super.write(bytes);
      const settled = await settlesWithinTask(written);
      if (settled !== 'resolved') {
        await written; // throws if it was rejected
        return 'waited';
      }
      if (bytes.byteLength <= DIRECT_SOCKETS_PIPE_SIZE) return 'within-task';
      // Taken whole within the task although the pipe cannot hold it: the
      // pipe was full and the bytes were dropped. Give the network service
      // time to read, then write them again.
      this.rewrites++;
      const delay = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]!;
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.#state === 'closed') throw new Error('transport closed');
    }
  }

  #rejectQueued(error: Error): void {
    this.#queuedBytes = 0;
    for (const queued of this.#queue.splice(0)) queued.reject(error);
  }
}

/**
 * A `TransportFactory` of {@link DirectSocketsTransport}s, for
 * `new WebSocket(url, [], { transport: directSocketsTransport() })` in an
 * Isolated Web App.
 */
export function directSocketsTransport(options: DirectSocketsOptions = {}): TransportFactory {
  return (target) => new DirectSocketsTransport(target, options);
}
