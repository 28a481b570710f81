import { describe, expect, test } from 'vitest';
import { fixedRandom, utf8 } from '../testing/chunking.js';
import { ClientProtocol } from './client.js';
import { InvalidMessageError } from './errors.js';
import type { Extension } from './extensions/base.js';
import { frame, Opcode } from './frames.js';
import { computeAccept } from './handshake.js';
import type { Request } from './http11.js';
import {
  closeCodeName,
  createLog,
  describeClose,
  describeError,
  describeFrame,
  frameToString,
  type Logger,
  redactHeader,
  redactTarget,
  redactUrl,
  withCause,
} from './logging.js';
import { type Protocol, SEND_EOF } from './protocol.js';
import { ServerProtocol } from './server.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const range = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i & 0xff);

describe('describeFrame', () => {
  test.each([
    ['text', frame(Opcode.TEXT, utf8('hello')), "TEXT 'hello' [5 bytes]"],
    ['one byte', frame(Opcode.TEXT, utf8('a')), "TEXT 'a' [1 byte]"],
    ['empty text', frame(Opcode.TEXT, new Uint8Array(0)), "TEXT '' [0 bytes]"],
    ['binary', frame(Opcode.BINARY, bytes(0, 1, 0xfe, 0xff)), 'BINARY 00 01 fe ff [4 bytes]'],
    ['empty binary', frame(Opcode.BINARY, new Uint8Array(0)), "BINARY '' [0 bytes]"],
    ['a first fragment', frame(Opcode.TEXT, utf8('hel'), false), "TEXT 'hel' [3 bytes, continued]"],
    ['text continuation', frame(Opcode.CONT, utf8('lo')), "CONT 'lo' [2 bytes]"],
    ['binary continuation', frame(Opcode.CONT, bytes(0xff, 0x00), false), 'CONT ff 00 [2 bytes, continued]'],
    ['ping', frame(Opcode.PING, bytes(0x94, 0x41, 0x30, 0x3b)), 'PING 94 41 30 3b [4 bytes]'],
    ['empty pong', frame(Opcode.PONG, new Uint8Array(0)), "PONG '' [0 bytes]"],
    ['close', frame(Opcode.CLOSE, bytes(0x03, 0xe8)), 'CLOSE 1000 (OK) [2 bytes]'],
    [
      'close with a reason',
      frame(Opcode.CLOSE, bytes(0x03, 0xe9, 0x62, 0x79, 0x65)),
      'CLOSE 1001 (going away) bye [5 bytes]',
    ],
    ['close without a code', frame(Opcode.CLOSE, new Uint8Array(0)), "CLOSE '' [0 bytes]"],
    ['malformed close', frame(Opcode.CLOSE, bytes(0x03)), 'CLOSE 03 [1 byte]'],
    ['close with an invalid code', frame(Opcode.CLOSE, bytes(0x00, 0x01)), 'CLOSE 00 01 [2 bytes]'],
  ])('%s', (_name, f, expected) => {
    expect(describeFrame(f)).toBe(expected);
  });

  test('a long binary payload: the first 16 and the last 8 bytes', () => {
    expect(describeFrame(frame(Opcode.BINARY, range(100)))).toBe(
      'BINARY 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f ... 5c 5d 5e 5f 60 61 62 63 [100 bytes]',
    );
    // Up to 25 bytes, all of them.
    expect(describeFrame(frame(Opcode.BINARY, range(25)))).toBe(
      `BINARY ${[...range(25)].map((b) => b.toString(16).padStart(2, '0')).join(' ')} [25 bytes]`,
    );
  });

  test('a long text: at most 75 characters, the first 48 and the last 24', () => {
    const text = `${'a'.repeat(60)}${'b'.repeat(60)}`;
    const shown = describeFrame(frame(Opcode.TEXT, utf8(text)));
    expect(shown).toBe(`TEXT '${'a'.repeat(47)}...${'b'.repeat(23)}' [120 bytes]`);
    const preview = shown.slice('TEXT '.length, shown.indexOf(' ['));
    expect(preview).toHaveLength(75);
    // 75 characters with the quotes: shown whole.
    expect(describeFrame(frame(Opcode.TEXT, utf8('c'.repeat(73))))).toBe(
      `TEXT '${'c'.repeat(73)}' [73 bytes]`,
    );
  });

  test('a large text is decoded only at its ends, cut between code points', () => {
    // 3-byte characters: byte 200 falls inside one.
    const text = `${'€'.repeat(1000)}end`;
    const shown = describeFrame(frame(Opcode.TEXT, utf8(text)));
    expect(shown).toBe(`TEXT '${'€'.repeat(47)}...${'€'.repeat(20)}end' [3003 bytes]`);
    expect(shown).not.toContain('\ufffd');
  });

  test('what the peer sent cannot forge log lines: controls and quotes are escaped', () => {
    expect(describeFrame(frame(Opcode.TEXT, utf8("a\n< CLOSE 1000 (OK)\r\t'\\\x00\x1b\u0085")))).toBe(
      "TEXT 'a\\n< CLOSE 1000 (OK)\\r\\t\\'\\\\\\x00\\x1b\\x85' [27 bytes]",
    );
    const reason = utf8('bye\nforged');
    expect(describeFrame(frame(Opcode.CLOSE, Uint8Array.of(0x03, 0xe8, ...reason)))).toBe(
      'CLOSE 1000 (OK) bye\\nforged [12 bytes]',
    );
  });

  test('frameToString is the same summary', () => {
    expect(frameToString(frame(Opcode.TEXT, utf8('Hi')))).toBe("TEXT 'Hi' [2 bytes]");
  });
});

