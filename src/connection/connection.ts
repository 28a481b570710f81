/**
 * The connection driver: one WebSocket connection, the Sans-I/O protocol
 * driven over a transport. Front ends (the WHATWG `WebSocket`, and later
 * `WebSocketStream`) sit on top of it and never read the protocol's bytes;
 * the driver never dispatches DOM events.
 *
 * Theory of operation
 * -------------------
 * - Transport events feed the protocol through the inbox (`Inbox`), which
 *   paces parsing by delivery and pauses the transport when the front end
 *   falls behind. After each feed, `#pump()` runs the three steps of the
 *   Sans-I/O integration in order: stage `dataToSend()` in the outbox
 *   (written before anything else happens, so automatic replies leave before
 *   user code runs), arm the close timer if `closeExpected()`, then handle
 *   `eventsReceived()`.
 * - The outbox (`Outbox`) coalesces the frames of one turn into bounded
 *   writes and keeps `bufferedAmount`.
 * - Upward, the front end hears, in order: `opened` once (or never),
 *   `message` for each message (it calls `delivered()` once it has delivered
 *   or dropped it), `closing` when the peer starts the closing handshake,
 *   and `closed` exactly once, last, with the outcome: whether it closed
 *   cleanly, the close code and reason, and why it failed if it did.
 *
 * Lifecycle (`state`): connecting → open → closing → closed, or → failed →
 * closed from any state before closed. "Failed" is RFC 6455's _Fail the
 * WebSocket Connection_: it closes the transport at once, without waiting
 * for the peer.
 */
import { WebSocketConnectionError, type WebSocketFailureKind } from '../failure.js';
import type { Message } from '../message.js';
import { MessageAssembler } from '../message.js';
import { BaseClientProtocol, type ClientProtocolOptions } from '../protocol/base-client.js';
import { ABNORMAL_CLOSURE, INTERNAL_ERROR } from '../protocol/close-code.js';
import { InvalidHandshakeError, UnexpectedEofError } from '../protocol/errors.js';
import type { ClientExtensionFactory } from '../protocol/extensions/base.js';
import type { ClientPerMessageDeflateOptions } from '../protocol/extensions/permessage-deflate.js';
import { type Frame, Opcode } from '../protocol/frames.js';
import { Headers } from '../protocol/headers.js';
import type { Response } from '../protocol/http11.js';
import { LOG, type Logger, type ProtocolLog, preparedLog } from '../protocol/log-hooks.js';
import { State } from '../protocol/protocol.js';
import { redactUserInfo, type WebSocketUri } from '../protocol/uri.js';
import type { Transport, TransportFactory, TransportTarget } from '../transports/transport.js';
import { connectThroughGate, idleTransport } from './connect-gate.js';
import type { CookieJar } from './cookie-jar.js';
import { FramePool } from './frame-pool.js';
import { Inbox } from './inbox.js';
import { Keepalive } from './keepalive.js';
import { Outbox } from './outbox.js';
import { isBadPort } from './port-blocking.js';

/**
 * Non-standard options of a connection: the third argument of the
 * `WebSocket` constructor.
 */
export interface ConnectionOptions {
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
  /**
   * Cookies for the opening handshake: the `Cookie` request header comes
   * from the jar, the response's `Set-Cookie` headers go to it (before the
   * `open` event). `documentCookies` is the page's `document.cookie`, with
   * the limits its documentation lists. @defaultValue none: no cookies
   */
  readonly cookies?: CookieJar | null;
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
   * Time allowed for the peer to close the byte stream once the closing
   * handshake started, or for a failed connection's close frame to be
   * written; then it is closed. `null` waits forever.
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
  /**
   * Where to write debug lines about the connection: state changes, the
   * handshake heads (credentials redacted), frames in summary, keepalive,
   * the transport's events, failures and why. `console` will do; any
   * object with a `debug(message)` method, and optionally `warn` (failures)
   * and `error`, works. `null` turns off a logger bound with `bindOptions`.
   *
   * The entry points `polysocket` and `polysocket/node` prepare it (a
   * `ConnectionLog`, see connection/logging.ts); the driver takes only a
   * prepared one, so that `polysocket/lite`, which has no such step, leaves
   * the formatting out of its bundles, and refuses any other logger.
   * @defaultValue `null`: no logging, at no cost
   */
  readonly logger?: Logger | null;
}

