/**
 * Keepalive: a ping every `intervalMs` once the connection is open, and the
 * connection fails if its pong doesn't come within `timeoutMs`. The round
 * trip of the last answered ping is kept as `latencyMs`.
 *
 * Each ping carries 4 random bytes, and only a pong with the same payload
 * answers it (RFC 6455, 5.5.3: "A Pong frame sent in response to a Ping
 * frame must have identical 'Application data' as found in the message body
 * of the Ping frame being replied to."); unsolicited pongs are ignored.
 */

/** What the keepalive needs from its connection. */
export interface KeepaliveOwner {
  /** Send a ping with `payload`; `false` if the connection can no longer send. */
  ping(payload: Uint8Array): boolean;
  /** No pong in time: fail the connection. */
  timedOut(timeoutMs: number): void;
}

const now: () => number =
  typeof performance === 'object' && typeof performance.now === 'function'
    ? () => performance.now()
    : () => Date.now();

export class Keepalive {
  readonly #intervalMs: number | null;
  readonly #timeoutMs: number | null;
  readonly #owner: KeepaliveOwner;
  #pingTimer: ReturnType<typeof setTimeout> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  #payload: Uint8Array | null = null;
  #sentAt = 0;
  #latencyMs: number | null = null;
  #stopped = false;

  constructor(intervalMs: number | null, timeoutMs: number | null, owner: KeepaliveOwner) {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#owner = owner;
  }

  /** The round trip of the last keepalive ping answered, in milliseconds; `null` before one is. */
  get latencyMs(): number | null {
    return this.#latencyMs;
  }

  /** Start pinging (the connection is open). */
  start(): void {
    this.#schedule();
  }

  /**
   * A pong arrived: if it answers the ping in flight, measure it, schedule
   * the next and return `true`; else (unsolicited) `false`.
   */
  pong(data: Uint8Array): boolean {
    const expected = this.#payload;
    if (expected === null || !equalBytes(data, expected)) return false;
    this.#payload = null;
    this.#latencyMs = now() - this.#sentAt;
    clearTimeout(this.#pongTimer);
    this.#pongTimer = undefined;
    this.#schedule();
    return true;
  }

  /** The connection is closing or closed: no timer outlives it. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#pongTimer);
    this.#pingTimer = this.#pongTimer = undefined;
  }

  #schedule(): void {
    if (this.#intervalMs === null || this.#stopped) return;
    this.#pingTimer = setTimeout(() => this.#ping(), this.#intervalMs);
  }

  #ping(): void {
    this.#pingTimer = undefined;
    const payload = new Uint8Array(4);
    crypto.getRandomValues(payload);
    if (!this.#owner.ping(payload)) return;
    this.#payload = payload;
    this.#sentAt = now();
    const timeoutMs = this.#timeoutMs;
    if (timeoutMs === null) return;
    this.#pongTimer = setTimeout(() => {
      this.#pongTimer = undefined;
      this.#owner.timedOut(timeoutMs);
    }, timeoutMs);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
