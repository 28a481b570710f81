/**
 * The WHATWG `WebSocket` interface (https://websockets.spec.whatwg.org/):
 * IDL attributes, events and tasks, over a connection driver
 * (`connection/connection.ts`) that runs the Sans-I/O RFC 6455 core over a
 * pluggable byte transport.
 *
 * Theory of operation
 * -------------------
 * The driver reports the connection's life (opened, each message, the peer
 * starting the closing handshake, closed with its outcome); this class turns
 * each report into a task, as browsers do: open, each message, the start of
 * the closing handshake, then error and close, in order, each in a task of
 * its own (`scheduleTask()`), so that a microtask queued by one handler runs
 * before the next event. `readyState` is therefore this object's own field,
 * not the driver's state: it changes in those tasks, and synchronously in
 * `close()`. Once a message's task has run, the driver hears that it was
 * delivered, which paces parsing (see `connection/inbox.ts`).
 */

import { clientOrigin, isMixedContent } from './client-context.js';
import {
  Connection,
  type ConnectionHandler,
  type ConnectionOptions,
  type ConnectionOutcome,
} from './connection/connection.js';
import { CloseEvent } from './events.js';
import { createErrorEvent, type WebSocketConnectionError } from './failure.js';
import { type BinaryType, type Message, messageData } from './message.js';
import { encodeUtf8 } from './protocol/platform.js';
import { scheduleTask } from './task.js';
import {
  checkCloseCodeAndReason,
  clampUnsignedShort,
  getUrlRecord,
  isArrayBuffer,
  isBlob,
  toDomString,
  toSubprotocols,
} from './webidl.js';

export { DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE } from './connection/connection.js';
export type { BinaryType } from './message.js';

/** Non-standard options: the third argument of the constructor (see {@link ConnectionOptions}). */
export interface WebSocketOptions extends ConnectionOptions {
  /**
   * Let a page loaded over `https:` open a `ws:` connection, which browsers
   * refuse as mixed content (the constructor throws a `SecurityError`). For
   * a transport that secures the page's side of the connection itself, such
   * as WebTransport to a gateway that reaches the `ws:` server from the
   * server side. @defaultValue `false`
   */
  readonly allowMixedContent?: boolean;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
type ReadyState = typeof CONNECTING | typeof OPEN | typeof CLOSING | typeof CLOSED;

/**
 * The standard public members of {@link WebSocket}: what `this` is in an
 * event handler. (Without the private fields and the non-standard members,
 * so that lib.dom's `WebSocket` is one too.)
 */
export type WebSocketInstance = Pick<WebSocket, Exclude<keyof WebSocket, 'failure' | 'latency'>>;

// biome-ignore lint/suspicious/noExplicitAny: lib.dom types handlers as returning any
type Handler<E extends Event> = ((this: WebSocketInstance, ev: E) => any) | null;

interface HandlerSlot {
  /** A function, or a non-callable object that an `on…` attribute keeps without calling it. */
  handler: (this: WebSocketInstance, ev: Event) => unknown;
  readonly listener: (ev: Event) => void;
}

const CONSTRUCT = "Failed to construct 'WebSocket'";
const CLOSE = "Failed to execute 'close' on 'WebSocket'";

/** Whether `value` carries a WebSocket's private state (set in the class's static block). */
let hasState: (value: object) => boolean;

/**
 * The platform's `MessageEvent`, or where its events do not stringify as
 * "[object MessageEvent]" (Node 20's prototype inherits Event's
 * `Symbol.toStringTag`; WPT websockets/interfaces/WebSocket/events/018
 * checks it), a subclass of it that does.
 */
const TaggedMessageEvent: typeof MessageEvent = /* @__PURE__ */ taggedMessageEvent();

function taggedMessageEvent(): typeof MessageEvent {
  const Platform = globalThis.MessageEvent;
  if (typeof Platform !== 'function') return Platform;
  if (Object.prototype.toString.call(Platform.prototype) === '[object MessageEvent]') return Platform;
  const Tagged = class MessageEvent extends (Platform as new (
    type: string,
    init?: MessageEventInit,
  ) => Event) {};
  Object.defineProperty(Tagged.prototype, Symbol.toStringTag, { value: 'MessageEvent', configurable: true });
  return Tagged as unknown as typeof globalThis.MessageEvent;
}

/**
 * The serialization of the client's origin (a page's or a worker's
 * `location.origin`); `null` where there is no client (Node, Deno, Bun
 * without `--location`), and then no Origin header is sent.
 */
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
  readonly #connection: Connection;
  readonly #handlers = new Map<string, HandlerSlot>();

