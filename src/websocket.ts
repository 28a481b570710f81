/**
 * The WHATWG `WebSocket` interface (https://websockets.spec.whatwg.org/),
 * running the Sans-I/O RFC 6455 core over a pluggable byte transport.
 *
 * Theory of operation
 * -------------------
 * The class drives a `ClientProtocol` (the "driver" of the Sans-I/O
 * integration rules) and a `Transport`:
 *
 * - transport events feed the protocol (`receiveData`/`receiveEof`), paced
 *   by dispatch: chunks that arrive while messages wait for their tasks are
 *   parsed once those are dispatched (`#onTransportData`, `#feed`); after
 *   each feed, `#pump()` runs the three driver steps in order: take `dataToSend()`
 *   (written first, so automatic replies leave before user code runs), arm
 *   the close timer if `closeExpected()`, then handle `eventsReceived()`;
 * - frames produced in one turn of the event loop are coalesced into one
 *   `transport.write()` by a microtask (`#flush()`), in order; `SEND_EOF`
 *   becomes `transport.end()`;
 * - user-visible state changes and events happen in tasks, in order: open,
 *   each message, the start of the closing handshake, then error and close.
 *   Each runs in a task of its own (`scheduleTask()`), as in browsers, so a
 *   microtask queued by one handler runs before the next event.
 *
 * `readyState` is therefore this object's own field, not the protocol's
 * state: it changes in those tasks, and synchronously in `close()`.
 */
import { CloseEvent } from './events.js';
import { createErrorEvent, WebSocketConnectionError, type WebSocketFailureKind } from './failure.js';
import { type Message, MessageAssembler, messageData } from './message.js';
import { BaseClientProtocol, type ClientProtocolOptions } from './protocol/base-client.js';
import { ABNORMAL_CLOSURE, INTERNAL_ERROR, NORMAL_CLOSURE } from './protocol/close-code.js';
import { InvalidHandshakeError, UnexpectedEofError } from './protocol/errors.js';
import type { ClientExtensionFactory } from './protocol/extensions/base.js';
import type { ClientPerMessageDeflateOptions } from './protocol/extensions/permessage-deflate.js';
import { type Frame, Opcode } from './protocol/frames.js';
import { isToken } from './protocol/headers.js';
import type { Response } from './protocol/http11.js';
import { MAX_CLOSE_REASON } from './protocol/limits.js';
import { concat, decodeUtf8, encodeUtf8 } from './protocol/platform.js';
import { SEND_EOF, State } from './protocol/protocol.js';
import { redactUserInfo, type WebSocketUri } from './protocol/uri.js';
import { scheduleTask } from './task.js';
import {
  type Transport,
  type TransportFactory,
  type TransportTarget,
  toError,
} from './transports/transport.js';

/** What `binaryType` may be. */
export type BinaryType = 'blob' | 'arraybuffer';

/**
 * Non-standard options: the third argument of the constructor.
 */
export interface WebSocketOptions {
  /**
   * The byte stream to run over: a transport that hasn't opened yet, or a
   * factory called with the URL's host, port and scheme.
   * @defaultValue the entry point's default (Node: TCP/TLS; browser entry: none)
   */
  readonly transport?: Transport | TransportFactory;
  /** Extra request headers (not the ones the handshake sets). @defaultValue none */
  readonly headers?: ClientProtocolOptions['headers'];
  /** Value of the `Origin` header; `null` sends none. @defaultValue `null` */
  readonly origin?: string | null;
  /** Value of the `User-Agent` header; `null` sends none. @defaultValue `null` */
  readonly userAgent?: string | null;
  /**
   * Extensions to offer, in order; replaces what `compression` would offer.
   * @defaultValue permessage-deflate with the `polysocket` and `polysocket/node` entries; none with `polysocket/lite`
   */
  readonly extensions?: readonly ClientExtensionFactory[];
  /**
   * Offer permessage-deflate (RFC 7692), as browsers do: `true` with default
   * settings, an object to tune it, `false` not to offer it. Handled by the
   * `polysocket` and `polysocket/node` entries; `polysocket/lite` leaves the
   * compressor out of the bundle and refuses `compression` other than `false`.
   * @defaultValue `true`
   */
  readonly compression?: boolean | ClientPerMessageDeflateOptions;
  /**
   * Largest incoming message in bytes (after decompression); a larger one
   * fails the connection with 1009. `null` disables the limit.
   * @defaultValue 128 MiB, as undici's `maxPayloadSize`
   */
  readonly maxMessageSize?: number | null;
  /**
   * Time allowed for connecting and the opening handshake; then the
   * connection fails (error, then close with 1006). `null` waits forever.
   * @defaultValue 30000
   */
  readonly openTimeoutMs?: number | null;
  /**
   * Time allowed for the peer to close the byte stream once a close frame
   * was sent or the connection failed; then it is closed. `null` waits forever.
   * @defaultValue 10000, as Python websockets' `close_timeout`
   */
  readonly closeTimeoutMs?: number | null;
  /** Send a keepalive ping at this interval; `null` disables keepalive. @defaultValue `null` */
  readonly pingIntervalMs?: number | null;
  /**
   * Time allowed for the pong answering a keepalive ping; then the connection
   * fails with 1011. `null` waits forever.
   * @defaultValue 20000, as Python websockets' `ping_timeout`
   */
  readonly pongTimeoutMs?: number | null;
}

/** @defaultValue of {@link WebSocketOptions.maxMessageSize}: 128 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 128 * 2 ** 20;
const DEFAULT_OPEN_TIMEOUT_MS = 30_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
const DEFAULT_PONG_TIMEOUT_MS = 20_000;
/**
 * Reading pauses while more than this many bytes of received messages wait
 * for their event (and resumes below half of it): a fast peer cannot make
 * us hold more than about this much on top of the message being received.
 */
const READ_PAUSE_BYTES = 4 * 2 ** 20;
/**
 * Most bytes given to the protocol at once while parsing is paced by message
 * dispatch (see `#onTransportData`): what one socket read returns on Node.
 * It bounds how many messages wait for their tasks at any time.
 */
const FEED_LIMIT = 64 * 1024;
/**
 * Chunks are parsed as they arrive while fewer messages than this wait for
 * their tasks, and wait unparsed otherwise (see `#onTransportData`). Large
 * messages thus never wait behind the pacing (which would stall reading),
 * and no more than about this many plus one chunk's worth of small messages
 * are ever queued.
 */
const FEED_PENDING_LIMIT = 256;
/**
 * Schedules a microtask: cheaper than `queueMicrotask()` on Node, which
 * wraps every callback in an async resource.
 */
const resolved = Promise.resolve();
/** Frames this large are written by themselves rather than copied into a coalesced chunk. */
const COALESCE_LIMIT = 16 * 1024;
/**
 * Small frames are coalesced into writes of about this size, each written
 * as soon as it is full. Coalescing as they are staged rather than all at
 * once at the end of the turn keeps a burst of sends (say 50,000 1 KiB
 * messages in one turn) from being held twice, as frames and as their
 * concatenation: measured, 162 MiB of RSS growth against `ws`'s 103 MiB
 * before the bound.
 */
