import { describe, expect, test } from 'vitest';
import { concat, splits, utf8 } from '../testing/chunking.js';
import { ByteQueue } from './byte-queue.js';
import { InvalidMessageError, InvalidMethodError } from './errors.js';
import { Headers } from './headers.js';
import {
  type Request,
  RequestReader,
  type Response,
  ResponseHeadReader,
  ResponseReader,
  request,
  response,
  serializeRequest,
  serializeResponse,
} from './http11.js';

const REQUEST =
  'GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n' +
  'Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n';

function feed<T>(
  reader: { read(queue: ByteQueue, eof: boolean): T | null },
  chunks: Uint8Array[],
  eof = false,
) {
  const queue = new ByteQueue();
  let result: T | null = null;
  for (const chunk of chunks) {
    expect(result, 'complete before the last chunk').toBeNull();
    queue.push(chunk);
    result = reader.read(queue, false);
  }
  if (eof && result === null) result = reader.read(queue, true);
  return { result, queue };
}

function readRequest(text: string, eof = false): Request | null {
  return feed(new RequestReader(), [utf8(text)], eof).result;
}

function readResponse(bytes: Uint8Array, eof = false): Response | null {
  return feed(new ResponseReader(), [bytes], eof).result;
}

describe('RequestReader', () => {
  for (const [name, chunks] of splits(utf8(REQUEST))) {
    test(`RFC 6455 1.2 request (${name})`, () => {
      const { result, queue } = feed(new RequestReader(), chunks);
      expect(result?.path).toBe('/chat');
      expect(result?.headers.get('sec-websocket-key')).toBe('dGhlIHNhbXBsZSBub25jZQ==');
      expect(result?.headers.size).toBe(7);
      expect(queue.length).toBe(0);
    });
  }

  test('leaves bytes after the head in the queue', () => {
    const { queue } = feed(new RequestReader(), [concat([utf8(REQUEST), new Uint8Array([0x81, 0x80])])]);
    expect(queue.length).toBe(2);
  });

  test('trims optional whitespace around values', () => {
    expect(readRequest('GET / HTTP/1.1\r\nHost: \t h \t\r\n\r\n')?.headers.get('Host')).toBe('h');
  });

  test.each([
    ['bad request line', 'GET /\r\n\r\n', InvalidMessageError, 'invalid request line: "GET"...'],
    [
      'HTTP/1.0',
      'GET / HTTP/1.0\r\n\r\n',
      InvalidMessageError,
      'unsupported protocol; expected HTTP/1.1: HTTP/1.0',
    ],
    ['POST', 'POST / HTTP/1.1\r\n\r\n', InvalidMethodError, 'unsupported HTTP method; expected GET: POST'],
    ['bare LF', 'GET / HTTP/1.1\nHost: h\r\n\r\n', InvalidMessageError, 'line without CRLF'],
    [
      'obs-fold',
      'GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n',
      InvalidMessageError,
      'obsolete line folding in header',
    ],
    [
      'space before colon',
      'GET / HTTP/1.1\r\nHost : h\r\n\r\n',
      InvalidMessageError,
      'invalid header name: "Host"...',
    ],
    ['no colon', 'GET / HTTP/1.1\r\nHost\r\n\r\n', InvalidMessageError, 'invalid header line: "Host"'],
    ['CR in value', 'GET / HTTP/1.1\r\nA: b\rc\r\n\r\n', InvalidMessageError, 'invalid value for header A'],
    [
      'control character in value',
      'GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n',
      InvalidMessageError,
      'invalid value for header A',
    ],
    ['body', 'GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n', InvalidMessageError, 'unsupported request body'],
    [
      'chunked body',
      'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n',
      InvalidMessageError,
      'unsupported request body',
    ],
    ['empty start line', '\r\n\r\n', InvalidMessageError, 'empty start line'],
  ])('rejects %s', (_, text, type, message) => {
    let error: unknown;
    try {
      readRequest(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toBe(message);
  });

  test('EOF before the end of the head', () => {
    expect(() => readRequest('GET / HTTP/1.1\r\n', true)).toThrow(
      'connection closed while reading HTTP head',
    );
  });

  test('a line longer than the limit fails as soon as it exceeds it, without a CRLF', () => {
    const reader = new RequestReader({ maxLineLength: 100 });
    const queue = new ByteQueue();
    queue.push(utf8('GET / HTTP/1.1\r\nX: '));
    expect(reader.read(queue, false)).toBeNull();
    queue.push(utf8('a'.repeat(200)));
    expect(() => reader.read(queue, false)).toThrow('line too long');
  });

  test('an endless head fails at the header count limit', () => {
    const reader = new RequestReader({ maxNumHeaders: 10 });
    const queue = new ByteQueue();
    queue.push(utf8('GET / HTTP/1.1\r\n'));
    let error: unknown;
    for (let i = 0; i < 20 && error === undefined; i++) {
      queue.push(utf8(`X-${i}: y\r\n`));
      try {
        reader.read(queue, false);
      } catch (e) {
        error = e;
      }
    }
    expect((error as Error).message).toBe('too many headers');
  });
});

const RESPONSE_101 =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';

describe('ResponseReader', () => {
  for (const [name, chunks] of splits(concat([utf8(RESPONSE_101), new Uint8Array([0x81, 0x00])]))) {
    test(`101 response followed by a frame (${name})`, () => {
      const reader = new ResponseReader();
      const queue = new ByteQueue();
      let res: Response | null = null;
      for (const chunk of chunks) {
        queue.push(chunk);
        res ??= reader.read(queue, false);
      }
      expect(res?.status).toBe(101);
      expect(res?.reasonPhrase).toBe('Switching Protocols');
      expect(res?.headers.get('Sec-WebSocket-Accept')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
      expect(res?.body.byteLength).toBe(0);
      // What follows the head is WebSocket data, left for the frame parser.
      expect(queue.length).toBe(2);
    });
  }

  test('error response with Content-Length', () => {
    const res = readResponse(utf8('HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nnope!\n'));
    expect(res?.status).toBe(403);
    expect(new TextDecoder().decode(res?.body)).toBe('nope!\n');
  });

  test('error response read until EOF', () => {
    const reader = new ResponseReader();
    const queue = new ByteQueue();
    queue.push(utf8('HTTP/1.1 500 Oops\r\n\r\nbody'));
    expect(reader.read(queue, false)).toBeNull();
    const res = reader.read(queue, true);
    expect(res?.status).toBe(500);
    expect(new TextDecoder().decode(res?.body)).toBe('body');
  });

  for (const [name, chunks] of splits(
    utf8(
      'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX: y\r\n\r\n',
    ),
  )) {
    test(`chunked error response (${name})`, () => {
      const { result } = feed(new ResponseReader(), chunks);
      expect(new TextDecoder().decode(result?.body)).toBe('hello!');
    });
  }

  test('no body for 204 and 304', () => {
    expect(readResponse(utf8('HTTP/1.1 204 No Content\r\n\r\n'))?.body.byteLength).toBe(0);
  });

  test.each([
    ['bad status line', 'HTTP/1.1 OK\r\n\r\n', 'invalid status line: HTTP/1.1 OK'],
    ['HTTP/2', 'HTTP/2 101\r\n\r\n', 'invalid status line: HTTP/2 101'],
    ['bad Content-Length', 'HTTP/1.1 400 X\r\nContent-Length: -1\r\n\r\n', 'invalid Content-Length: -1'],
    [
      'conflicting Content-Length',
      'HTTP/1.1 400 X\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'invalid Content-Length: 1, 2',
    ],
    ['huge body', 'HTTP/1.1 400 X\r\nContent-Length: 2000000\r\n\r\n', 'body too large: 2000000 bytes'],
    ['gzip coding', 'HTTP/1.1 400 X\r\nTransfer-Encoding: gzip\r\n\r\n', 'unsupported transfer coding: gzip'],
    ['bad chunk size', 'HTTP/1.1 400 X\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'invalid chunk size'],
  ])('rejects %s', (_, text, message) => {
    expect(() => readResponse(utf8(text))).toThrow(new InvalidMessageError(message));
  });

  test('a body read until EOF is bounded', () => {
    const reader = new ResponseReader({ maxBodySize: 10 });
    const queue = new ByteQueue();
    queue.push(utf8('HTTP/1.1 500 Oops\r\n\r\n'));
    expect(reader.read(queue, false)).toBeNull();
    queue.push(new Uint8Array(11));
    expect(() => reader.read(queue, false)).toThrow('body too large');
  });

  test('EOF in a Content-Length body', () => {
    expect(() => readResponse(utf8('HTTP/1.1 400 X\r\nContent-Length: 5\r\n\r\nab'), true)).toThrow(
      'connection closed while reading HTTP body',
    );
  });
});

describe('ResponseHeadReader', () => {
  for (const [name, chunks] of splits(utf8('HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nnope!\n'))) {
    test(`a non-101 response is complete at the end of its head (${name})`, () => {
      const reader = new ResponseHeadReader();
      const queue = new ByteQueue();
      let res: Response | null = null;
      for (const chunk of chunks) {
        queue.push(chunk);
        res ??= reader.read(queue, false);
      }
      expect(res?.status).toBe(403);
      expect(res?.reasonPhrase).toBe('Forbidden');
      expect(res?.headers.get('Content-Length')).toBe('6');
      expect(res?.body.byteLength).toBe(0);
      // The body is not read: it stays in the queue.
      expect(queue.length).toBe(6);
    });
  }

  test('a body it would reject is not looked at', () => {
    const reader = new ResponseHeadReader();
    const queue = new ByteQueue();
    queue.push(utf8('HTTP/1.1 400 X\r\nTransfer-Encoding: gzip\r\nContent-Length: -1\r\n\r\n'));
    expect(reader.read(queue, false)?.status).toBe(400);
  });

  test.each([
    ['bad status line', 'HTTP/1.1 OK\r\n\r\n', 'invalid status line: HTTP/1.1 OK'],
    ['HTTP/2', 'HTTP/2 101\r\n\r\n', 'invalid status line: HTTP/2 101'],
    ['status below 100', 'HTTP/1.1 099 X\r\n\r\n', 'invalid status code: 99'],
    ['folded header', 'HTTP/1.1 403 X\r\nA: b\r\n c\r\n\r\n', 'obsolete line folding in header'],
  ])('rejects %s as ResponseReader does', (_, text, message) => {
    const error = new InvalidMessageError(message);
    expect(() => feed(new ResponseHeadReader(), [utf8(text)])).toThrow(error);
    expect(() => readResponse(utf8(text))).toThrow(error);
  });

  test('EOF in the head', () => {
    expect(() => feed(new ResponseHeadReader(), [utf8('HTTP/1.1 403 X\r\n')], true)).toThrow(
      'connection closed while reading HTTP head',
    );
  });
});

describe('serializers', () => {
  test('request', () => {
    const headers = new Headers([['Host', 'h']]);
    expect(new TextDecoder().decode(serializeRequest(request('/a?b', headers)))).toBe(
      'GET /a?b HTTP/1.1\r\nHost: h\r\n\r\n',
    );
    expect(() => serializeRequest(request('/ HTTP/1.1\r\nX: y', headers))).toThrow(TypeError);
  });

  test('response with body round-trips', () => {
    const bytes = serializeResponse(
      response(403, 'Forbidden', new Headers([['Content-Length', '2']]), utf8('no')),
    );
    expect(new TextDecoder().decode(bytes)).toBe('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno');
    expect(readResponse(bytes)?.status).toBe(403);
    expect(() => serializeResponse(response(99, 'x', new Headers()))).toThrow(TypeError);
    expect(() => serializeResponse(response(200, 'a\r\nb', new Headers()))).toThrow(TypeError);
  });
});
