/**
 * A transport over Direct Sockets (`TCPSocket`), Chromium's raw TCP API for
 * Isolated Web Apps (https://wicg.github.io/direct-sockets/).
 *
 * What the API does and does not offer shapes this transport:
 *
 * - **No TLS.** Direct Sockets has plain TCP only (Chromium 156), so `wss:`
 *   fails at once with a clear error instead of silently sending cleartext.
 * - **No half-close.** `writable.close()` sends no FIN while the readable is
 *   open (the spec: "if readable is active, abort these steps"); the socket
 *   closes only when both streams are. So `supportsHalfClose` is `false` and
 *   `end()` flushes what was written, then closes both directions. A
 *   WebSocket client only half-closes after the server's EOF (RFC 6455,
 *   7.1.1: the server closes TCP first), so it loses nothing.
 * - **A write-size stall in Chromium 156.** Sustained writes whose sizes
 *   divide 64 KiB (1 KiB, 4 KiB, ..., 64 KiB) resolve at once but stop being
 *   delivered after the first 64 KiB. Other sizes (1000, 60000, 65537,
 *   random) were fine. Every write is therefore cut into pieces of at most
 *   {@link DirectSocketsOptions.maxWriteSize} (60000) bytes, and a piece
 *   whose size divides 64 KiB is split into two pieces that don't.
 *   Known gap: the e2e probes show the trigger is rather a write that
 *   exactly fills the socket's 64 KiB pipe (raw writes of 60000 + 5536, or
 *   32769 + 32767, stall; 65537-byte writes don't), so a burst of frames
 *   whose serialized size is exactly 65536 bytes can still stall. Not worked
 *   around yet: the pipe's fill level is not observable from JavaScript
 *   (writes resolve at once).
 *
 * The streams themselves are driven by {@link StreamsTransport}.
 */
import { type OpenedStreams, StreamsTransport } from './streams.js';
import { type TransportFactory, type TransportTarget, toError } from './transport.js';

// ---------------------------------------------------------------------------
// Structural typings of the Direct Sockets API, so that this file needs no
// DOM lib addition: only what the transport uses.

/** `TCPSocketOptions`. @internal */
export interface TCPSocketOptionsLike {
  readonly noDelay?: boolean;
  readonly keepAliveDelay?: number;
  readonly sendBufferSize?: number;
  readonly receiveBufferSize?: number;
  readonly dnsQueryType?: 'ipv4' | 'ipv6';
}

/** What `TCPSocket.opened` resolves to. @internal */
export interface TCPSocketOpenInfoLike {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
}

