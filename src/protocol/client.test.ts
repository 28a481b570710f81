import { describe, expect, test } from 'vitest';
import { fixedRandom, hex, splits, utf8 } from '../testing/chunking.js';
import { ClientProtocol, type ClientProtocolOptions } from './client.js';
import {
  InvalidHeaderError,
  InvalidMessageError,
  InvalidStateError,
  InvalidStatusError,
  InvalidUpgradeError,
  NegotiationError,
} from './errors.js';
import type { ClientExtensionFactory, Extension } from './extensions/base.js';
import { frame, Opcode } from './frames.js';
import type { Response } from './http11.js';
import { SEND_EOF, State } from './protocol.js';

// fixedRandom(0) makes the key 16 zero bytes.
const KEY = 'AAAAAAAAAAAAAAAAAAAAAA==';
const ACCEPT = 'ICX+Yqv66kxgM0FcWaLWlFLwTAI=';

function connected(uri = 'ws://example.com/test', options: ClientProtocolOptions = {}): ClientProtocol {
  const client = new ClientProtocol(uri, { random: fixedRandom(0), ...options });
  client.sendRequest(client.connect());
  client.dataToSend();
  return client;
}

function responseBytes(extra = '', status = '101 Switching Protocols'): Uint8Array {
  return utf8(
    `HTTP/1.1 ${status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n${extra}\r\n`,
  );
}

function failedWith(client: ClientProtocol): Error | null {
  const [event] = client.eventsReceived() as Response[];
  expect(event?.kind).toBe('response');
  expect(client.dataToSend()).toEqual([SEND_EOF]);
  expect(client.closeExpected()).toBe(true);
  return client.handshakeError;
}

describe('ClientProtocol.connect()', () => {
  test('builds the RFC 6455 4.1 request', () => {
    const client = new ClientProtocol('ws://example.com:8080/chat?x=1', {
      random: fixedRandom(0),
      origin: 'http://example.com',
      subprotocols: ['chat', 'superchat'],
      headers: { 'X-Token': 'abc' },
      userAgent: 'polysocket-test',
    });
    client.sendRequest(client.connect());
    expect(new TextDecoder().decode(client.dataToSend()[0] as Uint8Array)).toBe(
      'GET /chat?x=1 HTTP/1.1\r\n' +
        'Host: example.com:8080\r\n' +
        'Origin: http://example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: chat, superchat\r\n' +
        'X-Token: abc\r\n' +
        'User-Agent: polysocket-test\r\n\r\n',
    );
    expect(client.state).toBe(State.CONNECTING);
  });

  test('user info becomes Basic authentication', () => {
    const request = new ClientProtocol('ws://user:p%40ss@h/').connect();
    expect(request.headers.get('Authorization')).toBe(`Basic ${btoa('user:p@ss')}`);
  });

  test('a fresh random key for every connection', () => {
    const a = new ClientProtocol('ws://h/').connect().headers.get('Sec-WebSocket-Key');
    const b = new ClientProtocol('ws://h/').connect().headers.get('Sec-WebSocket-Key');
    expect(a).not.toBe(b);
  });

  test.each<[string, ClientProtocolOptions]>([
    ['CR/LF in a header value', { headers: { 'X-A': 'a\r\nInjected: 1' } }],
    ['a header name that is not a token', { headers: { 'X A': 'b' } }],
    ['a header the handshake owns', { headers: { 'Sec-WebSocket-Key': 'x' } }],
    ['CR/LF in the origin', { origin: 'http://a\r\nX: y' }],
    ['a subprotocol that is not a token', { subprotocols: ['a b'] }],
    ['duplicate subprotocols', { subprotocols: ['a', 'a'] }],
    ['CR/LF in the user agent', { userAgent: 'ua\r\n' }],
  ])('rejects %s at construction', (_, options) => {
    expect(() => new ClientProtocol('ws://h/', options)).toThrow(TypeError);
  });

  test('an invalid limit is reported before an invalid URI, as the checks run in that order', () => {
    expect(() => new ClientProtocol('ws://h/#f', { maxMessageSize: -1 })).toThrow(RangeError);
    expect(() => new ClientProtocol('ws://h/#f', { maxFragmentSize: 0.5 })).toThrow(RangeError);
    expect(() => new ClientProtocol('ws://h/#f')).toThrow(TypeError);
  });

  test('a parsed URI is used as it is', () => {
    const uri = { secure: true, host: '::1', port: 8443, resourceName: '/a?b', userInfo: null };
    const client = new ClientProtocol(uri);
    expect(client.uri).toBe(uri);
    const request = client.connect();
    expect(request.path).toBe('/a?b');
    expect(request.headers.get('Host')).toBe('[::1]:8443');
  });

  test('a request can be sent once', () => {
    const client = connected();
    expect(() => client.sendRequest(client.connect())).toThrow(InvalidStateError);
  });
});

