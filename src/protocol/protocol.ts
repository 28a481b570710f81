/**
 * Sans-I/O WebSocket connection (RFC 6455), after Python websockets'
 * `protocol.py`.
 *
 * Theory of operation
 * -------------------
 * States (values equal `WebSocket.readyState`):
 *
 * - CONNECTING: the opening handshake is in progress (client: until the
 *   response is read; server: until `sendResponse()`).
 * - OPEN: data frames flow both ways.
 * - CLOSING: a close frame was sent (by `sendClose()`, by `fail()`, or as the
 *   echo of a received close); waiting for the peer's close and/or EOF.
 * - CLOSED: the byte stream ended (`receiveEof()`).
 *
 * The reader decides what incoming bytes mean:
 *
 * - 'handshake': an HTTP request or response (subclasses implement it);
 * - 'frames': WebSocket frames; a server in CONNECTING buffers them until its
 *   101 response is sent;
 * - 'discard': after a close frame or a failure, input is dropped until EOF
 *   (RFC 6455, 1.4 and 7.1.7); at EOF the state becomes CLOSED;
 * - 'done': nothing more is read.
 *
 * Every call that can produce output leaves it in `dataToSend()`; every
 * message, control frame and handshake event goes to `eventsReceived()`.
 * Nothing here performs I/O, reads a clock or starts a timer; a peer's
 * misbehaviour never throws out of `receiveData()`/`receiveEof()`, it fails
 * the connection with the right close code.
 */
import { ByteQueue } from './byte-queue.js';
import { type Close, parseClose, serializeClose, truncateReason } from './close.js';
import { ABNORMAL_CLOSURE, INTERNAL_ERROR, NO_STATUS_RCVD } from './close-code.js';
import {
  ConnectionClosedError,
  InvalidHandshakeError,
  InvalidMessageError,
  InvalidStateError,
  InvalidUtf8Error,
  ProtocolError,
  UnexpectedEofError,
} from './errors.js';
import type { Extension } from './extensions/base.js';
import {
  checkReservedBits,
  type Frame,
  type FrameHeader,
  frame,
  isControl,
  Opcode,
  parseFrame,
  serializeFrame,
  serializeFrameHeader,
} from './frames.js';
import { checkLimit, DEFAULT_PROTOCOL_MAX_MESSAGE_SIZE, MAX_CONTROL_PAYLOAD } from './limits.js';
import { type Logger, type ProtocolLog, preparedLog } from './log-hooks.js';
import { applyMask } from './mask.js';
import { defaultRandom, type RandomSource } from './platform.js';
import { Utf8Validator } from './utf8.js';

/** Connection states; the values equal `WebSocket.readyState`. */
export const State = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;
export type State = (typeof State)[keyof typeof State];

/** Which end of the connection this is. */
export type Side = 'client' | 'server';

/** Returned by `dataToSend()` to say: half-close the byte stream now. */
export const SEND_EOF: unique symbol = Symbol('SEND_EOF');
export type Output = Uint8Array | typeof SEND_EOF;