  #readyState: ReadyState = CONNECTING;
  #subprotocol = '';
  #extensions = '';
  #binaryType: BinaryType = 'blob';
  /** This connection's queued tasks, in order: a message to dispatch, or steps to run. */
  #tasks: Array<Message | (() => void) | undefined> = [];
  #taskHead = 0;
  /** Runs the task at the head of `#tasks`: one `scheduleTask()` per queued task. */
  readonly #runTask = (): void => this.#runNextTask();

  static {
    hasState = (value) => #connection in value;
  }

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
    // WebIDL: `url` is a required argument (a missing one is not "undefined").
    // biome-ignore lint/complexity/noArguments: only arguments tells a missing argument from undefined
    if (arguments.length === 0) {
      throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
    }
    // 1. Let baseURL be this's relevant settings object's API base URL.
    // 2. Let urlRecord be the result of getting a URL record given url and baseURL.
    // 3. If urlRecord is failure, then throw a "SyntaxError" DOMException.
    const urlRecord = getUrlRecord(url, CONSTRUCT);
    // Mixed Content, WebSockets integration: a connection to a `ws:` URL from
    // a page loaded over `https:` is blocked, and browsers throw here.
    if (options.allowMixedContent !== true && isMixedContent(urlRecord)) {
      throw new DOMException(
        `${CONSTRUCT}: An insecure WebSocket connection may not be initiated from a page loaded over HTTPS.`,
        'SecurityError',
      );
    }
    // 4.-5. Convert protocols to a sequence; throw a "SyntaxError"
    //       DOMException for duplicates and invalid values.
    const offered = toSubprotocols(protocols, CONSTRUCT);
    // 6. Set this's url to urlRecord.
    this.#url = urlRecord;
    this.#origin = urlRecord.origin;
    // 7.-8. Run this step in parallel: establish a WebSocket connection given
    //       urlRecord, protocols, and client.
    // Fetch: a request's Origin header is the serialization of its origin,
    // the client's (the page's or worker's) where there is one.
    const origin = options.origin === undefined ? clientOrigin() : options.origin;
    this.#connection = new Connection(urlRecord, offered, { ...options, origin }, this.#reports());
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
    return this.#connection.bufferedAmount;
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
    // WebIDL checks `this` first: reading the private field throws a
    // TypeError for an object that is not a WebSocket.
    void this.#binaryType;
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
    return this.#connection.failure;
  }

  /**
   * Non-standard: the round trip of the last keepalive ping answered, in
   * milliseconds (`pingIntervalMs`); `null` before one is, and without
   * keepalive.
   */
  get latency(): number | null {
    return this.#connection.latencyMs;
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
    //    needed to express the argument". (The driver counts and sends, or
    //    only counts once the closing handshake started.)
    if (isBlob(data)) {
      this.#connection.send(
        'binary',
        () => data.arrayBuffer().then((buffer) => new Uint8Array(buffer)),
        data.size,
      );
      return;
    }
    let bytes: Uint8Array;
    if (isArrayBuffer(data)) {
      bytes = new Uint8Array(data);
    } else if (ArrayBuffer.isView(data)) {
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      // USVString: lone surrogates become U+FFFD in the encoder.
      const text = encodeUtf8(toDomString(data, "Failed to execute 'send' on 'WebSocket'"));
      this.#connection.send('text', text, text.byteLength);
      return;
    }
    this.#connection.send('binary', bytes, bytes.byteLength);
  }

  /**
   * https://websockets.spec.whatwg.org/#dom-websocket-close
   *
   * @throws DOMException "InvalidAccessError" if `code` is neither 1000 nor in 3000–4999.
   * @throws DOMException "SyntaxError" if `reason` is longer than 123 bytes of UTF-8.
   */
  close(code?: number, reason?: string): void {
    // WebIDL checks `this` before converting the arguments (a TypeError for
    // an object that is not a WebSocket); the state is read again after them.
    void this.#readyState;
    // WebIDL: [Clamp] unsigned short code, USVString reason.
    const closeCode = code === undefined ? undefined : clampUnsignedShort(code);
    const closeReason =
      reason === undefined ? undefined : toDomString(reason, "Failed to execute 'close' on 'WebSocket'");
    // 1. If code is present, but is neither an integer equal to 1000 nor an
    //    integer in the range 3000 to 4999, inclusive, throw an
    //    "InvalidAccessError" DOMException.
    // 2. If reason is present, then run these substeps:
    //    1. Let reasonBytes be the result of encoding reason.
    //    2. If reasonBytes is longer than 123 bytes, then throw a "SyntaxError" DOMException.
    const wellFormedReason = checkCloseCodeAndReason(closeCode ?? null, closeReason ?? null, CLOSE);
    // 3. Run the first matching steps from the following list:
    // - If this's ready state is CLOSING (2) or CLOSED (3): Do nothing.
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    // - If the WebSocket connection is not yet established: Fail the
    //   WebSocket connection and set this's ready state to CLOSING (2).
    //   (Established, but the open event still pending, counts as not yet:
    //   the page never saw OPEN.)
    if (this.#readyState === CONNECTING) {
      // (Chromium says "WebSocket is closed before the connection is established.")
      this.#connection.abort('close() was called before the connection was established');
      this.#readyState = CLOSING;
      return;
    }
    // - If the WebSocket closing handshake has not yet been started: Start
    //   the WebSocket closing handshake and set this's ready state to
    //   CLOSING (2). "If neither code nor reason is present, the WebSocket
    //   Close message must not have a body." A reason without a code is sent
    //   with code 1000. (The driver starts it only if it has not started.)
    if (closeCode === undefined && closeReason === undefined) this.#connection.close();
    else this.#connection.close(closeCode ?? 1000, wellFormedReason);
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
    // EventHandler is [LegacyTreatNonObjectAsNull]: any object is kept (and
    // returned by the getter), anything else means null.
    if ((typeof handler !== 'object' && typeof handler !== 'function') || handler === null) {
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
        // WebIDL, invoking a callback function: "If IsCallable(F) is false",
        // as for an object kept above, the result is undefined: nothing runs.
        if (typeof created.handler === 'function') created.handler.call(this, event);
      },
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }

  // -------------------------------------------------------------------------
  // Feedback from the protocol: https://websockets.spec.whatwg.org/#feedback-from-the-protocol

  /** What the driver reports: each report becomes a task. */
  #reports(): ConnectionHandler {
    return {
      // "When the WebSocket connection is established, the user agent must
      // queue a task to run these steps:"
      opened: (subprotocol, extensions) =>
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
        }),
      // A message is queued as itself rather than in a closure (one object
      // less per message).
      message: (message) => this.#queueTask(message),
      // "When the WebSocket closing handshake is started, the user agent
      // must queue a task to change the ready state to CLOSING (2)."
      closing: () =>
        this.#queueTask(() => {
          if (this.#readyState === OPEN) this.#readyState = CLOSING;
        }),
      closed: (outcome) => this.#queueTask(() => this.#closed(outcome)),
    };
  }

  /** "When a WebSocket message has been received" */
  #dispatchMessage(message: Message): void {
    // 1. If this's ready state is not OPEN (1), then return.
    if (this.#readyState !== OPEN) return;
    // 2.-3. Let dataForEvent be determined by switching on type and binaryType.
    const data = messageData(message, this.#binaryType);
    // 4. Fire an event named message at the WebSocket object, using
    //    MessageEvent, with the origin attribute initialized to the
    //    serialization of the WebSocket object's url's origin, and the data
    //    attribute initialized to dataForEvent.
    this.dispatchEvent(new TaggedMessageEvent('message', { data, origin: this.#origin }));
  }

  /** "When the WebSocket connection is closed", the task's steps. */
  #closed({ wasClean, code, reason, failure }: ConnectionOutcome): void {
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
  }

  /** Queue a task on the WebSocket task source: one task per event, in order. */
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
    try {
      this.#dispatchMessage(task);
    } finally {
      // Parse what arrived meanwhile, if few messages wait now.
      this.#connection.delivered(task);
    }
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

/**
 * The classes that share WebSocket's identity: this one and those
 * `deriveWebSocket()` shapes like it (bind-options.ts).
 *
 * @internal
 */
export const interfaceClasses = new WeakSet<object>([WebSocket]);

// Every WebSocket class of this library (this one, an entry point's, a
// `bindOptions()` one) is one interface: `instanceof` any of them holds for
// any of their instances, which carry this class's state. An application's
// subclass keeps the ordinary prototype check.
Object.defineProperty(WebSocket, Symbol.hasInstance, {
  value: function hasInstance(this: unknown, value: unknown): boolean {
    if (interfaceClasses.has(this as object))
      return typeof value === 'object' && value !== null && hasState(value);
    return Function.prototype[Symbol.hasInstance].call(this, value);
  },
  configurable: true,
});

defineReadyStates(WebSocket);
defineReadyStates(WebSocket.prototype);
// WebIDL: an operation's length counts its required arguments; both of
// close()'s are optional (TypeScript's optional parameters still count).
Object.defineProperty(WebSocket.prototype.close, 'length', { value: 0 });
Object.defineProperty(WebSocket.prototype, Symbol.toStringTag, { value: 'WebSocket', configurable: true });
// WebIDL: attributes and operations are enumerable (class members are not).
// Redefining only `enumerable` keeps the rest of each descriptor.
for (const name of Object.getOwnPropertyNames(WebSocket.prototype)) {
  if (name !== 'constructor') Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}
