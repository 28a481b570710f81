/**
 * A fake Direct Sockets `TCPSocket` for tests, built from web streams, with
 * the behaviour recorded in a real Chromium 150 Isolated Web App:
 *
 * - `opened` resolves with `{readable, writable, ...}` a task later, or
 *   rejects with a `NetworkError` DOMException when the target refuses
 *   (and `closed` rejects too);
 * - the readable is a byte stream: a BYOB reader's `read(view)` fills the
 *   view with what arrived (up to its length) and transfers its buffer;
 *   a default reader gets each chunk as it arrived;
 * - `writable.close()` sends no FIN while the readable is open: the peer
 *   sees end-of-stream only once both streams are closed;
 * - `close()` rejects while either stream is locked;
 * - the data pipe behind the writable: 64 KiB that a "network service"
 *   drains a task later, one read up to the ring's end at a time, and not
 *   at all while the peer is paused. A write that fits resolves within its
 *   task; one that doesn't waits for room and resolves in a later task;
 *   optionally ({@link FakeDirectSocketsOptions.dropWhenFull}), one that
 *   starts while the pipe is full resolves at once and its bytes are
 *   dropped, as in Chromium 150.
 *
 * The test drives the other end through {@link FakeTcpPeer}.
 */
import type {
  TCPSocketConstructor,
  TCPSocketLike,
  TCPSocketOptionsLike,
} from '../transports/direct-sockets.js';
import { concat } from './chunking.js';

/** The server end of one fake connection. */
export class FakeTcpPeer {
  readonly host: string;
  readonly port: number;
  readonly options: TCPSocketOptionsLike | undefined;
  /** Sizes of the client's `writer.write()` calls, in order. */
  readonly writeSizes: number[] = [];
  /** Bytes received from the client, in order. */
  readonly received: Uint8Array[] = [];
  /** Whether the client's stream ended (the socket closed). */
  eof = false;
  /** Bytes of writes that started while the pipe was full, dropped (with `dropWhenFull`). */
  droppedBytes = 0;
  /** Bytes the client read with a BYOB reader, into arrays of its own. */
  byobBytes = 0;
  /** Whether the peer stopped reading: the pipe is not drained. */
  paused = false;
  /** @internal Called on resume(). */
  onResume: (() => void) | null = null;
  /** Called with each chunk the client wrote (after `received` got it). */
  onData: ((chunk: Uint8Array) => void) | null = null;
  /** @internal */
  toClient!: WritableStreamDefaultWriter<Uint8Array>;
  #eofWaiters: Array<() => void> = [];

  constructor(host: string, port: number, options: TCPSocketOptionsLike | undefined) {
    this.host = host;
    this.port = port;
    this.options = options;
  }

  /** Total bytes received. */
  get receivedBytes(): number {
    return this.received.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  }

  /** All received bytes, concatenated. */
  receivedAll(): Uint8Array {
    return concat(this.received);
  }

  /** Send bytes to the client. */
  write(bytes: Uint8Array): Promise<void> {
    return this.toClient.write(bytes).catch(() => {});
  }

  /** Close the server's side (a FIN): the client's readable ends. */
  end(): Promise<void> {
    return this.toClient.close().catch(() => {});
  }

  /** Stop reading: the client's data stays in the pipe (TCP backpressure). */
  pause(): void {
    this.paused = true;
  }

  /** Read again. */
  resume(): void {
    this.paused = false;
    this.onResume?.();
  }

  /** Reset the connection: the client's readable errors. */
  reset(): void {
    void this.toClient.abort(new DOMException('Connection reset.', 'NetworkError')).catch(() => {});
  }

