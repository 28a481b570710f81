/**
 * The wire format of the WebTransport gateway protocol, version 2: what the
 * first bytes of each WebTransport bidirectional stream say. The client
 * (`webtransport.ts`) and the Deno gateway (`gateway/`, which imports this
 * file by its path) share this one definition.
 *
 *     client:  CONNECT <host>:<port>[ <parameter>]*\r\n    (IPv6 literal in brackets)
 *     gateway: 200 connected[ <parameter>]*\r\n           then the target's bytes both ways
 *          or: <status> <reason>\r\n                   then end of stream
 *
 * Like an HTTP CONNECT request (RFC 9110, 9.3.6) and its status codes.
 *
 * Version 2 adds parameters, words after the target separated by single
 * spaces: `tls` asks the gateway to speak TLS to the target, verifying its
 * certificate, with `server-name=<name>` (the name the certificate must be
 * valid for, and the SNI; the target's host if absent) and
 * `alpn=<id>[,<id>]*` (RFC 7301). The answer to a `tls` request is
 * `200 connected tls verified server-name=<name>[ alpn=<id>]` or a refusal
 * whose reason starts with one of {@link GatewayTlsFailure} and a colon.
 * A line without parameters is a version 1 request, which both versions
 * serve alike; a version 1 gateway refuses any parameter with
 * `400 malformed request line`, so a client that asked for TLS can tell
 * it apart from a connection without TLS.
 *
 * The module imports nothing and uses nothing beyond `Uint8Array`,
 * `TextEncoder` and `TextDecoder`, so that Node, browsers and Deno all
 * compile it as it is; a stream reader is declared structurally.
 */

/** The protocol version this module speaks. */
export const GATEWAY_PROTOCOL_VERSION = 2;

/** Longest request or status line, CRLF included. */
export const MAX_GATEWAY_LINE = 1024;

/** Status codes of the gateway's status line. */
export const GatewayStatus = {
  CONNECTED: 200,
  BAD_REQUEST: 400,
  FORBIDDEN: 403,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
} as const;
export type GatewayStatus = (typeof GatewayStatus)[keyof typeof GatewayStatus];

/** A TCP target: a host name or IP literal (without brackets) and a port. */
export interface GatewayTarget {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, an IPv6 literal in brackets (RFC 3986, 3.2.2). */
export function formatTarget(target: GatewayTarget): string {
  return target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/**
 * Parse `host:port` or `[v6]:port`; host names are lowercased. `null` if
 * malformed. Port 0 ("any free port") only with `allowPortZero`.
 */
export function parseTarget(text: string, allowPortZero = false): GatewayTarget | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const port = Number(match[3]);
  if (!(port >= (allowPortZero ? 0 : 1) && port <= 65535)) return null;
  const host = (match[1] ?? match[2] ?? '').toLowerCase();
  return { host, port };
}

/** What a client asks of the TLS connection the gateway makes to the target (version 2). */
export interface GatewayTlsRequest {
  /**
   * The name the target's certificate must be valid for, also sent as SNI
   * when it is a DNS name (RFC 6066, 3: "Literal IPv4 and IPv6 addresses
   * are not permitted in "HostName""): a DNS name, or an IP address without
   * brackets. The gateway uses the target's host when it is absent.
   */
  readonly serverName?: string;
  /** ALPN protocol IDs to offer (RFC 7301), e.g. `['http/1.1']`; none if absent or empty. */
  readonly alpn?: readonly string[];
}

/** A parsed request line: the target, and whether to speak TLS to it. */
export interface GatewayRequest extends GatewayTarget {
  /** TLS to the target, or `null` for plain TCP. */
  readonly tls: GatewayTlsRequest | null;
}

/** Why a request line is refused, from {@link parseRequest}. */
export interface MalformedRequest {
  readonly malformed: string;
}

/** A DNS name (letters, digits, `-`, `_`, dots) or an IP literal; at most 253 characters. */
const SERVER_NAME = /^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|[0-9a-fA-F:.]+)$/;
/** An ALPN ID as this protocol carries it: printable ASCII without space or comma, 1 to 255 bytes. */
const ALPN_ID = /^[!-+\--~]{1,255}$/;
/** At most this many ALPN IDs. */
const MAX_ALPN_IDS = 8;

/**
 * The request line, with its CRLF: `CONNECT host:port\r\n`, and with
 * `tls`: `CONNECT host:port tls server-name=<name> alpn=<ids>\r\n`.
 * @throws TypeError if the server name or an ALPN ID cannot be sent.
 */
