/**
 * A transport over Deno's sockets: `Deno.connect()` for `ws:`,
 * `Deno.connectTls()` for `wss:` (Deno 2.x), driven by
 * {@link StreamsTransport}.
 *
 * Two things of Deno's `Conn` shape it (Deno 2.9):
 *
 * - **Half-close is `conn.closeWrite()`.** `conn.writable.close()` closes the
 *   whole connection, so `end()` releases the writer and calls `closeWrite()`.
 * - **`conn.readable` closes the connection at the peer's FIN.** Its source
 *   closes the resource when a read returns end-of-stream, after which
 *   writing and `closeWrite()` throw `BadResource`. The transport therefore
 *   reads with `conn.read()` into a stream of its own, which leaves the
 *   connection open: after the peer's FIN we can still write, then send our
 *   own FIN, as the transport contract asks. The connection is closed (its
 *   resource freed) once both directions are done, or at once by `destroy()`.
 */
import { type OpenedStreams, StreamsTransport } from './streams.js';
import { type TransportFactory, type TransportTarget, toError } from './transport.js';

// ---------------------------------------------------------------------------
// Structural typings of the part of Deno's API the transport uses, so that
// this file needs no Deno type declarations.

/** A `Deno.TcpConn` or `Deno.TlsConn`. @internal */
export interface DenoConnLike {
  /** Reads into `buffer`; the number of bytes read, or `null` at the peer's FIN. */
  read(buffer: Uint8Array): Promise<number | null>;
  readonly writable: WritableStream<Uint8Array>;
  /** Half-close: shutdown(SHUT_WR). */
  closeWrite(): Promise<void>;
  /** Frees the resource (both directions). Throws once it is closed already. */
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
  /** `Deno.TlsConn` only: completes the TLS handshake (verifying the certificate). */
  handshake?(): Promise<unknown>;
}

/** Options of `Deno.connect()`. @internal */
export interface DenoConnectOptionsLike {
  readonly hostname: string;
  readonly port: number;
  readonly transport: 'tcp';
}

/** Options of `Deno.connectTls()`. @internal */
export interface DenoConnectTlsOptionsLike {
  readonly hostname: string;
  readonly port: number;
  readonly caCerts?: string[];
  readonly alpnProtocols?: string[];
}

/** The `Deno` namespace, as far as the transport uses it. @internal */
export interface DenoLike {
  connect(options: DenoConnectOptionsLike): Promise<DenoConnLike>;
  connectTls(options: DenoConnectTlsOptionsLike): Promise<DenoConnLike>;
}

/** Options of {@link DenoTransport}. */
export interface DenoTransportOptions {
  /**
   * For `wss:`: trusted CA certificates in PEM, replacing the default ones
   * (`Deno.connectTls({ caCerts })`), e.g. a private or self-signed CA.
   * @defaultValue the system's and Deno's default roots
   */
  readonly caCerts?: readonly string[];
  /** Disable Nagle's algorithm: frames leave at once. @defaultValue `true` */
  readonly noDelay?: boolean;
  /**
   * Size of each read from the connection, in bytes.
   * @defaultValue `65536`
   */
  readonly readSize?: number;
  /**
   * The `Deno` namespace to use; tests pass a fake.
   * @defaultValue `globalThis.Deno`
   */
  readonly Deno?: DenoLike;
}

const DEFAULT_READ_SIZE = 65_536;

/**
 * A readable stream over `conn.read()` that, unlike `conn.readable`, leaves
 * the connection open when the peer's FIN arrives. Cancelling it closes the
 * connection (destroy()). A byte stream: a BYOB read (the transport reading
 * the rest of a large payload into the array it is assembled in) reads
 * from the connection straight into the reader's view.
 */
