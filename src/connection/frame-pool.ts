/**
 * Recycling the arrays a client's large frames are serialized into.
 *
 * A client copies every payload it sends into a new array, masking it on
 * the way (RFC 6455, 5.3), and the frame waits in that array until the
 * transport has written it. For large frames the new array, not the
 * masking, is most of the cost: measured per MiB, allocating a fresh array
 * and writing it once costs 1.2–1.5 ms in Chromium (its allocator maps
 * large arrays afresh each time, and every page faults in on first write)
 * and 0.3 ms on Node, against 0.04–0.1 ms to copy into an array that is
 * already in memory, and about 0.1 ms to mask a MiB in WebAssembly.
 *
 * So a connection whose transport is done with a chunk once its write
 * resolved (`Transport.releasesWrittenChunks`) gives the frame's array
 * back here, and the next large frame of about the same size is
 * serialized into it. Only arrays this pool handed out come back (never
 * an application's payload), and each only after its write resolved.
 * Spare arrays are held weakly: the engine's next full garbage collection
 * may free them, so an idle connection keeps no memory alive for them.
 */
import { allocUninitialized } from '../protocol/platform.js';

/** Frames this large are recycled: the outbox writes them by themselves, each as one chunk. */
export const FRAME_POOL_MIN = 16 * 1024;

/** Spare arrays kept at most; a loop of sends needs one or two. */
const MAX_SPARES = 4;

export class FramePool {
  /** The buffers of the arrays handed out and not yet given back. */
  readonly #out = new WeakSet<ArrayBuffer>();
  /** Buffers given back, oldest first, weakly held. */
  readonly #spares: Array<WeakRef<ArrayBuffer>> = [];

  /**
   * An array of exactly `size` bytes, whose contents are undefined: a
   * spare whose buffer holds `size` to twice `size` bytes, else a new one.
   */
  readonly allocate = (size: number): Uint8Array<ArrayBuffer> => {
    if (size < FRAME_POOL_MIN) return allocUninitialized(size);
    const spares = this.#spares;
    for (let i = spares.length - 1; i >= 0; i--) {
      const buffer = spares[i]!.deref();
      if (buffer === undefined) {
        spares.splice(i, 1);
        continue;
      }
      if (buffer.byteLength >= size && buffer.byteLength <= 2 * size) {
        spares.splice(i, 1);
        this.#out.add(buffer);
        return new Uint8Array(buffer, 0, size);
      }
    }
    const fresh = allocUninitialized(size);
    this.#out.add(fresh.buffer);
    return fresh;
  };

  /**
   * `chunk` was written and the transport is done with it: keep its buffer
   * for a later frame if this pool handed it out (anything else is left
   * alone). Call it once per chunk, after its write resolved.
   */
  release(chunk: Uint8Array): void {
    const buffer = chunk.buffer as ArrayBuffer;
    if (!this.#out.delete(buffer)) return;
    const spares = this.#spares;
    if (spares.length >= MAX_SPARES) spares.shift();
    spares.push(new WeakRef(buffer));
  }
}