/** Options shared by clients and servers. */
export interface ProtocolOptions {
  /**
   * Initial state: `OPEN` to run the protocol on an already upgraded stream.
   * @defaultValue `State.OPEN` for `Protocol`, `State.CONNECTING` for clients and servers
   */
  readonly state?: State;
  /**
   * Maximum size of an incoming message in bytes, after decompression;
   * `null` disables the limit.
   * @defaultValue 1 MiB (1048576)
   */
  readonly maxMessageSize?: number | null;
  /**
   * Maximum size of each incoming frame's payload in bytes, checked as soon
   * as the frame header arrives; `null` disables it.
   * @defaultValue `null`
   */
  readonly maxFragmentSize?: number | null;
  /**
   * Source of masking keys. Must be a CSPRNG (RFC 6455, 10.3); tests pass a
   * deterministic one.
   * @defaultValue `crypto.getRandomValues()`, pooled
   */
  readonly random?: RandomSource;
  /**
   * Let the application handle the messages received before a protocol
   * error from the peer before the connection fails. When set, a protocol
   * error found after a complete message that `messagesHandled()` has not
   * acknowledged yet is held: the connection stays as it is (the application
   * can still send, e.g. a reply to that message) and bytes received after
   * it are discarded, until `messagesHandled()` is called; the connection
   * fails then, with the error, as it would have at once.
   *
   * It keeps the order a peer sees the same whether the bytes arrive in one
   * read or byte by byte, and whatever the application's event loop does:
   * the replies to every message before the error, then the close frame.
   * @defaultValue `false`
   */
  readonly holdErrorsBehindMessages?: boolean;
  /**
   * Where to write debug lines: state changes, the handshake heads, frames
   * in summary, failures (see `logging.ts`). `console` will do.
   *
   * Only the public classes (`polysocket/protocol`'s `ClientProtocol`,
   * `ServerProtocol` and `Protocol`) take any `Logger`: they prepare it (a
   * `ProtocolLog`), and this class logs only to a prepared one, so that the
   * WHATWG bundles, built on it, leave the formatting out.
   * @defaultValue `null`: no logging, at no cost
   */
  readonly logger?: Logger | null;
  /**
   * Where a client serializes its frames: returns an array of exactly
   * `size` bytes, which the protocol overwrites entirely and then hands out
   * in `dataToSend()`. A driver that learns when its transport is done with
   * what it wrote can hand out recycled arrays here: a fresh array of a
   * MiB costs more to allocate and fault in than to mask the payload into
   * (measured in Chromium and Node; see polysocket's frame pool). Servers
   * write large payloads without copying them and do not call it.
   * @defaultValue a new array each time (without zero-filling it on Node)
   */
  readonly allocateFrame?: (size: number) => Uint8Array<ArrayBuffer>;
}

type Reader = 'handshake' | 'frames' | 'discard' | 'done';

/** Unmasked payloads at least this large are written as [header, payload] without copying. */
const COPY_THRESHOLD = 16 * 1024;

/**
 * Sans-I/O implementation of a WebSocket connection.
 *
 * Feed bytes with `receiveData()` / `receiveEof()`; then always call
 * `dataToSend()` and write its output, and call `eventsReceived()` and handle
 * its events. Methods never perform I/O, never start timers and, apart from
 * misuse of the API, never throw: a peer's error fails the connection.
 *
 * @typeParam HandshakeEvent - `Response` for clients, `Request` for servers.
 */
export class Protocol<HandshakeEvent = never> {
  /** Which end of the connection this is. */
  readonly side: Side;

  readonly #maxMessageSize: number | null;
  readonly #maxFragmentSize: number | null;
  readonly #random: RandomSource;
  readonly #allocateFrame: ((size: number) => Uint8Array<ArrayBuffer>) | undefined;
  readonly #maskKey = new Uint8Array(4);
  /** `undefined` unless logging: every use is `this.#log?.method(...)`, which then evaluates nothing. */
  readonly #log: ProtocolLog | undefined;

  #state: State;
  #reader: Reader;
  readonly #queue = new ByteQueue();
  #eofReceived = false;
  #eofSent = false;
  #events: Array<HandshakeEvent | Frame> = [];
  #writes: Output[] = [];
  /**
   * Where in `#writes` the pongs answering pings are; and where they were in
   * what the last `dataToSend()` returned. (Indexes, not a set of arrays:
   * hashing a million typed arrays of a ping flood doubled its cost.)
   */
  #pongs: number[] = [];
  #pongsTaken: number[] = [];
  #extensions: readonly Extension[] = [];
  /** Size of the fragmented message being received; `null` between messages. */
  #currentSize: number | null = null;
  /** Validates the text message being received; `null` otherwise. */
  #utf8: Utf8Validator | null = null;
  /**
   * The text frame at the front of the queue, not complete yet: what of its
   * payload was validated as it arrived, and the validator's state there.
   */
  #early: { readonly validator: Utf8Validator; checked: number } | null = null;
  /** Whether a fragmented message is being sent. */
  #expectContinuation = false;
  #closeRcvd: Close | null = null;
  #closeSent: Close | null = null;
  #closeRcvdThenSent: boolean | null = null;
  #parserError: Error | null = null;
  #handshakeError: InvalidHandshakeError | null = null;
  readonly #holdErrors: boolean;
  /** A complete message was received since the last `messagesHandled()` (with `holdErrorsBehindMessages`). */
  #messagesPending = false;
  /** The protocol error held until `messagesHandled()`; `null` if none is. */
  #heldError: ProtocolError | null = null;

