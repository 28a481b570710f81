/**
 * WebIDL conversions and the URL and subprotocol checks of the WHATWG
 * WebSockets standard, shared by the front ends (`WebSocket`, and later
 * `WebSocketStream`). The exception messages are Chromium's, so that code
 * matching on them behaves the same.
 */
import { isToken } from './protocol/headers.js';
import { MAX_CLOSE_REASON } from './protocol/limits.js';
import { decodeUtf8, encodeUtf8 } from './protocol/platform.js';
import { redactUserInfo } from './protocol/uri.js';

/**
 * https://websockets.spec.whatwg.org/#get-a-url-record
 *
 * @param context - Chromium's message prefix, e.g. "Failed to construct 'WebSocket'".
 * @throws DOMException "SyntaxError" on failure.
 */
export function getUrlRecord(url: string | URL, context: string): URL {
  const text = String(url);
  const fail = (): DOMException =>
    new DOMException(`${context}: The URL '${redactUserInfo(text)}' is invalid.`, 'SyntaxError');
  const base = (globalThis as { location?: { href?: unknown } }).location?.href;
  // 1. Let urlRecord be the result of applying the URL parser to url with baseURL.
  let urlRecord: URL;
  try {
    urlRecord = typeof base === 'string' ? new URL(text, base) : new URL(text);
  } catch {
    // 2. If urlRecord is failure, then return failure.
    throw fail();
  }
  // The URL standard's host parser fails on a forbidden domain code point,
  // after percent-decoding ("If asciiDomain contains a forbidden domain code
  // point, domain-invalid-code-point validation error, return failure").
  // Chromium's URL (150) keeps a space in a host as `%20` instead: check.
  if (urlRecord.hostname.includes('%') && hasForbiddenDomainCodePoint(urlRecord.hostname)) throw fail();
  // 3. If urlRecord's scheme is "http", then set urlRecord's scheme to "ws".
  if (urlRecord.protocol === 'http:') urlRecord.protocol = 'ws:';
  // 4. Otherwise, if urlRecord's scheme is "https", set urlRecord's scheme to "wss".
  else if (urlRecord.protocol === 'https:') urlRecord.protocol = 'wss:';
  // 5. If urlRecord's scheme is not "ws" or "wss", then return failure.
  if (urlRecord.protocol !== 'ws:' && urlRecord.protocol !== 'wss:') {
    throw new DOMException(
      `${context}: The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. '${urlRecord.protocol.slice(0, -1)}' is not allowed.`,
      'SyntaxError',
    );
  }
  // 6. If urlRecord's fragment is non-null, then return failure. (`hash` is
  //    empty for an empty fragment too; the serialization shows it.)
  if (urlRecord.href.includes('#')) {
    throw new DOMException(
      `${context}: The URL contains a fragment identifier ('${urlRecord.href.slice(urlRecord.href.indexOf('#') + 1)}'). Fragment identifiers are not allowed in WebSocket URLs.`,
      'SyntaxError',
    );
  }
  // 7. Return urlRecord.
  return urlRecord;
}

/**
 * The constructor's protocol steps: convert `(DOMString or
 * sequence<DOMString>) protocols`, then check them.
 *
 * 4. If protocols is a string, set protocols to a sequence consisting of
 *    just that string.
 * 5. If any of the values in protocols occur more than once or otherwise
 *    fail to match the requirements for elements that comprise the value of
 *    `Sec-WebSocket-Protocol` fields as defined by The WebSocket protocol,
 *    then throw a "SyntaxError" DOMException.
 */
export function toSubprotocols(protocols: string | readonly string[] | undefined, context: string): string[] {
  const offered = toProtocolList(protocols);
  const seen = new Set<string>();
  for (const protocol of offered) {
    if (!isToken(protocol)) {
      throw new DOMException(
        `${context}: The subprotocol '${escapeSubprotocol(protocol)}' is invalid.`,
        'SyntaxError',
      );
    }
    // Compared case-insensitively, as browsers do (WPT
    // websockets/Create-protocols-repeated-case-insensitive.any.js).
    const folded = protocol.toLowerCase();
    if (seen.has(folded)) {
      throw new DOMException(
        `${context}: The subprotocol '${escapeSubprotocol(protocol)}' is duplicated.`,
        'SyntaxError',
      );
    }
    seen.add(folded);
  }
  return offered;
}

/** WebIDL conversion of `(DOMString or sequence<DOMString>) protocols`. */
function toProtocolList(protocols: string | readonly string[] | undefined): string[] {
  if (protocols === undefined) return [];
  if (typeof protocols === 'object' && protocols !== null && Symbol.iterator in protocols) {
    return Array.from(protocols as Iterable<unknown>, String);
  }
  return [String(protocols)];
}

