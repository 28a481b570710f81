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
 * `wss:` (opt-in: `tls: 'gateway'`)
 * ---------------------------------
 * With `tls: 'gateway'`, a `wss:` target's request line asks for TLS
 * (protocol version 2: `CONNECT host:port tls server-name=… alpn=http/1.1`):
 * the gateway makes the TLS connection to the server, verifies its
 * certificate against its own roots, and says so in its `200` line; the
 * stream then carries the plaintext. The page sees no certificate: it
 * trusts the gateway, which also sees everything sent. That is why it is
 * opt-in, and why no TLS runs in the page: no TLS implementation in
 * JavaScript was found fit to be trusted (README, "wss:// through a
 * gateway").
 *
 * Sessions
 * --------
 * Transports with the same gateway URL and options share one session, which
 * is opened by the first and closed when the last one closes: no idle timer,
 * so nothing outlives the connections. A session that fails or is closed by
 * the gateway closes all its transports with an `Error`; the next transport
 * opens a new session.
 */
import {
  formatTarget,
  GatewayStatus,
  GatewayTlsFailure,
  type GatewayTlsRequest,
  parseConnected,
  parseTlsFailure,
  readStatusLine,
  serializeRequest,
} from './gateway-wire.js';
import { type OpenedStreams, StreamsTransport } from './streams.js';
import { type Transport, type TransportTarget, toError } from './transport.js';

export { GatewayTlsFailure } from './gateway-wire.js';

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
   * How `wss:` URLs are served. `'gateway'`: the gateway makes the TLS
   * connection to the server and verifies the server's certificate (its
   * chain, against the gateway's roots, and the URL's host name); the page
   * is told the outcome, not shown the certificate. The
   * gateway sees the plaintext, and the page has to trust it to verify,
   * hence opt-in. Needs a gateway that speaks protocol version 2.
   * @defaultValue none: `wss:` URLs fail, saying how to opt in
   */
  readonly tls?: 'gateway';
  /**
   * Called for each `wss:` connection once the gateway reported a verified
   * TLS connection to the server, before the transport opens. Throwing
   * refuses the connection (e.g. an application that wants a particular
   * ALPN protocol).
   */
  readonly onTls?: (info: GatewayTlsInfo) => void;
  /**
   * The `WebTransport` constructor.
   * @defaultValue `globalThis.WebTransport`
   */
  readonly WebTransport?: WebTransportConstructor;
}

/** What the gateway said about the TLS connection it made to a `wss:` server. */
export interface GatewayTlsInfo {
  /** The gateway that made the connection and verified the certificate (its URL). */
  readonly verifiedBy: string;
  /** The server, `host:port`, as the gateway connected to it. */
  readonly target: string;
  /** The name the certificate was verified for: the URL's host. */
  readonly serverName: string;
  /** The ALPN protocol the server chose, or `null` if it chose none. */
  readonly alpn: string | null;
}

/** The transports {@link webTransportTransport} makes: one stream of the session each. */
export class GatewayStreamTransport extends StreamsTransport {
  readonly #tls: { value: GatewayTlsInfo | null };

  /** @internal */
  constructor(
    opened: Promise<OpenedStreams>,
    tls: { value: GatewayTlsInfo | null },
    options: ConstructorParameters<typeof StreamsTransport>[1],
  ) {
    super(opened, options);
    this.#tls = tls;
  }

  /** For a `wss:` target: what the gateway said about its TLS connection, from `open` on; else `null`. */
  get tls(): GatewayTlsInfo | null {
    return this.#tls.value;
  }
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
 * For a `ws:` URL the transport's `secure` is `false`: QUIC encrypts the
 * way to the gateway, but the gateway speaks plain TCP to the server.
 * `wss:` URLs fail unless `tls: 'gateway'` is given; then the gateway
 * speaks TLS to the server, verifying its certificate, and `secure` is
 * `true`.
 */
export function webTransportTransport(
  options: WebTransportTransportOptions,
): (target: TransportTarget) => GatewayStreamTransport {
  if (options.tls !== undefined && options.tls !== 'gateway') {
    throw new TypeError(`tls must be 'gateway' or absent, not ${JSON.stringify(options.tls)}`);
  }
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
    let tls: GatewayTlsRequest | null = null;
    if (target.secure) {
      if (options.tls !== 'gateway') {
        return failed(
          new Error(
            "wss: through a WebTransport gateway needs webTransportTransport({ ..., tls: 'gateway' }): the gateway then " +
              "makes the TLS connection and verifies the server's certificate. It is opt-in because the gateway sees " +
              'the plaintext and the page has to trust it to verify (polysocket README, "wss:// through a gateway")',
          ),
        );
      }
      // RFC 6455, 4.1: "If /secure/ is true, the client MUST perform a TLS
      // handshake over the connection [...] Clients MUST use the Server
      // Name Indication extension in the TLS handshake [RFC6066]." The name
      // is the URL's host, also when the gateway is sent to another host
      // (an address) for it; the opening handshake is HTTP/1.1.
      tls = { serverName: serverNameOf(target), alpn: ['http/1.1'] };
    }
    let session: Session;
    try {
      session = Session.acquire(WebTransportClass, key, gateway.href, wtOptions);
    } catch (error) {
      // The constructor throws for a bad URL or bad options.
      return failed(toError(error));
    }
    const info = { value: null as GatewayTlsInfo | null };
    const opened = session.openStream(target, tls).then((stream) => {
      if (stream.tls !== null) {
        options.onTls?.(stream.tls);
        info.value = stream.tls;
      }
      return stream;
    });
    const transport: GatewayStreamTransport = new GatewayStreamTransport(opened, info, {
      secure: tls !== null,
      onClose: () => session.release(transport),
    });
    session.track(transport);
    return transport;
  };
}

