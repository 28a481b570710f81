/**
 * The transport contract: a reliable, ordered, bidirectional byte stream,
 * which is all the WebSocket layer needs from the network.
 *
 * Transports know bytes, not WebSocket: they never parse frames and never
 * import the protocol layer or `websocket.ts`.
 *
 * Lifecycle
 * ---------
 * A transport emits, in this order: `open` once (or nothing when connecting
 * fails), `data` any number of times, `end` at most once, then `close`
 * exactly once. No event is emitted synchronously from inside `write()`,
 * `end()` or `destroy()`, so callers never re-enter themselves.
 */
import { EventEmitter } from 'eventemitter3';

/** Events every transport emits, in this order: `open`, `data`*, `end`?, `close`. */
export interface TransportEvents {
  /** The byte stream is connected (TCP and, for `wss:`, TLS are up). */
  open: [];
  /**
   * Bytes from the peer. The listener takes ownership of `chunk`: the
   * transport never reads, reuses or mutates it afterwards, so the receiver
   * may modify it in place (the protocol unmasks payloads in place).
   */
  data: [chunk: Uint8Array];
  /** The peer half-closed its side: no more `data` follows. */
  end: [];
  /** Both directions are closed; emitted exactly once, last. `error` is set when the transport failed. */
  close: [error?: Error];
}

/**
 * A reliable, ordered, bidirectional byte stream.
 *
 * Implementations extend this class, emit {@link TransportEvents} and
 * implement `write()`, `end()` and `destroy()`.
 */
export abstract class Transport extends EventEmitter<TransportEvents> {
  /**
   * Whether `end()` sends a real half-close (TCP FIN) while reading goes on.
   * When `false`, `end()` may close both directions.
   */
  abstract readonly supportsHalfClose: boolean;
  /** Whether the byte stream is encrypted and authenticated (TLS, QUIC). */
  abstract readonly secure: boolean;

  /**
   * Write bytes after those written before. The promise resolves once the
   * platform accepted them (a socket's write callback, a stream writer's
   * `write()` promise); this is what `WebSocket.bufferedAmount` measures. It
   * rejects if the transport closes first.
   *
   * The transport may keep a reference to `chunk` until the promise settles:
   * don't mutate it before then. Whether it is done with the bytes once the
   * promise resolved is {@link Transport.releasesWrittenChunks}.
   */
  abstract write(chunk: Uint8Array): Promise<void>;

  /**
   * Whether a resolved `write()` means the transport is done with the
   * chunk's bytes (sent them, or copied them), so that the writer may reuse
   * the array: the connection then recycles the arrays of large frames
   * (allocating and faulting in a fresh MiB costs more than masking a
   * payload into it). True for Node's sockets, Direct Sockets and
   * WebTransport streams. `false` by default, and for any transport that
   * may still read a chunk after its write resolved: a generic
   * `WritableStream`'s sink may queue it (a `TransformStream` hands the very
   * array on to its reader).
   */
  get releasesWrittenChunks(): boolean {
    return false;
  }

  /**
   * Half-close: send end-of-stream (FIN) after the pending writes. Reading
   * continues until the peer ends too. Maps the protocol's `SEND_EOF`.
   * Resolves once the end was sent; never rejects.
   */
  abstract end(): Promise<void>;

  /**
   * Close both directions now, dropping pending writes; `close` follows
   * (asynchronously) with `error` if one is given. Idempotent.
   */
  abstract destroy(error?: Error): void;

  /**
   * Flow control, optional: stop emitting `data` until `resume()` (the
   * platform then applies TCP backpressure to the peer). Transports that
   * cannot pause keep this no-op; readers must accept data while paused.
   */
  pause(): void {}

  /** Undo `pause()`. */
  resume(): void {}

  /**
   * Reading in place, optional. The reader may set this to a function that
   * returns the array the next bytes should be read into, or `null` for the
   * transport's own buffer. A transport that can read into a given array
   * (Node's `onread`, a BYOB read of a byte stream) asks before each read
   * and emits what it read into one as a view of it in `data`, as usual;
   * the protocol is assembling a large payload there, so those bytes are
   * never copied. A read that transfers the array's buffer (BYOB) emits the
   * view the read returned, of the new buffer, and emits it before anything
   * else. Others ignore it.
   */
  readTarget: (() => Uint8Array | null) | null = null;
}

/** Where a transport connects to: what a WebSocket URL says about the byte stream. */
export interface TransportTarget {
  /** The `ws:`/`wss:` URL being connected to, serialized. */
  readonly url: string;
  /** Host name, or IP address without brackets. */
  readonly host: string;
  readonly port: number;
  /** `true` for `wss:`: the transport must provide TLS (or equivalent) itself. */
  readonly secure: boolean;
}

/** Creates the transport for one connection; it starts connecting at once. */
export type TransportFactory = (target: TransportTarget) => Transport;

/** Turn anything thrown into an `Error`. @internal */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