/** A `TCPSocket`. @internal */
export interface TCPSocketLike {
  readonly opened: Promise<TCPSocketOpenInfoLike>;
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** The `TCPSocket` constructor. @internal */
export type TCPSocketConstructor = new (
  remoteAddress: string,
  remotePort: number,
  options?: TCPSocketOptionsLike,
) => TCPSocketLike;

/** Options of {@link DirectSocketsTransport}. */
export interface DirectSocketsOptions {
  /** Disable Nagle's algorithm: frames leave at once. @defaultValue `true` */
  readonly noDelay?: boolean;
  /** TCP keep-alive delay in milliseconds (`TCPSocketOptions.keepAliveDelay`). */
  readonly keepAliveDelay?: number;
  /** `TCPSocketOptions.sendBufferSize`. */
  readonly sendBufferSize?: number;
  /** `TCPSocketOptions.receiveBufferSize`. */
  readonly receiveBufferSize?: number;
  /** Resolve host names to IPv4 or IPv6 only (`TCPSocketOptions.dnsQueryType`). */
  readonly dnsQueryType?: 'ipv4' | 'ipv6';
  /**
   * Largest single write to the socket's writable stream. Bigger writes are
   * cut into pieces; 60000 avoids Chromium 156's stall on sizes that divide
   * 64 KiB (see the module documentation).
   * @defaultValue `60000`
   */
  readonly maxWriteSize?: number;
  /**
   * The `TCPSocket` constructor to use; tests pass a fake.
   * @defaultValue `globalThis.TCPSocket`
   */
  readonly TCPSocket?: TCPSocketConstructor;
}

/** The default {@link DirectSocketsOptions.maxWriteSize}. */
export const DIRECT_SOCKETS_MAX_WRITE_SIZE = 60_000;

const STALL_PERIOD = 65_536;

/**
 * The sizes in which to write `size` bytes: none above `max`, none dividing
 * 64 KiB except sizes below 8, which cannot be split into two sizes that
 * don't (WebSocket frames from a client are at least 6 bytes, and such tiny
 * writes are far from the sustained 64 KiB that triggers the stall).
 * @internal
 */
export function directSocketsWriteSizes(size: number, max: number = DIRECT_SOCKETS_MAX_WRITE_SIZE): number[] {
  if (!Number.isInteger(max) || max < 8 || STALL_PERIOD % max === 0) {
    throw new RangeError(`maxWriteSize must be an integer >= 8 that does not divide 65536, got ${max}`);
  }
  const sizes: number[] = [];
  let rest = size;
  while (rest > 0) {
    let piece = Math.min(rest, max);
    // Don't leave a remainder that is itself a divisor of 64 KiB when a
    // shorter piece now avoids it (61024 = 59999 + 1025, 60001 = 59992 + 9).
    const left = rest - piece;
    if (left > 0 && STALL_PERIOD % left === 0) piece -= left < 8 ? 8 : 1;
    if (piece >= 8 && STALL_PERIOD % piece === 0) {
      // A power of two: two halves of odd sizes, neither a divisor.
      const first = piece / 2 + 1;
      sizes.push(first, piece - first);
    } else {
      sizes.push(piece);
    }
    rest -= piece;
  }
  return sizes;
}

function errorText(error: unknown): string {
  const e = toError(error);
  return e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message;
}

/** Start connecting; never throws: every failure becomes a rejected `opened`. */
function connect(
  target: TransportTarget,
  options: DirectSocketsOptions,
): { socket: TCPSocketLike | null; opened: Promise<OpenedStreams> } {
  const TCPSocket = options.TCPSocket ?? (globalThis as { TCPSocket?: TCPSocketConstructor }).TCPSocket;
  const fail = (message: string, cause?: unknown) => ({
    socket: null,
    opened: Promise.reject(new Error(message, cause === undefined ? {} : { cause })),
  });
  if (target.secure) {
    return fail(
      `Direct Sockets has no TLS: cannot connect to ${target.url} (use ws:, or terminate TLS elsewhere)`,
    );
  }
  if (TCPSocket === undefined) {
    return fail('Direct Sockets (TCPSocket) is not available: it needs an Isolated Web App');
  }
  const socketOptions: TCPSocketOptionsLike = {
    noDelay: options.noDelay ?? true,
    ...(options.keepAliveDelay !== undefined ? { keepAliveDelay: options.keepAliveDelay } : {}),
    ...(options.sendBufferSize !== undefined ? { sendBufferSize: options.sendBufferSize } : {}),
    ...(options.receiveBufferSize !== undefined ? { receiveBufferSize: options.receiveBufferSize } : {}),
    ...(options.dnsQueryType !== undefined ? { dnsQueryType: options.dnsQueryType } : {}),
  };
  const where = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  let socket: TCPSocketLike;
  try {
    // Throws synchronously when the frame may not use Direct Sockets
    // (NotAllowedError: not sufficiently isolated, permissions policy).
    socket = new TCPSocket(target.host, target.port, socketOptions);
  } catch (error) {
    return fail(`Direct Sockets: cannot connect to ${where}: ${errorText(error)}`, error);
  }
  // Observed, so that its rejection (after a failure the transport reports
  // itself) is never an unhandled rejection.
  socket.closed.catch(() => {});
  const opened = socket.opened.then(
    ({ readable, writable }) => ({ readable, writable }),
    (error: unknown) => {
      throw new Error(`Direct Sockets: connecting to ${where} failed: ${errorText(error)}`, { cause: error });
    },
  );
  return { socket, opened };
}

/**
 * TCP over Direct Sockets: a {@link StreamsTransport} over the socket's
 * streams, without half-close, with writes cut to dodge the Chromium 156
 * stall; see the module documentation.
 */
export class DirectSocketsTransport extends StreamsTransport {
  readonly #maxWriteSize: number;

  /**
   * Start connecting to `target`.
   *
   * @param target - Host and port; `secure` (wss:) fails, as Direct Sockets has no TLS.
   * @throws RangeError if `options.maxWriteSize` is invalid.
   */
  constructor(target: TransportTarget, options: DirectSocketsOptions = {}) {
    const maxWriteSize = options.maxWriteSize ?? DIRECT_SOCKETS_MAX_WRITE_SIZE;
    directSocketsWriteSizes(0, maxWriteSize); // validates the option before connecting
    const { socket, opened } = connect(target, options);
    super(opened, {
      supportsHalfClose: false,
      // Called once both stream locks are released: close() rejects while
      // they are held. It may reject again if the streams closed it already.
      onClose: () => void socket?.close().catch(() => {}),
    });
    this.#maxWriteSize = maxWriteSize;
  }

  override write(chunk: Uint8Array): Promise<void> {
    const sizes = directSocketsWriteSizes(chunk.byteLength, this.#maxWriteSize);
    if (sizes.length <= 1) return super.write(chunk);
    // Every piece is queued now, in order: the stream keeps that order and a
    // concurrent write() can't interleave.
    const writes: Promise<void>[] = [];
    let offset = 0;
    for (const size of sizes) {
      writes.push(super.write(chunk.subarray(offset, offset + size)));
      offset += size;
    }
    return Promise.all(writes).then(() => {});
  }
}

/**
 * A `TransportFactory` of {@link DirectSocketsTransport}s, for
 * `new WebSocket(url, [], { transport: directSocketsTransport() })` in an
 * Isolated Web App.
 */
export function directSocketsTransport(options: DirectSocketsOptions = {}): TransportFactory {
  return (target) => new DirectSocketsTransport(target, options);
}
