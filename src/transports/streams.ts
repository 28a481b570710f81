/**
 * A transport over any WHATWG streams pair `{ readable, writable }`: a
 * WebTransport bidirectional stream, a Direct Sockets `TCPSocket`'s `opened`
 * streams, or Node's `Duplex.toWeb(socket)`. Deno and Bun sockets
 * have their own transports (`deno.ts`, `bun.ts`).
 *
 * The pull-style streams are adapted once to the push-style contract of
 * `transport.ts`: a read loop emits `data` for every chunk until the readable
 * is done (`end`), `write()` is the writer's `write()`, `end()` closes the
 * writer (FIN) and `destroy()` cancels the readable and aborts the writable.
 *
 * Where the readable is a byte stream (WebTransport streams and Direct
 * Sockets' `TCPSocket` are), the rest of a large payload is read with a
 * BYOB reader straight into the array the protocol assembles it in
 * (`Transport.readTarget`), which saves copying every byte of it once more.
 */
import { Transport, type TransportFactory, type TransportTarget, toError } from './transport.js';

/** A readable and a writable byte stream, connected to one peer. */
export interface StreamPair {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/**
 * What the opener of a {@link StreamsTransport} resolves to: the pair, and
 * optionally bytes already read from `readable` (e.g. after a gateway's
 * status line) that come before everything else.
 */
export interface OpenedStreams extends StreamPair {
  /** Bytes of the stream read before the transport took over; emitted first. */
  readonly head?: Uint8Array;
}

/** Options of {@link StreamsTransport}. */
export interface StreamsTransportOptions {
  /**
   * Whether closing the writer sends a real half-close (FIN) while reading
   * goes on: true for WebTransport streams and Node's `Duplex.toWeb()`; false for a Direct Sockets `TCPSocket`, whose
   * `writer.close()` sends nothing while its readable is open ("if readable
   * is active, abort these steps" in the Direct Sockets draft).
   *
   * When `false`, `end()` is the fallback the transport contract allows: it
   * flushes the pending writes, closes the writer, stops reading and closes
   * the transport, without waiting for the peer's end. A WebSocket client
   * calls `end()` only after the server closed the connection (RFC 6455,
   * 7.1.1), so nothing is lost.
   * @defaultValue `true`
   */
  readonly supportsHalfClose?: boolean;
  /**
   * Value of {@link Transport.releasesWrittenChunks}: whether the writable's
   * sink is done with a chunk (sent or copied it) once its `write()`
   * resolved. Leave it `false` unless the platform promises that: a sink
   * may queue chunks, and a `TransformStream` hands them on as they are.
   * @defaultValue `false`
   */
  readonly releasesWrittenChunks?: boolean;
  /**
   * Whether a BYOB read into `readTarget` asks for the whole target
   * (`read(view, { min })`): the stream then fills it from as many of its
   * chunks as it takes before the read completes, instead of waking the
   * reader for each (over WebTransport in Chromium 150, the page's CPU per
   * MiB receiving 1 MiB messages: 5.78 against 6.72 ms). Turn it off for a
   * stream that mishandles `min`: Chromium 150's Direct Sockets readable
   * never completes such a read (measured with a `min` of 4 KiB and more).
   * @defaultValue `true`
   */
  readonly byobMin?: boolean;
  /** Value of {@link Transport.secure}: whether the pair is encrypted and authenticated end to end. @defaultValue `false` */
  readonly secure?: boolean;
  /**
   * How to send end-of-stream once the pending writes are flushed. The
   * default closes the writer. Deno's `TcpConn` needs another way, because
   * `conn.writable.close()` closes the whole connection: release the writer's
   * lock and call `conn.closeWrite()`.
   * @defaultValue `(writer) => writer.close()`
   */
  readonly closeWrite?: (writer: WritableStreamDefaultWriter<Uint8Array>) => Promise<void>;
  /**
   * Called once, just before `close` is emitted, after both stream locks
   * were released: the place to free what owns the pair (a Direct Sockets
   * `socket.close()`, which rejects while its streams are locked; a
   * WebTransport session's reference count). Exceptions are ignored.
   */
  readonly onClose?: (error: Error | undefined) => void;
}

/**
 * A transport over a `{ readable, writable }` pair, given at once or as a
 * promise (e.g. Direct Sockets' `socket.opened`): `open` is emitted once it
 * resolves, and `close` with the error if it rejects.
 */
export class StreamsTransport extends Transport {
  readonly supportsHalfClose: boolean;
  readonly secure: boolean;
  readonly #closeWrite: (writer: WritableStreamDefaultWriter<Uint8Array>) => Promise<void>;
  readonly #onClose: ((error: Error | undefined) => void) | undefined;
  readonly #releasesWrittenChunks: boolean;
  readonly #byobMin: boolean;
  #readable: ReadableStream<Uint8Array> | null = null;
  /** The readable's reader: a default reader, or a BYOB one while reading into `readTarget` (exactly one is set once open). */
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #byobReader: ReadableStreamBYOBReader | null = null;
  /** Whether the readable takes BYOB readers (is a byte stream); unknown until first needed. */
  #byob: boolean | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  /** `close` was emitted or is queued: nothing else is emitted. */
  #closed = false;
  #readDone = false;
  /** Set while paused: the read loop waits on it. */
  #paused: { readonly promise: Promise<void>; readonly resume: () => void } | null = null;
  #ending = false;
  #writeDone = false;
  /** What the writer's `closed` promise said: the platform may settle it before end() (see end()). */
  #writableState: 'open' | 'closed' | 'errored' = 'open';
  #writableError: Error | undefined;
  /** Rejecters of the pending `write()` promises, to honour "rejects if the transport closes first". */
  readonly #pendingWrites = new Set<(error: Error) => void>();
  /** Settles once every write issued so far has settled. */
  #lastWrite: Promise<unknown> = Promise.resolve();

