import { InvalidStateError } from './errors.js';
import { allocUninitialized } from './platform.js';

/**
 * A FIFO of received byte chunks.
 *
 * Theory of operation: parsers peek at the front of the queue without
 * consuming it, and consume only once a whole unit (a frame, an HTTP head) is
 * buffered. `take(n)` returns a view (no copy) when the bytes lie in a single
 * chunk, else one new array; the copy happens only across chunk boundaries.
 *
 * Ownership: the queue owns every chunk given to `push()`. Callers must not
 * reuse or mutate a chunk after pushing it, which is what lets the frame
 * parser unmask payloads in place.
 *
 * Small chunks that arrive behind unread bytes are copied into a shared tail
 * buffer instead of being kept one array each: a peer that dribbles a large
 * frame one byte per TCP segment would otherwise cost ~100 bytes of memory
 * per byte received.
 *
 * A large region that a parser will take whole (a frame's payload) can be
 * reserved (`reserve()`): it is then assembled in one array as it arrives,
 * and each chunk is released at once.
 */
export class ByteQueue {
  readonly #chunks: Uint8Array[] = [];
  /** Index of the first chunk still holding unread bytes. */
  #first = 0;
  /** Offset of the first unread byte in `#chunks[#first]`. */
  #head = 0;
  #length = 0;
  /** Buffer that small chunks are copied into; the last chunk is a view of its first `#tailUsed` bytes. */
  #tail: Uint8Array | null = null;
  #tailUsed = 0;
  /** The array a reserved region is assembled in (the last chunk is a view of its filled part), and how much is filled. */
  #reserved: Uint8Array | null = null;
  #reservedFilled = 0;
  /**
   * Where `#reserved` lies in its buffer, and that buffer's size: kept apart
   * because a read that transfers the buffer (see `push()`) leaves the array
   * detached, reporting 0 for all three.
   */
  #reservedOffset = 0;
  #reservedLength = 0;
  #reservedBufferLength = 0;

  /** Number of unread bytes. */
  get length(): number {
    return this.#length;
  }