const RUN_LIMIT = 64 * 1024;
/**
 * Most bytes of automatic pongs written and not yet accepted by the
 * transport. A peer that floods pings and doesn't read would otherwise make
 * pongs pile up without bound; beyond this, only the pong answering the
 * latest ping is kept, and written once earlier pongs are accepted (RFC
 * 6455, 5.5.3: "If an endpoint receives a Ping frame and has not yet sent
 * Pong frame(s) in response to previous Ping frame(s), the endpoint MAY
 * elect to send a Pong frame for only the most recently processed Ping
 * frame.") A keepalive ping at a time never comes near it.
 */
const PONG_BACKLOG_LIMIT = 64 * 1024;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
type ReadyState = typeof CONNECTING | typeof OPEN | typeof CLOSING | typeof CLOSED;

/**
 * The standard public members of {@link WebSocket}: what `this` is in an
 * event handler. (Without the private fields and the non-standard
 * `failure`, so that lib.dom's `WebSocket` is one too.)
 */
export type WebSocketInstance = Pick<WebSocket, Exclude<keyof WebSocket, 'failure'>>;

// biome-ignore lint/suspicious/noExplicitAny: lib.dom types handlers as returning any
type Handler<E extends Event> = ((this: WebSocketInstance, ev: E) => any) | null;

interface HandlerSlot {
  handler: (this: WebSocketInstance, ev: Event) => unknown;
  readonly listener: (ev: Event) => void;
}

/** A `send()` waiting behind a `Blob` being read, to keep messages in order. */
interface Outgoing {
  readonly type: 'text' | 'binary';
  readonly size: number;
  bytes: Uint8Array | null;
}

/**
 * WHATWG `WebSocket` (https://websockets.spec.whatwg.org/#the-websocket-interface)
 * running RFC 6455 in JavaScript over a pluggable byte transport.
 */
