/**
 * Security review items, each with a test:
 *
 * - CR/LF and non-token injection through the URL, headers, origin, user
 *   agent, subprotocols and extension parameters is rejected, in the core's
 *   options and in the WebSocket constructor;
 * - masking keys come from a CSPRNG: `crypto.getRandomValues()` by default,
 *   and they differ from frame to frame;
 * - header names such as `__proto__`, `constructor` and `prototype`, in
 *   requests and responses, are plain headers: no prototype pollution;
 * - error messages, close reasons and handshake errors never contain
 *   credentials (an `Authorization` value, a password in the URL's user info,
 *   a token in a query string).
 *
 * Elsewhere: TLS certificates are verified by default (src/node.test.ts
 * "wss: verifies certificates by default", src/node/transport.test.ts
 * "verifies the certificate by default": error, then close 1006 against a
 * self-signed server without `ca`); the Electron bridge refuses targets
 * outside its allow-list (src/electron/electron.test.ts "a target outside the
 * allow-list is refused without any connection"); the Deno gateway's
 * allow-list is tested with the gateway (gateway/).
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  ByteQueue,
  buildExtensionList,
  type ClientExtensionFactory,
  ClientProtocol,
  Headers,
  request as makeRequest,
  response as makeResponse,
  parseUri,
  type Request,
  RequestReader,
  type Response,
  ResponseReader,
  SEND_EOF,
  ServerProtocol,
  serializeRequest,
  serializeResponse,
} from './protocol/index.js';
import { utf8 } from './testing/chunking.js';
import { memoryServer } from './testing/memory-server.js';
import { WebSocket } from './websocket.js';

const SECRET = 'hunter2-s3cr3t';

afterEach(() => {
  vi.restoreAllMocks();
});

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  throw new Error('expected an exception');
}

describe('CR/LF and non-token injection', () => {
  const INJECTIONS = ['a\r\nX-Injected: 1', 'a\nX-Injected: 1', 'a\rb', 'a\0b', ' leading', 'trailing '];

  test.each(INJECTIONS)('core options reject %j', (bad) => {
    expect(() => new ClientProtocol('ws://h/', { headers: { 'X-Test': bad } })).toThrow(TypeError);
    expect(() => new ClientProtocol('ws://h/', { headers: [[bad, 'x']] })).toThrow(TypeError);
    expect(() => new ClientProtocol('ws://h/', { origin: bad })).toThrow(TypeError);
    expect(() => new ClientProtocol('ws://h/', { userAgent: bad })).toThrow(TypeError);
    expect(() => new ClientProtocol('ws://h/', { subprotocols: [bad] })).toThrow(TypeError);
    expect(() => new ClientProtocol(`ws://h/${bad}`)).toThrow(TypeError);
    expect(() => new ServerProtocol({ serverHeader: bad })).toThrow(TypeError);
    expect(() => new ServerProtocol({ subprotocols: [bad] })).toThrow(TypeError);
    expect(() => buildExtensionList([['permessage-deflate', [['x', bad]]]])).toThrow(TypeError);
    expect(() => buildExtensionList([['permessage-deflate', [[bad, null]]]])).toThrow(TypeError);
    expect(() => buildExtensionList([[bad, []]])).toThrow(TypeError);
    expect(() => serializeRequest(makeRequest(`/${bad}`, new Headers()))).toThrow(TypeError);
    expect(() => serializeResponse(makeResponse(400, bad.replace(/ /g, '\n'), new Headers()))).toThrow(
      TypeError,
    );
  });

  test('a custom extension factory cannot inject through its parameters', () => {
    const factory: ClientExtensionFactory = {
      name: 'x-evil',
      getRequestParams: () => [['p', 'v\r\nX-Injected: 1']],
      processResponseParams: () => {
        throw new Error('unused');
      },
    };
    const client = new ClientProtocol('ws://h/', { extensions: [factory] });
    expect(() => client.connect()).toThrow(TypeError);
  });

  test.each(INJECTIONS)('the WebSocket constructor rejects %j', (bad) => {
    const server = memoryServer();
    const options = { transport: server.factory };
    expect(() => new WebSocket('ws://h/', [bad], options)).toThrow(DOMException);
    expect(() => new WebSocket('ws://h/', [], { ...options, headers: { 'X-Test': bad } })).toThrow(TypeError);
    expect(() => new WebSocket('ws://h/', [], { ...options, origin: bad })).toThrow(TypeError);
    expect(() => new WebSocket('ws://h/', [], { ...options, userAgent: bad })).toThrow(TypeError);
  });

  test('the URL parser removes or percent-encodes what could break the request line', async () => {
    const server = memoryServer({ respond: () => undefined });
    const ws = new WebSocket('ws://h/a\r\nX-Injected: 1 b?c d', [], { transport: server.factory });
    const connection = await server.connection();
    await vi.waitFor(() => expect(connection.request).not.toBeNull());
    const request = connection.request as Request;
    expect(request.path).toBe('/aX-Injected:%201%20b?c%20d');
    expect(request.headers.has('X-Injected')).toBe(false);
    ws.close();
  });
});

describe('masking keys', () => {
  test('differ from frame to frame', () => {
    const client = new ClientProtocol('ws://h/', { state: 1 });
    const keys = new Set<string>();
    for (let i = 0; i < 500; i++) {
      client.sendBinary(new Uint8Array(8));
      const [frame] = client.dataToSend() as Uint8Array[];
      keys.add(Buffer.from(frame!.subarray(2, 6)).toString('hex'));
    }
    // 500 random 32-bit keys collide with probability ~3e-5.
    expect(keys.size).toBe(500);
  });

  test('come from crypto.getRandomValues() by default', () => {
    const spy = vi.spyOn(globalThis.crypto, 'getRandomValues');
    const client = new ClientProtocol('ws://h/', { state: 1 });
    // More keys than the 8 KiB pool holds: the pool is refilled from the CSPRNG.
    for (let i = 0; i < 3000; i++) client.sendBinary(new Uint8Array(1));
    expect(spy).toHaveBeenCalled();
    const drawn = spy.mock.calls.reduce((n, [bytes]) => n + (bytes as Uint8Array).byteLength, 0);
    expect(drawn).toBeGreaterThanOrEqual(8192);
  });

  test('without crypto.getRandomValues(), sending fails rather than use a predictable source', () => {
    const client = new ClientProtocol('ws://h/', { state: 1 });
    // Exhaust the pool, then take the CSPRNG away.
    for (let i = 0; i < 2100; i++) client.sendBinary(new Uint8Array(1));
    vi.spyOn(globalThis, 'crypto', 'get').mockReturnValue(undefined as unknown as Crypto);
    expect(() => {
      for (let i = 0; i < 2100; i++) client.sendBinary(new Uint8Array(1));
    }).toThrow(/getRandomValues/);
  });
});

describe('no prototype pollution from header names', () => {
  const NAMES = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'];
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

  test('in requests a server reads', () => {
    const lines = NAMES.map((name) => `${name}: {"polluted":1}\r\n`).join('');
    const queue = new ByteQueue();
    queue.push(
      utf8(
        `GET / HTTP/1.1\r\nHost: h\r\n${lines}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    const request = new RequestReader().read(queue, false) as Request;
    for (const name of NAMES) expect(request.headers.get(name)).toBe('{"polluted":1}');
    expect(new ServerProtocol().accept(request).status).toBe(101);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  test('in responses a client reads, and in headers passed as an object', async () => {
    const queue = new ByteQueue();
    const lines = NAMES.map((name) => `${name}: x\r\n`).join('');
    queue.push(utf8(`HTTP/1.1 403 Forbidden\r\n${lines}Content-Length: 0\r\n\r\n`));
    const res = new ResponseReader().read(queue, false) as Response;
    for (const name of NAMES) expect(res.headers.get(name)).toBe('x');
    const headers = JSON.parse('{"__proto__": "a", "constructor": "b"}') as Record<string, string>;
    const request = new ClientProtocol('ws://h/', { headers }).connect();
    expect(request.headers.get('__proto__')).toBe('a');
    expect(request.headers.get('constructor')).toBe('b');
    // Through the WebSocket: a 101 with such headers opens normally.
    const server = memoryServer({
      respond: (req, protocol) => {
        const accepted = protocol.accept(req);
        for (const name of NAMES) accepted.headers.append(name, '{"polluted":1}');
        return accepted;
      },
    });
    const ws = new WebSocket('ws://h/', [], { transport: server.factory, headers });
    await new Promise((resolve) => ws.addEventListener('open', resolve));
    ws.close();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('error messages never leak credentials', () => {
  test('a password in the URI', () => {
    for (const uri of [
      `ws://user:${SECRET}@h:99999/`,
      `ws://user:${SECRET}@/`,
      `ws://user:${SECRET}@h/\u00e9`,
      `ws://user:${SECRET}@h/#fragment`,
      `ftp://user:${SECRET}@h/`,
    ]) {
      expect(messageOf(() => parseUri(uri))).not.toContain(SECRET);
    }
    for (const url of [
      `ws://user:${SECRET}@h:99999/`,
      `ftp://user:${SECRET}@h/`,
      `ws://user:${SECRET}@h/#f`,
    ]) {
      const message = messageOf(() => new WebSocket(url, [], { transport: memoryServer().factory }));
      expect(message).toContain('SyntaxError');
      expect(message).not.toContain(SECRET);
    }
  });

  test('an invalid Authorization or Cookie value', () => {
    for (const name of ['Authorization', 'proxy-authorization', 'Cookie']) {
      const message = messageOf(
        () => new ClientProtocol('ws://h/', { headers: { [name]: `Bearer ${SECRET}\r\n` } }),
      );
      expect(message).toContain(name);
      expect(message).not.toContain(SECRET);
    }
  });

  test('request and header lines a server cannot parse are not quoted past their first token', () => {
    for (const head of [
      `GET /?token=${SECRET} extra HTTP/1.1\r\nHost: h\r\n\r\n`,
      `GET / HTTP/1.1\r\nAuthorization Bearer ${SECRET}\r\n\r\n`,
      `GET / HTTP/1.1\r\nAuthorization Bearer ${SECRET}: x\r\n\r\n`,
      `GET / HTTP/1.1\r\nAuthorization: Bearer ${SECRET}\x01\r\n\r\n`,
    ]) {
      const server = new ServerProtocol();
      server.receiveData(utf8(head));
      const written = server
        .dataToSend()
        .filter((o): o is Uint8Array => o !== SEND_EOF)
        .map((o) => Buffer.from(o).toString('latin1'))
        .join('');
      expect(server.handshakeError).not.toBeNull();
      expect(server.handshakeError!.message).not.toContain(SECRET);
      expect(written).toMatch(/^HTTP\/1\.1 400 /);
      expect(written).not.toContain(SECRET);
    }
  });

  test('a rejected handshake with credentials: handshake error, close reason and events', async () => {
    // The server rejects with 401, quoting nothing; the client's own request carried the secrets.
    const server = memoryServer({ respond: (_req, protocol) => protocol.reject(401, 'no\n') });
    const ws = new WebSocket(`ws://user:${SECRET}@h/?token=${SECRET}`, [], {
      transport: server.factory,
      headers: { 'X-Api-Key': SECRET },
    });
    const seen: string[] = [];
    for (const type of ['error', 'close']) {
      ws.addEventListener(type, (event) => {
        const { code, reason } = event as CloseEvent;
        seen.push(`${type}:${code}:${reason}`);
      });
    }
    await new Promise((resolve) => ws.addEventListener('close', resolve));
    const request = (await server.connection()).request!;
    expect(request.headers.get('Authorization')).toBe(`Basic ${btoa(`user:${SECRET}`)}`);
    expect(seen.join('\n')).not.toContain(SECRET);
    expect(seen.join('\n')).not.toContain(btoa(`user:${SECRET}`));
    // And in the core: InvalidStatusError and the closing error.
    const client = new ClientProtocol(`ws://user:${SECRET}@h/`);
    client.sendRequest(client.connect());
    client.dataToSend();
    client.receiveData(utf8('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'));
    client.receiveEof();
    expect(client.handshakeError?.message).toBe('server rejected WebSocket connection: HTTP 401');
    expect(String(client.parserError)).not.toContain(SECRET);
    expect(String(client.closeError)).not.toContain(SECRET);
  });
});
