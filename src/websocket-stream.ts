/**
 * `WebSocketStream`: the streams-based WebSocket API (the WHATWG explainer
 * and https://github.com/whatwg/websockets/pull/48, as Chromium ships it
 * since version 124), over the same connection driver as `WebSocket`.
 *
 * Theory of operation
 * -------------------
 * - `opened` resolves with a `ReadableStream` of messages (text as strings,
 *   binary as `Uint8Array`s) and a `WritableStream` taking strings and
 *   `BufferSource`s; `closed` resolves with the close code and reason of a
 *   clean close, and rejects with a `WebSocketError` otherwise.
 * - Receive backpressure is real: the readable's queue holds one message
 *   (its high-water mark); further messages wait here, undelivered, and the
 *   driver stops reading from the transport while more than
 *   READ_PAUSE_BYTES of them wait, so a reader that stops reading stops the
 *   peer through the transport's own flow control. A message counts as
 *   delivered once it is in the readable's queue.
 * - Send backpressure is real too: a write's promise resolves once the
 *   transport has accepted the message's bytes (not when they are queued),
 *   so `await writer.write()` in a loop goes at the network's pace, and the
 *   writable's queue (up to WRITE_HIGH_WATER_MARK bytes) drives
 *   `writer.ready`.
 * - Closing: `close()`, `writable.close()` (its promise waits for the closing
 *   handshake), `writable.abort(reason)` and `readable.cancel(reason)` start
 *   the closing handshake, with the code and reason of a `WebSocketError`
 *   reason. When the connection ends, a clean close closes the readable
 *   (after the messages it holds) and errors the writable with an
 *   `InvalidStateError`; any other end errors both with the `WebSocketError`
 *   that `closed` rejects with. A write in flight then rejects with an
 *   `InvalidStateError`, which errors the writable. A close is clean only
 *   if every message written was sent: a write refused because the peer
 *   was closing, or not taken by the transport, makes it unclean (with the
 *   close code and reason received), as in Chromium.
 */
import { clientOrigin, isMixedContent } from './client-context.js';
import { Connection, type ConnectionHandler, type ConnectionOutcome } from './connection/connection.js';
import type { Message } from './message.js';
import { decodeUtf8, encodeUtf8 } from './protocol/platform.js';
import {
  checkCloseCodeAndReason,
  enforceUnsignedShort,
  getUrlRecord,
  isArrayBuffer,
  toDictionary,
  toSubprotocols,
} from './webidl.js';
import type { WebSocketOptions } from './websocket.js';
import { closedError, WebSocketError } from './websocket-error.js';

/** `dictionary WebSocketStreamOptions`. */
export interface WebSocketStreamOptions {
  protocols?: string[];
  signal?: AbortSignal;
}

/**
 * What the writable takes: text, or binary as WebIDL's `BufferSource`
 * (spelled out: Node projects without the DOM lib have no `BufferSource`).
 */
export type WebSocketStreamChunk = string | ArrayBuffer | ArrayBufferView;

/** `dictionary WebSocketOpenInfo`: what `opened` resolves with. */
export interface WebSocketOpenInfo {
  readonly readable: ReadableStream<string | Uint8Array>;
  readonly writable: WritableStream<WebSocketStreamChunk>;
  readonly extensions: string;
  readonly protocol: string;
}

/** `dictionary WebSocketCloseInfo`: what `close()` takes and `closed` resolves with. */
export interface WebSocketCloseInfo {
  closeCode?: number;
  reason?: string;
}

/**
 * Reading from the transport pauses while more than this many received
 * bytes wait for the reader (beyond the one message in the readable's
 * queue), and resumes at half of it: what a reader that stops reading
 * costs, on top of the transport's own buffers.
 */
const READ_PAUSE_BYTES = 1024 * 1024;
/** Bytes the writable queues before `writer.ready` waits. */
const WRITE_HIGH_WATER_MARK = 64 * 1024;
/**
 * Larger messages are sent in frames of this size, each handed to the
 * connection once the transport took the one before (RFC 6455, 5.4 allows
 * any fragmentation). A large write thus holds one frame in memory beyond
 * the application's buffer, not a masked copy of the whole message, and
 * stays in flight, rejectable, until its last byte is taken.
 */
