/**
 * Debug logging, after Python websockets' debug logs: one line per event,
 * its first character saying what it is.
 *
 * - `=` a state change (`= connection is OPEN`);
 * - `>` something sent, `<` something received: the handshake heads, line
 *   by line, and frames in summary (`> TEXT 'hello' [5 bytes]`,
 *   `< CLOSE 1000 (OK) [2 bytes]`), `EOF` for the end of the byte stream;
 * - `!` a failure and why (`! failing connection with code 1002: ...`);
 * - `%` keepalive, `-` a timeout, `x` the transport (connection driver).
 *
 * Nothing here runs unless a logger was given: the core and the driver hold
 * a `ProtocolLog` (log-hooks.ts) or `undefined` and call it as
 * `log?.frame('>', frame)`, which evaluates no argument when there is none.
 * They never reference this module: only the public classes
 * (`ClientProtocol`, `ServerProtocol`, `Protocol`) and the entry points'
 * option transforms create a log, so bundles without them (`polysocket/lite`)
 * leave the formatting and its strings out.
 *
 * What the peer controls (payloads, close reasons) is quoted with control
 * characters escaped, so that it cannot forge log lines; credentials in
 * handshake heads and URLs are redacted, as logs are often shared.
 */
import type { Close } from './close.js';
import { parseClose } from './close.js';
import { type Frame, Opcode } from './frames.js';
import { CREDENTIAL_HEADERS, type Headers } from './headers.js';
import type { Request, Response } from './http11.js';
import { type Direction, LOG, type Logger, type ProtocolLog, preparedLog } from './log-hooks.js';
import { decodeUtf8 } from './platform.js';
import type { ProtocolOptions, State } from './protocol.js';
import { redactUserInfo } from './uri.js';
import { isValidUtf8 } from './utf8.js';

export type { Logger, ProtocolLog } from './log-hooks.js';

/** A logger bound for use: call it with a line, and the level if not debug. */
export type Log = (message: string, level?: 'warn' | 'error') => void;

/**
 * Bind `logger` for use; `undefined` when there is none, so that callers
 * test one field and do nothing else while logging is off.
 *
 * @throws TypeError if `logger` has no `debug` method.
 */
export function createLog(logger: Logger | null | undefined): Log | undefined {
  if (logger === undefined || logger === null) return undefined;
  if (typeof logger.debug !== 'function') throw new TypeError('logger must have a debug(message) method');
  return (message, level) => {
    try {
      const method = level === undefined ? undefined : logger[level];
      if (typeof method === 'function') method.call(logger, message);
      else logger.debug(message);
    } catch {
      // A logger's failure must not become the connection's.
    }
  };
}

/**
 * The core's log: formats its events (see log-hooks.ts) into lines for
 * `logger`. The connection driver's log extends it (connection/logging.ts).
 */
export class ProtocolLogger implements ProtocolLog {
  readonly [LOG]: 'protocol' | 'connection' = 'protocol';
  /** Writes a line; never throws. */
  protected readonly write: Log;

  /** @throws TypeError if `logger` has no `debug` method. */
  constructor(logger: Logger) {
    this.write = createLog(logger) as Log;
  }

  debug(message: string): void {
    this.write(message);
  }

  warn(message: string): void {
    this.write(message, 'warn');
  }

  error(message: string): void {
    this.write(message, 'error');
  }

  state(state: State): void {
    this.write(`= connection is ${STATE_NAMES[state]}`);
  }

  frame(direction: Direction, f: Frame): void {
    this.write(`${direction} ${describeFrame(f)}`);
  }

  head(direction: Direction, head: Request | Response): void {
    if (head.kind === 'request') logRequest(this.write, direction, head);
    else logResponse(this.write, direction, head);
  }

  eof(direction: Direction): void {
    this.write(`${direction} EOF`);
  }

  failing(code: number, reason: string): void {
    this.write(`! failing connection with code ${code}${reason === '' ? '' : `: ${reason}`}`);
  }

  handshakeError(error: unknown): void {
    this.write(`! invalid handshake: ${describeError(error)}`);
  }

  internalError(error: unknown): void {
    this.write(`! unexpected error: ${describeError(error)}`, 'error');
  }
}

/** Indexed by `State`. */
const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;

/**
 * The core's log for `logger`: `undefined` when there is none, and
 * `logger` itself when it is prepared already.
 *
 * @throws TypeError if `logger` has no `debug` method.
 */