describe('describeClose', () => {
  test.each([
    [1000, 'OK'],
    [1002, 'protocol error'],
    [1004, 'unknown'],
    [1005, 'no status received [internal]'],
    [1006, 'abnormal closure [internal]'],
    [1011, 'internal error'],
    [1015, 'TLS handshake failure [internal]'],
    [1016, 'unknown'],
    [999, 'unknown'],
    [3000, 'registered'],
    [4999, 'private use'],
    [5000, 'unknown'],
  ])('%i: %s', (code, name) => {
    expect(closeCodeName(code)).toBe(name);
  });

  test('code, name, then the reason', () => {
    expect(describeClose({ code: 1000, reason: '' })).toBe('1000 (OK)');
    expect(describeClose({ code: 4001, reason: 'kicked' })).toBe('4001 (private use) kicked');
  });
});

describe('redaction', () => {
  test.each([
    ['Authorization', 'Basic dXNlcjpwYXNz', 'Basic ***'],
    ['authorization', 'Bearer eyJhbGciOi', 'Bearer ***'],
    ['Authorization', 'sekrit', '***'],
    ['Proxy-Authorization', 'Basic dXNlcjpwYXNz', 'Basic ***'],
    ['Cookie', 'session=abc; theme=dark', '***'],
    ['Set-Cookie', 'session=abc; HttpOnly', '***'],
    ['X-Api-Key', 'k', '***'],
    ['X-Auth-Token', 't', '***'],
    ['X-Client-Secret', 's', '***'],
    // Nonces and ordinary fields stay.
    ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==', 'dGhlIHNhbXBsZSBub25jZQ=='],
    ['Sec-WebSocket-Accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='],
    ['Sec-WebSocket-Protocol', 'chat, v2.chat', 'chat, v2.chat'],
    [
      'Sec-WebSocket-Protocol',
      'base64url.bearer.authorization.k8s.io.ZXlKaGJHY2lPaUp, v4.channel.k8s.io',
      '***, v4.channel.k8s.io',
    ],
    ['Host', 'example.com', 'example.com'],
    ['User-Agent', 'polysocket', 'polysocket'],
    ['WWW-Authenticate', 'Basic realm="x"', 'Basic realm="x"'],
  ])('%s: %s', (name, value, expected) => {
    expect(redactHeader(name, value)).toBe(expected);
  });

  test('secret query parameters', () => {
    expect(redactTarget('/chat')).toBe('/chat');
    expect(redactTarget('/chat?room=1&token=abc&access_token=def&apikey=g&x')).toBe(
      '/chat?room=1&token=***&access_token=***&apikey=***&x',
    );
  });

  test('URLs: user info and secret query parameters', () => {
    expect(redactUrl('wss://user:pass@example.com:8443/a?password=p&b=2')).toBe(
      'wss://***@example.com:8443/a?password=***&b=2',
    );
    expect(redactUrl('ws://example.com/')).toBe('ws://example.com/');
  });
});