export class WebSocket extends EventTarget {
  // Defined, read-only, on the constructor and the prototype after the class (`defineReadyStates`).
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  readonly #url: URL;
  readonly #origin: string;
  readonly #protocols: readonly string[];
  readonly #protocol: BaseClientProtocol;
  readonly #transport: Transport;
  readonly #assembler = new MessageAssembler();
  readonly #closeTimeoutMs: number | null;
  readonly #pingIntervalMs: number | null;
  readonly #pongTimeoutMs: number | null;
  readonly #listeners: {
    readonly open: () => void;
    readonly data: (chunk: Uint8Array) => void;
    readonly end: () => void;
    readonly close: (error?: Error) => void;
  };
  readonly #handlers = new Map<string, HandlerSlot>();

  #readyState: ReadyState = CONNECTING;
  #subprotocol = '';
  #extensions = '';
  #binaryType: BinaryType = 'blob';
  #bufferedAmount = 0;
  /** "The user agent was required to fail the WebSocket connection." */
  #failed = false;
  /** Why it failed: the first reason recorded wins (see `failure`). */
  #failure: WebSocketConnectionError | null = null;
  /**
   * The opening handshake succeeded ("the WebSocket connection is
   * established"). From then on, losing the connection (EOF or a transport
   * error, anywhere in a frame) is not a failure: close 1006 without error,
   * as in Chromium. Only protocol errors fail it.
   */
  #established = false;
  #destroyed = false;
  #transportClosed = false;
  #eofReceived = false;
  /**
   * The writes of the next flush, in order: coalesced runs of small frames,
   * large frames, `SEND_EOF` last; and the pong bytes each one carries.
   */
  #outbox: Array<Uint8Array | typeof SEND_EOF> = [];
  #outboxPongs: number[] = [];
  /** Application bytes staged since the last flush: subtracted from `bufferedAmount` once written. */
  #outboxAppBytes = 0;
  /** Small frames staged and not yet coalesced into an `#outbox` write; their bytes and pong bytes. */
  #run: Uint8Array[] = [];
  #runBytes = 0;
  #runPongBytes = 0;
  /** A full run or a large frame is staged: write now rather than at the end of the turn. */
  #writeNow = false;
  #flushScheduled = false;
  /** `transport.end()` was called: its promise (it is called once at most). */
  #endPromise: Promise<void> | null = null;
  /** Bytes of automatic pongs written and not yet accepted by the transport. */
  #pongBacklog = 0;
  /** The pong answering the latest ping, held back while `#pongBacklog` is full. */
  #deferredPong: Uint8Array | null = null;
  #sendQueue: Outgoing[] = [];
  #openTimer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setTimeout> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  #pingPayload: Uint8Array | null = null;
  /**
   * Bytes received and not dispatched yet: transport chunks waiting in
   * `#input` and messages waiting for their task (see `#updateReadFlow`).
   */
  #undispatchedBytes = 0;
  #readPaused = false;
  /** Transport chunks not given to the protocol yet, in order (see `#onTransportData`). */
  #input: Uint8Array[] = [];
  /** The transport's end arrived behind chunks still in `#input`: handled once they are. */
  #endPending = false;
  /** This connection's queued tasks, in order: a message to dispatch, or steps to run. */
  #tasks: Array<Message | (() => void) | undefined> = [];
  #taskHead = 0;
  /** Messages in `#tasks`. */
  #messagesPending = 0;
  /** Runs the task at the head of `#tasks`: one `scheduleTask()` per queued task. */
  readonly #runTask = (): void => this.#runNextTask();
  readonly #flushTask = (): void => this.#flush();

  /**
   * https://websockets.spec.whatwg.org/#dom-websocket-websocket
   *
   * @param url - A `ws:`, `wss:`, `http:` or `https:` URL, absolute or
   *   relative to `location` where there is one.
   * @param protocols - Subprotocols to offer, in order of preference.
   * @param options - Non-standard: transport, headers, limits and timeouts.
   * @throws DOMException "SyntaxError" if the URL or a subprotocol is invalid.
   * @throws TypeError if no transport is available or an option is invalid.
   */
  constructor(url: string | URL, protocols: string | string[] = [], options: WebSocketOptions = {}) {
    super();
    // 1. Let baseURL be this's relevant settings object's API base URL.
    // 2. Let urlRecord be the result of getting a URL record given url and baseURL.
    // 3. If urlRecord is failure, then throw a "SyntaxError" DOMException.
    const urlRecord = getUrlRecord(url);
    // 4. If protocols is a string, set protocols to a sequence consisting of just that string.
    const offered = toProtocolList(protocols);
    // 5. If any of the values in protocols occur more than once or otherwise
    //    fail to match the requirements for elements that comprise the value
    //    of `Sec-WebSocket-Protocol` fields as defined by The WebSocket
    //    protocol, then throw a "SyntaxError" DOMException.
    const seen = new Set<string>();
    for (const protocol of offered) {
      if (!isToken(protocol)) {
        throw new DOMException(
          `Failed to construct 'WebSocket': The subprotocol '${escapeSubprotocol(protocol)}' is invalid.`,
          'SyntaxError',
        );
      }
      // Compared case-insensitively, as browsers do (WPT
      // websockets/Create-protocols-repeated-case-insensitive.any.js).
      const folded = protocol.toLowerCase();
      if (seen.has(folded)) {
        throw new DOMException(
          `Failed to construct 'WebSocket': The subprotocol '${escapeSubprotocol(protocol)}' is duplicated.`,
          'SyntaxError',
        );
      }
      seen.add(folded);
    }
    // 6. Set this's url to urlRecord.
    this.#url = urlRecord;
    this.#origin = urlRecord.origin;
    this.#protocols = offered;

    const openTimeoutMs = checkDuration('openTimeoutMs', options.openTimeoutMs, DEFAULT_OPEN_TIMEOUT_MS);
    this.#closeTimeoutMs = checkDuration('closeTimeoutMs', options.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS);
    this.#pingIntervalMs = checkDuration('pingIntervalMs', options.pingIntervalMs, null);
    this.#pongTimeoutMs = checkDuration('pongTimeoutMs', options.pongTimeoutMs, DEFAULT_PONG_TIMEOUT_MS);
    if (
      options.extensions === undefined &&
      options.compression !== undefined &&
      options.compression !== false
    ) {
      // Only entry points that bundle the compressor turn `compression` into
      // an extension (see compression.ts).
      throw new TypeError(
        'compression needs the polysocket or polysocket/node entry point; polysocket/lite has none',
      );
    }
    const uri = toWebSocketUri(urlRecord);
    this.#protocol = new BaseClientProtocol(uri, {
      subprotocols: offered,
      maxMessageSize:
        options.maxMessageSize === undefined ? DEFAULT_MAX_MESSAGE_SIZE : options.maxMessageSize,
      origin: options.origin ?? null,
      userAgent: options.userAgent ?? null,
      extensions: options.extensions ?? [],
      ...(options.headers === undefined ? {} : { headers: options.headers }),
    });
    const transport = options.transport;
    if (transport === undefined) {
      throw new TypeError('no transport: pass { transport } in the options, or use the Node.js entry point');
    }
    const target: TransportTarget = {
      url: urlRecord.href,
      host: uri.host,
      port: uri.port,
      secure: uri.secure,
    };
    this.#listeners = {
      open: () => this.#onTransportOpen(),
      data: (chunk) => this.#onTransportData(chunk),
      end: () => this.#onTransportEnd(),
      close: (error) => this.#onTransportClose(error),
    };
    // 7.-8. Run this step in parallel: establish a WebSocket connection given
    //       urlRecord, protocols, and client.
    this.#transport = typeof transport === 'function' ? transport(target) : transport;
    this.#transport.on('open', this.#listeners.open);
    this.#transport.on('data', this.#listeners.data);
    this.#transport.on('end', this.#listeners.end);
    this.#transport.on('close', this.#listeners.close);
    if (openTimeoutMs !== null) {
      this.#openTimer = setTimeout(
        () => this.#fail('timeout', `no connection within ${openTimeoutMs} ms (openTimeoutMs)`),
        openTimeoutMs,
      );
    }
  }

  /** https://websockets.spec.whatwg.org/#dom-websocket-url */
  get url(): string {
    return this.#url.href;
  }

  /** https://websockets.spec.whatwg.org/#dom-websocket-readystate */
  get readyState(): number {
    return this.#readyState;
  }

  /**
   * https://websockets.spec.whatwg.org/#dom-websocket-bufferedamount: bytes
   * of application data passed to `send()` and not yet accepted by the
   * transport (framing overhead excluded).
   */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /** https://websockets.spec.whatwg.org/#dom-websocket-extensions */
  get extensions(): string {
    return this.#extensions;
  }

  /** https://websockets.spec.whatwg.org/#dom-websocket-protocol */
  get protocol(): string {
    return this.#subprotocol;
  }

  /** https://websockets.spec.whatwg.org/#dom-websocket-binarytype */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    // An IDL enumeration attribute: assigning another value is ignored.
    const type = String(value);
    if (type === 'blob' || type === 'arraybuffer') this.#binaryType = type;
  }

  /**
   * Non-standard: why the connection failed, once it has (the `error` event
   * carries the same error as its `error` property); `null` until then, and
   * for connections that closed without failing.
   */
  get failure(): WebSocketConnectionError | null {
    return this.#failure;
  }

  /** https://html.spec.whatwg.org/multipage/webappapis.html#handler-onopen */
  get onopen(): Handler<Event> {
    return this.#getHandler('open');
  }

  set onopen(handler: Handler<Event>) {
    this.#setHandler('open', handler);
  }

  /** https://html.spec.whatwg.org/multipage/webappapis.html#handler-onmessage */
  get onmessage(): Handler<MessageEvent> {
    return this.#getHandler('message');
  }

  set onmessage(handler: Handler<MessageEvent>) {
    this.#setHandler('message', handler);
  }

  /** https://html.spec.whatwg.org/multipage/webappapis.html#handler-onerror */
  get onerror(): Handler<Event> {
    return this.#getHandler('error');
  }

  set onerror(handler: Handler<Event>) {
    this.#setHandler('error', handler);
  }

  /** https://html.spec.whatwg.org/multipage/webappapis.html#handler-onclose */
  get onclose(): Handler<CloseEvent> {
    return this.#getHandler('close');
  }

  set onclose(handler: Handler<CloseEvent>) {
    this.#setHandler('close', handler);
  }

  /**
   * https://websockets.spec.whatwg.org/#dom-websocket-send
   *
   * @throws DOMException "InvalidStateError" while CONNECTING.
   */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    // WebIDL: the argument is required (a missing one is not "undefined").
    // biome-ignore lint/complexity/noArguments: only arguments tells a missing argument from undefined
    if (arguments.length === 0) {
      throw new TypeError(
        "Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present.",
      );
    }
    // 1. If this's ready state is CONNECTING, then throw an "InvalidStateError" DOMException.
    if (this.#readyState === CONNECTING) {
      throw new DOMException(
        "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.",
        'InvalidStateError',
      );
    }
    // 2. Run the appropriate set of steps from the following list: "If the
    //    WebSocket connection is established and the WebSocket closing
    //    handshake has not yet started, then the user agent must send a
    //    WebSocket Message comprised of the data argument [...] Any invocation
    //    of this method with [an] argument that does not throw an exception
    //    must increase the bufferedAmount attribute by the number of bytes
    //    needed to express the argument".
    if (isBlob(data)) {
      this.#bufferedAmount += data.size;
      if (!this.#canSend()) return;
      const outgoing: Outgoing = { type: 'binary', size: data.size, bytes: null };
      this.#sendQueue.push(outgoing);
      data.arrayBuffer().then(
        (buffer) => {
          outgoing.bytes = new Uint8Array(buffer);
          this.#drainSendQueue();
        },
        (error: unknown) =>
          this.#fail('blob', 'a Blob passed to send() could not be read', {
            cause: error,
            code: INTERNAL_ERROR,
            reason: 'failed to read a Blob',
          }),
      );
      return;
    }
    let type: Outgoing['type'];
    let bytes: Uint8Array;
    if (isArrayBuffer(data)) {
      type = 'binary';
      bytes = new Uint8Array(data);
    } else if (ArrayBuffer.isView(data)) {
      type = 'binary';
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      // USVString: lone surrogates become U+FFFD in the encoder.
      type = 'text';
      bytes = encodeUtf8(toDomString(data, "Failed to execute 'send' on 'WebSocket'"));
    }
    this.#bufferedAmount += bytes.byteLength;
    if (!this.#canSend()) return;
    if (this.#sendQueue.length > 0) {
      // Queued behind a Blob: keep a copy, the caller may reuse its buffer.
      this.#sendQueue.push({
        type,
        size: bytes.byteLength,
        bytes: type === 'text' ? bytes : new Uint8Array(bytes),
      });
      return;
    }
    this.#sendNow(type, bytes, bytes.byteLength);
  }

  /**
   * https://websockets.spec.whatwg.org/#dom-websocket-close
   *
   * @throws DOMException "InvalidAccessError" if `code` is neither 1000 nor in 3000–4999.
   * @throws DOMException "SyntaxError" if `reason` is longer than 123 bytes of UTF-8.
   */
  close(code?: number, reason?: string): void {
    // WebIDL: [Clamp] unsigned short code, USVString reason.
    const closeCode = code === undefined ? undefined : clampUnsignedShort(code);
    const closeReason =
      reason === undefined ? undefined : toDomString(reason, "Failed to execute 'close' on 'WebSocket'");
    // 1. If code is present, but is neither an integer equal to 1000 nor an
    //    integer in the range 3000 to 4999, inclusive, throw an
    //    "InvalidAccessError" DOMException.
    if (closeCode !== undefined && closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
      throw new DOMException(
        `Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. ${closeCode} is neither.`,
        'InvalidAccessError',
      );
    }
    // 2. If reason is present, then run these substeps:
    //    1. Let reasonBytes be the result of encoding reason.
    //    2. If reasonBytes is longer than 123 bytes, then throw a "SyntaxError" DOMException.
    let wellFormedReason = '';
    if (closeReason !== undefined) {
      const reasonBytes = encodeUtf8(closeReason);
      if (reasonBytes.byteLength > MAX_CLOSE_REASON) {
        throw new DOMException(
          "Failed to execute 'close' on 'WebSocket': The close reason must not be greater than 123 UTF-8 bytes.",
          'SyntaxError',
        );
      }
      wellFormedReason = decodeUtf8(reasonBytes);
    }
    // 3. Run the first matching steps from the following list:
    // - If this's ready state is CLOSING (2) or CLOSED (3): Do nothing.
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    // - If the WebSocket connection is not yet established: Fail the
    //   WebSocket connection and set this's ready state to CLOSING (2).
    //   (Established, but the open event still pending, counts as not yet:
    //   the page never saw OPEN.)
    if (this.#readyState === CONNECTING) {
      // (Chromium says "WebSocket is closed before the connection is established.")
      this.#fail('aborted', 'close() was called before the connection was established');
      this.#readyState = CLOSING;
      return;
    }
    // - If the WebSocket closing handshake has not yet been started: Start
    //   the WebSocket closing handshake and set this's ready state to
    //   CLOSING (2). "If neither code nor reason is present, the WebSocket
    //   Close message must not have a body." A reason without a code is sent
    //   with code 1000.
    if (this.#protocol.state === State.OPEN && !this.#failed) {
      if (closeCode === undefined && closeReason === undefined) this.#protocol.sendClose();
      else this.#protocol.sendClose(closeCode ?? NORMAL_CLOSURE, wellFormedReason);
      this.#pump();
    }
    // - Otherwise: Set this's ready state to CLOSING (2).
    this.#readyState = CLOSING;
  }

  // -------------------------------------------------------------------------
  // Event handler attributes: one listener each, registered when first set.

  #getHandler<E extends Event>(type: string): Handler<E> {
    return (this.#handlers.get(type)?.handler ?? null) as Handler<E>;
  }

  #setHandler<E extends Event>(type: string, handler: Handler<E>): void {
    const slot = this.#handlers.get(type);
    if (typeof handler !== 'function') {
      if (slot !== undefined) {
        this.removeEventListener(type, slot.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (slot !== undefined) {
      slot.handler = handler as (this: WebSocketInstance, ev: Event) => unknown;
      return;
    }
    const created: HandlerSlot = {
      handler: handler as (this: WebSocketInstance, ev: Event) => unknown,
      listener: (event) => {
        created.handler.call(this, event);
      },
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }

  // -------------------------------------------------------------------------
  // Sending

  #canSend(): boolean {
    return this.#protocol.state === State.OPEN && !this.#failed;
  }

  #sendNow(type: Outgoing['type'], bytes: Uint8Array, size: number): void {
    if (type === 'text') this.#protocol.sendText(bytes);
    else this.#protocol.sendBinary(bytes);
    this.#outboxAppBytes += size;
    this.#takeOutput();
  }

  #drainSendQueue(): void {
    for (;;) {
      const next = this.#sendQueue[0];
      if (next?.bytes == null) return;
      this.#sendQueue.shift();
      // The connection may have started closing while a Blob was read: the
      // bytes then stay counted in bufferedAmount, as for any late send().
      if (this.#canSend()) this.#sendNow(next.type, next.bytes, next.size);
    }
  }

  // -------------------------------------------------------------------------
  // The driver: transport events in, protocol output out.

  #onTransportOpen(): void {
    if (this.#failed || this.#destroyed) return;
    this.#protocol.sendRequest(this.#protocol.connect());
    this.#pump();
  }

  /**
   * Bytes from the transport. While FEED_PENDING_LIMIT messages or more
   * wait for their tasks, new chunks wait in `#input` rather than being
   * parsed: a socket read hands over up to a few MiB at once, thousands of
   * small messages, and parsing them all ahead would keep thousands of
   * frames, messages and tasks alive at once (costly to the garbage
   * collector: half the time of a receive loop of small messages went
   * there). They are parsed once fewer messages wait (`#runNextTask`), so
   * about FEED_PENDING_LIMIT plus one chunk's worth of messages are queued
   * at most. Parsing later than the bytes arrive is what a slower network
   * would do; nothing reorders.
   */
  #onTransportData(chunk: Uint8Array): void {
    if (this.#eofReceived || this.#endPending) return;
    this.#input.push(chunk);
    this.#undispatchedBytes += chunk.byteLength;
    if (this.#messagesPending < FEED_PENDING_LIMIT && this.#input.length === 1) this.#feed();
    else this.#updateReadFlow();
  }

  #receive(chunk: Uint8Array): void {
    this.#protocol.receiveData(chunk);
    this.#pump();
  }

  /**
   * Parse the chunks waiting in `#input` while fewer than
   * FEED_PENDING_LIMIT messages wait for their tasks, FEED_LIMIT bytes at a
   * time (a transport may hand over larger chunks than a socket read); then
   * handle a pending end.
   */
  #feed(): void {
    const input = this.#input;
    while (this.#messagesPending < FEED_PENDING_LIMIT && input.length > 0) {
      let chunk = input[0]!;
      if (chunk.byteLength > FEED_LIMIT) {
        input[0] = chunk.subarray(FEED_LIMIT);
        chunk = chunk.subarray(0, FEED_LIMIT);
      } else {
        input.shift();
      }
      this.#undispatchedBytes -= chunk.byteLength;
      this.#receive(chunk);
    }
    this.#updateReadFlow();
    if (input.length === 0 && this.#endPending) {
      this.#endPending = false;
      this.#onTransportEnd();
    }
  }

  #onTransportEnd(): void {
    if (this.#eofReceived) return;
    if (this.#input.length > 0) {
      this.#endPending = true;
      return;
    }
    this.#eofReceived = true;
    this.#protocol.receiveEof();
    this.#pump();
    // Sans-I/O rules: "If you called receive_eof, close the TCP connection
    // now" -- once our own end of stream (SEND_EOF) has been sent, which
    // waits for pending writes: bounded by the close timeout, as a peer
    // that stopped reading would hold them forever.
    this.#armCloseTimer();
    queueMicrotask(() => {
      void (this.#endPromise ?? Promise.resolve()).then(() => this.#destroyTransport());
    });
  }

  /** The three driver steps, in order (GUIDE §9). */
  #pump(): void {
    // 1. Write everything from dataToSend() first.
    this.#takeOutput();
    // 2. Then, if the peer is expected to close the byte stream, arm a timer.
    if (this.#protocol.closeExpected()) this.#armCloseTimer();
    // 3. Then handle the events.
    for (const event of this.#protocol.eventsReceived()) {
      if (this.#failed) break;
      switch (event.kind) {
        case 'response':
          this.#onResponse(event);
          break;
        case 'frame':
          this.#onFrame(event);
          break;
        default:
          assertNever(event);
      }
    }
    // The core failed the connection itself (a protocol error from the peer,
    // or a handshake response it could not parse); an end of stream once
    // established is a lost connection, not a failure.
    const parserError = this.#protocol.parserError;
    if (
      parserError !== null &&
      !this.#failed &&
      !this.#transportClosed &&
      !(this.#established && parserError instanceof UnexpectedEofError)
    ) {
      this.#failed = true;
      this.#recordFailure(
        ...describeParserError(parserError, this.#established),
        parserError,
        this.#protocol.closeSent?.code ?? ABNORMAL_CLOSURE,
      );
      this.#closeNow();
    }
  }

  #takeOutput(): void {
    const output = this.#protocol.dataToSend();
    if (output.length === 0) return;
    for (const item of output) this.#stage(item);
    // A full run or a large frame is written at once: holding it to the end
    // of the turn would coalesce nothing more, and a loop of large sends
    // would hold every frame until then (sending 128 × 1 MiB peaked at
    // 353 MiB of RSS against ws's 184 MiB, which writes each frame as it is
    // made). What is left of a run waits for the end of the turn.
    if (this.#writeNow) this.#writeStaged();
    else this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    resolved.then(this.#flushTask);
  }

  /**
   * Stage one item of the protocol's output: small frames join the current
   * run (sealed into one chunk at RUN_LIMIT bytes), frames of COALESCE_LIMIT
   * bytes or more are written as they are (copying them would cost more than
   * a write), `SEND_EOF` ends the writes. Automatic pongs beyond
   * PONG_BACKLOG_LIMIT are held back.
   */
  #stage(item: Uint8Array | typeof SEND_EOF): void {
    if (item === SEND_EOF || item.byteLength >= COALESCE_LIMIT) {
      this.#sealRun();
      this.#outbox.push(item);
      this.#outboxPongs.push(0);
      if (item !== SEND_EOF) this.#writeNow = true;
      return;
    }
    if (isPong(item)) {
      if (this.#pongBacklog + item.byteLength > PONG_BACKLOG_LIMIT) {
        // Keep only the latest: it replaces any pong held back before.
        this.#deferredPong = item;
        return;
      }
      this.#pongBacklog += item.byteLength;
      this.#runPongBytes += item.byteLength;
    }
    this.#run.push(item);
    this.#runBytes += item.byteLength;
    if (this.#runBytes >= RUN_LIMIT) {
      this.#sealRun();
      this.#writeNow = true;
    }
  }

  /** Coalesce the current run of small frames into one write. */
  #sealRun(): void {
    if (this.#run.length === 0) return;
    this.#outbox.push(concat(this.#run));
    this.#outboxPongs.push(this.#runPongBytes);
    this.#run = [];
    this.#runBytes = 0;
    this.#runPongBytes = 0;
  }

  /** The end of the turn: write what is staged. */
  #flush(): void {
    this.#flushScheduled = false;
    this.#writeStaged();
  }

  /**
   * Write what is staged, in order, then half-close if asked.
   * `bufferedAmount` drops once the last of these writes is accepted
   * (transports accept writes in order).
   */
  #writeStaged(): void {
    this.#writeNow = false;
    this.#sealRun();
    const outbox = this.#outbox;
    const pongs = this.#outboxPongs;
    let appBytes = this.#outboxAppBytes;
    this.#outbox = [];
    this.#outboxPongs = [];
    this.#outboxAppBytes = 0;
    if (this.#destroyed || this.#transportClosed) return;
    let start = 0;
    for (let i = 0; i < outbox.length; i++) {
      if (outbox[i] !== SEND_EOF) continue;
      this.#writeAll(outbox, pongs, start, i, appBytes);
      appBytes = 0;
      start = i + 1;
      if (!this.#end()) return;
    }
    this.#writeAll(outbox, pongs, start, outbox.length, appBytes);
  }

  /** Write `outbox[start..end)` (no `SEND_EOF` among them) in order; the last carries `appBytes` (see `#write`). */
  #writeAll(
    outbox: ReadonlyArray<Uint8Array | typeof SEND_EOF>,
    pongs: readonly number[],
    start: number,
    end: number,
    appBytes: number,
  ): void {
    for (let i = start; i < end; i++)
      this.#write(outbox[i] as Uint8Array, pongs[i]!, i === end - 1 ? appBytes : 0);
  }

  /**
   * One transport write. `appBytes` leave `bufferedAmount` once it is
   * accepted: the last write of a flush carries those of the whole flush
   * (transports accept writes in order).
   */
  #write(chunk: Uint8Array, pongBytes: number, appBytes: number): void {
    let written: Promise<void>;
    try {
      written = this.#transport.write(chunk);
    } catch (error) {
      // The contract says reject; a transport that throws instead (now
      // possibly inside send()) fails the same way rather than throwing at
      // the caller.
      this.#destroyTransport(toError(error));
      return;
    }
    written.then(
      () => {
        this.#bufferedAmount -= appBytes;
        this.#pongsAccepted(pongBytes);
      },
      (error: unknown) => this.#destroyTransport(toError(error)),
    );
  }

  /**
   * Half-close the transport, once: `#closeNow()` may have ended it before
   * the core's own `SEND_EOF`. Returns `false` if the transport threw and was
   * destroyed.
   */
  #end(): boolean {
    if (this.#endPromise !== null) return true;
    try {
      this.#endPromise = this.#transport.end();
    } catch (error) {
      this.#destroyTransport(toError(error)); // as in #write
      return false;
    }
    return true;
  }

  /** Pongs were accepted by the transport: write the one held back, if there is room now. */
  #pongsAccepted(bytes: number): void {
    if (bytes === 0) return;
    this.#pongBacklog -= bytes;
    const pong = this.#deferredPong;
    if (pong === null || this.#pongBacklog + pong.byteLength > PONG_BACKLOG_LIMIT) return;
    this.#deferredPong = null;
    // Once closing, the pong is moot (and must not follow our end of stream).
    if (this.#protocol.state !== State.OPEN || this.#failed) return;
    this.#stage(pong);
    this.#scheduleFlush();
  }

  #onResponse(response: Response): void {
    clearTimeout(this.#openTimer);
    this.#openTimer = undefined;
    // The opening handshake failed (status, Upgrade, Accept, negotiation):
    // fail the WebSocket connection.
    const handshakeError = this.#protocol.handshakeError;
    if (handshakeError !== null) {
      this.#failed = true;
      this.#recordFailure(
        'handshake',
        `Error during WebSocket handshake: ${handshakeError.message}`,
        handshakeError,
        ABNORMAL_CLOSURE,
      );
      this.#destroyTransport();
      return;
    }
    // Fetch, "establish a WebSocket connection": "If protocols is not the
    // empty list and extracting header list values given
    // `Sec-WebSocket-Protocol` and response's header list results in null,
    // failure, or the empty byte sequence, then fail the WebSocket
    // connection." (RFC 6455 only rejects a subprotocol that wasn't offered.)
    if (this.#protocols.length > 0 && this.#protocol.subprotocol === null) {
      this.#fail(
        'handshake',
        `Error during WebSocket handshake: the server selected none of the subprotocols offered (${this.#protocols.join(', ')})`,
      );
      return;
    }
    const extensions = response.headers.getAll('Sec-WebSocket-Extensions').join(', ');
    const subprotocol = this.#protocol.subprotocol ?? '';
    this.#established = true;
    // "When the WebSocket connection is established, the user agent must
    // queue a task to run these steps:"
    this.#queueTask(() => {
      // close() was called before this task ran: it failed the connection.
      if (this.#readyState !== CONNECTING) return;
      // 1. Change the ready state to OPEN (1).
      this.#readyState = OPEN;
      // 2. Change the extensions attribute's value to the extensions in use, if it is not the null value.
      this.#extensions = extensions;
      // 3. Change the protocol attribute's value to the subprotocol in use, if it is not the null value.
      this.#subprotocol = subprotocol;
      // 4. Fire an event named open at the WebSocket object.
      this.dispatchEvent(new Event('open'));
    });
    this.#schedulePing();
  }

  #onFrame(frame: Frame): void {
    switch (frame.opcode) {
      case Opcode.TEXT:
      case Opcode.BINARY:
      case Opcode.CONT: {
        const message = this.#assembler.push(frame);
        if (message === null) return;
        this.#queueMessage(message);
        return;
      }
      case Opcode.PONG:
        this.#onPong(frame.data);
        return;
      case Opcode.CLOSE:
        // "When the WebSocket closing handshake is started, the user agent
        // must queue a task to change the ready state to CLOSING (2)."
        this.#queueTask(() => {
          if (this.#readyState === OPEN) this.#readyState = CLOSING;
        });
        return;
      case Opcode.PING:
        return; // the core answers with a pong
    }
  }

  /**
   * Queue the task that dispatches `message`. Messages waiting for their
   * task hold memory the application hasn't seen yet: above
   * READ_PAUSE_BYTES of them, reading pauses (the transport's own
   * backpressure then slows the peer) until they are dispatched.
   */
  #queueMessage(message: Message): void {
    this.#undispatchedBytes += message.data.byteLength;
    this.#messagesPending++;
    this.#updateReadFlow();
    this.#queueTask(message);
  }

  /**
   * Read flow control: pause the transport while more than READ_PAUSE_BYTES
   * received bytes wait (its own backpressure then slows the peer), resume
   * below half of it.
   */
  #updateReadFlow(): void {
    if (this.#transportClosed) return;
    if (!this.#readPaused && this.#undispatchedBytes > READ_PAUSE_BYTES) {
      this.#readPaused = true;
      this.#transport.pause();
    } else if (this.#readPaused && this.#undispatchedBytes <= READ_PAUSE_BYTES / 2) {
      this.#readPaused = false;
      this.#transport.resume();
    }
  }

  /** https://websockets.spec.whatwg.org/#feedback-from-the-protocol: "When a WebSocket message has been received" */
  #dispatchMessage(message: Message): void {
    // 1. If this's ready state is not OPEN (1), then return.
    if (this.#readyState !== OPEN) return;
    // 2.-3. Let dataForEvent be determined by switching on type and binaryType.
    const data = messageData(message, this.#binaryType);
    // 4. Fire an event named message at the WebSocket object, using
    //    MessageEvent, with the origin attribute initialized to the
    //    serialization of the WebSocket object's url's origin, and the data
    //    attribute initialized to dataForEvent.
    this.dispatchEvent(new MessageEvent('message', { data, origin: this.#origin }));
  }

  /**
   * "Fail the WebSocket connection" (RFC 6455, 7.1.7) for a reason found
   * here rather than by the core: send a close frame with `code` if the
   * connection is open and `code` isn't 1006, then close the connection at
   * once. The error and close events follow when the transport closes;
   * `kind` and `message` say why (see `failure`).
   */
  #fail(
    kind: WebSocketFailureKind,
    message: string,
    details: { cause?: unknown; code?: number; reason?: string } = {},
  ): void {
    if (this.#failed || this.#transportClosed) return;
    this.#failed = true;
    const code = details.code ?? ABNORMAL_CLOSURE;
    const state = this.#protocol.state;
    const sendsClose = state === State.OPEN && code !== ABNORMAL_CLOSURE;
    this.#recordFailure(kind, message, details.cause, sendsClose ? code : ABNORMAL_CLOSURE);
    if (state === State.CONNECTING || state === State.OPEN) this.#protocol.fail(code, details.reason ?? '');
    this.#takeOutput();
    if (sendsClose) this.#closeNow();
    else this.#destroyTransport();
  }

  /** Record why the connection failed; the first reason wins. */
  #recordFailure(kind: WebSocketFailureKind, detail: string, cause: unknown, closeCode: number): void {
    if (this.#failure !== null) return;
    const url = redactUserInfo(this.#url.href);
    this.#failure = new WebSocketConnectionError(kind, `WebSocket connection to '${url}' failed: ${detail}`, {
      url,
      closeCode,
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /**
   * Close the connection after failing it, without waiting for the peer.
   * RFC 6455, 7.1.7: "to _Fail the WebSocket Connection_ [...] the endpoint
   * [...] MUST _Close the WebSocket Connection_" (send the Close frame if it
   * can, then close the TCP connection); waiting for the peer to close its
   * side is for the closing handshake only. What is staged (the close frame)
   * is written now, then the transport is half-closed and destroyed once the
   * end is sent: at once on a healthy connection, or by the close timeout
   * when the peer does not take the bytes.
   */
  #closeNow(): void {
    if (this.#destroyed || this.#transportClosed) return;
    this.#writeStaged();
    if (!this.#end()) return;
    this.#armCloseTimer();
    void this.#endPromise!.then(() => this.#destroyTransport());
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#closeTimeoutMs === null || this.#transportClosed) return;
    this.#closeTimer = setTimeout(() => this.#destroyTransport(), this.#closeTimeoutMs);
  }

  #destroyTransport(error?: Error): void {
    if (this.#destroyed || this.#transportClosed) return;
    this.#destroyed = true;
    this.#transport.destroy(error);
  }

  /** https://websockets.spec.whatwg.org/#feedback-from-the-protocol: "When the WebSocket connection is closed" */
  #onTransportClose(error?: Error): void {
    if (this.#transportClosed) return;
    this.#transportClosed = true;
    clearTimeout(this.#openTimer);
    clearTimeout(this.#closeTimer);
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#pongTimer);
    this.#openTimer = this.#closeTimer = this.#pingTimer = this.#pongTimer = undefined;
    this.#transport.off('open', this.#listeners.open);
    this.#transport.off('data', this.#listeners.data);
    this.#transport.off('end', this.#listeners.end);
    this.#transport.off('close', this.#listeners.close);
    this.#sendQueue = [];
    // Bytes that arrived before the transport closed are parsed first.
    for (const chunk of this.#input.splice(0)) {
      this.#undispatchedBytes -= chunk.byteLength;
      this.#receive(chunk);
    }
    this.#endPending = false;
    this.#assembler.reset();
    // The byte stream is gone: whatever the protocol still expected is an EOF.
    this.#protocol.receiveEof();
    this.#protocol.dataToSend();
    this.#protocol.eventsReceived();
    if (error !== undefined && this.#protocol.closeRcvd === null && !this.#established) {
      this.#failed = true;
      this.#recordFailure('transport', error.message, error, ABNORMAL_CLOSURE);
    }
    // RFC 6455, 7.1.4: "If the TCP connection was closed after the WebSocket
    // closing handshake was completed, the WebSocket connection is said to
    // have been closed _cleanly_."
    const wasClean = !this.#failed && this.#protocol.closeRcvd !== null && this.#protocol.closeSent !== null;
    const code = this.#protocol.closeCode ?? ABNORMAL_CLOSURE;
    const reason = this.#protocol.closeReason ?? '';
    // Without a close frame (1006) before the connection was established,
    // connecting failed. Afterwards it was lost: close 1006 without error
    // (RFC 6455 7.1.5 doesn't fail it; Chromium fires no error either).
    const failed = this.#failed || (!this.#established && code === ABNORMAL_CLOSURE);
    if (failed) {
      this.#recordFailure(
        'handshake',
        'the connection closed during the opening handshake',
        this.#protocol.parserError ?? undefined,
        ABNORMAL_CLOSURE,
      );
    }
    const failure = this.#failure;
    this.#queueTask(() => {
      // 1. Change the ready state to CLOSED (3).
      this.#readyState = CLOSED;
      // 2. If the user agent was required to fail the WebSocket connection,
      //    or if the WebSocket connection was closed after being flagged as
      //    full, fire an event named error at the WebSocket object.
      //    (The event is a plain Event; polysocket adds why, see `failure`.)
      if (failure !== null) this.dispatchEvent(createErrorEvent(failure));
      // 3. Fire an event named close at the WebSocket object, using
      //    CloseEvent, with the wasClean attribute initialized to true if the
      //    connection closed cleanly and false otherwise, the code attribute
      //    initialized to the WebSocket connection close code, and the reason
      //    attribute initialized to the result of applying UTF-8 decode
      //    without BOM to the WebSocket connection close reason.
      this.dispatchEvent(new CloseEvent('close', { wasClean, code, reason }));
    });
  }

  /**
   * Queue a task on the WebSocket task source: one task per event, in order.
   * A message is queued as itself rather than in a closure (one object less
   * per message).
   */
  #queueTask(task: Message | (() => void)): void {
    this.#tasks.push(task);
    scheduleTask(this.#runTask);
  }

  #runNextTask(): void {
    const tasks = this.#tasks;
    const task = tasks[this.#taskHead];
    tasks[this.#taskHead++] = undefined;
    if (this.#taskHead === tasks.length) {
      tasks.length = 0;
      this.#taskHead = 0;
    } else if (this.#taskHead >= 1024) {
      tasks.splice(0, this.#taskHead);
      this.#taskHead = 0;
    }
    if (task === undefined) return;
    if (typeof task === 'function') {
      task();
      return;
    }
    this.#messagesPending--;
    this.#undispatchedBytes -= task.data.byteLength;
    try {
      this.#dispatchMessage(task);
    } finally {
      // Few messages wait now: parse what arrived meanwhile (#feed updates
      // the read flow itself).
      if (this.#messagesPending < FEED_PENDING_LIMIT && !this.#transportClosed) this.#feed();
      else this.#updateReadFlow();
    }
  }

  // -------------------------------------------------------------------------
  // Keepalive

  #schedulePing(): void {
    if (this.#pingIntervalMs === null || this.#transportClosed) return;
    this.#pingTimer = setTimeout(() => this.#ping(), this.#pingIntervalMs);
  }

  #ping(): void {
    this.#pingTimer = undefined;
    if (this.#protocol.state !== State.OPEN || this.#failed) return;
    const payload = new Uint8Array(4);
    crypto.getRandomValues(payload);
    this.#pingPayload = payload;
    this.#protocol.sendPing(payload);
    this.#takeOutput();
    if (this.#pongTimeoutMs !== null) {
      this.#pongTimer = setTimeout(() => {
        this.#pongTimer = undefined;
        this.#fail(
          'keepalive',
          `no pong within ${this.#pongTimeoutMs} ms of a keepalive ping (pongTimeoutMs)`,
          {
            code: INTERNAL_ERROR,
            reason: 'keepalive ping timeout',
          },
        );
      }, this.#pongTimeoutMs);
    }
  }

  #onPong(data: Uint8Array): void {
    const expected = this.#pingPayload;
    if (expected === null || !equalBytes(data, expected)) return;
    this.#pingPayload = null;
    clearTimeout(this.#pongTimer);
    this.#pongTimer = undefined;
    this.#schedulePing();
  }
}

/**
 * Define the readyState constants on `target` as WebIDL does on the
 * interface object and its prototype: enumerable, read-only (not writable,
 * not configurable: `defineProperty`'s defaults) own properties.
 *
 * @internal
 */
export function defineReadyStates(target: object): void {
  for (const [name, value] of [
    ['CONNECTING', CONNECTING],
    ['OPEN', OPEN],
    ['CLOSING', CLOSING],
    ['CLOSED', CLOSED],
  ] as const) {
    Object.defineProperty(target, name, { value, enumerable: true });
  }
}

defineReadyStates(WebSocket);
defineReadyStates(WebSocket.prototype);
Object.defineProperty(WebSocket.prototype, Symbol.toStringTag, { value: 'WebSocket', configurable: true });
// WebIDL: attributes and operations are enumerable (class members are not).
// Redefining only `enumerable` keeps the rest of each descriptor.
for (const name of Object.getOwnPropertyNames(WebSocket.prototype)) {
  if (name !== 'constructor') Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}

/**
 * https://websockets.spec.whatwg.org/#get-a-url-record
 *
 * @throws DOMException "SyntaxError" on failure.
 */
function getUrlRecord(url: string | URL): URL {
  const text = String(url);
  const fail = (): DOMException =>
    new DOMException(
      `Failed to construct 'WebSocket': The URL '${redactUserInfo(text)}' is invalid.`,
      'SyntaxError',
    );
  const base = (globalThis as { location?: { href?: unknown } }).location?.href;
  // 1. Let urlRecord be the result of applying the URL parser to url with baseURL.
  let urlRecord: URL;
  try {
    urlRecord = typeof base === 'string' ? new URL(text, base) : new URL(text);
  } catch {
    // 2. If urlRecord is failure, then return failure.
    throw fail();
  }
  // 3. If urlRecord's scheme is "http", then set urlRecord's scheme to "ws".
  if (urlRecord.protocol === 'http:') urlRecord.protocol = 'ws:';
  // 4. Otherwise, if urlRecord's scheme is "https", set urlRecord's scheme to "wss".
  else if (urlRecord.protocol === 'https:') urlRecord.protocol = 'wss:';
  // 5. If urlRecord's scheme is not "ws" or "wss", then return failure.
  //    (The messages of these failures are Chromium's.)
  if (urlRecord.protocol !== 'ws:' && urlRecord.protocol !== 'wss:') {
    throw new DOMException(
      `Failed to construct 'WebSocket': The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. '${urlRecord.protocol.slice(0, -1)}' is not allowed.`,
      'SyntaxError',
    );
  }
  // 6. If urlRecord's fragment is non-null, then return failure. (`hash` is
  //    empty for an empty fragment too; the serialization shows it.)
  if (urlRecord.href.includes('#')) {
    throw new DOMException(
      `Failed to construct 'WebSocket': The URL contains a fragment identifier ('${urlRecord.href.slice(urlRecord.href.indexOf('#') + 1)}'). Fragment identifiers are not allowed in WebSocket URLs.`,
      'SyntaxError',
    );
  }
  // 7. Return urlRecord.
  return urlRecord;
}

/**
 * WebIDL conversion of a value to `DOMString`: as `String()`, except that a
 * Symbol throws a TypeError (with `context`, Chromium's message prefix).
 */
function toDomString(value: unknown, context: string): string {
  if (typeof value === 'symbol') throw new TypeError(`${context}: Cannot convert a Symbol value to a string`);
  return String(value);
}

/** A subprotocol as Chromium shows it in messages: `\uXXXX` outside printable ASCII, `\\` for `\`. */
function escapeSubprotocol(protocol: string): string {
  let out = '';
  for (let i = 0; i < protocol.length; i++) {
    const unit = protocol.charCodeAt(i);
    if (unit < 0x20 || unit > 0x7e) out += `\\u${unit.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += unit === 0x5c ? '\\\\' : protocol[i];
  }
  return out;
}

/** WebIDL conversion of `(DOMString or sequence<DOMString>) protocols`. */
function toProtocolList(protocols: string | string[] | undefined): string[] {
  if (protocols === undefined) return [];
  if (typeof protocols === 'object' && protocols !== null && Symbol.iterator in protocols) {
    return Array.from(protocols as Iterable<unknown>, String);
  }
  return [String(protocols)];
}

function toWebSocketUri(url: URL): WebSocketUri {
  const secure = url.protocol === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const userInfo: readonly [string, string] | null =
    url.username === '' && url.password === ''
      ? null
      : [decodeURIComponent(url.username), decodeURIComponent(url.password)];
  return {
    secure,
    host,
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    resourceName: (url.pathname === '' ? '/' : url.pathname) + url.search,
    userInfo,
  };
}

/** WebIDL `[Clamp] unsigned short`. */
function clampUnsignedShort(value: unknown): number {
  const clamped = Math.min(Math.max(Number(value), 0), 0xffff);
  if (Number.isNaN(clamped)) return 0;
  // Round to the nearest integer, ties to even (Math.round rounds ties up).
  const rounded = Math.round(clamped);
  return rounded - clamped === 0.5 && rounded % 2 === 1 ? rounded - 1 : rounded;
}

function checkDuration(
  name: string,
  value: number | null | undefined,
  fallback: number | null,
): number | null {
  if (value === undefined) return fallback;
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number or null`);
  }
  return value;
}

function isBlob(data: unknown): data is Blob {
  return typeof Blob === 'function' && data instanceof Blob;
}

function isArrayBuffer(data: unknown): data is ArrayBufferLike {
  return (
    data instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer === 'function' && data instanceof SharedArrayBuffer) ||
    Object.prototype.toString.call(data) === '[object ArrayBuffer]'
  );
}

/**
 * Whether `frame`, one item of a client's `dataToSend()`, is a pong: the
 * core serializes each frame of a client into one array of its own (masked),
 * so its first byte holds FIN and the opcode; the handshake request starts
 * with "G" (0x47).
 */
function isPong(frame: Uint8Array): boolean {
  return frame[0] === 0x80 + Opcode.PONG;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

/**
 * What a failure the core found means to the application: a handshake
 * response it could not parse before the connection was established, a
 * protocol violation after.
 */
function describeParserError(error: Error, established: boolean): [WebSocketFailureKind, string] {
  if (!established || error instanceof InvalidHandshakeError) {
    return ['handshake', `Error during WebSocket handshake: ${error.message}`];
  }
  return ['protocol', `the server broke the WebSocket protocol: ${error.message}`];
}