const FRAGMENT_SIZE = 64 * 1024;

const CONSTRUCT = "Failed to construct 'WebSocketStream'";
const CLOSE = "Failed to execute 'close' on 'WebSocketStream'";

type State = 'connecting' | 'open' | 'closing' | 'closed';

/** A promise and how to settle it; its rejection is handled (the application may never look). */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(reason: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

function invalidState(message: string): DOMException {
  return new DOMException(message, 'InvalidStateError');
}

export class WebSocketStream {
  readonly #url: string;
  readonly #connection: Connection | null = null;
  readonly #opened = deferred<WebSocketOpenInfo>();
  readonly #closed = deferred<WebSocketCloseInfo>();
  #state: State = 'connecting';
  #signal: AbortSignal | null = null;
  readonly #onAbort = (): void => this.#abortHandshake();
  /** Why the handshake was aborted by the signal: `opened` and `closed` reject with it. */
  #abortReason: unknown = undefined;
  #aborted = false;
  #readable: ReadableStreamDefaultController<string | Uint8Array> | null = null;
  #readableDone = false;
  #writable: WritableStreamDefaultController | null = null;
  /** Messages received and not yet in the readable's queue. */
  #waiting: Message[] = [];
  /** The write the sink is sending: settled when the transport takes it, or when the connection ends. */
  #inFlight: InFlightWrite | null = null;
  /**
   * A message written was not sent: refused because the connection was
   * closing, or not taken by the transport when it closed. The close is
   * then not clean, whatever the closing handshake did.
   */
  #unsent = false;
  /** Chunks written to the writable and not yet handed to the sink. */
  #queuedWrites = 0;
  /** `writable.close()` waits for the closing handshake. */
  #writerClose: { resolve(): void; reject(reason: unknown): void } | null = null;

  /**
   * @param url - A `ws:`, `wss:`, `http:` or `https:` URL, absolute or relative to the page.
   * @param options - The standard options: `protocols`, `signal`.
   * @param connectionOptions - polysocket's options, as `WebSocket`'s third argument.
   * @throws TypeError if `url` is missing or an option has the wrong type.
   * @throws DOMException "SyntaxError" for an invalid URL or subprotocol.
   * @throws DOMException "SecurityError" for a `ws:` URL from a page loaded over `https:`.
   */
  constructor(
    url: string | URL,
    options: WebSocketStreamOptions = {},
    connectionOptions: WebSocketOptions = {},
  ) {
    // biome-ignore lint/complexity/noArguments: only arguments tells a missing argument from undefined
    if (arguments.length === 0) {
      throw new TypeError(`${CONSTRUCT}: 1 argument required, but only 0 present.`);
    }
    const urlRecord = getUrlRecord(url, CONSTRUCT);
    const dictionary = toDictionary(options, CONSTRUCT);
    const protocols = dictionary['protocols'];
    // WebIDL `sequence<USVString>`: a string is not a sequence.
    if (protocols !== undefined && (typeof protocols !== 'object' || protocols === null)) {
      throw new TypeError(
        `${CONSTRUCT}: Failed to read the 'protocols' property from 'WebSocketStreamOptions': The provided value cannot be converted to a sequence.`,
      );
    }
    const signal = dictionary['signal'];
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(
        `${CONSTRUCT}: Failed to read the 'signal' property from 'WebSocketStreamOptions': Failed to convert value to 'AbortSignal'.`,
      );
    }
    if (connectionOptions.allowMixedContent !== true && isMixedContent(urlRecord)) {
      throw new DOMException(
        `${CONSTRUCT}: An insecure WebSocket connection may not be initiated from a page loaded over HTTPS.`,
        'SecurityError',
      );
    }
    const offered = toSubprotocols(protocols as string[] | undefined, CONSTRUCT);
    this.#url = urlRecord.href;
    // If the signal is already aborted, reject opened and closed with its
    // reason, and never connect.
    if (signal?.aborted) {
      this.#abortReason = signal.reason;
      this.#aborted = true;
      this.#state = 'closed';
      this.#opened.reject(signal.reason);
      this.#closed.reject(signal.reason);
      return;
    }
    const origin = connectionOptions.origin === undefined ? clientOrigin() : connectionOptions.origin;
    this.#connection = new Connection(urlRecord, offered, { ...connectionOptions, origin }, this.#reports(), {
      readPauseBytes: READ_PAUSE_BYTES,
    });
    if (signal !== undefined) {
      this.#signal = signal;
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /**
   * One interface: `instanceof` holds for instances of the classes made
   * from this one by the entry points and `bindOptions`, which are not
   * subclasses (see bind-options.ts). (A method, not a static block: a
   * bundle that never uses the class can drop it.)
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && #state in value;
  }

  /** The URL, resolved and serialized. */
  get url(): string {
    return this.#url;
  }

  /** Resolves once the connection is established; rejects if it never is. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#opened.promise;
  }

  /** Resolves with the close code and reason of a clean close; rejects with a `WebSocketError` otherwise. */
  get closed(): Promise<WebSocketCloseInfo> {
    return this.#closed.promise;
  }

  /**
   * Close the connection: before it is established, give up on it; once
   * open, start the closing handshake with `closeCode` and `reason` (none:
   * an empty close frame; a reason alone: code 1000).
   *
   * @throws DOMException "InvalidAccessError" if `closeCode` is neither 1000 nor in 3000–4999.
   * @throws DOMException "SyntaxError" if `reason` is longer than 123 bytes of UTF-8.
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    void this.#state; // `this` must be a WebSocketStream
    const dictionary = toDictionary(closeInfo, CLOSE);
    const code =
      dictionary['closeCode'] === undefined ? null : enforceUnsignedShort(dictionary['closeCode'], CLOSE);
    const reason = dictionary['reason'] === undefined ? null : String(dictionary['reason']);
    this.#closeWith(code, checkCloseCodeAndReason(code, reason, CLOSE));
  }

  // -------------------------------------------------------------------------

  #reports(): ConnectionHandler {
    return {
      opened: (protocol, extensions) => this.#onOpened(protocol, extensions),
      message: (message) => {
        // After `readable.cancel()` nobody reads: dropped, and reported as
        // handled so that reading from the transport goes on and the
        // closing handshake the cancel started can complete.
        if (this.#readableDone) this.#connection?.delivered(message);
        else {
          this.#waiting.push(message);
          this.#fillReadable();
        }
      },
      closing: () => this.#onPeerClosing(),
      closed: (outcome) => this.#onClosed(outcome),
    };
  }

  #onOpened(protocol: string, extensions: string): void {
    this.#removeAbortListener();
    this.#state = 'open';
    const readable = new ReadableStream<string | Uint8Array>(
      {
        start: (controller) => {
          this.#readable = controller;
        },
        pull: () => this.#fillReadable(),
        cancel: (reason) => {
          this.#readableDone = true;
          // Dropped, not delivered: the connection is told, so that a read
          // pause they caused is lifted and the peer's close frame, behind
          // them, can be read.
          for (const message of this.#waiting.splice(0)) this.#connection?.delivered(message);
          this.#closeFromStream(reason);
        },
      },
      { highWaterMark: 1 },
    );
    const writable = new WritableStream<WebSocketStreamChunk>(
      {
        start: (controller) => {
          this.#writable = controller;
        },
        write: (chunk) => this.#write(chunk),
        close: () => this.#closeWritable(),
        abort: (reason) => this.#closeFromStream(reason),
      },
      {
        highWaterMark: WRITE_HIGH_WATER_MARK,
        // Called once per `write()`, when the chunk enters the queue.
        size: (chunk) => {
          this.#queuedWrites++;
          return chunkSize(chunk);
        },
      },
    );
    this.#opened.resolve({ readable, writable, extensions, protocol });
  }

  /** Move waiting messages into the readable's queue while it has room. */
  #fillReadable(): void {
    const controller = this.#readable;
    if (controller === null || this.#readableDone) return;
    while (this.#waiting.length > 0 && (controller.desiredSize ?? 0) > 0) {
      const message = this.#waiting.shift()!;
      controller.enqueue(message.type === 'text' ? decodeUtf8(message.data) : ownBytes(message.data));
      this.#connection?.delivered(message);
    }
  }

  #write(chunk: unknown): Promise<void> {
    this.#queuedWrites--;
    let type: 'text' | 'binary';
    let bytes: Uint8Array;
    try {
      [type, bytes] = toOutgoing(chunk);
    } catch (error) {
      return Promise.reject(error);
    }
    const connection = this.#connection!;
    return new Promise<void>((resolve, reject) => {
      const write: InFlightWrite = { resolve, reject, failed: false };
      this.#inFlight = write;
      // Refused while closing: it rejects when the connection ends, with
      // `closed` (as in Chromium), rather than at once, before the
      // application could be waiting for it.
      if (connection.canSend) void this.#sendFragments(connection, write, type, bytes);
      else this.#unsent = true;
    });
  }

  /** Send `bytes` a frame at a time, each once the transport took the one before. */
  async #sendFragments(
    connection: Connection,
    write: InFlightWrite,
    type: 'text' | 'binary',
    bytes: Uint8Array,
  ): Promise<void> {
    const size = bytes.byteLength;
    let offset = 0;
    do {
      const end = Math.min(offset + FRAGMENT_SIZE, size);
      if (write.failed) return;
      if (!connection.canSend) {
        // The rest will never be sent: `#onClosed` rejects the write.
        this.#unsent = true;
        return;
      }
      connection.sendFragment(type, bytes.subarray(offset, end), offset === 0, end === size);
      offset = end;
      try {
        await connection.sent();
      } catch {
        return; // the transport closed: `#onClosed` rejected the write
      }
    } while (offset < size);
    if (write.failed) return;
    if (this.#inFlight === write) this.#inFlight = null;
    write.resolve();
  }

  /** The connection ended before the transport took the write in flight. */
  #failWrite(write: InFlightWrite): void {
    if (this.#inFlight === write) this.#inFlight = null;
    if (write.failed) return;
    write.failed = true;
    write.reject(invalidState('The WebSocket closed before the message was sent.'));
  }

  /**
   * The peer's close frame arrived: it processes nothing we send from now
   * on (RFC 6455, 1.4: after a close, "a peer discards any further data
   * received"). A write still in flight, or still queued, is lost, and the
   * close is not clean; the write rejects when the connection ends.
   */
  #onPeerClosing(): void {
    if (this.#inFlight !== null || this.#queuedWrites > 0) this.#unsent = true;
  }

  /** `writable.close()`: the closing handshake, without a code; resolves once it completes. */
  #closeWritable(): Promise<void> {
    const done = deferred<void>();
    this.#writerClose = done;
    this.#closeWith(null, '');
    return done.promise;
  }

  /** `writable.abort(reason)` or `readable.cancel(reason)`: close with a `WebSocketError`'s code and reason. */
  #closeFromStream(reason: unknown): void {
    if (reason instanceof WebSocketError) this.#closeWith(reason.closeCode, reason.reason);
    else this.#closeWith(null, '');
  }

  #closeWith(code: number | null, reason: string): void {
    const connection = this.#connection;
    if (connection === null) return;
    if (this.#state === 'connecting') {
      connection.abort('close() was called before the connection was established');
      this.#state = 'closing';
      return;
    }
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    if (code === null && reason === '') connection.close();
    else connection.close(code ?? 1000, reason);
  }

  /** The signal aborted: give up on the handshake (nothing happens once the connection is open). */
  #abortHandshake(): void {
    if (this.#state !== 'connecting') return;
    this.#abortReason = this.#signal?.reason;
    this.#aborted = true;
    this.#removeAbortListener();
    this.#connection?.abort('the signal aborted the opening handshake');
    this.#state = 'closing';
  }

  #removeAbortListener(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#signal = null;
  }

  #onClosed({ wasClean, code, reason }: ConnectionOutcome): void {
    this.#removeAbortListener();
    this.#state = 'closed';
    const inFlight = this.#inFlight;
    this.#inFlight = null;
    if (inFlight !== null) this.#unsent = true;
    if (wasClean && !this.#unsent) {
      // The messages received before the close frame stay readable.
      const readable = this.#readable;
      if (readable !== null && !this.#readableDone) {
        for (const message of this.#waiting.splice(0)) {
          readable.enqueue(message.type === 'text' ? decodeUtf8(message.data) : ownBytes(message.data));
        }
        readable.close();
      }
      this.#writable?.error(invalidState('The WebSocket is closed.'));
      this.#writerClose?.resolve();
      this.#closed.resolve({ closeCode: code, reason });
      return;
    }
    const error = this.#aborted
      ? this.#abortReason
      : closedError(
          this.#readable === null
            ? 'The WebSocket connection could not be established.'
            : wasClean
              ? 'The WebSocket connection closed with messages not sent.'
              : 'The WebSocket connection was not closed cleanly.',
          code,
          reason,
        );
    this.#waiting = [];
    if (!this.#readableDone) this.#readable?.error(error);
    if (inFlight !== null) this.#failWrite(inFlight);
    else this.#writable?.error(error);
    this.#writerClose?.reject(error);
    this.#opened.reject(error);
    this.#closed.reject(error);
  }
}