export function createProtocolLog(logger: Logger | null | undefined): ProtocolLog | undefined {
  if (logger === undefined || logger === null) return undefined;
  return preparedLog(logger) ?? new ProtocolLogger(logger);
}

/**
 * `options` with its `logger` prepared for the core, which takes only a
 * prepared log (see log-hooks.ts): what the public classes pass it.
 *
 * @throws TypeError if `logger` has no `debug` method.
 */
export function withProtocolLog<O extends ProtocolOptions>(options: O): O {
  const logger = options.logger;
  if (logger === undefined || logger === null || preparedLog(logger) !== undefined) return options;
  return { ...options, logger: new ProtocolLogger(logger) };
}

/** Longest payload preview, in characters (websockets' `MAX_LOG_SIZE`). */
const MAX_PREVIEW = 75;

/**
 * One-line summary of a frame (websockets' `Frame.__str__`): opcode, a
 * preview of the payload (text quoted, binary in hex, a close frame's code
 * and reason), then its length and whether more fragments follow.
 */
export function describeFrame(f: Frame): string {
  const length = f.data.byteLength;
  const metadata = `${length} byte${length === 1 ? '' : 's'}${f.fin ? '' : ', continued'}`;
  const name = OPCODE_NAMES[f.opcode] ?? `0x${f.opcode.toString(16)}`;
  return `${name} ${describePayload(f)} [${metadata}]`;
}

/** websockets' `Frame.__str__`, under the name `polysocket/protocol` exported first. */
export const frameToString: (f: Frame) => string = describeFrame;

/** Indexed by opcode (RFC 6455, 5.2). */
const OPCODE_NAMES: readonly (string | undefined)[] = [
  'CONT',
  'TEXT',
  'BINARY',
  ...Array<undefined>(5),
  'CLOSE',
  'PING',
  'PONG',
];

function describePayload(f: Frame): string {
  const data = f.data;
  if (data.byteLength === 0) return "''";
  if (f.opcode === Opcode.CLOSE) {
    try {
      return describeClose(parseClose(data));
    } catch {
      // A malformed close payload: shown as bytes.
    }
  }
  // Text frames are text; a continuation is shown as text when it decodes
  // (it cannot tell which message it continues); pings and pongs carry
  // bytes (keepalive pings carry random ones).
  if (f.opcode === Opcode.TEXT || (f.opcode === Opcode.CONT && isValidUtf8(data))) return previewText(data);
  return previewBinary(data);
}

/**
 * Quote text of at most `MAX_PREVIEW` characters, or its start and end: a
 * long payload is decoded only there, cut at code point boundaries.
 */
function previewText(data: Uint8Array): string {
  const length = data.byteLength;
  let text: string;
  if (length > 4 * MAX_PREVIEW) {
    let head = (8 * MAX_PREVIEW) / 3;
    let tail = length - (4 * MAX_PREVIEW) / 3;
    while (head > 0 && isContinuation(data[head]!)) head--;
    while (tail < length && isContinuation(data[tail]!)) tail++;
    text = decodeUtf8(data.subarray(0, head)) + decodeUtf8(data.subarray(tail));
  } else {
    text = decodeUtf8(data);
  }
  return elide(`'${escapeControls(text, true)}'`);
}

function isContinuation(byte: number): boolean {
  return (byte & 0b11000000) === 0b10000000;
}

/** Hex bytes: all of them up to 25 bytes, else the first 16 and the last 8. */
function previewBinary(data: Uint8Array): string {
  const cut = (MAX_PREVIEW / 3 - 1) / 3; // 8
  return data.byteLength <= MAX_PREVIEW / 3
    ? hex(data)
    : `${hex(data.subarray(0, 2 * cut))} ... ${hex(data.subarray(-cut))}`;
}

function hex(data: Uint8Array): string {
  let out = '';
  for (const byte of data) out += `${out === '' ? '' : ' '}${byte.toString(16).padStart(2, '0')}`;
  return out;
}

/** Keep the first 48 and the last 24 characters of a long preview. */
function elide(text: string): string {
  const cut = MAX_PREVIEW / 3 - 1; // 24
  return text.length > MAX_PREVIEW ? `${text.slice(0, 2 * cut)}...${text.slice(-cut)}` : text;
}

/**
 * Escape what could break or forge a log line: C0 and C1 controls, the
 * backslash, and the quote when `quoted`.
 */