describe('ClientProtocol: response', () => {
  for (const [name, chunks] of splits(Uint8Array.from([...responseBytes(), 0x81, 0x02, 0x48, 0x69]))) {
    test(`101 opens the connection; frames after it are parsed (${name})`, () => {
      const client = connected();
      for (const chunk of chunks) client.receiveData(chunk);
      const events = client.eventsReceived();
      expect(events[0]).toMatchObject({ kind: 'response', status: 101 });
      expect(events.slice(1)).toEqual([frame(Opcode.TEXT, utf8('Hi'))]);
      expect(client.state).toBe(State.OPEN);
      expect(client.handshakeError).toBeNull();
      expect(client.dataToSend()).toEqual([]);
    });
  }

  test('non-101 status: InvalidStatusError carrying status, headers and body', () => {
    const client = connected();
    client.receiveData(utf8('HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\nX-Why: auth\r\n\r\ndenied\n'));
    const error = failedWith(client);
    expect(error).toBeInstanceOf(InvalidStatusError);
    const { response } = error as InvalidStatusError;
    expect(response.status).toBe(403);
    expect(response.headers.get('X-Why')).toBe('auth');
    expect(new TextDecoder().decode(response.body)).toBe('denied\n');
    expect(error?.message).toBe('server rejected WebSocket connection: HTTP 403');
    client.receiveEof();
    expect(client.state).toBe(State.CLOSED);
    expect(client.closeCode).toBe(1006);
  });

  test.each([
    ['missing Upgrade', 'Connection: Upgrade\r\n', InvalidUpgradeError, 'missing Upgrade header'],
    [
      'wrong Upgrade',
      'Upgrade: h2c\r\nConnection: Upgrade\r\n',
      InvalidUpgradeError,
      'invalid Upgrade header: h2c',
    ],
    ['missing Connection', 'Upgrade: websocket\r\n', InvalidUpgradeError, 'missing Connection header'],
    [
      'wrong Connection',
      'Upgrade: websocket\r\nConnection: close\r\n',
      InvalidUpgradeError,
      'invalid Connection header: close',
    ],
  ])('%s', (_, headers, type, message) => {
    const client = connected();
    client.receiveData(
      utf8(`HTTP/1.1 101 Switching Protocols\r\n${headers}Sec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`),
    );
    const error = failedWith(client);
    expect(error).toBeInstanceOf(type);
    expect(error?.message).toBe(message);
  });

  test('wrong Sec-WebSocket-Accept', () => {
    const client = connected();
    client.receiveData(
      utf8(
        'HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n',
      ),
    );
    expect(failedWith(client)).toEqual(new InvalidHeaderError('Sec-WebSocket-Accept', 'nope'));
  });

  test('Connection and Upgrade are case-insensitive token lists', () => {
    const client = connected();
    client.receiveData(
      utf8(
        `HTTP/1.1 101 OK\r\nUpgrade: WebSocket\r\nConnection: keep-alive, UPGRADE\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
      ),
    );
    expect(client.state).toBe(State.OPEN);
  });

  test('an invalid HTTP response: InvalidMessageError', () => {
    const client = connected();
    client.receiveData(utf8('SSH-2.0-OpenSSH\r\n\r\n'));
    // No response to deliver: only the error, and the half-close.
    expect(client.eventsReceived()).toEqual([]);
    expect(client.dataToSend()).toEqual([SEND_EOF]);
    expect(client.handshakeError).toBeInstanceOf(InvalidMessageError);
    expect(client.handshakeError?.message).toBe('invalid status line: SSH-2.0-OpenSSH');
  });

  test('EOF before the response', () => {
    const client = connected();
    client.receiveData(utf8('HTTP/1.1 101'));
    client.receiveEof();
    expect(client.handshakeError?.message).toBe('connection closed while reading HTTP head');
    expect(client.dataToSend()).toEqual([SEND_EOF]);
    expect(client.state).toBe(State.CLOSED);
  });

  test('subprotocol: the one selected by the server', () => {
    const client = connected('ws://h/', { subprotocols: ['chat', 'superchat'] });
    client.receiveData(responseBytes('Sec-WebSocket-Protocol: superchat\r\n'));
    expect(client.subprotocol).toBe('superchat');
    expect(client.state).toBe(State.OPEN);
  });

  test.each([
    [[], 'Sec-WebSocket-Protocol: chat\r\n', 'no subprotocols supported'],
    [['chat'], 'Sec-WebSocket-Protocol: other\r\n', 'unsupported subprotocol: other'],
    [['chat', 'other'], 'Sec-WebSocket-Protocol: chat, other\r\n', 'multiple subprotocols: chat, other'],
  ])('subprotocol offered %j, answered %j: fails', (subprotocols, header, message) => {
    const client = connected('ws://h/', { subprotocols });
    client.receiveData(responseBytes(header));
    expect(failedWith(client)).toEqual(new NegotiationError(message));
  });

  test('no subprotocol selected although offered: open, subprotocol null (the WHATWG layer decides)', () => {
    const client = connected('ws://h/', { subprotocols: ['chat'] });
    client.receiveData(responseBytes());
    expect(client.subprotocol).toBeNull();
    expect(client.state).toBe(State.OPEN);
  });

  test('extensions: only offered extensions are accepted, through their factory', () => {
    const accepted: string[] = [];
    const factory: ClientExtensionFactory = {
      name: 'x-test',
      getRequestParams: () => [['level', '1']],
      processResponseParams(params, previous) {
        if (previous.length > 0) throw new NegotiationError('conflict');
        accepted.push(JSON.stringify(params));
        const extension: Extension = { name: 'x-test', decode: (f) => f, encode: (f) => f };
        return extension;
      },
    };
    const client = connected('ws://h/', { extensions: [factory] });
    client.receiveData(responseBytes('Sec-WebSocket-Extensions: x-test; level=1\r\n'));
    expect(client.extensions.map((e) => e.name)).toEqual(['x-test']);
    expect(accepted).toEqual(['[["level","1"]]']);

    const unknown = connected('ws://h/', { extensions: [factory] });
    unknown.receiveData(responseBytes('Sec-WebSocket-Extensions: x-other; a=1\r\n'));
    expect(failedWith(unknown)).toEqual(new NegotiationError('unsupported extension: x-other; a=1'));

    const twice = connected('ws://h/', { extensions: [factory] });
    twice.receiveData(responseBytes('Sec-WebSocket-Extensions: x-test, x-test\r\n'));
    expect(failedWith(twice)).toEqual(new NegotiationError('conflict'));

    const none = connected();
    none.receiveData(responseBytes('Sec-WebSocket-Extensions: permessage-deflate\r\n'));
    expect(failedWith(none)?.message).toBe('unsupported extension: permessage-deflate');
  });

  test('data after a failed handshake is discarded', () => {
    const client = connected();
    client.receiveData(utf8('HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n'));
    client.eventsReceived();
    client.receiveData(hex('81 02 4869'));
    expect(client.eventsReceived()).toEqual([]);
  });
});