  /**
   * @throws RangeError if a limit is not a non-negative integer or `null`.
   */
  constructor(side: Side, options: ProtocolOptions = {}) {
    checkLimit('maxMessageSize', options.maxMessageSize);
    checkLimit('maxFragmentSize', options.maxFragmentSize);
    this.side = side;
    this.#state = options.state ?? State.OPEN;
    this.#reader = this.#state === State.CONNECTING ? 'handshake' : 'frames';
    this.#maxMessageSize =
      options.maxMessageSize === undefined ? DEFAULT_PROTOCOL_MAX_MESSAGE_SIZE : options.maxMessageSize;
    this.#maxFragmentSize = options.maxFragmentSize ?? null;
    this.#random = options.random ?? defaultRandom;
    this.#allocateFrame = options.allocateFrame;
    this.#holdErrors = options.holdErrorsBehindMessages ?? false;
    this.#log = preparedLog(options.logger);
    this.#log?.state(this.#state);
  }

  /** Connection state; the values equal `WebSocket.readyState`. */
  get state(): State {
    return this.#state;
  }

  /** Extensions negotiated in the opening handshake, in order. */
  get extensions(): readonly Extension[] {
    return this.#extensions;
  }

  /** Close frame received from the peer, once there is one. */
  get closeRcvd(): Close | null {
    return this.#closeRcvd;
  }

  /** Close frame sent to the peer, once there is one. */
  get closeSent(): Close | null {
    return this.#closeSent;
  }

  /** Whether the peer's close frame came first; `null` until both were exchanged. */
  get closeRcvdThenSent(): boolean | null {
    return this.#closeRcvdThenSent;
  }

