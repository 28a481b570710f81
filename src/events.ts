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

  constructor(type: string, eventInitDict: CloseEventInit | null = {}) {
    // `type` is required: a missing one throws, while an explicit `undefined`
    // becomes "undefined". Event can't tell the two apart, as `super()`
    // always passes it on.
    // biome-ignore lint/complexity/noArguments: only `arguments` tells a missing argument from `undefined`
    if (arguments.length === 0) throw new TypeError("Failed to construct 'CloseEvent': 1 argument required");
    // Event converts `type` and the EventInit members, and rejects a
    // non-object dictionary; null or undefined is an empty dictionary.
    super(type, eventInitDict ?? {});
    const init = eventInitDict ?? {};
    // WebIDL dictionary conversion: members in lexicographic order, each read
    // once; an absent (undefined) member takes its default, null does not.
    // `code` is an unsigned short without [Clamp]: modulo 2^16 after truncation.
    const code = init.code;
    this.#code = code === undefined ? 0 : toUnsignedShort(code);
    const reason = init.reason;
    this.#reason = reason === undefined ? '' : toUsvString(reason);
    this.#wasClean = Boolean(init.wasClean);
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

/** WebIDL `unsigned short` (no [Clamp], no [EnforceRange]): NaN and infinities are 0, the rest wraps. */
function toUnsignedShort(value: unknown): number {
  // Unary plus, not Number(): like WebIDL's ToNumber, it throws on a BigInt
  // (and on a Symbol).
  const number = +(value as number);
  if (!Number.isFinite(number)) return 0;
  return ((Math.trunc(number) % 0x10000) + 0x10000) % 0x10000;
}

/** WebIDL `USVString`: a Symbol throws; lone surrogates become U+FFFD. */
function toUsvString(value: unknown): string {
  if (typeof value === 'symbol')
    throw new TypeError("Failed to construct 'CloseEvent': Cannot convert a Symbol value to a string");
  return String(value).replace(LONE_SURROGATE, '\uFFFD');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// WebIDL attributes are enumerable accessors; class getters are not.
for (const name of ['wasClean', 'code', 'reason']) {
  Object.defineProperty(CloseEventFallback.prototype, name, { enumerable: true });
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