/** A write being sent; `failed` once it was rejected. */
interface InFlightWrite {
  resolve(): void;
  reject(reason: unknown): void;
  failed: boolean;
}

/** The writable's queue counts bytes: a string by its length, a buffer by its size. */
function chunkSize(chunk: WebSocketStreamChunk): number {
  if (typeof chunk === 'string') return chunk.length;
  // Anything else is written as text (`String(chunk)`): count it as one byte.
  return typeof (chunk as { byteLength?: unknown }).byteLength === 'number'
    ? (chunk as ArrayBufferView).byteLength
    : 1;
}

/**
 * What a chunk written to the writable sends: a `BufferSource` as a binary
 * message (neither shared nor resizable, as WebIDL's `BufferSource`
 * requires), anything else converted to a string as a text message.
 */
function toOutgoing(chunk: unknown): ['text' | 'binary', Uint8Array] {
  if (ArrayBuffer.isView(chunk)) {
    checkBuffer(chunk.buffer);
    return ['binary', new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)];
  }
  if (isArrayBuffer(chunk)) {
    checkBuffer(chunk);
    return ['binary', new Uint8Array(chunk)];
  }
  // USVString: a Symbol or an object that cannot become a string throws a TypeError.
  if (typeof chunk === 'symbol') throw new TypeError('Cannot convert a Symbol value to a string');
  return ['text', encodeUtf8(String(chunk))];
}

function checkBuffer(buffer: ArrayBufferLike): void {
  // Not `instanceof SharedArrayBuffer`: a page that is not cross-origin
  // isolated has no such global, yet a shared WebAssembly memory gives one.
  if (Object.prototype.toString.call(buffer) === '[object SharedArrayBuffer]') {
    throw new TypeError('The provided ArrayBufferView value must not be shared.');
  }
  if ((buffer as { resizable?: boolean }).resizable === true) {
    throw new TypeError('The provided ArrayBuffer value must not be resizable.');
  }
}

/** The bytes of a binary message in a buffer of their own (a received chunk may hold other frames). */
function ownBytes(data: Uint8Array): Uint8Array {
  const buffer = data.buffer;
  if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength) {
    return data.constructor === Uint8Array ? data : new Uint8Array(buffer);
  }
  return new Uint8Array(data);
}