  /** Resolves when the client's stream has ended. */
  waitEof(): Promise<void> {
    if (this.eof) return Promise.resolve();
    return new Promise((resolve) => this.#eofWaiters.push(resolve));
  }

  /** @internal */
  receive(chunk: Uint8Array): void {
    this.received.push(chunk);
    this.onData?.(chunk);
  }

  /** @internal */
  endOfStream(): void {
    if (this.eof) return;
    this.eof = true;
    for (const wake of this.#eofWaiters.splice(0)) wake();
  }
}

/** Options of {@link fakeDirectSockets}. */
export interface FakeDirectSocketsOptions {
  /** Targets that refuse the connection. @defaultValue none */
  readonly refuse?: (host: string, port: number) => boolean;
  /** Throw this from the constructor (e.g. a NotAllowedError). */
  readonly throwOnConstruct?: Error;
  /** Bytes the data pipe behind the writable holds. @defaultValue `65536` */
  readonly pipeCapacity?: number;
  /** A write that starts while the pipe is full resolves at once and is dropped (Chromium 150). @defaultValue `false` */
  readonly dropWhenFull?: boolean;
  /** Called with each accepted connection (before `opened` resolves). */
  readonly accept?: (peer: FakeTcpPeer) => void;
}

/** A fake `TCPSocket` constructor and the peers of the sockets it made. */
export function fakeDirectSockets(options: FakeDirectSocketsOptions = {}): {
  TCPSocket: TCPSocketConstructor;
  peers: FakeTcpPeer[];
} {
  const peers: FakeTcpPeer[] = [];

  class FakeTCPSocket implements TCPSocketLike {
    readonly opened: Promise<{
      readable: ReadableStream<Uint8Array>;
      writable: WritableStream<Uint8Array>;
      remoteAddress: string;
      remotePort: number;
    }>;
    readonly closed: Promise<void>;
    #readable: ReadableStream<Uint8Array> | null = null;
    #writable: WritableStream<Uint8Array> | null = null;
    #readableDone = false;
    #writableDone = false;
    #resolveClosed!: () => void;
    #peer: FakeTcpPeer | null = null;
    #toPeer: WritableStreamDefaultWriter<Uint8Array> | null = null;

    constructor(host: string, port: number, socketOptions?: TCPSocketOptionsLike) {
      if (options.throwOnConstruct !== undefined) throw options.throwOnConstruct;
      let rejectClosed!: (error: unknown) => void;
      this.closed = new Promise<void>((resolve, reject) => {
        this.#resolveClosed = resolve;
        rejectClosed = reject;
      });
      if (options.refuse?.(host, port) === true) {
        const error = new DOMException('Network Error.', 'NetworkError');
        this.opened = new Promise((_, reject) => setTimeout(() => reject(error), 1));
        setTimeout(() => rejectClosed(error), 1);
        return;
      }
      const peer = new FakeTcpPeer(host, port, socketOptions);
      this.#peer = peer;
      peers.push(peer);
      const toClient = new TransformStream<Uint8Array, Uint8Array>();
      peer.toClient = toClient.writable.getWriter();
      const toPeer = new TransformStream<Uint8Array, Uint8Array>();
      this.#toPeer = toPeer.writable.getWriter();
      void this.#pumpToPeer(toPeer.readable.getReader(), peer);

      // The client's readable: what the peer writes; done or cancelled
      // counts as closed.
      const fromPeer = toClient.readable.getReader();
      /** What arrived from the peer and was not read yet (the rest of a chunk longer than a BYOB view). */
      let unread: Uint8Array | null = null;
      this.#readable = new ReadableStream({
        type: 'bytes',
        pull: async (controller) => {
          try {
            if (unread === null) {
              const { done, value } = await fromPeer.read();
              if (done) {
                controller.close();
                // A pending BYOB read completes (done) only once answered.
                controller.byobRequest?.respond(0);
                this.#readableClosed();
                return;
              }
              unread = value;
            }
            const chunk: Uint8Array = unread;
            const view = controller.byobRequest?.view;
            if (view instanceof Uint8Array) {
              const count = Math.min(view.byteLength, chunk.byteLength);
              view.set(chunk.subarray(0, count));
              unread = count < chunk.byteLength ? chunk.subarray(count) : null;
              peer.byobBytes += count;
              controller.byobRequest!.respond(count);
            } else {
              // enqueue() transfers the buffer: hand on a copy, never the peer's array.
              unread = null;
              controller.enqueue(chunk.slice());
            }
          } catch (error) {
            controller.error(error);
            this.#readableClosed();
          }
        },
        cancel: async (reason) => {
          await fromPeer.cancel(reason).catch(() => {});
          this.#readableClosed();
        },
      });

      const pipe = this.#makePipe(peer, options.pipeCapacity ?? 65_536, options.dropWhenFull === true);
      this.#writable = new WritableStream<Uint8Array>({
        write: (chunk) => {
          if (!(chunk instanceof Uint8Array)) throw new TypeError('not a BufferSource');
          peer.writeSizes.push(chunk.byteLength);
          return pipe.write(chunk);
        },
        // No FIN while the readable is open (Chromium, and the spec).
        close: () => this.#writableClosed(),
        abort: () => this.#writableClosed(),
      });
      options.accept?.(peer);
      this.opened = new Promise((resolve) =>
        setTimeout(
          () =>
            resolve({
              readable: this.#readable!,
              writable: this.#writable!,
              remoteAddress: host,
              remotePort: port,
            }),
          1,
        ),
      );
    }

    async close(): Promise<void> {
      if (this.#readable?.locked === true || this.#writable?.locked === true) {
        throw new DOMException('Close called on locked streams.', 'InvalidStateError');
      }
      if (!this.#readableDone) await this.#readable?.cancel().catch(() => {});
      if (!this.#writableDone) await this.#writable?.abort().catch(() => {});
      this.#readableClosed();
      this.#writableClosed();
    }

    /** The pipe model: a ring of `capacity` bytes drained into the peer a task after data arrives. */
    #makePipe(
      peer: FakeTcpPeer,
      capacity: number,
      dropWhenFull: boolean,
    ): { write(chunk: Uint8Array): Promise<void> | undefined } {
      const ring = new Uint8Array(capacity);
      let used = 0;
      let readAt = 0;
      let drainScheduled = false;
      /** The write waiting for room, if any. */
      let waiting: (() => void) | null = null;
      const put = (bytes: Uint8Array): number => {
        const n = Math.min(bytes.byteLength, capacity - used);
        const at = (readAt + used) % capacity;
        const first = Math.min(n, capacity - at);
        ring.set(bytes.subarray(0, first), at);
        ring.set(bytes.subarray(first, n), 0);
        used += n;
        scheduleDrain();
        return n;
      };
      const scheduleDrain = (): void => {
        if (drainScheduled || used === 0 || peer.paused) return;
        drainScheduled = true;
        setTimeout(drain, 0);
      };
      const take = (): Uint8Array => {
        // One read of the bytes up to the ring's end, as the network service does.
        const n = Math.min(used, capacity - readAt);
        const out = ring.slice(readAt, readAt + n);
        readAt = (readAt + n) % capacity;
        used -= n;
        return out;
      };
      const drain = (): void => {
        drainScheduled = false;
        if (peer.paused || used === 0) return;
        void this.#toPeer?.write(take());
        // Room again: the waiting write goes on in a later task.
        const resume = waiting;
        waiting = null;
        if (resume !== null) setTimeout(resume, 0);
        scheduleDrain();
      };
      peer.onResume = scheduleDrain;
      this.#flushPipe = () => {
        while (used > 0) void this.#toPeer?.write(take());
      };
      return {
        write: (chunk) => {
          if (used === capacity && dropWhenFull) {
            peer.droppedBytes += chunk.byteLength;
            return undefined; // resolves at once; the bytes are gone
          }
          let written = put(chunk);
          if (written === chunk.byteLength) return undefined;
          return new Promise<void>((resolve) => {
            const more = (): void => {
              written += put(chunk.subarray(written));
              if (written === chunk.byteLength) resolve();
              else waiting = more;
            };
            waiting = more;
          });
        },
      };
    }

    /** Delivers what is left in the pipe model (on close). */
    #flushPipe: (() => void) | null = null;

    async #pumpToPeer(reader: ReadableStreamDefaultReader<Uint8Array>, peer: FakeTcpPeer): Promise<void> {
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (done) break;
        peer.receive(value);
      }
      peer.endOfStream();
    }

    #readableClosed(): void {
      this.#readableDone = true;
      this.#maybeClosed();
    }

    #writableClosed(): void {
      this.#writableDone = true;
      this.#maybeClosed();
    }

    /** Both streams closed: only now does the peer see the FIN. */
    #maybeClosed(): void {
      if (!this.#readableDone || !this.#writableDone) return;
      this.#flushPipe?.();
      const toPeer = this.#toPeer;
      this.#toPeer = null;
      if (toPeer !== null) void toPeer.close().catch(() => {});
      void this.#peer?.toClient.close().catch(() => {});
      this.#resolveClosed();
    }
  }

  return { TCPSocket: FakeTCPSocket, peers };
}