  /**
   * @param streams - The connected pair, or a promise of it.
   * @param options - Half-close behaviour and hooks.
   */
  constructor(streams: OpenedStreams | PromiseLike<OpenedStreams>, options: StreamsTransportOptions = {}) {
    super();
    this.supportsHalfClose = options.supportsHalfClose ?? true;
    this.secure = options.secure ?? false;
    this.#closeWrite = options.closeWrite ?? ((writer) => writer.close());
    this.#onClose = options.onClose;
    this.#releasesWrittenChunks = options.releasesWrittenChunks ?? false;
    this.#byobMin = options.byobMin ?? true;
    // Always through a promise: `open` is never emitted from the constructor,
    // so the caller can attach its listeners first.
    Promise.resolve(streams).then(
      (opened) => this.#start(opened),
      (error: unknown) => this.#fail(toError(error)),
    );
  }

  override get releasesWrittenChunks(): boolean {
    return this.#releasesWrittenChunks;
  }

  override write(chunk: Uint8Array): Promise<void> {
    const writer = this.#writer;
    if (this.#closed) return Promise.reject(new Error('write after close'));
    if (writer === null) return Promise.reject(new Error('write before open'));
    if (this.#ending) return Promise.reject(new Error('write after end'));
    const written = new Promise<void>((resolve, reject) => {
      this.#pendingWrites.add(reject);
      // The promise of `writer.write()` settles once the sink took the chunk:
      // the completion the contract asks for, and the only backpressure
      // signal that every platform reports (Node 20's `Duplex.toWeb()` keeps
      // `writer.ready` resolved and `desiredSize` positive against a peer
      // that never reads, while `write()` stays pending). No `await writer.ready`
      // first: queued writes keep their order and each promise waits anyway.
      writer.write(chunk).then(
        () => {
          this.#pendingWrites.delete(reject);
          resolve();
        },
        (error: unknown) => {
          this.#pendingWrites.delete(reject);
          const failure = toError(error);
          reject(failure);
          this.#fail(failure);
        },
      );
    });
    this.#lastWrite = written.catch(() => {});
    return written;
  }

  override async end(): Promise<void> {
    const writer = this.#writer;
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    if (writer === null) {
      // Not open yet: there is nothing to flush and no stream to end.
      this.destroy();
      return;
    }
    // Custom hooks may release the writer's lock, so flush ourselves first
    // (`writer.close()` alone would wait for queued writes too).
    await this.#lastWrite;
    if (this.#closed) return;
    if (this.#writableState === 'errored' && !this.#readDone) {
      // The peer stopped our sending (a WebTransport STOP_SENDING, a reset).
      this.#fail(this.#writableError ?? new Error('the writable failed'));
      return;
    }
    // Otherwise an already settled writable means the platform ended it:
    // Node 20's `Duplex.toWeb()` over a socket without allowHalfOpen errors
    // the writable (AbortError) when the peer's FIN arrives. The
    // connection is over then; closing again would only reject.
    if (this.#writableState === 'open') {
      try {
        await this.#closeWrite(writer);
      } catch (error) {
        if (!this.#readDone || this.#writableState === 'open') {
          this.#fail(toError(error));
          return;
        }
      }
    }
    this.#writeDone = true;
    if (!this.supportsHalfClose) {
      // The fallback: without a half-close, end() closes both directions.
      this.#finish(undefined);
      return;
    }
    if (this.#readDone) this.#finish(undefined);
  }

  override destroy(error?: Error): void {
    this.#finish(error ?? null);
  }

  #start(opened: OpenedStreams): void {
    if (this.#closed) {
      // Destroyed while connecting: release what arrived late.
      dispose(opened, new Error('transport destroyed'));
      return;
    }
    try {
      this.#readable = opened.readable;
      this.#reader = opened.readable.getReader();
      this.#writer = opened.writable.getWriter();
    } catch (error) {
      dispose(opened, toError(error));
      this.#fail(toError(error));
      return;
    }
    // Nobody awaits these promises: keep their rejection from being reported
    // as unhandled (the read loop and write() report failures).
    // Nobody else awaits this promise: the handlers also keep its rejection
    // from being reported as unhandled.
    this.#writer.closed.then(
      () => {
        if (this.#writableState === 'open') this.#writableState = 'closed';
      },
      (error: unknown) => {
        if (this.#writableState !== 'open') return;
        this.#writableState = 'errored';
        this.#writableError = toError(error);
      },
    );
    this.emit('open');
    const head = opened.head;
    if (head !== undefined && head.byteLength > 0 && !this.#closed) this.emit('data', head);
    void this.#readLoop();
  }

  override pause(): void {
    if (this.#paused !== null) return;
    let resume!: () => void;
    const promise = new Promise<void>((resolve) => {
      resume = resolve;
    });
    this.#paused = { promise, resume };
  }

  override resume(): void {
    const paused = this.#paused;
    this.#paused = null;
    paused?.resume();
  }

  async #readLoop(): Promise<void> {
    // Bounded by the stream: each turn awaits one chunk, and the loop stops
    // at `done`, on an error, or once the transport is closed.
    while (!this.#closed) {
      // Paused: stop pulling; the stream's queue then fills and its
      // backpressure reaches the source (WebTransport flow control, TCP).
      if (this.#paused !== null) await this.#paused.promise;
      if (this.#closed) return;
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await this.#read();
      } catch (error) {
        this.#fail(toError(error));
        return;
      }
      if (this.#closed) return;
      if (result.done) {
        // A BYOB read that asked for a minimum fulfils at the end of the
        // stream with what it got: those bytes come before the end.
        const rest = result.value === undefined ? null : toUint8Array(result.value);
        if (rest !== null && rest.byteLength > 0) this.emit('data', rest);
        if (this.#closed) return;
        this.#readDone = true;
        this.emit('end');
        if (this.#writeDone) this.#finish(undefined);
        return;
      }
      const chunk = toUint8Array(result.value);
      if (chunk === null) {
        this.#fail(new TypeError('the readable yielded something other than bytes'));
        return;
      }
      // Ownership passes to the listener: a read chunk belongs to the reader
      // alone (the stream keeps no reference once it was dequeued).
      if (chunk.byteLength > 0) this.emit('data', chunk);
    }
  }

  /**
   * One read: with a BYOB reader into the reader's `readTarget` when it
   * offers one of at least MIN_TARGET bytes and the readable is a byte
   * stream (asking for all of it, see `byobMin`), else the stream's own
   * next chunk. BYOB reads transfer the
   * target's buffer; the chunk they return is a view of the same memory,
   * which the protocol adopts. Switching readers is safe: the loop awaits
   * each read, so none is pending when a lock is released.
   */
  #read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const target = this.#byob === false ? null : (this.readTarget?.() ?? null);
    if (target !== null && target.byteLength >= MIN_TARGET) {
      const byob = this.#byobReader ?? this.#switchToByob();
      if (byob !== null) {
        const min = this.#byobMin ? target.byteLength : 1;
        return (byob as unknown as ByobReaderWithMin).read(target as Uint8Array<ArrayBuffer>, { min });
      }
    }
    let reader = this.#reader;
    if (reader === null) {
      this.#byobReader!.releaseLock();
      this.#byobReader = null;
      reader = this.#reader = this.#readable!.getReader();
    }
    return reader.read();
  }

  /** Trade the default reader for a BYOB one; null (and never again) if the readable is not a byte stream. */
  #switchToByob(): ReadableStreamBYOBReader | null {
    const readable = this.#readable!;
    this.#reader!.releaseLock();
    this.#reader = null;
    try {
      this.#byobReader = readable.getReader({ mode: 'byob' });
      this.#byob = true;
    } catch {
      // A TypeError: not a byte stream (Node's Duplex.toWeb(), most
      // hand-made streams). Its chunks are copied into place instead.
      this.#byob = false;
      this.#reader = readable.getReader();
    }
    return this.#byobReader;
  }

  #fail(error: Error): void {
    this.#finish(error);
  }

  /**
   * Close now: `undefined` after a clean end of both directions, `null` for
   * a destroy() without error, else the error.
   */
  #finish(error: Error | null | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.resume(); // a paused read loop sees #closed and stops
    const failure = error ?? undefined;
    const dropped = failure ?? new Error('transport closed');
    for (const reject of this.#pendingWrites) reject(dropped);
    this.#pendingWrites.clear();
    const reader = this.#reader ?? this.#byobReader;
    const writer = this.#writer;
    if (error !== undefined) {
      // destroy() or a failure: stop both directions now. Cancelling the
      // readable sends STOP_SENDING on a WebTransport stream and destroys a
      // Node socket; aborting the writable sends RESET_STREAM.
      reader?.cancel(dropped).catch(() => {});
      writer?.abort(dropped).catch(() => {});
    } else if (!this.#readDone) {
      // end() without half-close: we no longer read what the peer sends.
      reader?.cancel().catch(() => {});
    }
    // Release the locks so that onClose may close the owner (Direct
    // Sockets' `socket.close()` rejects while its streams are locked).
    releaseLock(reader);
    releaseLock(writer);
    queueMicrotask(() => {
      try {
        this.#onClose?.(failure);
      } catch {
        // A failing hook must not keep `close` from being emitted.
      }
      this.emit('close', failure);
      this.removeAllListeners();
    });
  }
}

/**
 * The shortest rest of a payload read with a BYOB reader. A shorter rest is
 * read with what follows it, in one chunk of the stream's own, and copied
 * into place: a BYOB read stops at the end of its target, so the next
 * frame costs a read of its own, and switching readers costs two
 * allocations. Measured in Chromium over Direct Sockets (page CPU per MiB
 * received, medians of 10 alternating runs): with 64 KiB, 1 MiB messages
 * cost 4.38 ms read in place against 5.31 ms copied; with 16 KiB, 64 KiB
 * messages (most of which arrive with their header) cost 7.19 against
 * 6.88 ms, so those are left to default reads.
 */
const MIN_TARGET = 64 * 1024;

/** `ReadableStreamBYOBReader` with the `min` option of `read()`, which TypeScript's DOM typings lack. */
interface ByobReaderWithMin {
  read(
    view: Uint8Array<ArrayBuffer>,
    options: { readonly min: number },
  ): Promise<ReadableStreamReadResult<Uint8Array<ArrayBuffer>>>;
}

/** Cancel and abort a pair that nobody will use. */
function dispose(streams: StreamPair, error: Error): void {
  try {
    streams.readable.cancel(error).catch(() => {});
  } catch {
    // Locked by someone else: not ours to cancel.
  }
  try {
    streams.writable.abort(error).catch(() => {});
  } catch {
    // Locked by someone else: not ours to abort.
  }
}

function releaseLock(
  lock:
    | ReadableStreamDefaultReader<Uint8Array>
    | ReadableStreamBYOBReader
    | WritableStreamDefaultWriter<Uint8Array>
    | null,
): void {
  try {
    lock?.releaseLock();
  } catch {
    // Older engines throw while a read is pending; the lock then stays, harmlessly.
  }
}

/**
 * Sources may yield any `BufferSource`; the contract hands on plain
 * `Uint8Array`s (a view, no copy), so that e.g. a `Buffer`'s `slice()`
 * semantics never leak downstream. `null` for anything else.
 */
function toUint8Array(value: unknown): Uint8Array | null {
  if (value instanceof Uint8Array && value.constructor === Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return null;
}

/**
 * A `TransportFactory` of {@link StreamsTransport}s: `connect` opens the
 * pair for each target, e.g. a WebTransport bidirectional stream or Node's
 * `Duplex.toWeb(socket)`. (For Deno, use `denoTransport()`: reading a
 * `Deno.Conn`'s `readable` to its end closes the whole connection, which
 * rules out a half-close.) A throwing or rejecting
 * `connect` closes the transport with that error.
 */
export function streamsTransport(
  connect: (target: TransportTarget) => OpenedStreams | PromiseLike<OpenedStreams>,
  options: StreamsTransportOptions = {},
): TransportFactory {
  return (target) => {
    let opened: OpenedStreams | PromiseLike<OpenedStreams>;
    try {
      opened = connect(target);
    } catch (error) {
      opened = Promise.reject(error);
    }
    return new StreamsTransport(opened, options);
  };
}
