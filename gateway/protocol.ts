/**
 * The gateway protocol, version 1: what the first bytes of each WebTransport
 * bidirectional stream say. The client side is in
 * src/transports/webtransport.ts; the two are tested against each other by
 * the browser end-to-end tests (e2e/browser/).
 *
 *     client:  CONNECT <host>:<port>\r\n        (IPv6 literal in brackets)
 *     gateway: 200 connected\r\n                then raw TCP bytes both ways
 *          or: <status> <reason>\r\n            then end of stream
 *
 * Like an HTTP CONNECT request (RFC 9110, 9.3.6) and its status codes.
 */

/** Longest request or status line, CRLF included. */
export const MAX_LINE = 1024;

/** Status codes the gateway answers with. */
export const Status = {
  CONNECTED: 200,
  BAD_REQUEST: 400,
  FORBIDDEN: 403,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
} as const;

/** A TCP target: a host name or IP literal (without brackets) and a port. */
export interface Target {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, an IPv6 literal in brackets (RFC 3986, 3.2.2). */
export function formatTarget(target: Target): string {
  return target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/**
 * Parse `host:port` or `[v6]:port`; host names are lowercased. `null` if
 * malformed. Port 0 ("any free port") only with `allowPortZero`.
 */
export function parseTarget(text: string, allowPortZero = false): Target | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const port = Number(match[3]);
  if (!(port >= (allowPortZero ? 0 : 1) && port <= 65535)) return null;
  const host = (match[1] ?? match[2] ?? '').toLowerCase();
  return { host, port };
}

/** Parse a request line (without its line ending); `null` if malformed. */
export function parseRequest(line: string): Target | null {
  const match = /^CONNECT (\S+)$/.exec(line);
  return match === null ? null : parseTarget(match[1]!);
}

/** A status line, with its CRLF; the reason is kept on one line. */
export function statusLine(status: number, reason: string): Uint8Array {
  return new TextEncoder().encode(`${status} ${reason.replace(/[\r\n]+/g, ' ').slice(0, 200)}\r\n`);
}

/** Result of {@link readRequestLine}. */
export type RequestLine =
  /** The line (without its line ending), and the bytes read after it. */
  | { readonly kind: 'line'; readonly line: string; readonly rest: Uint8Array }
  /** No line feed within {@link MAX_LINE} bytes; `head` is what came, cut at {@link MAX_LINE}. */
  | { readonly kind: 'too-long'; readonly head: Uint8Array }
  /** The stream ended before a line feed; `head` is what came. */
  | { readonly kind: 'ended'; readonly head: Uint8Array };

/**
 * Read the request line from a stream reader. The limit holds for every
 * chunk: a line longer than {@link MAX_LINE} is refused whether it comes in
 * one chunk or in many, and no more than {@link MAX_LINE} bytes are kept.
 */
export async function readRequestLine(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<RequestLine> {
  let buffered = new Uint8Array(0);
  // Bounded: what is kept grows with every chunk that is not empty, and is
  // given up at MAX_LINE.
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { kind: 'ended', head: buffered };
    const joined = new Uint8Array(buffered.byteLength + value.byteLength);
    joined.set(buffered);
    joined.set(value, buffered.byteLength);
    // Only the first MAX_LINE bytes can hold the line feed of a line that
    // fits; whatever a chunk carries beyond them is not looked at.
    const newline = joined.subarray(0, MAX_LINE).indexOf(0x0a);
    if (newline >= 0) {
      const line = new TextDecoder().decode(joined.subarray(0, newline)).replace(/\r$/, '');
      return { kind: 'line', line, rest: joined.slice(newline + 1) };
    }
    if (joined.byteLength >= MAX_LINE) return { kind: 'too-long', head: joined.slice(0, MAX_LINE) };
    buffered = joined;
  }
}

/**
 * Client input made fit for a log line: control characters (C0, DEL, C1,
 * and the Unicode line and paragraph separators) escaped as `\xNN` or
 * `\uNNNN`, backslashes doubled, and at most `max` characters of the input
 * kept, with a note of how many were left out.
 */
export function printable(input: string | Uint8Array, max = 100): string {
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  let escaped = '';
  for (const char of text.slice(0, max)) {
    const code = char.codePointAt(0)!;
    if (char === '\\') escaped += '\\\\';
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f))
      escaped += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code === 0x2028 || code === 0x2029) escaped += `\\u${code.toString(16)}`;
    else escaped += char;
  }
  return text.length > max ? `${escaped}…(${text.length - max} more)` : escaped;
}

/** An allow-list of targets; `*` as the port allows any port of that host. */
export class AllowList {
  readonly #entries: ReadonlyArray<{ readonly host: string; readonly port: number | '*' }>;

  /** @param specs - `host:port`, `[v6]:port` or `host:*` entries. @throws TypeError for a malformed entry. */
  constructor(specs: readonly string[]) {
    this.#entries = specs.map((spec) => {
      const wildcard = /^(.*):\*$/.exec(spec);
      const parsed = parseTarget(wildcard === null ? spec : `${wildcard[1]}:1`);
      if (parsed === null) throw new TypeError(`malformed allow-list entry: ${spec} (expected host:port)`);
      return { host: parsed.host, port: wildcard === null ? parsed.port : '*' };
    });
  }

  /** Whether `target` may be connected to. Names are compared as written: no DNS lookup. */
  allows(target: Target): boolean {
    return this.#entries.some(
      (entry) => entry.host === target.host && (entry.port === '*' || entry.port === target.port),
    );
  }

  toString(): string {
    return this.#entries
      .map((entry) => formatTarget({ host: entry.host, port: 0 }).replace(/0$/, String(entry.port)))
      .join(',');
  }
}
