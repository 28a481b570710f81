/**
 * The HTTP/1.1 messages of the opening handshake (RFC 6455, section 4;
 * RFC 9112): `Request` and `Response`, their serializers, and incremental
 * readers with limits.
 *
 * The readers are restartable: each call continues from where the previous
 * one stopped, so feeding a head one byte at a time costs linear time, and a
 * head or body that breaks a limit fails as soon as it does.
 */
import type { ByteQueue } from './byte-queue.js';
import { InvalidMessageError, InvalidMethodError } from './errors.js';
import { Headers, isToken, isValidHeaderValue } from './headers.js';
import { MAX_BODY_SIZE, MAX_LINE_LENGTH, MAX_NUM_HEADERS } from './limits.js';
import { concat, decodeLatin1, encodeLatin1 } from './platform.js';

/** A WebSocket handshake request. */
export interface Request {
  readonly kind: 'request';
  /** Request target: the resource name, e.g. `/chat?room=1`. */
  readonly path: string;
  readonly headers: Headers;
}

/** A handshake response; `body` is empty for 101. */
export interface Response {
  readonly kind: 'response';
  readonly status: number;
  readonly reasonPhrase: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

export function request(path: string, headers: Headers): Request {
  return { kind: 'request', path, headers };
}

export function response(
  status: number,
  reasonPhrase: string,
  headers: Headers,
  body: Uint8Array = EMPTY,
): Response {
  return { kind: 'response', status, reasonPhrase, headers, body };
}

const EMPTY = new Uint8Array(0);

/** Limits of the HTTP readers; see `limits.ts` for the defaults and why. */
export interface HttpLimits {
  readonly maxLineLength?: number;
  readonly maxNumHeaders?: number;
  readonly maxBodySize?: number;
}

function isValidTarget(path: string): boolean {
  if (path.length === 0) return false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

function serializeHead(startLine: string, headers: Headers): string {
  let head = `${startLine}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
}

/**
 * Serialize a request.
 *
 * @throws TypeError if the path could inject a request line.
 */
export function serializeRequest(req: Request): Uint8Array<ArrayBuffer> {
  if (!isValidTarget(req.path)) throw new TypeError(`invalid request target: ${JSON.stringify(req.path)}`);
  return encodeLatin1(serializeHead(`GET ${req.path} HTTP/1.1`, req.headers));
}

/**
 * Serialize a response with its body.
 *
 * @throws TypeError if the status or reason phrase is invalid.
 */
export function serializeResponse(res: Response): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(res.status) || res.status < 100 || res.status > 999) {
    throw new TypeError(`invalid status code: ${res.status}`);
  }
  // RFC 9112, 4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
  if (/[^\t\x20-\x7e\x80-\xff]/.test(res.reasonPhrase)) {
    throw new TypeError(`invalid reason phrase: ${JSON.stringify(res.reasonPhrase)}`);
  }
  const head = encodeLatin1(serializeHead(`HTTP/1.1 ${res.status} ${res.reasonPhrase}`, res.headers));
  if (res.body.byteLength === 0) return head;
  const out = new Uint8Array(head.byteLength + res.body.byteLength);
  out.set(head);
  out.set(res.body, head.byteLength);
  return out;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Reads an HTTP head (start line and header fields) from a queue, line by
 * line, remembering how far it got.
 */
class HeadReader {
  readonly #maxLineLength: number;
  readonly #maxNumHeaders: number;
  /** Offset of the start of the line being scanned. */
  #lineStart = 0;
  #lines = 0;

  constructor(limits: HttpLimits) {
    this.#maxLineLength = limits.maxLineLength ?? MAX_LINE_LENGTH;
    this.#maxNumHeaders = limits.maxNumHeaders ?? MAX_NUM_HEADERS;
  }

  /** Return the head's lines once the empty line arrived, consuming the head; else `null`. */
  read(queue: ByteQueue, eof: boolean): string[] | null {
    for (;;) {
      const lf = queue.indexOf(LF, this.#lineStart);
      if (lf === -1) {
        if (queue.length - this.#lineStart > this.#maxLineLength)
          throw new InvalidMessageError('line too long');
        if (eof) throw new InvalidMessageError('connection closed while reading HTTP head');
        return null;
      }
      // RFC 9112, 2.2 allows a bare LF, but websockets, browsers' WebSocket
      // clients and every server send CRLF; a bare LF is a smuggling vector.
      if (lf === this.#lineStart || queue.peek(lf - 1) !== CR)
        throw new InvalidMessageError('line without CRLF');
      if (lf - 1 - this.#lineStart > this.#maxLineLength) throw new InvalidMessageError('line too long');
      const empty = lf - 1 === this.#lineStart;
      this.#lineStart = lf + 1;
      if (empty) {
        if (this.#lines === 0) throw new InvalidMessageError('empty start line');
        break;
      }
      this.#lines++;
      if (this.#lines > this.#maxNumHeaders + 1) throw new InvalidMessageError('too many headers');
    }
    const head = decodeLatin1(queue.take(this.#lineStart));
    this.#lineStart = 0;
    this.#lines = 0;
    // Drop the final CRLF CRLF, then split.
    return head.slice(0, -4).split('\r\n');
  }
}

/**
 * What an error message may quote of a line a peer sent: its leading token
 * (a header name, a method), never the rest, which may hold credentials (an
 * `Authorization` value, a token in a query string) and ends up in logs and
 * in the 400 response.
 */
function describeLine(line: string): string {
  let end = 0;
  while (end < line.length && end < 64 && isToken(line[end]!)) end++;
  return end === line.length ? JSON.stringify(line) : `${JSON.stringify(line.slice(0, end))}...`;
}

function parseHeaderLines(lines: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    // RFC 9112, 5.2: "A server that receives an obs-fold in a request message
    // ... MUST either reject the message by sending a 400 (Bad Request)"
    if (line[0] === ' ' || line[0] === '\t') throw new InvalidMessageError('obsolete line folding in header');
    const colon = line.indexOf(':');
    if (colon === -1) throw new InvalidMessageError(`invalid header line: ${describeLine(line)}`);
    const name = line.slice(0, colon);
    // RFC 9112, 5.1: "No whitespace is allowed between the field name and
    // colon. ... A server MUST reject, with a response status code of 400"
    if (!isToken(name)) throw new InvalidMessageError(`invalid header name: ${describeLine(name)}`);
    const value = line.slice(colon + 1).replace(/^[\t ]+|[\t ]+$/g, '');
    // Control characters (CR, NUL, ...) inside a line; LF cannot occur here.
    if (!isValidHeaderValue(value)) throw new InvalidMessageError(`invalid value for header ${name}`);
    headers.append(name, value);
  }
  return headers;
}

/** Reads one handshake request. */
export class RequestReader {
  readonly #head: HeadReader;

  constructor(limits: HttpLimits = {}) {
    this.#head = new HeadReader(limits);
  }

  /**
   * Return the request once its head is complete, consuming it; else `null`.
   *
   * @throws {@link InvalidMessageError} if the bytes are not a valid request or break a limit.
   */
  read(queue: ByteQueue, eof: boolean): Request | null {
    const lines = this.#head.read(queue, eof);
    if (lines === null) return null;
    const startLine = lines[0]!;
    const parts = startLine.split(' ');
    if (parts.length !== 3) throw new InvalidMessageError(`invalid request line: ${describeLine(startLine)}`);
    const [method, path, version] = parts as [string, string, string];
    // RFC 6455, 4.2.1: "An HTTP/1.1 or higher GET request"
    if (version !== 'HTTP/1.1')
      throw new InvalidMessageError(`unsupported protocol; expected HTTP/1.1: ${version}`);
    if (method !== 'GET')
      throw new InvalidMethodError(`unsupported HTTP method; expected GET: ${method.slice(0, 16)}`);
    if (!isValidTarget(path)) throw new InvalidMessageError('invalid request target');
    const headers = parseHeaderLines(lines);
    // A GET handshake has no body; a body would be read as WebSocket frames.
    if (
      headers.has('Transfer-Encoding') ||
      (headers.has('Content-Length') && headers.get('Content-Length') !== '0')
    ) {
      throw new InvalidMessageError('unsupported request body');
    }
    return request(path, headers);
  }
}

type BodyMode =
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'eof' }
  | { readonly kind: 'chunked' };

/**
 * Reads the head of one handshake response, without its body: all that a
 * client needs that fails the connection on any status but 101 and never
 * shows the body (the WHATWG `WebSocket`). Kept apart from the body reader so
 * that bundles of such a client leave the body decoding out.
 */
export class ResponseHeadReader {
  readonly #head: HeadReader;

  constructor(limits: HttpLimits = {}) {
    this.#head = new HeadReader(limits);
  }

  /**
   * Return the response once its head is complete, consuming the head; else
   * `null`. Its `body` is empty: bytes after the head stay in the queue.
   *
   * @throws {@link InvalidMessageError} if the bytes are not a valid response head or break a limit.
   */
  read(queue: ByteQueue, eof: boolean): Response | null {
    const lines = this.#head.read(queue, eof);
    if (lines === null) return null;
    const startLine = lines[0]!;
    const match = /^HTTP\/1\.[01] ([0-9]{3})(?: (.*))?$/.exec(startLine);
    if (match === null) throw new InvalidMessageError(`invalid status line: ${startLine.slice(0, 64)}`);
    const status = Number(match[1]);
    if (status < 100) throw new InvalidMessageError(`invalid status code: ${status}`);
    return response(status, match[2] ?? '', parseHeaderLines(lines));
  }
}

/** Reads one handshake response with its body (for non-101 responses). */
export class ResponseReader extends ResponseHeadReader {
  readonly #maxBodySize: number;
  /** The head of a response whose body is being read, and how its length is known. */
  #pending: { head: Response; mode: BodyMode } | null = null;
  // Chunked decoding state.
  #chunks: Uint8Array[] = [];
  #bodySize = 0;
  #chunkState: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  #chunkRemaining = 0;

  constructor(limits: HttpLimits = {}) {
    super(limits);
    this.#maxBodySize = limits.maxBodySize ?? MAX_BODY_SIZE;
  }

  /**
   * Return the response once complete, consuming it; else `null`.
   * A 101 response is complete at the end of its head: what follows is
   * WebSocket data.
   *
   * @throws {@link InvalidMessageError} if the bytes are not a valid response or break a limit.
   */
  override read(queue: ByteQueue, eof: boolean): Response | null {
    if (this.#pending === null) {
      const head = super.read(queue, eof);
      if (head === null) return null;
      const status = head.status;
      // RFC 9112, 6.3: no body for 1xx (the head reader rejects < 100), 204 and 304.
      if (status < 200 || status === 204 || status === 304) return head;
      this.#pending = { head, mode: this.#bodyMode(head.headers) };
    }
    const { head, mode } = this.#pending;
    const body = this.#readBody(mode, queue, eof);
    if (body === null) return null;
    this.#pending = null;
    return response(head.status, head.reasonPhrase, head.headers, body);
  }

  #bodyMode(headers: Headers): BodyMode {
    const te = headers.getAll('Transfer-Encoding');
    if (te.length > 0) {
      // RFC 9112, 6.1: chunked must be the final coding; we support no other.
      if (te.join(',').toLowerCase().replace(/[\t ]/g, '') !== 'chunked') {
        throw new InvalidMessageError(`unsupported transfer coding: ${te.join(', ')}`);
      }
      return { kind: 'chunked' };
    }
    const cl = headers.getAll('Content-Length');
    if (cl.length > 0) {
      const values = new Set(cl.flatMap((v) => v.split(',').map((s) => s.trim())));
      const [only] = values;
      if (values.size !== 1 || only === undefined || !/^[0-9]{1,15}$/.test(only)) {
        throw new InvalidMessageError(`invalid Content-Length: ${cl.join(', ')}`);
      }
      const length = Number(only);
      if (length > this.#maxBodySize) throw new InvalidMessageError(`body too large: ${length} bytes`);
      return { kind: 'length', length };
    }
    return { kind: 'eof' };
  }

  #readBody(mode: BodyMode, queue: ByteQueue, eof: boolean): Uint8Array | null {
    switch (mode.kind) {
      case 'length':
        if (queue.length >= mode.length) return queue.take(mode.length).slice();
        if (eof) throw new InvalidMessageError('connection closed while reading HTTP body');
        return null;
      case 'eof':
        if (queue.length > this.#maxBodySize) throw new InvalidMessageError('body too large');
        return eof ? queue.take(queue.length).slice() : null;
      case 'chunked':
        return this.#readChunked(queue, eof);
    }
  }

  /** RFC 9112, 7.1: chunked transfer coding, decoded as it arrives. */
  #readChunked(queue: ByteQueue, eof: boolean): Uint8Array | null {
    for (;;) {
      if (this.#chunkState === 'data') {
        const count = Math.min(this.#chunkRemaining, queue.length);
        if (count > 0) {
          this.#chunks.push(queue.take(count).slice());
          this.#chunkRemaining -= count;
        }
        if (this.#chunkRemaining > 0) break;
        this.#chunkState = 'data-crlf';
        continue;
      }
      const lf = queue.indexOf(LF);
      if (lf === -1) {
        if (queue.length > MAX_LINE_LENGTH) throw new InvalidMessageError('line too long');
        break;
      }
      const line = decodeLatin1(queue.take(lf + 1)).replace(/\r?\n$/, '');
      if (this.#chunkState === 'data-crlf') {
        if (line !== '') throw new InvalidMessageError('invalid chunked encoding');
        this.#chunkState = 'size';
      } else if (this.#chunkState === 'size') {
        const match = /^([0-9a-fA-F]{1,8})[\t ]*(;.*)?$/.exec(line);
        if (match === null) throw new InvalidMessageError('invalid chunk size');
        const size = Number.parseInt(match[1]!, 16);
        this.#bodySize += size;
        if (this.#bodySize > this.#maxBodySize) throw new InvalidMessageError('body too large');
        if (size === 0) this.#chunkState = 'trailer';
        else {
          this.#chunkState = 'data';
          this.#chunkRemaining = size;
        }
      } else if (line === '') {
        // End of trailers: the body is complete.
        const body = concat(this.#chunks);
        this.#chunks = [];
        this.#bodySize = 0;
        this.#chunkState = 'size';
        return body;
      }
    }
    if (eof) throw new InvalidMessageError('connection closed while reading HTTP body');
    return null;
  }
}