/** A transport that closes with `error` without opening. */
function failed(error: Error): GatewayStreamTransport {
  return new GatewayStreamTransport(Promise.reject(error), { value: null }, {});
}

/** The TLS server name of a target: its URL's host (without brackets), or its host. */
function serverNameOf(target: TransportTarget): string {
  try {
    return new URL(target.url).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return target.host;
  }
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

  /**
   * A bidirectional stream connected to `target` through the gateway, over
   * TLS verified by the gateway if `tls` is given.
   */
  async openStream(
    target: TransportTarget,
    tls: GatewayTlsRequest | null,
  ): Promise<{
    readable: ReadableStream<Uint8Array>;
    writable: WritableStream<Uint8Array>;
    head: Uint8Array;
    tls: GatewayTlsInfo | null;
  }> {
    await this.#ready;
    const stream = await this.#wt.createBidirectionalStream();
    const name = formatTarget(target);
    try {
      const writer = stream.writable.getWriter();
      await writer.write(serializeRequest({ host: target.host, port: target.port }, tls));
      writer.releaseLock();
      const reader = stream.readable.getReader();
      const { status, text, head } = await readStatusLine(reader);
      reader.releaseLock();
      if (status !== GatewayStatus.CONNECTED) {
        throw new GatewayError(this.#gateway, name, status, text, tls?.serverName);
      }
      let info: GatewayTlsInfo | null = null;
      if (tls !== null) {
        const reply = parseConnected(text);
        // Only a gateway that says it verified the certificate, for the
        // name asked, may carry a wss: connection: one that ignored the
        // request would connect in the clear.
        if (reply === null || !reply.verified || reply.serverName !== tls.serverName) {
          throw new Error(
            `gateway ${this.#gateway} did not confirm a verified TLS connection to ${name} as ${tls.serverName ?? target.host} (it answered ${JSON.stringify(`${status} ${text}`)})`,
          );
        }
        info = { verifiedBy: this.#gateway, target: name, serverName: reply.serverName, alpn: reply.alpn };
      }
      return { readable: stream.readable, writable: stream.writable, head, tls: info };
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
 * 502 (connecting failed, or TLS to the target failed), 503 (a connection
 * limit), 504 (connecting or the TLS handshake timed out). A WebSocket
 * that fails this way has it as its failure's `cause`, and its message as
 * the failure's.
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
  /**
   * For a `wss:` connection: why the gateway could not make a verified TLS
   * connection (e.g. `'certificate-expired'`), or `null` if it refused for
   * another reason.
   */
  readonly tlsFailure: GatewayTlsFailure | null;

  /** @param serverName - The TLS server name asked for, for a `wss:` connection. */
  constructor(gateway: string, target: string, status: number, statusText: string, serverName?: string) {
    const tlsFailure = serverName === undefined ? null : (parseTlsFailure(statusText)?.failure ?? null);
    let why = '';
    if (tlsFailure !== null) {
      why = `${TLS_FAILURE_TEXT[tlsFailure].replace('%s', serverName ?? '')}: `;
    } else if (
      serverName !== undefined &&
      status === GatewayStatus.BAD_REQUEST &&
      /^malformed request line/.test(statusText)
    ) {
      // A version 1 gateway knows no parameters (gateway-wire.ts).
      why =
        'the gateway does not make TLS connections (it is older than gateway protocol version 2; update it): ';
    }
    const what = serverName === undefined ? target : `TLS to ${target} as ${serverName}`;
    super(`gateway ${gateway} refused ${what}: ${why}${status} ${statusText}`);
    this.gateway = gateway;
    this.target = target;
    this.status = status;
    this.statusText = statusText;
    this.tlsFailure = tlsFailure;
  }
}

/** The page's words for each {@link GatewayTlsFailure}; `%s` is the server name. */
const TLS_FAILURE_TEXT: Readonly<Record<GatewayTlsFailure, string>> = {
  [GatewayTlsFailure.UNKNOWN_ISSUER]: "the server's certificate is not from a CA the gateway trusts",
  [GatewayTlsFailure.EXPIRED]: "the server's certificate has expired",
  [GatewayTlsFailure.NOT_YET_VALID]: "the server's certificate is not valid yet",
  [GatewayTlsFailure.HOST_MISMATCH]: "the server's certificate is not valid for %s",
  [GatewayTlsFailure.INVALID]: "the server's certificate is not acceptable",
  [GatewayTlsFailure.HANDSHAKE_FAILED]: 'the TLS handshake with the server failed',
  [GatewayTlsFailure.HANDSHAKE_TIMEOUT]: 'the TLS handshake with the server timed out',
  [GatewayTlsFailure.UNAVAILABLE]: 'the gateway cannot verify certificates, so it makes no TLS connections',
};

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
