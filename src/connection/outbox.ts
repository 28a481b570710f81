/**
 * The outbox: what the protocol produced, on its way to the transport.
 *
 * - Frames produced in one turn of the event loop are coalesced: small
 *   frames join a run, sealed into one chunk at RUN_LIMIT bytes; frames of
 *   COALESCE_LIMIT bytes or more are written as they are (copying them would
 *   cost more than a write). A full run or a large frame is written at once;
 *   what is left is written at the end of the turn (a microtask), in order.
 * - `SEND_EOF` becomes `transport.end()`, once, after the writes before it.
 * - `bufferedAmount` counts application bytes not yet accepted by the
 *   transport: the last write of a flush carries those of the whole flush
 *   (transports accept writes in order).
 * - Automatic pongs beyond PONG_BACKLOG_LIMIT bytes not yet accepted are
 *   held back; only the latest is kept.
 * - A large frame whose write resolved goes back to the frame pool, when
 *   the transport says it is done with written chunks then.
 */
import { concat } from '../protocol/platform.js';
import { SEND_EOF } from '../protocol/protocol.js';
import { type Transport, toError } from '../transports/transport.js';
import { FRAME_POOL_MIN, type FramePool } from './frame-pool.js';

/** Frames this large are written by themselves rather than copied into a coalesced chunk. */
const COALESCE_LIMIT = 16 * 1024;
/**
 * Small frames are coalesced into writes of about this size, each written
 * as soon as it is full. Coalescing as they are staged rather than all at
 * once at the end of the turn keeps a burst of sends (say 50,000 1 KiB
 * messages in one turn) from being held twice, as frames and as their
 * concatenation: measured, 162 MiB of RSS growth against `ws`'s 103 MiB
 * before the bound.
 */
const RUN_LIMIT = 64 * 1024;
/**
 * Most bytes of automatic pongs written and not yet accepted by the
 * transport. A peer that floods pings and doesn't read would otherwise make
 * pongs pile up without bound; beyond this, only the pong answering the
 * latest ping is kept, and written once earlier pongs are accepted (RFC
 * 6455, 5.5.3). A keepalive ping at a time never comes near it.
 */
const PONG_BACKLOG_LIMIT = 64 * 1024;

/**
 * Schedules a microtask: cheaper than `queueMicrotask()` on Node, which
 * wraps every callback in an async resource.
 */
const resolved = Promise.resolve();

/** What the outbox needs from its connection. */
export interface OutboxOwner {
  /** A write or `end()` failed, or threw: the transport must be destroyed. */
  writeFailed(error: Error): void;
  /** Whether a pong held back may still be sent (the connection is open). */
  maySendPong(): boolean;
}

export class Outbox {
  readonly #transport: Transport;
  readonly #owner: OutboxOwner;
  /**
   * The writes of the next flush, in order: coalesced runs of small frames,
   * large frames, `SEND_EOF` last; and the pong bytes each one carries.
   */
  #staged: Array<Uint8Array | typeof SEND_EOF> = [];
  #stagedPongs: number[] = [];
  /** Application bytes staged since the last flush: subtracted from `bufferedAmount` once written. */
  #stagedAppBytes = 0;
  /** Messages staged since the last flush: accepted with the flush's last write. */
  #stagedMessages = 0;
  /** Messages staged so far, and how many of them the transport accepted (in order). */
  #messagesStaged = 0;
  #messagesAccepted = 0;
  /** `accepted()` promises, by the count of messages each waits for, in order. */
  #waiters: Array<{ readonly count: number; resolve(): void; reject(error: Error): void }> = [];
  /** Small frames staged and not yet coalesced; their bytes and pong bytes. */
  #run: Uint8Array[] = [];
  #runBytes = 0;
  #runPongBytes = 0;
  /** A full run or a large frame is staged: write now rather than at the end of the turn. */
  #writeNow = false;
  #flushScheduled = false;
  /** `transport.end()` was called: its promise (it is called once at most). */
  #endPromise: Promise<void> | null = null;
  /** Bytes of automatic pongs written and not yet accepted by the transport. */
  #pongBacklog = 0;
  /** The pong answering the latest ping, held back while `#pongBacklog` is full. */
  #deferredPong: Uint8Array | null = null;
  #bufferedAmount = 0;
  /** The transport is gone: nothing more is written. */
  #closed = false;
  readonly #flushTask = (): void => this.#flush();
  readonly #frames: FramePool | null;

