/**
 * The gateway's own side of the gateway protocol: which targets it allows,
 * and client input made fit for its log. The wire format itself (request
 * and status lines, their limit, reading a line) is
 * src/transports/gateway-wire.ts, which the client uses too.
 */
import { formatTarget, type GatewayTarget, parseTarget } from '../src/transports/gateway-wire.ts';

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
  allows(target: GatewayTarget): boolean {
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
