/**
 * WebSocket over WebTransport: each WebSocket is one bidirectional stream of
 * a WebTransport (HTTP/3) session to a gateway, which connects the stream to
 * the WebSocket server over TCP (a WebTransport stream is not TCP, so a
 * WebSocket server reached this way needs a gateway; this repository's is
 * `gateway/`, for Deno).
 *
 * The gateway protocol (version 1)
 * --------------------------------
 * The first bytes the client writes on each bidirectional stream are one
 * request line, `CONNECT <host>:<port>\r\n`, like an HTTP CONNECT request
 * (RFC 9110, 9.3.6). The gateway answers with one status line: after
 * `200 connected\r\n` the stream carries the TCP bytes both ways, half-closes
 * included; any other status means no connection, and the gateway ends the
 * stream (see {@link GatewayError} for the codes). `gateway-wire.ts` defines
 * the lines, for this client and for the gateway.
 *
 * The target travels in the stream, not in the session URL, so that one
 * session serves WebSockets to several targets.
 *
 * Sessions
 * --------
 * Transports with the same gateway URL and options share one session, which
 * is opened by the first and closed when the last one closes: no idle timer,
 * so nothing outlives the connections. A session that fails or is closed by
 * the gateway closes all its transports with an `Error`; the next transport
 * opens a new session.
 */
import { formatTarget, GatewayStatus, readStatusLine, serializeRequest } from './gateway-wire.js';
import { StreamsTransport } from './streams.js';
import { type Transport, type TransportFactory, type TransportTarget, toError } from './transport.js';

/**
 * A certificate hash for `serverCertificateHashes`. Chromium accepts only
 * ECDSA P-256 certificates valid for at most 14 days this way (WebTransport
 * spec, "custom certificate requirements"; with Chromium 156, a 15-day or an
 * RSA certificate fails the opening handshake).
 */
export interface CertificateHash {
  readonly algorithm: 'sha-256';
  /**
   * The SHA-256 of the DER certificate: bytes, or their base64 (as the gateway prints it).
   * The bytes are lib.dom's `BufferSource`, spelled out so that the declarations need no DOM lib.
   */
  readonly value: ArrayBuffer | ArrayBufferView<ArrayBuffer> | string;
}

/** Options of {@link webTransportTransport}. */
export interface WebTransportTransportOptions {
  /** The gateway's `https:` URL, e.g. `https://127.0.0.1:4433/`. */
  readonly gateway: string | URL;
  /**
   * Trust a self-signed gateway certificate by its hash, for gateways
   * without a certificate from a trusted CA.
   * @defaultValue none: the certificate must be trusted by the browser
   */
  readonly serverCertificateHashes?: readonly CertificateHash[];
  /**
   * Other options for `new WebTransport()` (e.g. `congestionControl`).
   * @defaultValue `{}`
   */
  readonly webTransportOptions?: Readonly<Record<string, unknown>>;
  /**
   * The `WebTransport` constructor.
   * @defaultValue `globalThis.WebTransport`
   */
  readonly WebTransport?: WebTransportConstructor;
}

/** The part of the `WebTransport` interface this module uses. @internal */
export interface WebTransportSession {
  readonly ready: Promise<unknown>;
  readonly closed: Promise<unknown>;
  createBidirectionalStream(): Promise<{
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
  }>;
  close(closeInfo?: { closeCode?: number; reason?: string }): void;
}

/** `new WebTransport(url, options)`, structurally. @internal */
export type WebTransportConstructor = new (
  url: string,
  options?: Record<string, unknown>,
) => WebTransportSession;

/**
 * A `TransportFactory` that reaches the WebSocket URL's host and port
 * through a WebTransport gateway:
 *
 * ```ts
 * new WebSocket('ws://127.0.0.1:8080/chat', [], {
 *   transport: webTransportTransport({ gateway: 'https://127.0.0.1:4433/', serverCertificateHashes }),
 * });
 * ```
 *
 * The transport's `secure` is `false`: QUIC encrypts the way to the
 * gateway, but the gateway speaks plain TCP to the server. `wss:` URLs are
 * refused, because the gateway does not do TLS to the target.
 */
export function webTransportTransport(options: WebTransportTransportOptions): TransportFactory {
  const gateway = new URL(options.gateway);
  if (gateway.protocol !== 'https:') {
    throw new TypeError(`the gateway URL must be https:, not ${gateway.protocol}`);
  }
  const wtOptions: Record<string, unknown> = { ...options.webTransportOptions };
  if (options.serverCertificateHashes !== undefined) {
    wtOptions['serverCertificateHashes'] = options.serverCertificateHashes.map((hash) => ({
      algorithm: hash.algorithm,
      value: typeof hash.value === 'string' ? base64ToBytes(hash.value) : hash.value,
    }));
  }
  const key = `${gateway.href} ${JSON.stringify(wtOptions, (_, value: unknown) => (ArrayBuffer.isView(value) || value instanceof ArrayBuffer ? bytesToHex(value) : value))}`;
  return (target) => {
    const WebTransportClass =
      options.WebTransport ?? (globalThis as { WebTransport?: WebTransportConstructor }).WebTransport;
    if (WebTransportClass === undefined) {
      return failed(new Error('WebTransport is not available here (it needs a secure context)'));
    }
    if (target.secure) {
      return failed(
        new Error('wss: is not supported through a WebTransport gateway (it does not do TLS to the server)'),
      );
    }
    let session: Session;
    try {
      session = Session.acquire(WebTransportClass, key, gateway.href, wtOptions);
    } catch (error) {
      // The constructor throws for a bad URL or bad options.
      return failed(toError(error));
    }
    const transport: StreamsTransport = new StreamsTransport(session.openStream(target), {
      onClose: () => session.release(transport),
    });
    session.track(transport);
    return transport;
  };
}