/**
 * The driver's events besides the core's, formatted and written by the
 * implementation (connection/logging.ts), which the driver never
 * references (see {@link ConnectionOptions.logger}).
 */
export interface ConnectionLog extends ProtocolLog {
  /** `opening` the transport to `detail` (a URL), or it `opened`, is `closing` or `closed` (`detail`: the error's message). */
  transport(event: 'opening' | 'opened' | 'closing' | 'closed', detail?: string): void;
  /** A keepalive ping was sent, or its pong arrived after `latencyMs`. */
  keepalive(event: 'ping' | 'pong', latencyMs?: number | null): void;
  /** The transport did not close within `closeTimeoutMs`. */
  closeTimeout(timeoutMs: number): void;
  /** The connection failed: why, and the error that caused it. */
  failure(kind: WebSocketFailureKind, detail: string, cause: unknown): void;
  /** How it ended. */
  outcome(code: number, reason: string, wasClean: boolean): void;
}

/** @defaultValue of {@link ConnectionOptions.maxMessageSize}: 128 MiB. */
export const DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE = 128 * 2 ** 20;
const DEFAULT_OPEN_TIMEOUT_MS = 30_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
const DEFAULT_PONG_TIMEOUT_MS = 20_000;

/** The connection's lifecycle (see the theory of operation). */
export type ConnectionState = 'connecting' | 'open' | 'closing' | 'failed' | 'closed';

/** How a connection ended. */
export interface ConnectionOutcome {
  /** RFC 6455, 7.1.4: close frames were both sent and received, then the byte stream closed, and nothing failed. */
  readonly wasClean: boolean;
  /** RFC 6455, 7.1.5: the code of the close frame received, 1005 for one without a code, 1006 for none. */
  readonly code: number;
  /** RFC 6455, 7.1.6: the reason of the close frame received. */
  readonly reason: string;
  /** Why the connection failed; `null` if it did not (closed, or lost once open). */
  readonly failure: WebSocketConnectionError | null;
}

/** What the front end hears from its connection, in this order. */
export interface ConnectionHandler {
  /** The opening handshake succeeded ("the WebSocket connection is established"). */
  opened(subprotocol: string, extensions: string): void;
  /** A message arrived; call `delivered(message)` once it is delivered or dropped. */
  message(message: Message): void;
  /** The peer started the closing handshake (its close frame arrived). */
  closing(): void;
  /** The transport closed: the last call. */
  closed(outcome: ConnectionOutcome): void;
}

/** What a front end tunes in its connection (not user options). */
export interface FrontEndTuning {
  /**
   * Reading from the transport pauses while more than this many received
   * bytes wait to be delivered (and resumes at half of it).
   * @defaultValue 4 MiB
   */
  readonly readPauseBytes?: number;
}