  /**
   * The WebSocket connection close code (RFC 6455, 7.1.5): the code of the
   * close frame received, 1005 if it had none, 1006 if none was received.
   * `null` until the state is CLOSED.
   */
  get closeCode(): number | null {
    if (this.#state !== State.CLOSED) return null;
    return this.#closeRcvd === null ? ABNORMAL_CLOSURE : this.#closeRcvd.code;
  }

  /** The WebSocket connection close reason (RFC 6455, 7.1.6); `null` until CLOSED. */
  get closeReason(): string | null {
    if (this.#state !== State.CLOSED) return null;
    return this.#closeRcvd === null ? '' : this.#closeRcvd.reason;
  }

  /** Why the connection closed, once CLOSED; `ok` tells a normal closure. */
  get closeError(): ConnectionClosedError | null {
    if (this.#state !== State.CLOSED) return null;
    return new ConnectionClosedError(this.#closeRcvd, this.#closeSent, this.#closeRcvdThenSent);
  }

  /** Error that made the parser fail the connection, if any. */
  get parserError(): Error | null {
    return this.#parserError;
  }

  /** Error that made the opening handshake fail, if any. */
  get handshakeError(): InvalidHandshakeError | null {
    return this.#handshakeError;
  }

  // -------------------------------------------------------------------------
  // Public API: receiving

  /**
   * Receive bytes from the network. Takes ownership of `data`: don't reuse
   * or mutate it afterwards (payloads are unmasked in place).
   *
   * Afterwards you must call `dataToSend()` and write the result, and you
   * should call `eventsReceived()` and process the result.
   *
   * @throws {@link InvalidStateError} if called after `receiveEof()`, or
   *   when the array from `receiveBuffer()` was detached and `data` is not
   *   the view of its buffer that the read returned (see there).
   */
  receiveData(data: Uint8Array): void {
    if (this.#eofReceived) throw new InvalidStateError('receiveData() after receiveEof()');
    // Behind a held error nothing more is parsed (7.1.7): drop it now
    // rather than buffer what a peer keeps sending.
    if (this.#heldError !== null) return;
    this.#queue.push(data);
    this.#run();
  }

  /**
   * Where the next bytes from the network may be read directly, or `null`:
   * the unfilled rest of a large frame's payload being assembled. Read into
   * it (a socket read into a caller-supplied buffer) and pass what was read
   * to `receiveData()` as a view of it, `data.subarray(0, count)`: its bytes
   * are then not copied at all. Call `receiveData()` for those bytes before
   * anything else and before asking again; bytes read into an array returned
   * earlier are still received correctly, only copied. The role of asyncio's
   * `BufferedProtocol.get_buffer()`.
   *
   * A read may transfer the array's buffer instead, as a BYOB read of a
   * byte stream does (`ReadableStreamBYOBReader.read(view)` detaches `view`
   * and fulfils with a view of the same memory in a new buffer): pass the
   * view the read returned to `receiveData()` and the protocol adopts that
   * buffer. Call nothing else on the protocol that receives (`receiveData()`,
   * `receiveEof()`) while such a read is pending; sending and `fail()` are
   * fine.
   */
  receiveBuffer(): Uint8Array | null {
    if (this.#reader !== 'frames' || this.#heldError !== null || this.#eofReceived) return null;
    return this.#queue.fillTarget();
  }

  /**
   * Receive the end of the byte stream. Idempotent.
   *
   * Afterwards `dataToSend()` ends the output stream (`SEND_EOF`) unless it
   * ended already, and the state is CLOSED.
   */
  receiveEof(): void {
    if (this.#eofReceived) return;
    this.#log?.eof('<');
    this.#eofReceived = true;
    this.#run();
  }

  /**
   * The application handled every message in the events received so far
   * (with `holdErrorsBehindMessages`): a protocol error held behind them
   * fails the connection now. Call it, then `dataToSend()` and
   * `eventsReceived()` as after `receiveData()`. Also call it when the
   * application can no longer reach the peer (the byte stream is gone).
   */
  messagesHandled(): void {
    this.#messagesPending = false;
    const held = this.#heldError;
    if (held === null) return;
    this.#heldError = null;
    this.#handleError(held);
  }

  /** Whether a protocol error is held until `messagesHandled()` (see `holdErrorsBehindMessages`). */
  get holdingError(): boolean {
    return this.#heldError !== null;
  }

  /** Events parsed since the last call, each returned once: the handshake event, then frames. */
  eventsReceived(): Array<HandshakeEvent | Frame> {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  /**
   * Bytes to write since the last call, in order; `SEND_EOF` means
   * half-close the byte stream (it is always last).
   */
  dataToSend(): Output[] {
    const writes = this.#writes;
    this.#writes = [];
    if (this.#pongs.length > 0 || this.#pongsTaken.length > 0) {
      this.#pongsTaken = this.#pongs;
      this.#pongs = [];
    }
    return writes;
  }

  /**
   * Where, in what the last `dataToSend()` returned, the pongs are that this
   * endpoint sent on its own in answer to pings (RFC 6455, 5.5.2): indexes,
   * in increasing order. A driver may hold such pongs back while earlier
   * ones are not written yet and send only the latest (5.5.3: "If an
   * endpoint receives a Ping frame and has not yet sent Pong frame(s) in
   * response to previous Ping frame(s), the endpoint MAY elect to send a
   * Pong frame for only the most recently processed Ping frame."), so that a
   * peer flooding pings without reading cannot make them pile up.
   */
  automaticPongs(): readonly number[] {
    return this.#pongsTaken;
  }

  /**
   * Whether the peer is expected to close the byte stream: the integration
   * should then close it itself after a timeout if it doesn't.
   */
  closeExpected(): boolean {
    return this.#reader === 'discard' || this.#state === State.CLOSING;
  }

  // -------------------------------------------------------------------------
  // Public API: sending. Payloads are Uint8Array; text is already UTF-8. A
  // client masks while copying; a server may keep a reference to a large
  // payload until `dataToSend()` returns it, so don't mutate it before then.

  /**
   * Send a continuation frame (RFC 6455, 5.4).
   *
   * @throws {@link ProtocolError} if no fragmented message is in progress.
   * @throws {@link InvalidStateError} if the connection isn't open.
   */
  sendContinuation(data: Uint8Array, fin: boolean): void {
    if (!this.#expectContinuation) throw new ProtocolError('unexpected continuation frame');
    this.#checkOpen();
    this.#expectContinuation = !fin;
    this.#sendFrame(frame(Opcode.CONT, data, fin));
  }

  /**
   * Send a text frame (RFC 6455, 5.6).
   *
   * @param data - UTF-8 encoded payload.
   * @param fin - `false` for the first frame of a fragmented message.
   * @throws {@link ProtocolError} if a fragmented message is in progress.
   * @throws {@link InvalidStateError} if the connection isn't open.
   */
  sendText(data: Uint8Array, fin = true): void {
    if (this.#expectContinuation) throw new ProtocolError('expected a continuation frame');
    this.#checkOpen();
    this.#expectContinuation = !fin;
    this.#sendFrame(frame(Opcode.TEXT, data, fin));
  }

  /**
   * Send a binary frame (RFC 6455, 5.6).
   *
   * @param fin - `false` for the first frame of a fragmented message.
   * @throws {@link ProtocolError} if a fragmented message is in progress.
   * @throws {@link InvalidStateError} if the connection isn't open.
   */
  sendBinary(data: Uint8Array, fin = true): void {
    if (this.#expectContinuation) throw new ProtocolError('expected a continuation frame');
    this.#checkOpen();
    this.#expectContinuation = !fin;
    this.#sendFrame(frame(Opcode.BINARY, data, fin));
  }

  /**
   * Start the closing handshake: send a close frame (RFC 6455, 5.5.1).
   * Control frames may interrupt a fragmented message, so this is allowed
   * while one is being sent.
   *
   * @param code - Close code; omit it to send a close frame without a body.
   * @param reason - At most 123 bytes of UTF-8; needs a code.
   * @throws {@link ProtocolError} if the code may not be sent, the reason is
   *   too long, or a reason is given without a code.
   * @throws {@link InvalidStateError} if the connection isn't open.
   */
  sendClose(code?: number, reason = ''): void {
    this.#checkOpen();
    let data: Uint8Array;
    let close: Close;
    if (code === undefined) {
      if (reason !== '') throw new ProtocolError('cannot send a reason without a code');
      close = { code: NO_STATUS_RCVD, reason: '' };
      data = new Uint8Array(0);
    } else {
      close = { code, reason };
      data = serializeClose(close);
    }
    this.#sendFrame(frame(Opcode.CLOSE, data));
    this.#closeSent = close;
    this.#setState(State.CLOSING);
  }

  /**
   * Send a ping frame (RFC 6455, 5.5.2).
   *
   * @throws {@link ProtocolError} if `data` is longer than 125 bytes.
   * @throws {@link InvalidStateError} unless the connection is open, or
   *   closing without having received the peer's close frame.
   */
  sendPing(data: Uint8Array = new Uint8Array(0)): void {
    this.#checkControl(data);
    this.#sendFrame(frame(Opcode.PING, data));
  }

  /**
   * Send a pong frame (RFC 6455, 5.5.3); pings are answered automatically.
   *
   * @throws {@link ProtocolError} if `data` is longer than 125 bytes.
   * @throws {@link InvalidStateError} as for `sendPing()`.
   */
  sendPong(data: Uint8Array = new Uint8Array(0)): void {
    this.#checkControl(data);
    this.#sendFrame(frame(Opcode.PONG, data));
  }

  /**
   * Fail the WebSocket connection (RFC 6455, 7.1.7): send a close frame
   * with `code` unless one was sent already or `code` is 1006, half-close
   * if this is a server, and discard all further input.
   *
   * @param reason - Truncated to 123 bytes of UTF-8 on a code-point boundary.
   */
  fail(code: number, reason = ''): void {
    this.#log?.failing(code, reason);
    // 7.1.7: "If _The WebSocket Connection is Established_ prior to the point
    // where the endpoint is required to _Fail the WebSocket Connection_, the
    // endpoint SHOULD send a Close frame with an appropriate status code
    // (Section 7.4) before proceeding to _Close the WebSocket Connection_."
    if (this.#state === State.OPEN) {
      if (code !== ABNORMAL_CLOSURE) {
        const close = { code, reason: truncateReason(reason) };
        this.#sendFrame(frame(Opcode.CLOSE, serializeClose(close)));
        this.#closeSent = close;
      }
      this.#setState(State.CLOSING);
    }
    // 7.1.1: "the server MUST close the underlying TCP connection" first; a
    // client waits for the server (it half-closes when it sees EOF).
    if (this.side === 'server' && !this.#eofSent) this.#sendEof();
    // 7.1.7: "An endpoint MUST NOT continue to attempt to process data
    // (including a responding Close frame) from the remote endpoint after
    // being instructed to _Fail the WebSocket Connection_."
    this.#startDiscarding();
  }

  // -------------------------------------------------------------------------
  // For subclasses

  /**
   * Parse the opening handshake from `queue`. Return `true` when the reader
   * changed (call `openConnection()`/`failHandshake()`/`startFrames()`) and
   * `false` when more data is needed. May throw an
   * {@link InvalidHandshakeError} or {@link InvalidMessageError}: the
   * handshake then fails.
   */
  protected readHandshake(_queue: ByteQueue, _eof: boolean): boolean {
    throw new InvalidStateError('no opening handshake expected');
  }

  /** Deliver the handshake request or response. */
  protected pushEvent(event: HandshakeEvent): void {
    this.#events.push(event);
  }

  /** Queue bytes to send (the handshake request or response). */
  protected pushWrite(data: Uint8Array): void {
    this.#writes.push(data);
  }

  /** The handshake succeeded: the connection is OPEN with `extensions`. */
  protected openConnection(extensions: readonly Extension[]): void {
    this.#extensions = extensions;
    this.#setState(State.OPEN);
    this.#reader = 'frames';
  }

  /**
   * Parse what is buffered (a server calls this once its 101 response is
   * sent); or, given `error`, fail the connection with it instead, as if
   * parsing had thrown it (it becomes `parserError`).
   */
  protected resumeReading(error: ProtocolError | null = null): void {
    if (error === null) this.#run();
    else this.#handleError(error);
  }

  /**
   * Called with the buffered input while a server that read its request
   * has not sent its response yet: what the client sent meanwhile is kept
   * until `resumeReading()`, and the subclass may bound it.
   */
  protected holdEarlyData(_queue: ByteQueue): void {}

  /** Read frames from now on (a server that read its request buffers them until it opens). */
  protected startFrames(): void {
    this.#reader = 'frames';
  }

  /** The handshake failed: record why, half-close, and discard input until EOF. */
  protected failHandshake(error: InvalidHandshakeError): void {
    this.#log?.handshakeError(error);
    this.#handshakeError ??= error;
    if (!this.#eofSent) this.#sendEof();
    this.#startDiscarding();
  }

  /** Record `error` as the handshake error without failing (the server's `accept()`). */
  protected setHandshakeError(error: InvalidHandshakeError | null): void {
    this.#handshakeError = error;
  }

  /** Where subclasses log the handshake; `undefined` unless logging. */
  protected get log(): ProtocolLog | undefined {
    return this.#log;
  }

  // -------------------------------------------------------------------------
  // Internals

  #checkOpen(): void {
    if (this.#state !== State.OPEN) throw new InvalidStateError(`connection is ${stateName(this.#state)}`);
  }

  #checkControl(data: Uint8Array): void {
    if (data.byteLength > MAX_CONTROL_PAYLOAD) throw new ProtocolError('control frame too long');
    const closing = this.#state === State.CLOSING && this.#closeRcvd === null && this.#reader === 'frames';
    if (this.#state !== State.OPEN && !closing) {
      throw new InvalidStateError(`connection is ${stateName(this.#state)}`);
    }
  }

  #setState(state: State): void {
    this.#state = state;
    this.#log?.state(state);
  }

  #startDiscarding(): void {
    if (this.#reader === 'done') return;
    this.#reader = 'discard';
    this.#read();
  }

  /** Run the reader until it needs more data. Never throws. */
  #run(): void {
    if (this.#heldError !== null) return;
    try {
      this.#read();
    } catch (error) {
      if (this.#messagesPending && error instanceof ProtocolError && this.#reader === 'frames') {
        // See `holdErrorsBehindMessages`: the messages before it go first.
        this.#heldError = error;
        this.#queue.clear();
        return;
      }
      this.#handleError(error);
    }
  }

  #handleError(error: unknown): void {
    if (this.#reader === 'handshake') {
      const handshakeError =
        error instanceof InvalidHandshakeError
          ? error
          : new InvalidMessageError('invalid opening handshake', { cause: error });
      this.#parserError = handshakeError;
      this.failHandshake(handshakeError);
      return;
    }
    this.#parserError = error instanceof Error ? error : new Error(String(error));
    if (error instanceof ProtocolError) {
      this.fail(error.closeCode, error.message);
    } else if (error instanceof UnexpectedEofError) {
      this.fail(ABNORMAL_CLOSURE, error.message);
    } else {
      // Don't leak details of unexpected errors to the peer.
      this.#log?.internalError(error);
      this.fail(INTERNAL_ERROR);
    }
  }

  #read(): void {
    for (;;) {
      switch (this.#reader) {
        case 'handshake':
          if (!this.readHandshake(this.#queue, this.#eofReceived)) return;
          break;
        case 'frames': {
          // A server reads frames only once its 101 response is sent; until
          // then it keeps what an eager client sent, up to a limit.
          if (this.#state === State.CONNECTING) {
            this.holdEarlyData(this.#queue);
            return;
          }
          const parsed = parseFrame(this.#queue, {
            mask: this.side === 'server',
            maxSize: this.#maxFrameSize(),
            // A compressed payload is text only once inflated: no early check with extensions.
            incomplete: this.#extensions.length === 0 ? this.#checkIncompleteText : undefined,
          });
          if (parsed === null) {
            // 7.1.5/7.1.6: EOF without a close frame is an abnormal closure.
            if (this.#eofReceived) throw new UnexpectedEofError('unexpected end of stream');
            return;
          }
          this.#recvFrame(this.#decode(parsed));
          break;
        }
        case 'discard':
          this.#queue.clear();
          if (!this.#eofReceived) return;
          // A client half-closes only once the server has closed its side.
          if (!this.#eofSent) this.#sendEof();
          this.#setState(State.CLOSED);
          this.#reader = 'done';
          return;
        case 'done':
          this.#queue.clear();
          return;
      }
    }
  }

  #decode(parsed: Frame): Frame {
    let decoded = parsed;
    if (!isControl(parsed.opcode)) {
      const extensions = this.#extensions;
      const budget = this.#messageBudget();
      for (let i = extensions.length - 1; i >= 0; i--) decoded = extensions[i]!.decode(decoded, budget);
    }
    checkReservedBits(decoded);
    return decoded;
  }

  #recvFrame(received: Frame): void {
    this.#log?.frame('<', received);
    switch (received.opcode) {
      case Opcode.TEXT:
      case Opcode.BINARY:
        // 5.4: fragments of one message are not interleaved with another's.
        if (this.#currentSize !== null) throw new ProtocolError('expected a continuation frame');
        this.#currentSize = received.fin ? null : received.data.byteLength;
        if (received.opcode === Opcode.TEXT) {
          this.#utf8 = new Utf8Validator();
          this.#checkUtf8(received);
        }
        if (received.fin) this.#messagesPending = this.#holdErrors;
        break;
      case Opcode.CONT:
        if (this.#currentSize === null) throw new ProtocolError('unexpected continuation frame');
        this.#currentSize = received.fin ? null : this.#currentSize + received.data.byteLength;
        this.#checkUtf8(received);
        if (received.fin) this.#messagesPending = this.#holdErrors;
        break;
      case Opcode.PING:
        // 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong
        // frame in response, unless it already received a Close frame."
        this.#sendFrame(frame(Opcode.PONG, received.data));
        // A pong is one item of output (125 bytes of payload at most).
        this.#pongs.push(this.#writes.length - 1);
        break;
      case Opcode.PONG:
        // 5.5.3: "A response to an unsolicited Pong frame is not expected."
        break;
      case Opcode.CLOSE:
        this.#recvClose(received);
        break;
    }
    this.#events.push(received);
  }

  #recvClose(received: Frame): void {
    // 7.1.5: "the first Close control frame received"
    this.#closeRcvd = parseClose(received.data);
    if (this.#state === State.CLOSING) this.#closeRcvdThenSent = false;
    // 5.4: "Control frames MAY be injected in the middle of a fragmented
    // message": a close abandons the message being received.
    this.#currentSize = null;
    this.#utf8 = null;
    if (this.#state === State.OPEN) {
      // 5.5.1: "If an endpoint receives a Close frame and did not previously
      // send a Close frame, the endpoint MUST send a Close frame in response.
      // (When sending a Close frame in response, the endpoint typically echos
      // the status code it received.)" Echo the payload as received:
      // re-serializing fails for an empty payload (code 1005).
      this.#sendFrame(frame(Opcode.CLOSE, received.data));
      this.#closeSent = this.#closeRcvd;
      this.#closeRcvdThenSent = true;
      this.#setState(State.CLOSING);
    }
    // 7.1.1: "the server MUST close the underlying TCP connection first"
    if (this.side === 'server' && !this.#eofSent) this.#sendEof();
    // 1.4: "after receiving a control frame indicating the connection should
    // be closed, a peer discards any further data received."
    this.#reader = 'discard';
  }

  #sendFrame(outgoing: Frame): void {
    this.#log?.frame('>', outgoing);
    let encoded = outgoing;
    if (!isControl(outgoing.opcode)) {
      for (const extension of this.#extensions) encoded = extension.encode(encoded);
    }
    if (this.side === 'client') {
      // 5.3: "The masking key is a 32-bit value chosen at random by the
      // client. When preparing a masked frame, the client MUST pick a fresh
      // masking key from the set of allowed 32-bit values."
      this.#random(this.#maskKey);
      this.#writes.push(serializeFrame(encoded, this.#maskKey, this.#allocateFrame));
    } else if (encoded.data.byteLength >= COPY_THRESHOLD) {
      this.#writes.push(serializeFrameHeader(encoded), encoded.data);
    } else {
      this.#writes.push(serializeFrame(encoded, null));
    }
  }

  #sendEof(): void {
    this.#log?.eof('>');
    this.#eofSent = true;
    this.#writes.push(SEND_EOF);
  }

  /** What remains of the message size limit for the message being received. */
  #messageBudget(): number | null {
    return this.#maxMessageSize === null ? null : this.#maxMessageSize - (this.#currentSize ?? 0);
  }

  /** Largest payload the next frame may carry on the wire. */
  #maxFrameSize(): number | null {
    let budget = this.#messageBudget();
    // With extensions, the limit applies to decoded data and extensions
    // enforce it while decoding; the wire size only guards buffering. An
    // incompressible message exactly at the limit is a little larger
    // compressed (DEFLATE stored blocks add 5 bytes per 65535), so allow
    // that much slack here rather than fail a valid message with 1009.
    if (budget !== null && this.#extensions.length > 0) budget += (budget >>> 10) + 1024;
    if (this.#maxFragmentSize === null) return budget;
    return budget === null ? this.#maxFragmentSize : Math.min(budget, this.#maxFragmentSize);
  }

  /**
   * Validate the UTF-8 of a text frame as its payload arrives, before the
   * frame is complete, so that a peer sending invalid text in a large frame
   * is failed when the invalid bytes arrive rather than once the whole frame
   * has. 8.1: "When an endpoint is to interpret a byte stream as UTF-8 but
   * finds that the byte stream is not, in fact, a valid UTF-8 stream, that
   * endpoint MUST _Fail the WebSocket Connection_." Called by `parseFrame()`
   * with the header of a frame whose payload is incomplete.
   */
  readonly #checkIncompleteText = (header: FrameHeader): void => {
    // Reserved bits fail the frame once it is complete, whatever its payload.
    if (header.reserved) return;
    const queue = this.#queue;
    let early = this.#early;
    if (early === null) {
      let validator: Utf8Validator;
      if (header.opcode === Opcode.TEXT && this.#currentSize === null) validator = new Utf8Validator();
      else if (header.opcode === Opcode.CONT && this.#utf8 !== null) validator = this.#utf8.copy();
      else return;
      early = this.#early = { validator, checked: 0 };
    }
    const buffered = Math.min(queue.length - header.payloadOffset, header.length);
    if (buffered <= early.checked) return;
    const { validator } = early;
    let offset = early.checked;
    let valid = true;
    if (header.masked) {
      const start = header.payloadOffset - 4;
      queue.views(header.payloadOffset + offset, buffered - offset, (view) => {
        for (let i = 0; i < 4; i++) EARLY_KEY[i] = queue.peek(start + ((offset + i) & 3));
        // A copy: the queue's bytes are unmasked in place once the frame is
        // complete. (Not view.slice(): on a Node Buffer that is a view.)
        const unmasked = new Uint8Array(view);
        applyMask(unmasked, EARLY_KEY);
        offset += view.byteLength;
        valid = validator.update(unmasked);
        return valid;
      });
    } else {
      queue.views(header.payloadOffset + offset, buffered - offset, (view) => {
        valid = validator.update(view);
        return valid;
      });
    }
    if (!valid) throw new InvalidUtf8Error('invalid UTF-8 in text message');
    early.checked = buffered;
  };

  #checkUtf8(received: Frame): void {
    let utf8 = this.#utf8;
    if (utf8 === null) return;
    let data = received.data;
    const early = this.#early;
    if (early !== null) {
      // Its start was validated as it arrived: go on from there.
      this.#early = null;
      utf8 = this.#utf8 = early.validator;
      data = data.subarray(early.checked);
    }
    if (!utf8.update(data) || (received.fin && !utf8.end())) {
      throw new InvalidUtf8Error('invalid UTF-8 in text message');
    }
    if (received.fin) this.#utf8 = null;
  }
}

/** A masking key, rotated as the payload's offset requires (5.3: octet i uses key octet i MOD 4). */
const EARLY_KEY = new Uint8Array(4);

function stateName(state: State): string {
  return (['connecting', 'open', 'closing', 'closed'] as const)[state];
}
