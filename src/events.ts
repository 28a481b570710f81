/**
 * `CloseEvent`, with a fallback for runtimes that lack it (Node 20 has
 * `Event`, `MessageEvent` and `EventTarget` but no `CloseEvent`).
 *
 * @see https://websockets.spec.whatwg.org/#the-closeevent-interface
 */

/** The fallback `CloseEvent`: the WHATWG interface on top of the native `Event`. */
class CloseEventFallback extends Event implements globalThis.CloseEvent {
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

/**
 * The platform's `CloseEvent` when it has one, else a spec-conforming
 * fallback.
 */
export const CloseEvent: typeof globalThis.CloseEvent =
  typeof globalThis.CloseEvent === 'function' ? globalThis.CloseEvent : CloseEventFallback;

/** A `CloseEvent` instance. */
export type CloseEvent = globalThis.CloseEvent;