describe('createLog', () => {
  test('no logger: nothing to call', () => {
    expect(createLog(undefined)).toBeUndefined();
    expect(createLog(null)).toBeUndefined();
  });

  test('not a logger: TypeError', () => {
    expect(() => createLog({} as Logger)).toThrow(TypeError);
    expect(() => createLog({ debug: 'yes' } as unknown as Logger)).toThrow(TypeError);
    expect(() => new ServerProtocol({ logger: {} as Logger })).toThrow(
      'logger must have a debug(message) method',
    );
  });

  test('warn and error when the logger has them, else debug', () => {
    const calls: string[] = [];
    const full = createLog({
      debug: (m) => calls.push(`debug ${m}`),
      warn: (m) => calls.push(`warn ${m}`),
      error: (m) => calls.push(`error ${m}`),
    })!;
    full('a');
    full('b', 'warn');
    full('c', 'error');
    const minimal = createLog({ debug: (m) => calls.push(`debug ${m}`) })!;
    minimal('d', 'warn');
    minimal('e', 'error');
    expect(calls).toEqual(['debug a', 'warn b', 'error c', 'debug d', 'debug e']);
  });

  test('methods are called on the logger (console works)', () => {
    const logger = {
      lines: [] as string[],
      debug(this: { lines: string[] }, m: string) {
        this.lines.push(m);
      },
    };
    createLog(logger)!('x');
    expect(logger.lines).toEqual(['x']);
    expect(createLog(console)).toBeTypeOf('function');
  });

  test('a logger that throws is ignored', () => {
    const log = createLog({
      debug: () => {
        throw new Error('disk full');
      },
    })!;
    expect(() => log('x')).not.toThrow();
  });

  test('describeError follows causes', () => {
    expect(
      describeError(
        new InvalidMessageError('invalid opening handshake', { cause: new Error('line too long') }),
      ),
    ).toBe('invalid opening handshake: line too long');
    expect(describeError('odd')).toBe('odd');
    expect(withCause('connect ECONNREFUSED', new Error('connect ECONNREFUSED'))).toBe('connect ECONNREFUSED');
    expect(withCause('a Blob could not be read', new Error('file gone'))).toBe(
      'a Blob could not be read (file gone)',
    );
    expect(withCause('no pong', undefined)).toBe('no pong');
  });
});

/** A client and a server joined in memory, each logging into `lines` with its side's initial. */
function pair(options: { extensions?: Extension[] } = {}): {
  client: ClientProtocol;
  server: ServerProtocol;
  lines: string[];
  pump(): void;
} {
  const lines: string[] = [];
  const client = new ClientProtocol('ws://alice:secret@example.com/chat?token=abc', {
    random: fixedRandom(0x01, 0x02, 0x03, 0x04),
    headers: { Cookie: 'id=1' },
    logger: { debug: (m) => lines.push(`C ${m}`) },
    ...(options.extensions === undefined
      ? {}
      : {
          extensions: options.extensions.map((extension) => ({
            name: extension.name,
            getRequestParams: () => [],
            processResponseParams: () => extension,
          })),
        }),
  });
  const server = new ServerProtocol({
    logger: { debug: (m) => lines.push(`S ${m}`), error: (m) => lines.push(`S error ${m}`) },
    ...(options.extensions === undefined
      ? {}
      : {
          extensions: options.extensions.map((extension) => ({
            name: extension.name,
            processRequestParams: () => [[], extension] as const,
          })),
        }),
  });
  const move = (from: Protocol<unknown>, to: Protocol<unknown>): boolean => {
    const data = from.dataToSend();
    for (const chunk of data) {
      if (chunk === SEND_EOF) to.receiveEof();
      else to.receiveData(chunk.slice());
    }
    return data.length > 0;
  };
  const pump = (): void => {
    for (let moved = true; moved; ) {
      moved = move(client, server);
      for (const event of server.eventsReceived()) {
        if (event.kind === 'request') server.sendResponse(server.accept(event as Request));
      }
      moved = move(server, client) || moved;
      client.eventsReceived();
    }
  };
  return { client, server, lines, pump };
}

