/**
 * A transport that only records: each `write()` and `end()` call in order,
 * with promises the test settles (`accept()`, `reject()`), and `pause()` /
 * `resume()` calls. For unit tests of the connection driver's parts, which
 * talk to a transport but not to a peer.
 */
import { Transport } from '../transports/transport.js';

/** One call the transport recorded. */
export type RecordedCall =
  | { readonly kind: 'write'; readonly chunk: Uint8Array }
  | { readonly kind: 'end' }
  | { readonly kind: 'destroy'; readonly error: Error | undefined }
  | { readonly kind: 'pause' }
  | { readonly kind: 'resume' };

export class RecordingTransport extends Transport {
  readonly supportsHalfClose = true;
  readonly secure = false;
  readonly calls: RecordedCall[] = [];
  /** Settle the oldest pending write or end, in order. */
  readonly #pending: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  /** Throw from `write()` instead of returning a promise. */
  throwOnWrite: Error | null = null;
  /** Value of `releasesWrittenChunks`. */
  releases = false;

  override get releasesWrittenChunks(): boolean {
    return this.releases;
  }

  /** The chunks written so far, in order. */
  get writes(): Uint8Array[] {
    return this.calls.flatMap((call) => (call.kind === 'write' ? [call.chunk] : []));
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.throwOnWrite !== null) throw this.throwOnWrite;
    this.calls.push({ kind: 'write', chunk });
    return new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
  }

  end(): Promise<void> {
    this.calls.push({ kind: 'end' });
    return new Promise((resolve) => this.#pending.push({ resolve, reject: () => resolve() }));
  }

  destroy(error?: Error): void {
    this.calls.push({ kind: 'destroy', error });
  }

  override pause(): void {
    this.calls.push({ kind: 'pause' });
  }

  override resume(): void {
    this.calls.push({ kind: 'resume' });
  }

  /** Accept the oldest `count` pending writes (and ends), and let their callbacks run. */
  async accept(count = 1): Promise<void> {
    for (let i = 0; i < count; i++) this.#pending.shift()?.resolve();
    await Promise.resolve();
    await Promise.resolve();
  }

  /** Reject the oldest pending write with `error`. */
  async reject(error: Error): Promise<void> {
    this.#pending.shift()?.reject(error);
    await Promise.resolve();
    await Promise.resolve();
  }
}