export function serializeRequest(
  target: GatewayTarget,
  tls: GatewayTlsRequest | null = null,
): Uint8Array<ArrayBuffer> {
  let line = `CONNECT ${formatTarget(target)}`;
  if (tls !== null) {
    line += ' tls';
    if (tls.serverName !== undefined) {
      if (!isServerName(tls.serverName))
        throw new TypeError(`cannot send the TLS server name ${JSON.stringify(tls.serverName)}`);
      line += ` server-name=${tls.serverName}`;
    }
    const alpn = tls.alpn ?? [];
    if (alpn.length > MAX_ALPN_IDS || !alpn.every((id) => ALPN_ID.test(id))) {
      throw new TypeError(`cannot send the ALPN IDs ${JSON.stringify(alpn)}`);
    }
    if (alpn.length > 0) line += ` alpn=${alpn.join(',')}`;
  }
  return new TextEncoder().encode(`${line}\r\n`);
}

/** Parse a request line (without its line ending); says why if it is malformed. */
export function parseRequest(line: string): GatewayRequest | MalformedRequest {
  const [connect, targetText, ...parameters] = line.split(' ');
  const target = connect === 'CONNECT' && targetText !== undefined ? parseTarget(targetText) : null;
  if (target === null) return { malformed: 'malformed request line (expected CONNECT host:port)' };
  if (parameters.length === 0) return { ...target, tls: null };
  let tls = false;
  let serverName: string | undefined;
  let alpn: string[] | undefined;
  const seen = new Set<string>();
  for (const parameter of parameters) {
    const equals = parameter.indexOf('=');
    const name = equals === -1 ? parameter : parameter.slice(0, equals);
    const value = equals === -1 ? null : parameter.slice(equals + 1);
    if (seen.has(name)) return { malformed: `request parameter ${name} given twice` };
    seen.add(name);
    if (name === 'tls' && value === null) {
      tls = true;
    } else if (name === 'server-name' && value !== null) {
      if (!isServerName(value))
        return { malformed: 'malformed server-name (expected a DNS name or an IP address)' };
      serverName = value.toLowerCase();
    } else if (name === 'alpn' && value !== null) {
      alpn = value.split(',');
      if (alpn.length > MAX_ALPN_IDS || !alpn.every((id) => ALPN_ID.test(id))) {
        return { malformed: `malformed alpn (expected at most ${MAX_ALPN_IDS} IDs separated by commas)` };
      }
    } else {
      return {
        malformed: `unknown request parameter ${JSON.stringify(parameter.slice(0, 40))} (protocol version ${GATEWAY_PROTOCOL_VERSION} knows tls, server-name=, alpn=)`,
      };
    }
  }
  if (!tls) return { malformed: 'server-name= and alpn= need tls' };
  return {
    ...target,
    tls: { ...(serverName === undefined ? {} : { serverName }), ...(alpn === undefined ? {} : { alpn }) },
  };
}

function isServerName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && SERVER_NAME.test(name);
}

/**
 * Why the gateway could not set up a verified TLS connection to the target:
 * the first word of its refusal's reason (status 502, or 504 for a
 * timeout), before a colon and the TLS library's own words.
 */
export const GatewayTlsFailure = {
  /** The certificate does not chain to a root the gateway trusts (its default roots and its operator's `--ca`). */
  UNKNOWN_ISSUER: 'certificate-unknown-issuer',
  /** The certificate has expired. */
  EXPIRED: 'certificate-expired',
  /** The certificate is not valid yet. */
  NOT_YET_VALID: 'certificate-not-yet-valid',
  /** The certificate is not valid for the server name. */
  HOST_MISMATCH: 'certificate-host-mismatch',
  /** Another certificate problem: a bad signature, revoked, not for servers, malformed. */
  INVALID: 'certificate-invalid',
  /** The handshake failed otherwise: not a TLS server, an alert, nothing in common, the connection lost. */
  HANDSHAKE_FAILED: 'tls-handshake-failed',
  /** No handshake within the gateway's connect timeout. */
  HANDSHAKE_TIMEOUT: 'tls-handshake-timeout',
  /** The gateway cannot verify certificates, so it makes no TLS connections. */
  UNAVAILABLE: 'tls-unavailable',
} as const;
export type GatewayTlsFailure = (typeof GatewayTlsFailure)[keyof typeof GatewayTlsFailure];

const TLS_FAILURES: ReadonlySet<string> = new Set(Object.values(GatewayTlsFailure));

/** The reason of a TLS refusal: `<failure>: <detail>`. */
export function tlsFailureReason(failure: GatewayTlsFailure, detail: string): string {
  return `${failure}: ${detail}`;
}

/** The failure and detail of a TLS refusal's reason; `null` if it is not one. */
export function parseTlsFailure(
  text: string,
): { readonly failure: GatewayTlsFailure; readonly detail: string } | null {
  const match = /^([a-z-]+): (.*)$/.exec(text);
  if (match === null || !TLS_FAILURES.has(match[1]!)) return null;
  return { failure: match[1] as GatewayTlsFailure, detail: match[2]! };
}

/** What the gateway says about the TLS connection it made: the parameters of its `200 connected`. */
export interface GatewayTlsReply {
  /** The gateway verified the target's certificate chain and name (`verified`). */
  readonly verified: boolean;
  /** The name it verified the certificate for. */
  readonly serverName: string | null;
  /** The ALPN protocol the target chose, or `null`. */
  readonly alpn: string | null;
}

