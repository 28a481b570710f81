/**
 * `CloseEvent`, with a fallback for runtimes that lack it (Node 20 has
 * `Event`, `MessageEvent` and `EventTarget` but no `CloseEvent`).
 *
 * The types are declared here rather than taken from lib.dom: the published
 * declarations must type-check in a Node project without the DOM lib, where
 * Node's own types declare `Event` but no `CloseEvent` or `CloseEventInit`.
 * They match lib.dom's structurally (`events.type-test.ts` checks both ways).
 *
 * @see https://websockets.spec.whatwg.org/#the-closeevent-interface
 */

/** The dictionary of `new CloseEvent(type, eventInitDict)`. */
export interface CloseEventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
  wasClean?: boolean;
  code?: number;
  reason?: string;
}

/** A `CloseEvent` instance. */
export interface CloseEvent extends Event {
  /** Whether the connection closed after the closing handshake completed. */
  readonly wasClean: boolean;
  /** The WebSocket connection close code (RFC 6455, 7.1.5). */
  readonly code: number;
  /** The WebSocket connection close reason (RFC 6455, 7.1.6). */
  readonly reason: string;
}

/** The `CloseEvent` interface object, typed as lib.dom types it. */
export interface CloseEventConstructor {
  readonly prototype: CloseEvent;
  new (type: string, eventInitDict?: CloseEventInit): CloseEvent;
}

/** The fallback `CloseEvent`: the WHATWG interface on top of the native `Event`. */
class CloseEventFallback extends Event implements CloseEvent {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  constructor(type: string, eventInitDict: CloseEventInit = {}) {
    super(type, eventInitDict);
    // WebIDL dictionary conversion: boolean, [Clamp]-less unsigned short, USVString.
    this.#wasClean = Boolean(eventInitDict.wasClean ?? false);
    this.#code = (Number(eventInitDict.code ?? 0) >>> 0) & 0xffff;
    this.#reason = String(eventInitDict.reason ?? '');
  }

  /** Whether the connection closed after the closing handshake completed. */
  get wasClean(): boolean {
    return this.#wasClean;
  }

  /** The WebSocket connection close code (RFC 6455, 7.1.5). */
  get code(): number {
    return this.#code;
  }

  /** The WebSocket connection close reason (RFC 6455, 7.1.6). */
  get reason(): string {
    return this.#reason;
  }
}

Object.defineProperty(CloseEventFallback, 'name', { value: 'CloseEvent' });
Object.defineProperty(CloseEventFallback.prototype, Symbol.toStringTag, {
  value: 'CloseEvent',
  configurable: true,
});

const platformCloseEvent = (globalThis as { CloseEvent?: CloseEventConstructor }).CloseEvent;

/**
 * The platform's `CloseEvent` when it has one, else a spec-conforming
 * fallback.
 */
export const CloseEvent: CloseEventConstructor =
  typeof platformCloseEvent === 'function' ? platformCloseEvent : CloseEventFallback;