function escapeControls(text: string, quoted = false): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return text.replace(/[\\'\x00-\x1f\x7f-\x9f]/g, (c) => {
    if (c === "'") return quoted ? "\\'" : c;
    if (c === '\\') return '\\\\';
    return ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** An error's message, then its cause's: what a failure line says. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause === undefined ? error.message : `${error.message}: ${describeError(error.cause)}`;
}

/** `detail`, then the error that caused it unless `detail` says it already. */
export function withCause(detail: string, cause: unknown): string {
  if (cause === undefined) return detail;
  const described = describeError(cause);
  return detail.includes(described) ? detail : `${detail} (${described})`;
}

/** A close code and reason, e.g. `1000 (OK) bye` (websockets' `Close.__str__`). */
export function describeClose(close: Close): string {
  const reason = close.reason === '' ? '' : ` ${escapeControls(close.reason)}`;
  return `${close.code} (${closeCodeName(close.code)})${reason}`;
}

/** What a close code means (RFC 6455, 7.4.1 and 7.4.2; the IANA registry). */
export function closeCodeName(code: number): string {
  if (code >= 3000 && code < 4000) return 'registered';
  if (code >= 4000 && code < 5000) return 'private use';
  return CLOSE_CODE_NAMES[code - 1000] ?? 'unknown';
}

/** Indexed by code - 1000; 1004 is reserved. */
const CLOSE_CODE_NAMES: readonly (string | undefined)[] = [
  'OK',
  'going away',
  'protocol error',
  'unsupported data',
  undefined,
  'no status received [internal]',
  'abnormal closure [internal]',
  'invalid frame payload data',
  'policy violation',
  'message too big',
  'mandatory extension',
  'internal error',
  'service restart',
  'try again later',
  'bad gateway',
  'TLS handshake failure [internal]',
];

/** Log a handshake request line by line (`prefix` is `>` when sent, `<` when received). */
export function logRequest(log: Log, prefix: string, req: Request): void {
  log(`${prefix} GET ${redactTarget(req.path)} HTTP/1.1`);
  logHeaders(log, prefix, req.headers);
}

/** Log a handshake response line by line; its body by its length only. */
export function logResponse(log: Log, prefix: string, res: Response): void {
  log(`${prefix} HTTP/1.1 ${res.status} ${res.reasonPhrase}`);
  logHeaders(log, prefix, res.headers);
  if (res.body.byteLength > 0) log(`${prefix} [body] (${res.body.byteLength} bytes)`);
}

function logHeaders(log: Log, prefix: string, headers: Headers): void {
  for (const [name, value] of headers) log(`${prefix} ${name}: ${redactHeader(name, value)}`);
}

/**
 * Names of fields and query parameters whose values are secrets besides
 * the credential headers: API keys, tokens, passwords. Browsers cannot set
 * headers on a WebSocket, so tokens often travel in the query, or as a
 * subprotocol (Kubernetes offers `base64url.bearer.authorization.k8s.io.`
 * followed by the token): offered subprotocols that look like one are
 * redacted too. `Sec-WebSocket-Key` and `-Accept` are nonces, not secrets:
 * they stay.
 */
const SECRET_NAME = /token|secret|passw|api.?key|^auth|signature|session/i;
const SECRET_SUBPROTOCOL = /bearer|token|secret|passw|auth/i;

/**
 * The value of a header field as logged: credentials (RFC 9110's
 * `Authorization` and `Proxy-Authorization`, RFC 6265's `Cookie` and
 * `Set-Cookie`) and other secrets redacted. The scheme of an authorization
 * stays (`Basic ***`): it tells which credentials were sent.
 */
export function redactHeader(name: string, value: string): string {
  const lower = name.toLowerCase();
  if (lower === 'sec-websocket-protocol') {
    return value.replace(/[^,\s]+/g, (item) => (SECRET_SUBPROTOCOL.test(item) ? '***' : item));
  }
  if (lower.startsWith('sec-websocket-')) return value;
  if (lower === 'authorization' || lower === 'proxy-authorization') {
    const space = value.indexOf(' ');
    return space === -1 ? '***' : `${value.slice(0, space)} ***`;
  }
  return CREDENTIAL_HEADERS.has(lower) || SECRET_NAME.test(lower) ? '***' : value;
}

/** A request target (path and query) with the values of secret query parameters redacted. */
export function redactTarget(target: string): string {
  return target.replace(/([?&])([^=&]*)=[^&]*/g, (param, separator: string, name: string) =>
    SECRET_NAME.test(name) ? `${separator}${name}=***` : param,
  );
}

/** A URL with its user info and secret query parameters redacted. */
export function redactUrl(url: string): string {
  return redactTarget(redactUserInfo(url));
}
