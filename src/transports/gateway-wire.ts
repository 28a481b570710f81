/**
 * The wire format of the WebTransport gateway protocol, version 1: what the
 * first bytes of each WebTransport bidirectional stream say. The client
 * (`webtransport.ts`) and the Deno gateway (`gateway/`, which imports this
 * file by its path) share this one definition.
 *
 *     client:  CONNECT <host>:<port>\r\n        (IPv6 literal in brackets)
 *     gateway: 200 connected\r\n                then raw TCP bytes both ways
 *          or: <status> <reason>\r\n            then end of stream
 *
 * Like an HTTP CONNECT request (RFC 9110, 9.3.6) and its status codes.
 *
 * The module imports nothing and uses nothing beyond `Uint8Array`,
 * `TextEncoder` and `TextDecoder`, so that Node, browsers and Deno all
 * compile it as it is; a stream reader is declared structurally.
 */

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

/** The request line, with its CRLF: `CONNECT host:port\r\n`. */
export function serializeRequest(target: GatewayTarget): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`CONNECT ${formatTarget(target)}\r\n`);
}

/** Parse a request line (without its line ending); `null` if malformed. */
export function parseRequest(line: string): GatewayTarget | null {
  const match = /^CONNECT (\S+)$/.exec(line);
  return match === null ? null : parseTarget(match[1]!);
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