/** One WebSocket connection: see the theory of operation above. */
export class Connection {
  readonly #url: URL;
  readonly #subprotocols: readonly string[];
  readonly #protocol: BaseClientProtocol;
  readonly #transport: Transport;
  readonly #handler: ConnectionHandler;
  readonly #assembler = new MessageAssembler();
  readonly #inbox: Inbox;
  readonly #outbox: Outbox;
  readonly #keepalive: Keepalive;
  readonly #closeTimeoutMs: number | null;
  /** `undefined` unless logging: every use is `this.#log?.method(...)`, which then evaluates nothing. */
  readonly #log: ConnectionLog | undefined;
  readonly #listeners: {
    readonly open: () => void;
    readonly data: (chunk: Uint8Array) => void;
    readonly end: () => void;
    readonly close: (error?: Error) => void;
  };

  #state: ConnectionState = 'connecting';
  /**
   * The opening handshake succeeded. From then on, losing the connection
   * (EOF or a transport error, anywhere in a frame) is not a failure: close
   * 1006 without error, as in Chromium. Only protocol errors fail it.
   */
  #established = false;
  /** `transport.destroy()` was called (its `close` event follows). */
  #destroyed = false;
  /** Why it failed: the first reason recorded wins. */
  #failure: WebSocketConnectionError | null = null;
  #openTimer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** `send()`s waiting behind a `Blob` being read, to keep messages in order. */
  #sendQueue: Outgoing[] = [];
  readonly #cookies: CookieJar | null;
  /** Lets the next connection to the same host start connecting (connect-gate.ts). */
  #releaseGate: () => void = () => {};

  /**
   * Start connecting to `url` (a `ws:` or `wss:` URL record) offering
   * `subprotocols` (already checked by the front end).
   *
   * @throws TypeError if no transport is available or an option is invalid.
   * @throws RangeError if a duration is invalid.
   */
  constructor(
    url: URL,
    subprotocols: readonly string[],
    options: ConnectionOptions,
    handler: ConnectionHandler,
    frontEnd: FrontEndTuning = {},
  ) {
    this.#url = url;
    this.#subprotocols = subprotocols;
    this.#handler = handler;
    const openTimeoutMs = checkDuration('openTimeoutMs', options.openTimeoutMs, DEFAULT_OPEN_TIMEOUT_MS);
    this.#closeTimeoutMs = checkDuration('closeTimeoutMs', options.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS);
    const pingIntervalMs = checkDuration('pingIntervalMs', options.pingIntervalMs, null);
    const pongTimeoutMs = checkDuration('pongTimeoutMs', options.pongTimeoutMs, DEFAULT_PONG_TIMEOUT_MS);
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
    const log = preparedLog(options.logger);
    if (options.logger != null && log?.[LOG] !== 'connection') {
      // Only entry points that bundle the formatting prepare a logger (see
      // connection/logging.ts).
      throw new TypeError(
        'logger needs the polysocket or polysocket/node entry point; polysocket/lite has none',
      );
    }
    this.#log = log as ConnectionLog | undefined;
    const uri = toWebSocketUri(url);
    this.#cookies = options.cookies ?? null;
    let headers = options.headers;
    const cookie = this.#cookies?.cookieHeader(url) ?? null;
    if (cookie !== null) {
      const withCookie = new Headers(headers);
      withCookie.append('Cookie', cookie);
      headers = withCookie;
    }
    // Large frames are serialized into recycled arrays where the transport
    // gives them back (the outbox releases them once written).
    const frames = new FramePool();
    this.#protocol = new BaseClientProtocol(uri, {
      allocateFrame: frames.allocate,
      subprotocols,
      maxMessageSize:
        options.maxMessageSize === undefined ? DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE : options.maxMessageSize,
      origin: options.origin ?? null,
      userAgent: options.userAgent ?? null,
      extensions: options.extensions ?? [],
      // A protocol error after a message waits until the front end has
      // delivered it (`#onAllDelivered`): its event goes first, and what the
      // application sends in answer reaches the peer before the close frame.
      holdErrorsBehindMessages: true,
      ...(headers === undefined ? {} : { headers }),
      logger: this.#log ?? null,
    });
    const transport = options.transport;
    if (transport === undefined) {
      throw new TypeError('no transport: pass { transport } in the options, or use the Node.js entry point');
    }
    const target: TransportTarget = { url: url.href, host: uri.host, port: uri.port, secure: uri.secure };
    this.#listeners = {
      open: () => this.#onTransportOpen(),
      data: (chunk) => this.#inbox.data(chunk),
      end: () => this.#inbox.end(),
      close: (error) => this.#onTransportClose(error),
    };
    this.#log?.transport('opening', url.href);
    if (isBadPort(uri.port)) {
      // Fetch blocks the request: the connection fails without connecting.
      this.#transport = idleTransport(target);
      queueMicrotask(() =>
        this.#fail('blocked', `port ${uri.port} is blocked (a bad port in the fetch standard)`),
      );
    } else if (typeof transport === 'function') {
      const gated = connectThroughGate(target, transport);
      this.#transport = gated.transport;
      this.#releaseGate = gated.release;
    } else {
      this.#transport = transport;
    }
    this.#inbox = new Inbox(
      this.#transport,
      (chunk) => this.#receive(chunk),
      () => this.#onTransportEnd(),
      () => this.#onAllDelivered(),
      frontEnd.readPauseBytes,
    );
    // Large payloads are read straight into the array the protocol assembles
    // them in, when the transport can (Node's onread) and nothing waits in
    // the inbox (bytes must reach the protocol in order).
    this.#transport.readTarget = () => (this.#inbox.idle ? this.#protocol.receiveBuffer() : null);
    this.#outbox = new Outbox(
      this.#transport,
      {
        writeFailed: (error) => this.#destroyTransport(error),
        maySendPong: () => this.#state === 'open',
      },
      frames,
    );
    this.#keepalive = new Keepalive(pingIntervalMs, pongTimeoutMs, {
      ping: (payload) => {
        if (this.#state !== 'open') return false;
        this.#log?.keepalive('ping');
        this.#protocol.sendPing(payload);
        this.#takeOutput(0);
        return true;
      },
      timedOut: (timeoutMs) =>
        this.#fail('keepalive', `no pong within ${timeoutMs} ms of a keepalive ping (pongTimeoutMs)`, {
          code: INTERNAL_ERROR,
          reason: 'keepalive ping timeout',
        }),
    });
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

  get state(): ConnectionState {
    return this.#state;
  }

  /** Application bytes given to `send()` and not yet accepted by the transport. */
  get bufferedAmount(): number {
    return this.#outbox.bufferedAmount;
  }

  /** Why the connection failed, once it has; `null` until then. */
  get failure(): WebSocketConnectionError | null {
    return this.#failure;
  }

  /** The round trip of the last keepalive ping answered, in milliseconds; `null` before one is. */
  get latencyMs(): number | null {
    return this.#keepalive.latencyMs;
  }

  /**
   * Resolves once the transport has accepted every message sent so far (a
   * `send()` waiting behind a `Blob` counts once it is sent); rejects if the
   * connection closes first.
   */
  sent(): Promise<void> {
    return this.#outbox.accepted();
  }

  /** Whether a message can be sent now: open, and the closing handshake not started. */
  get canSend(): boolean {
    return this.#state === 'open';
  }

  /**
   * Send a message of `size` application bytes (counted in
   * `bufferedAmount` until the transport accepts them): bytes, or a function
   * reading them asynchronously (a `Blob`), called only if the message is
   * sent; later sends wait for it, so messages stay in order. When the
   * connection cannot send, the bytes stay counted, as the WHATWG standard
   * says of a `send()` after closing.
   */
  send(type: 'text' | 'binary', data: Uint8Array | (() => Promise<Uint8Array>), size: number): void {
    this.#outbox.count(size);
    if (!this.canSend) return;
    if (data instanceof Uint8Array) {
      if (this.#sendQueue.length === 0) {
        this.#sendNow(type, data, size);
        return;
      }
      // Queued behind a Blob: keep a copy, the caller may reuse its buffer.
      this.#sendQueue.push({ type, size, bytes: type === 'text' ? data : new Uint8Array(data) });
      return;
    }
    const outgoing: Outgoing = { type, size, bytes: null };
    this.#sendQueue.push(outgoing);
    data().then(
      (bytes) => {
        outgoing.bytes = bytes;
        this.#drainSendQueue();
      },
      (error: unknown) =>
        this.#fail('blob', 'a Blob passed to send() could not be read', {
          cause: error,
          code: INTERNAL_ERROR,
          reason: 'failed to read a Blob',
        }),
    );
  }

  /**
   * Send one frame of a message sent in fragments (RFC 6455, 5.4): the
   * first with the message's type, the others as continuations, `fin` on
   * the last. No other message may be sent until the last one. Counted in
   * `bufferedAmount` until the transport accepts it; `sent()` covers it.
   */
  sendFragment(type: 'text' | 'binary', data: Uint8Array, first: boolean, fin: boolean): void {
    this.#outbox.count(data.byteLength);
    if (!this.canSend) return;
    const protocol = this.#protocol;
    if (!first) protocol.sendContinuation(data, fin);
    else if (type === 'text') protocol.sendText(data, fin);
    else protocol.sendBinary(data, fin);
    this.#takeOutput(data.byteLength, 1);
  }

  /**
   * Start the closing handshake (RFC 6455, 7.1.2) if the connection is open
   * and it has not started: a close frame without a body when `code` is
   * undefined, else with `code` and `reason`.
   */
  close(code?: number, reason = ''): void {
    if (this.#state !== 'open') return;
    if (code === undefined) this.#protocol.sendClose();
    else this.#protocol.sendClose(code, reason);
    this.#state = 'closing';
    this.#keepalive.stop();
    this.#pump();
  }

  /**
   * Fail the connection because the application gave up on it while
   * connecting (the WHATWG `close()` before the connection is established).
   */
  abort(message: string): void {
    this.#fail('aborted', message);
  }

  /** A message handed to the front end was delivered (or dropped). */
  delivered(message: Message): void {
    this.#inbox.delivered(message);
  }

  // -------------------------------------------------------------------------
  // Sending

  #sendNow(type: 'text' | 'binary', bytes: Uint8Array, size: number): void {
    if (type === 'text') this.#protocol.sendText(bytes);
    else this.#protocol.sendBinary(bytes);
    this.#takeOutput(size, 1);
  }

  #drainSendQueue(): void {
    for (;;) {
      const next = this.#sendQueue[0];
      if (next?.bytes == null) return;
      this.#sendQueue.shift();
      // The connection may have started closing while a Blob was read: the
      // bytes then stay counted in bufferedAmount, as for any late send().
      if (this.canSend) this.#sendNow(next.type, next.bytes, next.size);
    }
  }

  /** Stage the protocol's output, carrying `appBytes` of application data and ending `messages` messages. */
  #takeOutput(appBytes: number, messages = 0): void {
    const protocol = this.#protocol;
    this.#outbox.stage(protocol.dataToSend(), appBytes, protocol.automaticPongs(), messages);
  }

  // -------------------------------------------------------------------------
  // The driver: transport events in, protocol output out.

  #onTransportOpen(): void {
    if (this.#state === 'failed' || this.#destroyed) return;
    this.#log?.transport('opened');
    this.#protocol.sendRequest(this.#protocol.connect());
    this.#pump();
  }

  #receive(chunk: Uint8Array): void {
    this.#protocol.receiveData(chunk);
    this.#pump();
  }

  #onTransportEnd(): void {
    this.#protocol.receiveEof();
    this.#pump();
    if (this.#state === 'open') this.#state = 'closing';
    // Sans-I/O rules: "If you called receive_eof, close the TCP connection
    // now" -- once our own end of stream (SEND_EOF) has been sent, which
    // waits for pending writes: bounded by the close timeout, as a peer
    // that stopped reading would hold them forever.
    this.#armCloseTimer();
    queueMicrotask(() => {
      void (this.#outbox.ended ?? Promise.resolve()).then(() => this.#destroyTransport());
    });
  }

  /** The front end delivered every message so far: an error the core held behind them counts now. */
  #onAllDelivered(): void {
    const held = this.#protocol.holdingError;
    this.#protocol.messagesHandled();
    if (held) this.#pump();
  }

  /** The three driver steps, in order. */
  #pump(): void {
    // 1. Write everything from dataToSend() first.
    this.#takeOutput(0);
    // 2. Then, if the peer is expected to close the byte stream, arm a timer.
    if (this.#protocol.closeExpected()) this.#armCloseTimer();
    // 3. Then handle the events.
    for (const event of this.#protocol.eventsReceived()) {
      if (this.#state === 'failed') break;
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
      this.#state !== 'failed' &&
      this.#state !== 'closed' &&
      !(this.#established && parserError instanceof UnexpectedEofError)
    ) {
      this.#state = 'failed';
      this.#releaseGate();
      this.#keepalive.stop();
      this.#recordFailure(
        ...describeParserError(parserError, this.#established),
        parserError,
        this.#protocol.closeSent?.code ?? ABNORMAL_CLOSURE,
      );
      this.#closeNow();
    }
  }

  #onResponse(response: Response): void {
    clearTimeout(this.#openTimer);
    this.#openTimer = undefined;
    // Established or failed, this connection is no longer CONNECTING.
    this.#releaseGate();
    // The opening handshake failed (status, Upgrade, Accept, negotiation):
    // fail the WebSocket connection.
    const handshakeError = this.#protocol.handshakeError;
    if (handshakeError !== null) {
      this.#state = 'failed';
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
    if (this.#subprotocols.length > 0 && this.#protocol.subprotocol === null) {
      this.#fail(
        'handshake',
        `Error during WebSocket handshake: the server selected none of the subprotocols offered (${this.#subprotocols.join(', ')})`,
      );
      return;
    }
    // Fetch stores the response's cookies before the connection is established.
    const cookies = response.headers.getAll('Set-Cookie');
    if (this.#cookies !== null && cookies.length > 0) this.#cookies.setCookies(this.#url, cookies);
    this.#established = true;
    this.#state = 'open';
    this.#handler.opened(
      this.#protocol.subprotocol ?? '',
      response.headers.getAll('Sec-WebSocket-Extensions').join(', '),
    );
    this.#keepalive.start();
  }

  #onFrame(frame: Frame): void {
    switch (frame.opcode) {
      case Opcode.TEXT:
      case Opcode.BINARY:
      case Opcode.CONT: {
        const message = this.#assembler.push(frame);
        if (message === null) return;
        this.#inbox.queued(message);
        this.#handler.message(message);
        return;
      }
      case Opcode.PONG:
        if (this.#keepalive.pong(frame.data)) {
          this.#log?.keepalive('pong', this.#keepalive.latencyMs);
        }
        return;
      case Opcode.CLOSE:
        if (this.#state === 'open') this.#state = 'closing';
        this.#keepalive.stop();
        this.#handler.closing();
        return;
      case Opcode.PING:
        return; // the core answers with a pong
    }
  }

  /**
   * "Fail the WebSocket connection" (RFC 6455, 7.1.7) for a reason found
   * here rather than by the core: send a close frame with `code` if the
   * connection is open and `code` isn't 1006, then close the connection at
   * once. `closed` follows when the transport closes; `kind` and `message`
   * say why (see `failure`).
   */
  #fail(
    kind: WebSocketFailureKind,
    message: string,
    details: { cause?: unknown; code?: number; reason?: string } = {},
  ): void {
    if (this.#state === 'failed' || this.#state === 'closed') return;
    this.#state = 'failed';
    this.#releaseGate();
    this.#keepalive.stop();
    const code = details.code ?? ABNORMAL_CLOSURE;
    const open = this.#protocol.state === State.OPEN;
    const sendsClose = open && code !== ABNORMAL_CLOSURE;
    this.#recordFailure(kind, message, details.cause, sendsClose ? code : ABNORMAL_CLOSURE);
    if (open || this.#protocol.state === State.CONNECTING) this.#protocol.fail(code, details.reason ?? '');
    this.#takeOutput(0);
    if (sendsClose) this.#closeNow();
    else this.#destroyTransport();
  }

  /** Record why the connection failed; the first reason wins. */
  #recordFailure(kind: WebSocketFailureKind, detail: string, cause: unknown, closeCode: number): void {
    if (this.#failure !== null) return;
    this.#log?.failure(kind, detail, cause);
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
    if (this.#destroyed) return;
    this.#outbox.flush();
    if (!this.#outbox.end()) return;
    this.#armCloseTimer();
    void this.#outbox.ended?.then(() => this.#destroyTransport());
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#closeTimeoutMs === null || this.#destroyed) return;
    const closeTimeoutMs = this.#closeTimeoutMs;
    this.#closeTimer = setTimeout(() => {
      this.#log?.closeTimeout(closeTimeoutMs);
      this.#destroyTransport();
    }, closeTimeoutMs);
  }

  #destroyTransport(error?: Error): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#log?.transport('closing', error?.message);
    this.#transport.destroy(error);
  }

  /** The byte stream is gone: the outcome goes up, and nothing outlives the connection. */
  #onTransportClose(error?: Error): void {
    if (this.#state === 'closed') return;
    this.#log?.transport('closed', error?.message);
    // Nothing is written, destroyed or timed from here on.
    this.#destroyed = true;
    this.#releaseGate();
    this.#outbox.close();
    this.#transport.off('open', this.#listeners.open);
    this.#transport.off('data', this.#listeners.data);
    this.#transport.off('end', this.#listeners.end);
    this.#transport.off('close', this.#listeners.close);
    this.#transport.readTarget = null;
    this.#sendQueue = [];
    // Bytes that arrived before the transport closed are parsed first: their
    // messages go up, and a protocol error among them fails the connection.
    this.#inbox.close();
    // Nothing the application does can reach the peer any more: a protocol
    // error the core held behind undelivered messages counts now.
    if (this.#protocol.holdingError) {
      this.#protocol.messagesHandled();
      this.#pump();
    }
    const failedBefore = this.#state === 'failed';
    this.#state = 'closed';
    clearTimeout(this.#openTimer);
    clearTimeout(this.#closeTimer);
    this.#openTimer = this.#closeTimer = undefined;
    this.#keepalive.stop();
    this.#assembler.reset();
    // The byte stream is gone: whatever the protocol still expected is an EOF.
    this.#protocol.receiveEof();
    this.#protocol.dataToSend();
    this.#protocol.eventsReceived();
    let failed = failedBefore || this.#failure !== null;
    if (error !== undefined && this.#protocol.closeRcvd === null && !this.#established) {
      failed = true;
      this.#recordFailure('transport', error.message, error, ABNORMAL_CLOSURE);
    }
    // RFC 6455, 7.1.4: "If the TCP connection was closed after the WebSocket
    // closing handshake was completed, the WebSocket connection is said to
    // have been closed _cleanly_."
    const wasClean = !failed && this.#protocol.closeRcvd !== null && this.#protocol.closeSent !== null;
    const code = this.#protocol.closeCode ?? ABNORMAL_CLOSURE;
    const reason = this.#protocol.closeReason ?? '';
    // Without a close frame (1006) before the connection was established,
    // connecting failed. Afterwards it was lost: close 1006 without error
    // (RFC 6455 7.1.5 doesn't fail it; Chromium fires no error either).
    if (failed || (!this.#established && code === ABNORMAL_CLOSURE)) {
      this.#recordFailure(
        'handshake',
        'the connection closed during the opening handshake',
        this.#protocol.parserError ?? undefined,
        ABNORMAL_CLOSURE,
      );
    }
    this.#log?.outcome(code, reason, wasClean);
    this.#handler.closed({ wasClean, code, reason, failure: this.#failure });
  }
}

/** A `send()` waiting behind a `Blob` being read, to keep messages in order. */
interface Outgoing {
  readonly type: 'text' | 'binary';
  readonly size: number;
  bytes: Uint8Array | null;
}

/** The core's view of a `ws:`/`wss:` URL record. */
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