  /** Append a chunk; the queue takes ownership of it. */
  push(chunk: Uint8Array): void {
    const size = chunk.byteLength;
    if (size === 0) return;
    let reserved = this.#reserved;
    if (reserved !== null) {
      // A read that transfers its target's buffer (a BYOB read of a byte
      // stream, which detaches the array it is given) left the region
      // detached: its bytes, and those just read, are in `chunk`'s buffer.
      if (reserved.byteLength === 0) reserved = this.#adopt(chunk);
      // Fill the reserved region first; what lies beyond it is queued as usual.
      const count = Math.min(size, reserved.byteLength - this.#reservedFilled);
      // Bytes read straight into `fillTarget()` are already in place.
      const inPlace =
        chunk.buffer === reserved.buffer && chunk.byteOffset === reserved.byteOffset + this.#reservedFilled;
      if (!inPlace) reserved.set(count === size ? chunk : chunk.subarray(0, count), this.#reservedFilled);
      this.#reservedFilled += count;
      this.#length += count;
      this.#chunks[this.#chunks.length - 1] = reserved.subarray(0, this.#reservedFilled);
      if (this.#reservedFilled === reserved.byteLength) this.#reserved = null;
      if (count < size) this.push(chunk.subarray(count));
      return;
    }
    // A small chunk into an empty queue is kept as it is too: most are
    // consumed whole right away (a small message each), and copying them
    // would cost a tail buffer per message. Only chunks that accumulate
    // behind unread bytes are packed.
    const empty = this.#length === 0;
    this.#length += size;
    if (size > SMALL_CHUNK || empty) {
      this.#tail = null;
      this.#chunks.push(chunk);
      return;
    }
    const chunks = this.#chunks;
    const last = chunks.length - 1;
    const tail = this.#tail;
    // Append to the tail buffer while it is still the last chunk and has room.
    if (
      tail !== null &&
      last >= this.#first &&
      chunks[last]!.buffer === tail.buffer &&
      this.#tailUsed + size <= tail.byteLength
    ) {
      tail.set(chunk, this.#tailUsed);
      this.#tailUsed += size;
      chunks[last] = tail.subarray(0, this.#tailUsed);
      return;
    }
    const fresh = new Uint8Array(TAIL_SIZE);
    fresh.set(chunk);
    this.#tail = fresh;
    this.#tailUsed = size;
    chunks.push(fresh.subarray(0, size));
  }

  /**
   * Take over the buffer that a read into `fillTarget()` transferred: the
   * region, with the bytes it held, now lies at the same place in
   * `chunk.buffer`, and `chunk` is a view of what the read added.
   * @throws InvalidStateError if `chunk` is not that view: the region's
   *   bytes are gone, and receiving could only go on with a hole.
   */
  #adopt(chunk: Uint8Array): Uint8Array {
    if (
      chunk.buffer.byteLength !== this.#reservedBufferLength ||
      chunk.byteOffset !== this.#reservedOffset + this.#reservedFilled
    ) {
      throw new InvalidStateError(
        'the array from receiveBuffer() was detached, and the bytes received next are not the view of its buffer that the read returned',
      );
    }
    const region = new Uint8Array(chunk.buffer, this.#reservedOffset, this.#reservedLength);
    this.#reserved = region;
    // The region's filled part is the last chunk (see reserve()).
    this.#chunks[this.#chunks.length - 1] = region.subarray(0, this.#reservedFilled);
    return region;
  }

  /**
   * Announce that the `length` bytes that start `offset` bytes from the
   * front will be taken whole (`skip(offset)`, then `take(length)`), as the
   * frame parser does once it has read the header of a large frame. Once
   * 1/16 of them is buffered (RESERVE_AHEAD), they are assembled in one
   * array: what is buffered is copied into it, and later chunks are copied
   * as they arrive and released at once, or read straight into it by a
   * transport that asks for `fillTarget()` (no copy at all). Memory then
   * peaks at about the region's size rather than twice it (every chunk kept
   * until the last, then the copy), and each chunk is copied while still in
   * cache. Waiting for a part of the region bounds what a peer can make us
   * allocate ahead of what it sent to RESERVE_AHEAD times that (and to the
   * frame size limit the parser checked).
   *
   * No-op for regions under 64 KiB, regions already buffered whole, before
   * 1/16 of the region is buffered, and while another region is reserved.
   * Consuming anything before the region is complete cancels it (the bytes
   * stay queued, in order).
   */
  reserve(offset: number, length: number): void {
    const have = this.#length - offset;
    if (this.#reserved !== null || length < RESERVE_MIN || have >= length || have * RESERVE_AHEAD < length)
      return;
    const out = allocUninitialized(length);
    // Keep the `offset` bytes before the region (a frame header) as a chunk
    // of their own; copy the region's buffered bytes into `out`.
    const prefix = offset > 0 ? this.take(offset).slice() : null;
    this.#consumeInto(out, have);
    this.#chunks.length = 0;
    this.#first = 0;
    this.#head = 0;
    this.#tail = null;
    if (prefix !== null) this.#chunks.push(prefix);
    this.#chunks.push(out.subarray(0, have));
    this.#length = offset + have;
    this.#reserved = out;
    this.#reservedFilled = have;
    this.#reservedOffset = out.byteOffset;
    this.#reservedLength = out.byteLength;
    this.#reservedBufferLength = out.buffer.byteLength;
  }

  /**
   * The unfilled rest of the reserved region, or `null` when none is being
   * assembled: an array that the next bytes received may be written into
   * directly (a socket read into it), then `push()`ed as a view of it, which
   * then copies nothing. Everything queued lies before it, so bytes written
   * there are the next in order. Valid until the next `push()` or until
   * anything is consumed; bytes written into a stale target and pushed are
   * copied like any other chunk.
   *
   * A read may also transfer the target's buffer (a BYOB read, which
   * detaches the array it is given and returns a view of the same memory
   * in a new buffer): `push()` that view next and the queue adopts the new
   * buffer. Nothing may be consumed from the queue while such a read is
   * pending, since the region's filled part is detached with it.
   */
  fillTarget(): Uint8Array | null {
    const reserved = this.#reserved;
    return reserved === null ? null : reserved.subarray(this.#reservedFilled);
  }

  /** Byte at `index` from the front, without consuming it. Caller checks bounds. */
  peek(index: number): number {
    let i = index + this.#head;
    const chunks = this.#chunks;
    for (let c = this.#first; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      if (i < chunk.byteLength) return chunk[i]!;
      i -= chunk.byteLength;
    }
    throw new RangeError(`peek(${index}) past end of queue (${this.#length} bytes)`);
  }

  /**
   * Call `visit` with views of the unread bytes `[offset, offset + length)`,
   * in order, without consuming or copying them; stop early when it returns
   * `false`. Caller checks bounds. The views must not be kept or mutated.
   */
  views(offset: number, length: number, visit: (view: Uint8Array) => boolean): void {
    let skip = offset + this.#head;
    let left = length;
    const chunks = this.#chunks;
    for (let c = this.#first; c < chunks.length && left > 0; c++) {
      const chunk = chunks[c]!;
      if (skip >= chunk.byteLength) {
        skip -= chunk.byteLength;
        continue;
      }
      const count = Math.min(chunk.byteLength - skip, left);
      if (!visit(chunk.subarray(skip, skip + count))) return;
      left -= count;
      skip = 0;
    }
  }

  /**
   * Offset from the front of the first occurrence of `byte` at or after
   * `from`, or -1.
   */
  indexOf(byte: number, from = 0): number {
    if (from >= this.#length) return -1;
    let base = 0; // offset from the front of the current chunk's first unread byte
    const chunks = this.#chunks;
    for (let c = this.#first; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      const start = c === this.#first ? this.#head : 0;
      const size = chunk.byteLength - start;
      if (from < base + size) {
        const found = chunk.indexOf(byte, start + Math.max(0, from - base));
        if (found !== -1) return base + found - start;
      }
      base += size;
    }
    return -1;
  }

  /** Consume `n` bytes. Returns a view when possible, else a fresh copy. */
  take(n: number): Uint8Array {
    if (n > this.#length) throw new RangeError(`take(${n}) past end of queue (${this.#length} bytes)`);
    if (n === 0) return new Uint8Array(0);
    this.#reserved = null;
    const first = this.#chunks[this.#first]!;
    const available = first.byteLength - this.#head;
    if (n <= available) {
      this.#length -= n;
      const view = first.subarray(this.#head, this.#head + n);
      this.#advance(n, available);
      return view;
    }
    // Every byte of `out` is written below, so it needs no zero-fill.
    const out = allocUninitialized(n);
    this.#consumeInto(out, n);
    return out;
  }

  /** Consume `n` bytes, copying them into `out` from its start. */
  #consumeInto(out: Uint8Array, n: number): void {
    this.#length -= n;
    let written = 0;
    while (written < n) {
      const chunk = this.#chunks[this.#first]!;
      const rest = chunk.byteLength - this.#head;
      const count = Math.min(rest, n - written);
      out.set(chunk.subarray(this.#head, this.#head + count), written);
      written += count;
      this.#advance(count, rest);
    }
  }

  /** Consume `n` bytes without returning them. */
  skip(n: number): void {
    if (n > this.#length) throw new RangeError(`skip(${n}) past end of queue (${this.#length} bytes)`);
    if (n > 0) this.#reserved = null;
    this.#length -= n;
    while (n > 0) {
      const rest = this.#chunks[this.#first]!.byteLength - this.#head;
      const count = Math.min(rest, n);
      this.#advance(count, rest);
      n -= count;
    }
  }

  /** Drop everything (used while discarding input after a close). */
  clear(): void {
    this.#tail = null;
    this.#reserved = null;
    this.#chunks.length = 0;
    this.#first = 0;
    this.#head = 0;
    this.#length = 0;
  }

  #advance(count: number, restOfFirst: number): void {
    if (count < restOfFirst) {
      this.#head += count;
      return;
    }
    // Drop the consumed chunk by moving an index, not with Array#shift(),
    // which is O(n) per call on long queues; compact once in a while.
    this.#chunks[this.#first] = EMPTY;
    this.#first++;
    this.#head = 0;
    if (this.#first === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#first = 0;
    } else if (this.#first >= 1024) {
      this.#chunks.splice(0, this.#first);
      this.#first = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
/** Smallest region `reserve()` assembles in place. */
const RESERVE_MIN = 64 * 1024;
/**
 * A region is assembled once at least 1/RESERVE_AHEAD of it is buffered, so
 * that most of a large payload can be read straight into it while a peer
 * still cannot make us allocate more than this many times what it sent.
 */
const RESERVE_AHEAD = 16;
/** Chunks up to this size are copied into the tail buffer. */
const SMALL_CHUNK = 512;
const TAIL_SIZE = 4096;