  /** @param frames - Where large frames' arrays go back once written, if the transport allows. */
  constructor(transport: Transport, owner: OutboxOwner, frames: FramePool | null = null) {
    this.#transport = transport;
    this.#owner = owner;
    this.#frames = frames;
  }

  /** Application bytes given to `send()` and not yet accepted by the transport. */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /**
   * Resolves once the transport has accepted every message staged so far
   * (the write carrying its last byte resolved); rejects if the transport
   * closes first.
   */
  accepted(): Promise<void> {
    const count = this.#messagesStaged;
    if (count <= this.#messagesAccepted) return Promise.resolve();
    if (this.#closed) return Promise.reject(new Error('the connection closed before the message was sent'));
    return new Promise((resolve, reject) => this.#waiters.push({ count, resolve, reject }));
  }

  /** The promise of `transport.end()`, once it was called. */
  get ended(): Promise<void> | null {
    return this.#endPromise;
  }

  /**
   * Count `size` application bytes in `bufferedAmount`: bytes about to be
   * staged (they leave it once written), or bytes that will never be sent
   * (the WHATWG standard counts a `send()` after closing, forever).
   */
  count(size: number): void {
    this.#bufferedAmount += size;
  }

  /**
   * Stage the protocol's output; `appBytes` of application data are in it
   * (already counted), `messages` application messages end in it, and
   * automatic pongs are at the indexes `pongs` (in increasing order).
   * Written at once if a run filled up or a large frame came, else at the
   * end of the turn.
   */
  stage(
    output: ReadonlyArray<Uint8Array | typeof SEND_EOF>,
    appBytes: number,
    pongs: readonly number[],
    messages = 0,
  ): void {
    this.#stagedAppBytes += appBytes;
    this.#stagedMessages += messages;
    this.#messagesStaged += messages;
    if (output.length === 0) return;
    let nextPong = 0;
    for (let i = 0; i < output.length; i++) {
      const isPong = pongs[nextPong] === i;
      if (isPong) nextPong++;
      this.#stageItem(output[i]!, isPong);
    }
    // A full run or a large frame is written at once: holding it to the end
    // of the turn would coalesce nothing more, and a loop of large sends
    // would hold every frame until then (sending 128 × 1 MiB peaked at
    // 353 MiB of RSS against ws's 184 MiB, which writes each frame as it is
    // made). What is left of a run waits for the end of the turn.
    if (this.#writeNow) this.flush();
    else this.#scheduleFlush();
  }

  /** Write what is staged now, in order, then half-close if asked. */
  flush(): void {
    this.#writeNow = false;
    this.#sealRun();
    const staged = this.#staged;
    const pongs = this.#stagedPongs;
    let appBytes = this.#stagedAppBytes;
    let messages = this.#stagedMessages;
    this.#staged = [];
    this.#stagedPongs = [];
    this.#stagedAppBytes = 0;
    this.#stagedMessages = 0;
    if (this.#closed) return;
    let start = 0;
    for (let i = 0; i < staged.length; i++) {
      if (staged[i] !== SEND_EOF) continue;
      this.#writeAll(staged, pongs, start, i, appBytes, messages);
      appBytes = messages = 0;
      start = i + 1;
      if (!this.end()) return;
    }
    this.#writeAll(staged, pongs, start, staged.length, appBytes, messages);
  }

  /**
   * Half-close the transport, once (failing the connection may end it
   * before the protocol's own `SEND_EOF`). Returns `false` if the transport
   * threw, and was reported as failed.
   */
  end(): boolean {
    if (this.#endPromise !== null || this.#closed) return true;
    try {
      this.#endPromise = this.#transport.end();
    } catch (error) {
      // The contract says reject; a transport that throws fails the same way.
      this.#owner.writeFailed(toError(error));
      return false;
    }
    return true;
  }

  /** The transport closed: nothing more is written, and messages not accepted never will be. */
  close(): void {
    this.#closed = true;
    const error = new Error('the connection closed before the message was sent');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    resolved.then(this.#flushTask);
  }

  /** The end of the turn: write what is staged. */
  #flush(): void {
    this.#flushScheduled = false;
    this.flush();
  }

  #stageItem(item: Uint8Array | typeof SEND_EOF, isPong: boolean): void {
    if (item === SEND_EOF || item.byteLength >= COALESCE_LIMIT) {
      this.#sealRun();
      this.#staged.push(item);
      this.#stagedPongs.push(0);
      if (item !== SEND_EOF) this.#writeNow = true;
      return;
    }
    if (isPong) {
      if (this.#pongBacklog + item.byteLength > PONG_BACKLOG_LIMIT) {
        // Keep only the latest: it replaces any pong held back before.
        this.#deferredPong = item;
        return;
      }
      this.#pongBacklog += item.byteLength;
      this.#runPongBytes += item.byteLength;
    }
    this.#run.push(item);
    this.#runBytes += item.byteLength;
    if (this.#runBytes >= RUN_LIMIT) {
      this.#sealRun();
      this.#writeNow = true;
    }
  }

  /** Coalesce the current run of small frames into one write. */
  #sealRun(): void {
    if (this.#run.length === 0) return;
    this.#staged.push(concat(this.#run));
    this.#stagedPongs.push(this.#runPongBytes);
    this.#run = [];
    this.#runBytes = 0;
    this.#runPongBytes = 0;
  }

  /** Write `staged[start..end)` (no `SEND_EOF` among them) in order; the last carries `appBytes` and `messages`. */
  #writeAll(
    staged: ReadonlyArray<Uint8Array | typeof SEND_EOF>,
    pongs: readonly number[],
    start: number,
    end: number,
    appBytes: number,
    messages: number,
  ): void {
    const last = end - 1;
    for (let i = start; i < end; i++) {
      this.#write(staged[i] as Uint8Array, pongs[i]!, i === last ? appBytes : 0, i === last ? messages : 0);
    }
  }

  /** One transport write; `appBytes` leave `bufferedAmount`, and `messages` count as accepted, once it is accepted. */
  #write(chunk: Uint8Array, pongBytes: number, appBytes: number, messages: number): void {
    let written: Promise<void>;
    try {
      written = this.#transport.write(chunk);
    } catch (error) {
      // The contract says reject; a transport that throws instead (now
      // possibly inside send()) fails the same way rather than throwing at
      // the caller.
      this.#owner.writeFailed(toError(error));
      return;
    }
    written.then(
      () => {
        this.#bufferedAmount -= appBytes;
        if (messages > 0) this.#messagesWereAccepted(messages);
        this.#pongsAccepted(pongBytes);
        // Only frames of FRAME_POOL_MIN or more can be the pool's: smaller
        // ones were copied into a coalesced run.
        if (
          chunk.byteLength >= FRAME_POOL_MIN &&
          this.#frames !== null &&
          this.#transport.releasesWrittenChunks
        ) {
          this.#frames.release(chunk);
        }
      },
      (error: unknown) => this.#owner.writeFailed(toError(error)),
    );
  }

  #messagesWereAccepted(messages: number): void {
    const accepted = (this.#messagesAccepted += messages);
    const waiters = this.#waiters;
    let done = 0;
    while (done < waiters.length && waiters[done]!.count <= accepted) waiters[done++]!.resolve();
    if (done > 0) waiters.splice(0, done);
  }

  /** Pongs were accepted by the transport: write the one held back, if there is room now. */
  #pongsAccepted(bytes: number): void {
    if (bytes === 0) return;
    this.#pongBacklog -= bytes;
    const pong = this.#deferredPong;
    if (pong === null || this.#pongBacklog + pong.byteLength > PONG_BACKLOG_LIMIT) return;
    this.#deferredPong = null;
    // Once closing, the pong is moot (and must not follow our end of stream).
    if (!this.#owner.maySendPong()) return;
    this.#stageItem(pong, true);
    this.#scheduleFlush();
  }
}