describe('a client and a server log what they do, in order', () => {
  test('handshake, messages, ping, closing handshake', () => {
    const { client, server, lines, pump } = pair();
    client.sendRequest(client.connect());
    pump();
    client.sendText(utf8('hello'));
    client.sendBinary(bytes(1, 2, 3), false);
    client.sendContinuation(bytes(0xff), true);
    server.sendPing(utf8('p'));
    pump();
    client.sendClose(1000, 'bye');
    pump();
    const key = 'AQIDBAECAwQBAgMEAQIDBA==';
    const accept = computeAccept(key);
    expect(lines).toEqual([
      'C = connection is CONNECTING',
      'S = connection is CONNECTING',
      'C > GET /chat?token=*** HTTP/1.1',
      'C > Host: example.com',
      'C > Authorization: Basic ***',
      'C > Upgrade: websocket',
      'C > Connection: Upgrade',
      `C > Sec-WebSocket-Key: ${key}`,
      'C > Sec-WebSocket-Version: 13',
      'C > Cookie: ***',
      'S < GET /chat?token=*** HTTP/1.1',
      'S < Host: example.com',
      'S < Authorization: Basic ***',
      'S < Upgrade: websocket',
      'S < Connection: Upgrade',
      `S < Sec-WebSocket-Key: ${key}`,
      'S < Sec-WebSocket-Version: 13',
      'S < Cookie: ***',
      'S > HTTP/1.1 101 Switching Protocols',
      'S > Upgrade: websocket',
      'S > Connection: Upgrade',
      `S > Sec-WebSocket-Accept: ${accept}`,
      'S = connection is OPEN',
      'C < HTTP/1.1 101 Switching Protocols',
      'C < Upgrade: websocket',
      'C < Connection: Upgrade',
      `C < Sec-WebSocket-Accept: ${accept}`,
      'C = connection is OPEN',
      "C > TEXT 'hello' [5 bytes]",
      'C > BINARY 01 02 03 [3 bytes, continued]',
      'C > CONT ff [1 byte]',
      'S > PING 70 [1 byte]',
      "S < TEXT 'hello' [5 bytes]",
      'S < BINARY 01 02 03 [3 bytes, continued]',
      'S < CONT ff [1 byte]',
      'C < PING 70 [1 byte]',
      'C > PONG 70 [1 byte]',
      'S < PONG 70 [1 byte]',
      'C > CLOSE 1000 (OK) bye [5 bytes]',
      'C = connection is CLOSING',
      'S < CLOSE 1000 (OK) bye [5 bytes]',
      'S > CLOSE 1000 (OK) bye [5 bytes]',
      'S = connection is CLOSING',
      'S > EOF',
      'C < CLOSE 1000 (OK) bye [5 bytes]',
      'C < EOF',
      'C > EOF',
      'C = connection is CLOSED',
      'S < EOF',
      'S = connection is CLOSED',
    ]);
  });

  test('a protocol violation: the failure, its code and reason', () => {
    const { client, server, lines, pump } = pair();
    client.sendRequest(client.connect());
    pump();
    lines.length = 0;
    // An unmasked frame from a client (RFC 6455, 5.1).
    server.receiveData(bytes(0x81, 0x01, 0x61));
    expect(lines).toEqual([
      'S ! failing connection with code 1002: incorrect masking',
      'S > CLOSE 1002 (protocol error) incorrect masking [19 bytes]',
      'S = connection is CLOSING',
      'S > EOF',
    ]);
    expect(server.parserError?.message).toBe('incorrect masking');
  });

  test('a rejected handshake: the response, its body by length, and why', () => {
    const lines: string[] = [];
    const client = new ClientProtocol('ws://example.com/', { logger: { debug: (m) => lines.push(m) } });
    client.sendRequest(client.connect());
    lines.length = 0;
    client.receiveData(utf8('HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\nSet-Cookie: s=1\r\n\r\nnope'));
    expect(lines).toEqual([
      '< HTTP/1.1 403 Forbidden',
      '< Content-Length: 4',
      '< Set-Cookie: ***',
      '< [body] (4 bytes)',
      '! invalid handshake: server rejected WebSocket connection: HTTP 403',
      '> EOF',
    ]);
  });

  test('a server answering a malformed request logs its 400', () => {
    const lines: string[] = [];
    const server = new ServerProtocol({ logger: { debug: (m) => lines.push(m) } });
    server.receiveData(utf8('GET /\r\nHost: x\r\n\r\n'));
    expect(lines[1]).toBe('> HTTP/1.1 400 Bad Request');
    expect(lines.at(-2)).toMatch(/^! invalid handshake: /);
    expect(lines.at(-1)).toBe('> EOF');
  });

  test('an unexpected error goes to error, without details to the peer', () => {
    const broken: Extension = {
      name: 'x-broken',
      encode: (f) => f,
      decode: () => {
        throw new Error('bug in an extension');
      },
    };
    const { client, lines, pump } = pair({ extensions: [broken] });
    client.sendRequest(client.connect());
    pump();
    lines.length = 0;
    client.sendText(utf8('x'));
    pump();
    expect(lines.slice(0, 5)).toEqual([
      "C > TEXT 'x' [1 byte]",
      'S error ! unexpected error: bug in an extension',
      'S ! failing connection with code 1011',
      'S > CLOSE 1011 (internal error) [2 bytes]',
      'S = connection is CLOSING',
    ]);
  });
});

describe('the public Protocol', () => {
  test('takes a logger, and instanceof holds for every protocol', async () => {
    const { Protocol } = await import('./index.js');
    const lines: string[] = [];
    const protocol = new Protocol('server', { logger: { debug: (m) => lines.push(m) } });
    protocol.receiveEof();
    expect(lines).toEqual([
      '= connection is OPEN',
      '< EOF',
      '! failing connection with code 1006: unexpected end of stream',
      '= connection is CLOSING',
      '> EOF',
      '= connection is CLOSED',
    ]);
    expect(protocol).toBeInstanceOf(Protocol);
    expect(new ServerProtocol()).toBeInstanceOf(Protocol);
    expect(new ClientProtocol('ws://example.com/')).toBeInstanceOf(Protocol);
    class Mine extends Protocol {}
    expect(new Mine('client')).toBeInstanceOf(Mine);
    expect(protocol).not.toBeInstanceOf(Mine);
    expect(() => new Protocol('client', { logger: {} as Logger })).toThrow(TypeError);
  });
});