/** The text of a `200` answer to a `tls` request (without the status code). */
export function connectedText(tls: GatewayTlsReply | null): string {
  if (tls === null) return 'connected';
  let text = 'connected tls';
  if (tls.verified) text += ' verified';
  if (tls.serverName !== null) text += ` server-name=${tls.serverName}`;
  if (tls.alpn !== null && ALPN_ID.test(tls.alpn)) text += ` alpn=${tls.alpn}`;
  return text;
}

/**
 * The TLS parameters of a `200` answer's text; `null` if it does not say
 * `tls` (a plain connection, or a gateway that ignored the request).
 */
export function parseConnected(text: string): GatewayTlsReply | null {
  const [connected, ...parameters] = text.split(' ');
  if (connected !== 'connected' || !parameters.includes('tls')) return null;
  let serverName: string | null = null;
  let alpn: string | null = null;
  for (const parameter of parameters) {
    if (parameter.startsWith('server-name=')) serverName = parameter.slice('server-name='.length);
    else if (parameter.startsWith('alpn=')) alpn = parameter.slice('alpn='.length);
  }
  return { verified: parameters.includes('verified'), serverName, alpn };
}

/** A status line, with its CRLF; the reason is kept on one line, and short. */
export function serializeStatusLine(status: number, reason: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${status} ${reason.replace(/[\r\n]+/g, ' ').slice(0, 200)}\r\n`);
}

/**
 * Parse a status line (without its line ending): three digits, then a space
 * and the text, or nothing; `null` if malformed. The space is required
 * before the text, so that `2001 x` is not read as 200.
 */
export function parseStatusLine(line: string): { readonly status: number; readonly text: string } | null {
  const match = /^(\d{3})(?: (.*))?$/.exec(line);
  return match === null ? null : { status: Number(match[1]), text: match[2] ?? '' };
}

/** The part of a `ReadableStreamDefaultReader<Uint8Array>` that {@link readLine} uses. */
export interface ByteReader {
  read(): Promise<{ done: false; value: Uint8Array } | { done: true; value?: Uint8Array | undefined }>;
}

/** Result of {@link readLine}. */
export type LineRead =
  /** The line (without its line ending), and the bytes read after it. */
  | { readonly kind: 'line'; readonly line: string; readonly rest: Uint8Array }
  /** No line feed within {@link MAX_GATEWAY_LINE} bytes; `head` is what came, cut at that length. */
  | { readonly kind: 'too-long'; readonly head: Uint8Array }
  /** The stream ended before a line feed; `head` is what came. */
  | { readonly kind: 'ended'; readonly head: Uint8Array };

/**
 * Read one line, request or status, from a stream reader. The limit holds
 * for every chunk: a line longer than {@link MAX_GATEWAY_LINE} is refused
 * whether it comes in one chunk or in many, and no more than that many
 * bytes are kept.
 */
export async function readLine(reader: ByteReader): Promise<LineRead> {
  let buffered = new Uint8Array(0);
  // Bounded: what is kept grows with every chunk that is not empty, and is
  // given up at MAX_GATEWAY_LINE.
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { kind: 'ended', head: buffered };
    const joined = new Uint8Array(buffered.byteLength + value.byteLength);
    joined.set(buffered);
    joined.set(value, buffered.byteLength);
    // Only the first MAX_GATEWAY_LINE bytes can hold the line feed of a
    // line that fits; whatever a chunk carries beyond them is not looked at.
    const newline = joined.subarray(0, MAX_GATEWAY_LINE).indexOf(0x0a);
    if (newline >= 0) {
      const line = new TextDecoder().decode(joined.subarray(0, newline)).replace(/\r$/, '');
      return { kind: 'line', line, rest: joined.slice(newline + 1) };
    }
    if (joined.byteLength >= MAX_GATEWAY_LINE) {
      return { kind: 'too-long', head: joined.slice(0, MAX_GATEWAY_LINE) };
    }
    buffered = joined;
  }
}

/**
 * Read the gateway's status line, for the client; `head` holds the bytes
 * after it that were read with it (the server's first bytes).
 * @throws Error if the stream ends first, or the line is too long or malformed.
 */
export async function readStatusLine(
  reader: ByteReader,
): Promise<{ status: number; text: string; head: Uint8Array }> {
  const read = await readLine(reader);
  if (read.kind === 'ended') throw new Error('the gateway ended the stream without a status line');
  if (read.kind === 'too-long') throw new Error('the gateway sent a status line that is too long');
  const parsed = parseStatusLine(read.line);
  if (parsed === null) {
    throw new Error(`the gateway sent a malformed status line: ${JSON.stringify(read.line)}`);
  }
  return { status: parsed.status, text: parsed.text, head: read.rest };
}
