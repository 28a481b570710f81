/**
 * A fault-injecting wrapper around any transport, for tests: re-chunks what
 * is received (and optionally what is written) at seeded random sizes,
 * delays deliveries, ends the stream early, or resets it. Order is always
 * preserved; faults are reproducible from the seed.
 */
import { Transport, type TransportFactory, toError } from '../transports/transport.js';

/** Faults to inject; every fault is off by default. */
export interface FaultOptions {
  /** Seed of the PRNG that draws chunk sizes and delays. @defaultValue `1` */
  readonly seed?: number;
  /** Split each received chunk into pieces of 1 to `maxChunkSize` bytes. @defaultValue `null` (no split) */
  readonly maxChunkSize?: number | null;
  /** Also split each write into pieces of 1 to `maxChunkSize` bytes. @defaultValue `false` */
  readonly splitWrites?: boolean;
  /** Delay each received piece by 0 to `maxDelayMs` milliseconds (order kept). @defaultValue `0` */
  readonly maxDelayMs?: number;
  /** After this many received bytes, emit `end` and drop the rest (a premature FIN). @defaultValue `null` */
  readonly endAfterBytes?: number | null;
  /** After this many received bytes, destroy the inner transport and close with an error (a RST). @defaultValue `null` */
  readonly resetAfterBytes?: number | null;
}

/** A small seeded PRNG (mulberry32) returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Delivery = { readonly kind: 'data'; readonly chunk: Uint8Array } | { readonly kind: 'end' };

/** Wraps `inner` and injects the faults described by `options`. */
export class FaultTransport extends Transport {
  readonly #inner: Transport;
  readonly #random: () => number;
  readonly #maxChunkSize: number | null;
  readonly #splitWrites: boolean;
  readonly #maxDelayMs: number;
  readonly #endAfterBytes: number | null;
  readonly #resetAfterBytes: number | null;
  #received = 0;
  #queue: Delivery[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;
  #closed = false;
  #innerClosed: { error: Error | undefined } | null = null;

  constructor(inner: Transport, options: FaultOptions = {}) {
    super();
    this.#inner = inner;
    this.#random = mulberry32(options.seed ?? 1);
    this.#maxChunkSize = options.maxChunkSize ?? null;
    this.#splitWrites = options.splitWrites ?? false;
    this.#maxDelayMs = options.maxDelayMs ?? 0;
    this.#endAfterBytes = options.endAfterBytes ?? null;
    this.#resetAfterBytes = options.resetAfterBytes ?? null;
    inner.on('open', () => this.emit('open'));
    inner.on('data', (chunk) => this.#receive(chunk));
    inner.on('end', () => this.#enqueue({ kind: 'end' }));
    inner.on('close', (error) => {
      this.#innerClosed = { error };
      this.#pump();
    });
  }

  get supportsHalfClose(): boolean {
    return this.#inner.supportsHalfClose;
  }

  get secure(): boolean {
    return this.#inner.secure;
  }

  override async write(chunk: Uint8Array): Promise<void> {
    if (!this.#splitWrites || this.#maxChunkSize === null) return this.#inner.write(chunk);
    const writes: Promise<void>[] = [];
    for (const piece of this.#split(chunk)) writes.push(this.#inner.write(piece));
    await Promise.all(writes);
  }

  override end(): Promise<void> {
    return this.#inner.end();
  }

  override destroy(error?: Error): void {
    if (this.#closed) return;
    this.#inner.destroy(error);
    this.#finish(error);
  }

  // Flow control passes through; data already delayed by faults still
  // arrives while paused, which the contract allows.
  override pause(): void {
    this.#inner.pause();
  }

  override resume(): void {
    this.#inner.resume();
  }

  #split(chunk: Uint8Array): Uint8Array[] {
    if (this.#maxChunkSize === null) return [chunk];
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < chunk.byteLength; ) {
      const size = 1 + Math.floor(this.#random() * this.#maxChunkSize);
      pieces.push(chunk.subarray(i, i + size));
      i += size;
    }
    return pieces;
  }

  #receive(chunk: Uint8Array): void {
    if (this.#ended || this.#closed) return;
    for (const piece of this.#split(chunk)) this.#enqueue({ kind: 'data', chunk: piece });
  }

  #enqueue(delivery: Delivery): void {
    this.#queue.push(delivery);
    this.#pump();
  }

  /** Deliver queued pieces in order, each after its random delay. */
  #pump(): void {
    while (this.#timer === undefined && !this.#closed) {
      const next = this.#queue[0];
      if (next === undefined) {
        if (this.#innerClosed !== null) this.#finish(this.#innerClosed.error);
        return;
      }
      if (this.#maxDelayMs > 0 && next.kind === 'data') {
        const delay = Math.floor(this.#random() * (this.#maxDelayMs + 1));
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#queue.shift();
          this.#deliver(next);
          this.#pump();
        }, delay);
        return;
      }
      this.#queue.shift();
      this.#deliver(next);
    }
  }

  #deliver(delivery: Delivery): void {
    if (this.#ended || this.#closed) return;
    if (delivery.kind === 'end') {
      this.#ended = true;
      this.emit('end');
      return;
    }
    let chunk = delivery.chunk;
    const limit = this.#endAfterBytes ?? this.#resetAfterBytes;
    if (limit !== null && this.#received + chunk.byteLength >= limit) {
      chunk = chunk.subarray(0, limit - this.#received);
      this.#received = limit;
      if (chunk.byteLength > 0) this.emit('data', chunk);
      if (this.#endAfterBytes !== null) {
        // A premature FIN: the rest of the stream never arrives.
        this.#ended = true;
        this.#queue = [];
        this.emit('end');
      } else {
        const reset = new Error('connection reset (injected fault)');
        this.#inner.destroy();
        this.#finish(reset);
      }
      return;
    }
    this.#received += chunk.byteLength;
    this.emit('data', chunk);
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    queueMicrotask(() => {
      this.emit('close', error === undefined ? undefined : toError(error));
      this.#inner.removeAllListeners();
    });
  }
}

/** Wrap every transport a factory makes in a {@link FaultTransport}. */
export function withFaults(factory: TransportFactory, options: FaultOptions): TransportFactory {
  return (target) => new FaultTransport(factory(target), options);
}