/** A transport that closes with `error` without opening. */
function failed(error: Error): Transport {
  return new StreamsTransport(Promise.reject(error));
}

/** One WebTransport session shared by the transports with the same key. */
class Session {
  static readonly #pools = new WeakMap<WebTransportConstructor, Map<string, Session>>();

  readonly #pool: Map<string, Session>;
  readonly #key: string;
  readonly #gateway: string;
  readonly #wt: WebTransportSession;
  readonly #ready: Promise<void>;
  readonly #transports = new Set<Transport>();
  #closed = false;

  /** The open session for `key`, or a new one. */
  static acquire(
    WebTransportClass: WebTransportConstructor,
    key: string,
    gateway: string,
    options: Record<string, unknown>,
  ): Session {
    let pool = Session.#pools.get(WebTransportClass);
    if (pool === undefined) {
      pool = new Map();
      Session.#pools.set(WebTransportClass, pool);
    }
    return pool.get(key) ?? new Session(pool, key, gateway, new WebTransportClass(gateway, options));
  }

  private constructor(pool: Map<string, Session>, key: string, gateway: string, wt: WebTransportSession) {
    this.#pool = pool;
    this.#key = key;
    this.#gateway = gateway;
    this.#wt = wt;
    pool.set(key, this);
    this.#ready = wt.ready.then(
      () => {},
      (error: unknown) => {
        throw this.#error('could not be opened', error);
      },
    );
    // Also handles the rejection when nobody awaits `ready`.
    this.#ready.catch(() => {});
    wt.closed.then(
      (info) => this.#onClosed(this.#error('was closed by the gateway', info)),
      (error: unknown) => this.#onClosed(this.#error('failed', error)),
    );
  }

  track(transport: Transport): void {
    this.#transports.add(transport);
  }

  /** Called once per transport, when it closes: the last one closes the session. */
  release(transport: Transport): void {
    this.#transports.delete(transport);
    if (this.#transports.size > 0 || this.#closed) return;
    this.#closed = true;
    this.#forget();
    try {
      this.#wt.close({ closeCode: 0, reason: 'no more streams' });
    } catch {
      // Already closed or failed: nothing to release.
    }
  }

  /** A bidirectional stream connected to `target` through the gateway. */
  async openStream(target: TransportTarget): Promise<{
    readable: ReadableStream<Uint8Array>;
    writable: WritableStream<Uint8Array>;
    head: Uint8Array;
  }> {
    await this.#ready;
    const stream = await this.#wt.createBidirectionalStream();
    try {
      const writer = stream.writable.getWriter();
      await writer.write(serializeRequest(target));
      writer.releaseLock();
      const reader = stream.readable.getReader();
      const { status, text, head } = await readStatusLine(reader);
      reader.releaseLock();
      if (status !== GatewayStatus.CONNECTED)
        throw new GatewayError(this.#gateway, formatTarget(target), status, text);
      return { readable: stream.readable, writable: stream.writable, head };
    } catch (error) {
      stream.readable.cancel().catch(() => {});
      stream.writable.abort().catch(() => {});
      throw error;
    }
  }

  #onClosed(error: Error): void {
    this.#closed = true;
    this.#forget();
    // The streams fail by themselves too, but with less telling errors.
    for (const transport of this.#transports) transport.destroy(error);
  }

  #forget(): void {
    if (this.#pool.get(this.#key) === this) this.#pool.delete(this.#key);
  }

  #error(what: string, cause: unknown): Error {
    let detail = '';
    if (cause instanceof Error) {
      detail = `: ${cause.message}`;
    } else if (typeof cause === 'object' && cause !== null) {
      const { closeCode, reason } = cause as { closeCode?: unknown; reason?: unknown };
      detail = `: code ${String(closeCode)}${typeof reason === 'string' && reason !== '' ? `, ${reason}` : ''}`;
    }
    return new Error(`WebTransport session to ${this.#gateway} ${what}${detail}`, { cause });
  }
}

/**
 * The gateway refused to connect a stream to its target; its status line
 * says why: 400 (malformed request), 403 (target not on the allow-list),
 * 502 (connecting failed), 503 (a connection limit), 504 (connecting timed
 * out). A WebSocket that fails this way has it as its failure's `cause`.
 */
export class GatewayError extends Error {
  override readonly name: string = 'GatewayError';
  /** The gateway's URL. */
  readonly gateway: string;
  /** The target asked for, `host:port`. */
  readonly target: string;
  /** The status code of the gateway's status line. */
  readonly status: number;
  /** The text after the status code. */
  readonly statusText: string;

  constructor(gateway: string, target: string, status: number, statusText: string) {
    super(`gateway ${gateway} refused ${target}: ${status} ${statusText}`);
    this.gateway = gateway;
    this.target = target;
    this.status = status;
    this.statusText = statusText;
  }
}

function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function bytesToHex(value: ArrayBufferView | ArrayBuffer): string {
  const bytes =
    value instanceof ArrayBuffer
      ? new Uint8Array(value)
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