function readableOf(conn: DenoConnLike, readSize: number): ReadableStream<Uint8Array> {
  let buffer: Uint8Array<ArrayBuffer> | null = null;
  return new ReadableStream({
    type: 'bytes',
    async pull(controller) {
      const request = controller.byobRequest;
      const view = request?.view;
      if (request != null && view instanceof Uint8Array) {
        const n = await conn.read(view);
        if (n === null) {
          controller.close();
          request.respond(0); // a pending BYOB read completes (done) only once answered
        } else if (n > 0) {
          request.respond(n);
        }
        return; // n === 0: pull() is called again
      }
      buffer ??= new Uint8Array(readSize);
      const n = await conn.read(buffer);
      if (n === null) {
        controller.close();
        return;
      }
      if (n === 0) return; // pull() is called again
      // enqueue() transfers the chunk's buffer: both cases below give it up.
      if (n * 4 < buffer.byteLength) {
        // A small read: hand on a copy and read into the same buffer again,
        // rather than pinning a mostly empty buffer behind a small view.
        controller.enqueue(buffer.slice(0, n));
      } else {
        // The listener owns what it gets: the next read gets a new buffer.
        controller.enqueue(buffer.subarray(0, n));
        buffer = null;
      }
    },
    cancel() {
      closeConn(conn);
    },
  });
}

function closeConn(conn: DenoConnLike): void {
  try {
    conn.close();
  } catch {
    // Closed already (BadResource).
  }
}

function errorText(error: unknown): string {
  const e = toError(error);
  return e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message;
}

/**
 * TCP (`ws:`) or TLS (`wss:`) over `Deno.connect()`/`Deno.connectTls()`,
 * with a real half-close; see the module documentation.
 */
export class DenoTransport extends StreamsTransport {
  /**
   * Start connecting to `target`.
   *
   * @param target - Host, port and whether TLS is required.
   * @param options - CA certificates for `wss:`, Nagle, read size.
   * @throws RangeError if `options.readSize` is not a positive integer.
   */
  constructor(target: TransportTarget, options: DenoTransportOptions = {}) {
    const readSize = options.readSize ?? DEFAULT_READ_SIZE;
    if (!Number.isInteger(readSize) || readSize < 1) {
      throw new RangeError(`readSize must be a positive integer, got ${readSize}`);
    }
    let conn: DenoConnLike | null = null;
    const opened = connect(target, options).then((connected): OpenedStreams => {
      conn = connected;
      return { readable: readableOf(connected, readSize), writable: connected.writable };
    });
    super(opened, {
      secure: target.secure,
      // `conn.writable.close()` would close the whole connection.
      closeWrite: async (writer) => {
        writer.releaseLock();
        if (conn !== null) await conn.closeWrite();
      },
      // Both directions are done, or the transport was destroyed: free the
      // resource (cancelling the readable or aborting the writable may have
      // closed it already).
      onClose: () => {
        if (conn !== null) closeConn(conn);
      },
    });
  }
}

async function connect(target: TransportTarget, options: DenoTransportOptions): Promise<DenoConnLike> {
  const deno = options.Deno ?? (globalThis as { Deno?: DenoLike }).Deno;
  if (deno === undefined) throw new Error('Deno.connect is not available: denoTransport() needs Deno');
  const where = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  let conn: DenoConnLike;
  try {
    if (target.secure) {
      conn = await deno.connectTls({
        hostname: target.host,
        port: target.port,
        // The opening handshake is HTTP/1.1 (RFC 6455, 4.1), never h2.
        alpnProtocols: ['http/1.1'],
        ...(options.caCerts !== undefined ? { caCerts: [...options.caCerts] } : {}),
      });
    } else {
      conn = await deno.connect({ hostname: target.host, port: target.port, transport: 'tcp' });
    }
  } catch (error) {
    throw new Error(`Deno: connecting to ${where} failed: ${errorText(error)}`, { cause: error });
  }
  try {
    // `open` means TLS is up: without this, Deno verifies the certificate
    // only at the first read or write.
    await conn.handshake?.();
    conn.setNoDelay?.(options.noDelay ?? true);
  } catch (error) {
    closeConn(conn);
    throw new Error(`Deno: TLS with ${where} failed: ${errorText(error)}`, { cause: error });
  }
  return conn;
}

/**
 * A `TransportFactory` of {@link DenoTransport}s, for
 * `new WebSocket(url, [], { transport: denoTransport() })` on Deno.
 */
export function denoTransport(options: DenoTransportOptions = {}): TransportFactory {
  return (target) => new DenoTransport(target, options);
}
