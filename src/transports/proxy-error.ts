/**
 * Why a connection through a proxy failed: the `cause` of the
 * `WebSocketConnectionError` (kind `'transport'`) that a `WebSocket` reports
 * when the proxy could not be reached or would not open the tunnel.
 */

/**
 * What went wrong, whichever the proxy protocol:
 * - `'proxy-unreachable'`: no connection to the proxy itself (refused,
 *   unreachable, its TLS failed for an `https:` proxy); `cause` says why;
 * - `'auth-required'`: the proxy wants credentials and none were given
 *   (HTTP 407; SOCKS5 accepts none of the offered methods);
 * - `'auth-failed'`: the proxy rejected the credentials given (HTTP 407
 *   after `Proxy-Authorization` was sent; RFC 1929 status other than 0);
 * - `'target-unreachable'`: the proxy could not reach the target (HTTP
 *   502, 503, 504; SOCKS5 replies 3 to 6);
 * - `'refused'`: the proxy refused the tunnel (any other HTTP status,
 *   e.g. 403 for a port its rules forbid; SOCKS5 replies 1, 2, 7, 8);
 * - `'protocol'`: the proxy's answer was not valid for the protocol, or it
 *   closed the connection during the handshake;
 * - `'unsupported'`: the configuration cannot work here (e.g. `socks5:`
 *   needs a local name lookup that the runtime cannot do).
 */
export type ProxyErrorCode =
  | 'proxy-unreachable'
  | 'auth-required'
  | 'auth-failed'
  | 'target-unreachable'
  | 'refused'
  | 'protocol'
  | 'unsupported';

/** Optional details of a {@link ProxyError}. */
export interface ProxyErrorDetails {
  /** The HTTP status of the proxy's answer to `CONNECT`. */
  readonly status?: number;
  /** The auth schemes of the proxy's `Proxy-Authenticate` headers (e.g. `['Basic']`), for a 407. */
  readonly authenticate?: readonly string[];
  /** The SOCKS5 reply code (RFC 1928, 6), when not 0. */
  readonly socksReply?: number;
  readonly cause?: unknown;
}

/** A proxy could not be reached, or would not open a tunnel to the target. */
export class ProxyError extends Error {
  override readonly name: string = 'ProxyError';
  readonly code: ProxyErrorCode;
  /** The proxy's URL, without credentials. */
  readonly proxy: string;
  /** The target asked for, `host:port`. */
  readonly target: string;
  /** See {@link ProxyErrorDetails.status}. */
  readonly status: number | undefined;
  /** See {@link ProxyErrorDetails.authenticate}. */
  readonly authenticate: readonly string[];
  /** See {@link ProxyErrorDetails.socksReply}. */
  readonly socksReply: number | undefined;

  constructor(
    code: ProxyErrorCode,
    proxy: string,
    target: string,
    why: string,
    details: ProxyErrorDetails = {},
  ) {
    super(
      `proxy ${proxy} (to ${target}): ${why}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.code = code;
    this.proxy = proxy;
    this.target = target;
    this.status = details.status;
    this.authenticate = details.authenticate ?? [];
    this.socksReply = details.socksReply;
  }
}
