/**
 * WebSocket URIs (RFC 6455, section 3), without the platform `URL` class so
 * that the core runs anywhere. The WHATWG layer parses with `URL` (which
 * percent-encodes and handles IDNA) and builds a `WebSocketUri` from it; this
 * parser accepts only already-encoded ASCII URIs and rejects the rest.
 */

/** The parts of a `ws:` or `wss:` URI that a client needs. */
export interface WebSocketUri {
  /** `true` for `wss:`. */
  readonly secure: boolean;
  /** Host name, IPv4 address or bracketless IPv6 address, lowercase. */
  readonly host: string;
  readonly port: number;
  /** Path and query, at least `/` (RFC 6455, 3: "resource-name"). */
  readonly resourceName: string;
  /** User and password from the URI, percent-decoded, for HTTP Basic authentication. */
  readonly userInfo: readonly [user: string, password: string] | null;
}

const URI = /^(wss?):\/\/(?:([^@/?#]*)@)?(\[[0-9a-fA-F:.]+\]|[^:/?#[\]@]*)(?::([0-9]*))?([/?][^#]*)?$/i;

/**
 * Parse a `ws:` or `wss:` URI.
 *
 * @throws TypeError if `uri` isn't a valid WebSocket URI (RFC 6455, 3:
 * "Fragment identifiers are meaningless in the context of WebSocket URIs and
 * MUST NOT be used on these URIs").
 */
export function parseUri(uri: string): WebSocketUri {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\x00-\x20\x7f-\uffff]/.test(uri))
    throw new TypeError(`invalid WebSocket URI: ${JSON.stringify(redactUserInfo(uri))}`);
  const match = URI.exec(uri);
  if (match === null) throw new TypeError(`invalid WebSocket URI: ${JSON.stringify(redactUserInfo(uri))}`);
  const [, scheme, userInfo, rawHost, rawPort, rawPath] = match;
  const secure = scheme!.toLowerCase() === 'wss';
  const host = rawHost!.startsWith('[') ? rawHost!.slice(1, -1).toLowerCase() : rawHost!.toLowerCase();
  if (host === '')
    throw new TypeError(`invalid WebSocket URI: no host: ${JSON.stringify(redactUserInfo(uri))}`);
  let port = secure ? 443 : 80;
  if (rawPort !== undefined && rawPort !== '') {
    port = Number(rawPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TypeError(`invalid WebSocket URI: bad port: ${JSON.stringify(redactUserInfo(uri))}`);
    }
  }
  let resourceName = rawPath ?? '/';
  if (resourceName.startsWith('?')) resourceName = `/${resourceName}`;
  let credentials: readonly [string, string] | null = null;
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(':');
    const user = colon === -1 ? userInfo : userInfo.slice(0, colon);
    const password = colon === -1 ? '' : userInfo.slice(colon + 1);
    try {
      credentials = [decodeURIComponent(user), decodeURIComponent(password)];
    } catch {
      throw new TypeError('invalid WebSocket URI: bad percent-encoding in user info');
    }
  }
  return { secure, host, port, resourceName, userInfo: credentials };
}

/**
 * `uri` with its user info (which may hold a password) replaced by `***`,
 * for error messages: they end up in logs.
 */
export function redactUserInfo(uri: string): string {
  return uri.replace(/^([^:/?#]*:\/\/)[^/?#]*@/, '$1***@');
}

/** The `Host` header for `uri` (RFC 9110, 7.2): the port is left out when it is the default. */
export function buildHost(uri: WebSocketUri): string {
  const host = uri.host.includes(':') ? `[${uri.host}]` : uri.host;
  const defaultPort = uri.secure ? 443 : 80;
  return uri.port === defaultPort ? host : `${host}:${uri.port}`;
}