/** A subprotocol as Chromium shows it in messages: `\uXXXX` outside printable ASCII, `\\` for `\`. */
function escapeSubprotocol(protocol: string): string {
  let out = '';
  for (let i = 0; i < protocol.length; i++) {
    const unit = protocol.charCodeAt(i);
    if (unit < 0x20 || unit > 0x7e) out += `\\u${unit.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += unit === 0x5c ? '\\\\' : protocol[i];
  }
  return out;
}

/**
 * WebIDL conversion of a value to `DOMString`: as `String()`, except that a
 * Symbol throws a TypeError (with `context`, Chromium's message prefix).
 */
export function toDomString(value: unknown, context: string): string {
  if (typeof value === 'symbol') throw new TypeError(`${context}: Cannot convert a Symbol value to a string`);
  return String(value);
}

/** WebIDL `[Clamp] unsigned short`. */
export function clampUnsignedShort(value: unknown): number {
  const clamped = Math.min(Math.max(Number(value), 0), 0xffff);
  if (Number.isNaN(clamped)) return 0;
  // Round to the nearest integer, ties to even (Math.round rounds ties up).
  const rounded = Math.round(clamped);
  return rounded - clamped === 0.5 && rounded % 2 === 1 ? rounded - 1 : rounded;
}

/** Whether `data` is a `Blob` (where the runtime has them). */
export function isBlob(data: unknown): data is Blob {
  return typeof Blob === 'function' && data instanceof Blob;
}

/** Whether `data` is an `ArrayBuffer` (or a `SharedArrayBuffer`), from any realm. */
export function isArrayBuffer(data: unknown): data is ArrayBufferLike {
  return (
    data instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer === 'function' && data instanceof SharedArrayBuffer) ||
    Object.prototype.toString.call(data) === '[object ArrayBuffer]'
  );
}

/**
 * "Validate close code and reason" (WebSocketStream and `WebSocketError`;
 * `WebSocket.close()` runs the same steps): returns the reason as sent,
 * lone surrogates replaced.
 *
 * 1. If code is not null, but is neither an integer equal to 1000 nor an
 *    integer in the range 3000 to 4999, inclusive, throw an
 *    "InvalidAccessError" DOMException.
 * 2. If reason is not null, then: let reasonBytes be the result of UTF-8
 *    encoding reason; if reasonBytes is longer than 123 bytes, then throw a
 *    "SyntaxError" DOMException.
 */
export function checkCloseCodeAndReason(code: number | null, reason: string | null, context: string): string {
  if (code !== null && code !== 1000 && (code < 3000 || code > 4999)) {
    throw new DOMException(
      `${context}: The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`,
      'InvalidAccessError',
    );
  }
  if (reason === null) return '';
  const reasonBytes = encodeUtf8(reason);
  if (reasonBytes.byteLength > MAX_CLOSE_REASON) {
    throw new DOMException(
      `${context}: The close reason must not be greater than 123 UTF-8 bytes.`,
      'SyntaxError',
    );
  }
  return decodeUtf8(reasonBytes);
}

/** WebIDL `[EnforceRange] unsigned short`. */
export function enforceUnsignedShort(value: unknown, context: string): number {
  const number = Number(value);
  if (!Number.isFinite(number)) throw new TypeError(`${context}: Value is not a finite number.`);
  const integer = Math.trunc(number);
  if (integer < 0 || integer > 0xffff) {
    throw new TypeError(`${context}: Value is outside the 'unsigned short' value range.`);
  }
  return integer;
}

/** WebIDL: a dictionary argument must be undefined, null or an object. */
export function toDictionary(value: unknown, context: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError(`${context}: The provided value is not of type 'object'.`);
  }
  return value as Record<string, unknown>;
}

/** C0 controls, space, `# % / : < > ? @ [ \ ] ^ |` and DEL: the URL standard's forbidden domain code points. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the C0 controls are what the URL standard forbids
const FORBIDDEN_DOMAIN_CODE_POINT = /[\u0000-\u0020#%/:<>?@[\\\]^|\u007f]/;

/** Whether a host, percent-decoded, holds a forbidden domain code point (or does not decode). */
function hasForbiddenDomainCodePoint(host: string): boolean {
  try {
    return FORBIDDEN_DOMAIN_CODE_POINT.test(decodeURIComponent(host));
  } catch {
    return true;
  }
}
