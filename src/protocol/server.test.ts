import { describe, expect, test } from 'vitest';
import { hex, splits, utf8 } from '../testing/chunking.js';
import {
  InvalidHeaderError,
  InvalidOriginError,
  InvalidStateError,
  InvalidUpgradeError,
  InvalidVersionError,
  NegotiationError,
  ProtocolError,
} from './errors.js';
import type { Extension, ServerExtensionFactory } from './extensions/base.js';
import { type Frame, frame, Opcode, serializeFrame } from './frames.js';
import { Headers } from './headers.js';
import { type Request, request } from './http11.js';
import { SEND_EOF, State } from './protocol.js';
import { ServerProtocol, type ServerProtocolOptions } from './server.js';

const REQUEST_HEAD =
  'GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

function requestWith(changes: Record<string, string | null>): Request {
  const base: Record<string, string> = {
    Host: 'server.example.com',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
  };
  const headers = new Headers();
  for (const [name, value] of Object.entries({ ...base, ...changes }))
    if (value !== null) headers.append(name, value);
  return request('/chat', headers);
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

describe('ServerProtocol: request', () => {
  for (const [name, chunks] of splits(utf8(`${REQUEST_HEAD}\r\n`))) {
    test(`the request is the first event (${name})`, () => {
      const server = new ServerProtocol();
      for (const chunk of chunks) server.receiveData(chunk);
      const [event] = server.eventsReceived() as Request[];
      expect(event?.kind).toBe('request');
      expect(event?.path).toBe('/chat');
      expect(server.state).toBe(State.CONNECTING);
    });
  }

  test('accept() answers 101 with the RFC 6455 1.3 accept value', () => {
    const server = new ServerProtocol({ serverHeader: 'polysocket' });
    const response = server.accept(requestWith({}));
    expect(response.status).toBe(101);
    server.sendResponse(response);
    expect(text(server.dataToSend()[0] as Uint8Array)).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nServer: polysocket\r\n\r\n',
    );
    expect(server.state).toBe(State.OPEN);
    expect(server.handshakeError).toBeNull();
  });

  test('frames sent by an eager client are buffered until the 101 is sent', () => {
    const server = new ServerProtocol();
    server.receiveData(utf8(`${REQUEST_HEAD}\r\n`));
    server.receiveData(hex('81 82 00000000 4869'));
    const [req] = server.eventsReceived() as Request[];
    expect(server.eventsReceived()).toEqual([]);
    server.sendResponse(server.accept(req!));
    expect(server.eventsReceived()).toEqual([frame(Opcode.TEXT, utf8('Hi'))]);
  });

  describe('early data: what the client sends before the response (RFC 6455 4.1: it MUST wait)', () => {
    /** A masked binary frame with a zero key and a payload of `size` bytes. */
    function maskedFrame(size: number): Uint8Array {
      return serializeFrame(frame(Opcode.BINARY, new Uint8Array(size).fill(7)), new Uint8Array(4));
    }

    function afterRequest(options: ServerProtocolOptions = {}): { server: ServerProtocol; req: Request } {
      const server = new ServerProtocol(options);
      server.receiveData(utf8(`${REQUEST_HEAD}\r\n`));
      const [req] = server.eventsReceived() as Request[];
      return { server, req: req! };
    }

    test('up to maxEarlyData bytes are kept and parsed once the 101 is sent', () => {
      const { server, req } = afterRequest({ maxEarlyData: 2000 });
      server.receiveData(maskedFrame(1000));
      server.receiveData(maskedFrame(900)); // 1908 bytes in all
      expect(server.eventsReceived()).toEqual([]);
      server.sendResponse(server.accept(req));
      expect((server.eventsReceived() as Frame[]).map((f) => f.data.byteLength)).toEqual([1000, 900]);
      expect(server.state).toBe(State.OPEN);
    });

    test('beyond it they are dropped, and the 101 is followed by a close frame with 1002 and the end', () => {
      const { server, req } = afterRequest({ maxEarlyData: 2000 });
      server.receiveData(maskedFrame(1000));
      server.receiveData(maskedFrame(1000));
      for (let i = 0; i < 10; i++) server.receiveData(maskedFrame(5000));
      expect(server.eventsReceived()).toEqual([]);
      expect(server.parserError).toBeNull();
      server.sendResponse(server.accept(req));
      const output = server.dataToSend();
      expect(text(output[0] as Uint8Array)).toMatch(/^HTTP\/1\.1 101 /);
      // The 101, a close frame (FIN + opcode 8, unmasked: a server's) with 1002, the end.
      expect(output).toHaveLength(3);
      const close = output[1] as Uint8Array;
      expect([close[0], close[2], close[3]]).toEqual([0x88, 0x03, 0xea]);
      expect(output[2]).toBe(SEND_EOF);
      expect(server.closeSent?.code).toBe(1002);
      expect(server.parserError).toBeInstanceOf(ProtocolError);
      expect(server.parserError?.message).toBe(
        'client sent more than 2000 bytes before the handshake response',
      );
      expect(server.eventsReceived()).toEqual([]);
      expect(server.state).toBe(State.CLOSING);
      expect(server.closeExpected()).toBe(true);
      // Later bytes are discarded, never parsed.
      server.receiveData(maskedFrame(10));
      expect(server.eventsReceived()).toEqual([]);
    });

    test('beyond it, a rejection is sent as usual', () => {
      const { server } = afterRequest({ maxEarlyData: 100 });
      server.receiveData(maskedFrame(500));
      server.sendResponse(server.reject(403, 'no\n'));
      const output = server.dataToSend();
      expect(text(output[0] as Uint8Array)).toMatch(/^HTTP\/1\.1 403 /);
      expect(output.slice(1)).toEqual([SEND_EOF]);
    });

    test('the default keeps 64 KiB; null keeps everything', () => {
      const limited = afterRequest();
      limited.server.receiveData(maskedFrame(64 * 1024));
      limited.server.sendResponse(limited.server.accept(limited.req));
      expect(limited.server.closeSent?.code).toBe(1002);
      const unlimited = afterRequest({ maxEarlyData: null });
      unlimited.server.receiveData(maskedFrame(256 * 1024));
      unlimited.server.sendResponse(unlimited.server.accept(unlimited.req));
      expect((unlimited.server.eventsReceived() as Frame[]).map((f) => f.data.byteLength)).toEqual([262144]);
    });

    test('an invalid maxEarlyData is a RangeError', () => {
      expect(() => new ServerProtocol({ maxEarlyData: -1 })).toThrow(RangeError);
      expect(() => new ServerProtocol({ maxEarlyData: 1.5 })).toThrow(
        'maxEarlyData must be a non-negative integer or null',
      );
    });
  });

  test.each<[string, Record<string, string | null>, number, unknown]>([
    ['missing Host', { Host: null }, 400, new InvalidHeaderError('Host')],
    ['missing Upgrade', { Upgrade: null }, 426, new InvalidUpgradeError('Upgrade')],
    ['wrong Upgrade', { Upgrade: 'h2c' }, 426, new InvalidUpgradeError('Upgrade', 'h2c')],
    ['missing Connection', { Connection: null }, 426, new InvalidUpgradeError('Connection')],
    [
      'wrong Connection',
      { Connection: 'keep-alive' },
      426,
      new InvalidUpgradeError('Connection', 'keep-alive'),
    ],
    [
      'missing version',
      { 'Sec-WebSocket-Version': null },
      426,
      new InvalidVersionError('Sec-WebSocket-Version'),
    ],
    [
      'version 8',
      { 'Sec-WebSocket-Version': '8' },
      426,
      new InvalidVersionError('Sec-WebSocket-Version', '8'),
    ],
    ['missing key', { 'Sec-WebSocket-Key': null }, 400, new InvalidHeaderError('Sec-WebSocket-Key')],
    [
      'key of 15 bytes',
      { 'Sec-WebSocket-Key': 'AAAAAAAAAAAAAAAAAAAA' },
      400,
      new InvalidHeaderError('Sec-WebSocket-Key', 'AAAAAAAAAAAAAAAAAAAA'),
    ],
    [
      'key not base64',
      { 'Sec-WebSocket-Key': 'not base64!' },
      400,
      new InvalidHeaderError('Sec-WebSocket-Key', 'not base64!'),
    ],
  ])('%s: error response %i', (_, changes, status, error) => {
    const server = new ServerProtocol();
    const response = server.accept(requestWith(changes));
    expect(response.status).toBe(status);
    expect(server.handshakeError).toEqual(error);
    expect(text(response.body)).toBe(`Failed to open a WebSocket connection: ${(error as Error).message}.\n`);
    if (status === 426) expect(response.headers.get('Upgrade')).toBe('websocket');
    server.sendResponse(response);
    const [head, eof] = server.dataToSend();
    expect(text(head as Uint8Array)).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(eof).toBe(SEND_EOF);
    expect(server.closeExpected()).toBe(true);
    server.receiveEof();
    expect(server.state).toBe(State.CLOSED);
  });

  test('a wrong version is answered with Sec-WebSocket-Version: 13 (RFC 6455 4.4)', () => {
    const response = new ServerProtocol().accept(requestWith({ 'Sec-WebSocket-Version': '8' }));
    expect(response.headers.get('Sec-WebSocket-Version')).toBe('13');
  });

  test('a malformed request is answered 400 by the protocol itself', () => {
    const server = new ServerProtocol();
    server.receiveData(utf8('GET / HTTP/1.1\r\nBad Header: x\r\n\r\n'));
    expect(server.eventsReceived()).toEqual([]);
    const [head, eof] = server.dataToSend();
    expect(text(head as Uint8Array)).toMatch(/^HTTP\/1.1 400 Bad Request\r\n/);
    expect(eof).toBe(SEND_EOF);
    expect(server.handshakeError?.message).toBe('invalid header name: "Bad"...');
  });

  test('a POST is answered 405 with Allow: GET', () => {
    const server = new ServerProtocol();
    server.receiveData(utf8('POST / HTTP/1.1\r\nHost: h\r\n\r\n'));
    expect(text(server.dataToSend()[0] as Uint8Array)).toMatch(
      /^HTTP\/1.1 405 Method Not Allowed\r\n[\s\S]*Allow: GET\r\n/,
    );
  });

  test('origin: allow-list and hook, 403 otherwise', () => {
    const options: ServerProtocolOptions = { origins: ['https://good.example', null] };
    expect(new ServerProtocol(options).accept(requestWith({ Origin: 'https://good.example' })).status).toBe(
      101,
    );
    expect(new ServerProtocol(options).accept(requestWith({})).status).toBe(101);
    const bad = new ServerProtocol(options);
    expect(bad.accept(requestWith({ Origin: 'https://evil.example' })).status).toBe(403);
    expect(bad.handshakeError).toBeInstanceOf(InvalidOriginError);
    const hook = new ServerProtocol({ checkOrigin: (origin) => origin?.endsWith('.example') === true });
    expect(hook.accept(requestWith({ Origin: 'https://a.example' })).status).toBe(101);
    expect(new ServerProtocol({ checkOrigin: () => false }).accept(requestWith({})).status).toBe(403);
  });

  test('subprotocol: the first offered that the server supports, or the hook', () => {
    const server = new ServerProtocol({ subprotocols: ['b', 'c'] });
    const response = server.accept(requestWith({ 'Sec-WebSocket-Protocol': 'a, c, b' }));
    expect(response.headers.get('Sec-WebSocket-Protocol')).toBe('c');
    server.sendResponse(response);
    expect(server.subprotocol).toBe('c');

    const none = new ServerProtocol({ subprotocols: ['x'] });
    expect(
      none.accept(requestWith({ 'Sec-WebSocket-Protocol': 'a' })).headers.has('Sec-WebSocket-Protocol'),
    ).toBe(false);

    const hooked = new ServerProtocol({ selectSubprotocol: (offered) => offered.at(-1) ?? null });
    expect(
      hooked.accept(requestWith({ 'Sec-WebSocket-Protocol': 'a, b' })).headers.get('Sec-WebSocket-Protocol'),
    ).toBe('b');

    const wrong = new ServerProtocol({ selectSubprotocol: () => 'z' });
    expect(wrong.accept(requestWith({ 'Sec-WebSocket-Protocol': 'a' })).status).toBe(400);
    expect(wrong.handshakeError).toEqual(new NegotiationError('selected subprotocol was not offered: z'));

    const rejecting = new ServerProtocol({
      selectSubprotocol: () => {
        throw new NegotiationError('missing subprotocol');
      },
    });
    expect(rejecting.accept(requestWith({})).status).toBe(400);
  });

  test('extensions: first acceptable offer per factory; declined offers are skipped', () => {
    const factory: ServerExtensionFactory = {
      name: 'x-test',
      processRequestParams(params, accepted) {
        if (accepted.some((e) => e.name === 'x-test')) throw new NegotiationError('duplicate');
        if (params.some(([name]) => name === 'unsupported'))
          throw new NegotiationError('unsupported parameter');
        const extension: Extension = { name: 'x-test', decode: (f) => f, encode: (f) => f };
        return [params, extension];
      },
    };
    const server = new ServerProtocol({ extensions: [factory] });
    const response = server.accept(
      requestWith({ 'Sec-WebSocket-Extensions': 'x-test; unsupported, x-other, x-test; a=1, x-test; b=2' }),
    );
    expect(response.headers.get('Sec-WebSocket-Extensions')).toBe('x-test; a=1');
    server.sendResponse(response);
    expect(server.extensions.map((e) => e.name)).toEqual(['x-test']);
  });

  test('an invalid Sec-WebSocket-Extensions header: 400', () => {
    const factory: ServerExtensionFactory = {
      name: 'x',
      processRequestParams: () => [[], { name: 'x', decode: (f) => f, encode: (f) => f }],
    };
    const server = new ServerProtocol({ extensions: [factory] });
    expect(server.accept(requestWith({ 'Sec-WebSocket-Extensions': 'x; =' })).status).toBe(400);
  });

  test('an unexpected error in a hook: 500 without details', () => {
    const server = new ServerProtocol({
      checkOrigin: () => {
        throw new Error('database down');
      },
    });
    const response = server.accept(requestWith({}));
    expect(response.status).toBe(500);
    expect(text(response.body)).not.toContain('database');
    expect((server.handshakeError!.cause as Error).message).toBe('database down');
  });

  test('reject() builds a plain-text response and closes after sending it', () => {
    const server = new ServerProtocol();
    server.receiveData(utf8(`${REQUEST_HEAD}\r\n`));
    server.eventsReceived();
    const response = server.reject(404, 'no such room\n');
    expect(response.headers.get('Content-Length')).toBe('13');
    server.sendResponse(response);
    expect(server.dataToSend().at(-1)).toBe(SEND_EOF);
    expect(server.handshakeError?.name).toBe('InvalidStatusError');
    expect(() => server.sendResponse(response)).toThrow(InvalidStateError);
    server.receiveData(hex('81 80 00000000'));
    expect(server.eventsReceived()).toEqual([]);
  });
});
