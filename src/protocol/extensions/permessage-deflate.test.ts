import { describe, expect, it } from 'vitest';
import { concat, hex, toHex, utf8 } from '../../testing/chunking.js';
import { ClientProtocol, type ClientProtocolOptions } from '../client.js';
import { InvalidParameterError, NegotiationError, PayloadTooBigError } from '../errors.js';
import type { ClientExtensionFactory, ServerExtensionFactory } from '../extensions/base.js';
import { type Frame, frame, Opcode, serializeFrame } from '../frames.js';
import type { ExtensionParameter } from '../headers.js';
import type { Response } from '../http11.js';
import { type Protocol, SEND_EOF, State } from '../protocol.js';
import { ServerProtocol, type ServerProtocolOptions } from '../server.js';
import { createDeflateCodec, DecompressionError } from './deflate-codec.js';
import {
  ClientPerMessageDeflateFactory,
  type ClientPerMessageDeflateOptions,
  DEFAULT_COMPRESSION_THRESHOLD,
  enableClientPermessageDeflate,
  enableServerPermessageDeflate,
  PerMessageDeflate,
  type PerMessageDeflateParams,
  parsePerMessageDeflateParams,
  ServerPerMessageDeflateFactory,
  type ServerPerMessageDeflateOptions,
} from './permessage-deflate.js';

const zeroMask = (bytes: Uint8Array) => {
  bytes.fill(0);
};

const DEFAULT_PARAMS: PerMessageDeflateParams = {
  remoteNoContextTakeover: false,
  localNoContextTakeover: false,
  remoteMaxWindowBits: 15,
  localMaxWindowBits: 15,
};

function bytesOf(protocol: Protocol<unknown>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const chunk of protocol.dataToSend()) if (chunk !== SEND_EOF) parts.push(chunk);
  return concat(parts);
}

/** Move everything `from` wants to write into `to`. */
function pump(from: Protocol<unknown>, to: Protocol<unknown>): void {
  for (const chunk of from.dataToSend()) {
    if (chunk === SEND_EOF) to.receiveEof();
    else to.receiveData(chunk.slice());
  }
}

function dataFrames(events: readonly unknown[]): Frame[] {
  return events.filter((e): e is Frame => (e as Frame).kind === 'frame');
}

/** Open a client and a server in memory; returns both and the server's response. */
function connect(
  clientExtensions: readonly ClientExtensionFactory[],
  serverExtensions: readonly ServerExtensionFactory[],
  clientOptions: ClientProtocolOptions = {},
  serverOptions: ServerProtocolOptions = {},
): { client: ClientProtocol; server: ServerProtocol; response: Response } {
  const client = new ClientProtocol('ws://example.com/', {
    random: zeroMask,
    ...clientOptions,
    extensions: clientExtensions,
  });
  const server = new ServerProtocol({ ...serverOptions, extensions: serverExtensions });
  client.sendRequest(client.connect());
  pump(client, server);
  const [request] = server.eventsReceived();
  if (request === undefined || (request as { kind: string }).kind !== 'request')
    throw new Error('no request');
  server.sendResponse(server.accept(request as Parameters<ServerProtocol['accept']>[0]));
  pump(server, client);
  const [response] = client.eventsReceived() as Response[];
  return { client, server, response: response! };
}

function pmd(protocol: Protocol<unknown>): PerMessageDeflate {
  const extension = protocol.extensions[0];
  expect(extension).toBeInstanceOf(PerMessageDeflate);
  return extension as PerMessageDeflate;
}

/** Negotiate with one client offer and one server config; return the response header. */
function negotiate(
  clientOptions: ClientPerMessageDeflateOptions | readonly ClientPerMessageDeflateOptions[],
  serverOptions: ServerPerMessageDeflateOptions = {},
) {
  const offers = Array.isArray(clientOptions) ? clientOptions : [clientOptions];
  const pair = connect(
    offers.map((o) => new ClientPerMessageDeflateFactory(o)),
    [new ServerPerMessageDeflateFactory(serverOptions)],
  );
  return { ...pair, header: pair.response.headers.get('Sec-WebSocket-Extensions') };
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

// ---------------------------------------------------------------------------

describe('parameters (RFC 7692, 7.1)', () => {
  it('parses every parameter', () => {
    expect(
      parsePerMessageDeflateParams(
        [
          ['server_no_context_takeover', null],
          ['client_no_context_takeover', null],
          ['server_max_window_bits', '10'],
          ['client_max_window_bits', null],
        ],
        true,
      ),
    ).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: true,
    });
    expect(parsePerMessageDeflateParams([['client_max_window_bits', '8']], false).clientMaxWindowBits).toBe(
      8,
    );
  });

  const invalid: Array<[string, ExtensionParameter[], boolean, RegExp]> = [
    ['unknown parameter', [['foo', null]], true, /unknown parameter: foo/],
    ['unknown parameter in a response', [['x_max_window_bits', '9']], false, /unknown parameter/],
    ['value on server_no_context_takeover', [['server_no_context_takeover', '1']], true, /takes no value/],
    ['value on client_no_context_takeover', [['client_no_context_takeover', 'x']], false, /takes no value/],
    [
      'duplicate server_no_context_takeover',
      [
        ['server_no_context_takeover', null],
        ['server_no_context_takeover', null],
      ],
      true,
      /duplicate parameter: server_no_context_takeover/,
    ],
    [
      'duplicate client_no_context_takeover',
      [
        ['client_no_context_takeover', null],
        ['client_no_context_takeover', null],
      ],
      false,
      /duplicate/,
    ],
    [
      'duplicate server_max_window_bits',
      [
        ['server_max_window_bits', '10'],
        ['server_max_window_bits', '10'],
      ],
      true,
      /duplicate/,
    ],
    [
      'duplicate client_max_window_bits',
      [
        ['client_max_window_bits', null],
        ['client_max_window_bits', '10'],
      ],
      true,
      /duplicate/,
    ],
    ['server_max_window_bits without value', [['server_max_window_bits', null]], true, /requires a value/],
    [
      'client_max_window_bits without value in a response',
      [['client_max_window_bits', null]],
      false,
      /requires a value/,
    ],
    ['window bits 7', [['server_max_window_bits', '7']], true, /invalid value for server_max_window_bits: 7/],
    ['window bits 16', [['client_max_window_bits', '16']], true, /invalid value/],
    ['window bits 0', [['server_max_window_bits', '0']], false, /invalid value/],
    ['window bits with a leading zero', [['server_max_window_bits', '09']], true, /invalid value/],
    ['window bits with a sign', [['client_max_window_bits', '+9']], false, /invalid value/],
    ['window bits not a number', [['server_max_window_bits', 'ten']], true, /invalid value/],
    ['window bits fractional', [['server_max_window_bits', '9.5']], true, /invalid value/],
  ];
  for (const [what, params, isOffer, message] of invalid) {
    it(`rejects ${what}`, () => {
      const error = errorOf(() => parsePerMessageDeflateParams(params, isOffer));
      expect(error).toBeInstanceOf(InvalidParameterError);
      expect(error.message).toMatch(message);
    });
  }
});

describe('negotiation in both roles', () => {
  it('offers client_max_window_bits without a value by default', () => {
    expect(new ClientPerMessageDeflateFactory().getRequestParams()).toEqual([
      ['client_max_window_bits', null],
    ]);
    const { header, client, server } = negotiate({});
    expect(header).toBe('permessage-deflate');
    expect(pmd(client).toString()).toBe(
      'PerMessageDeflate(remoteNoContextTakeover=false, localNoContextTakeover=false, remoteMaxWindowBits=15, localMaxWindowBits=15)',
    );
    expect(pmd(server).localMaxWindowBits).toBe(15);
  });

  it('offers every parameter', () => {
    const factory = new ClientPerMessageDeflateFactory({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 9,
    });
    expect(factory.getRequestParams()).toEqual([
      ['server_no_context_takeover', null],
      ['client_no_context_takeover', null],
      ['server_max_window_bits', '10'],
      ['client_max_window_bits', '9'],
    ]);
    const { header, client, server } = negotiate({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 9,
    });
    expect(header).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9',
    );
    expect(pmd(client)).toMatchObject({
      remoteNoContextTakeover: true,
      localNoContextTakeover: true,
      remoteMaxWindowBits: 10,
      localMaxWindowBits: 9,
    });
    expect(pmd(server)).toMatchObject({
      remoteNoContextTakeover: true,
      localNoContextTakeover: true,
      remoteMaxWindowBits: 9,
      localMaxWindowBits: 10,
    });
  });

  it('leaves client_max_window_bits out when asked to (null)', () => {
    const { header, client } = negotiate({ clientMaxWindowBits: null }, { clientMaxWindowBits: 10 });
    // 7.1.2.2: no client_max_window_bits in the offer, none in the response.
    expect(header).toBe('permessage-deflate');
    expect(pmd(client).localMaxWindowBits).toBe(15);
  });

  it('lets the server cap both windows and force no context takeover', () => {
    const { header, client, server } = negotiate(
      {},
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 11,
        clientMaxWindowBits: 12,
      },
    );
    expect(header).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=12',
    );
    expect(pmd(client)).toMatchObject({
      remoteNoContextTakeover: true,
      localNoContextTakeover: true,
      remoteMaxWindowBits: 11,
      localMaxWindowBits: 12,
    });
    expect(pmd(server)).toMatchObject({ remoteMaxWindowBits: 12, localMaxWindowBits: 11 });
  });

  it('keeps the smaller of the offered and configured windows', () => {
    expect(negotiate({ serverMaxWindowBits: 9 }, { serverMaxWindowBits: 12 }).header).toBe(
      'permessage-deflate; server_max_window_bits=9',
    );
    expect(negotiate({ serverMaxWindowBits: 14 }, { serverMaxWindowBits: 12 }).header).toBe(
      'permessage-deflate; server_max_window_bits=12',
    );
    expect(negotiate({ clientMaxWindowBits: 9 }, { clientMaxWindowBits: 12 }).header).toBe(
      'permessage-deflate; client_max_window_bits=9',
    );
    expect(negotiate({ clientMaxWindowBits: 14 }, { clientMaxWindowBits: 10 }).header).toBe(
      'permessage-deflate; client_max_window_bits=10',
    );
  });

  it('accepts client_max_window_bits=8 and compresses within 256 bytes', () => {
    const { client, server, header } = negotiate({ clientMaxWindowBits: 8 }, { serverMaxWindowBits: 8 });
    expect(header).toBe('permessage-deflate; server_max_window_bits=8; client_max_window_bits=8');
    const text = 'abcdefghijklmnopqrstuvwxyz'.repeat(40);
    for (let i = 0; i < 5; i++) {
      client.sendText(utf8(`${i}${text}`));
      pump(client, server);
      server.sendText(utf8(`${i}${text}`));
      pump(server, client);
    }
    expect(dataFrames(server.eventsReceived()).map((f) => Buffer.from(f.data).toString())).toHaveLength(5);
    expect(
      dataFrames(client.eventsReceived()).every((f) => Buffer.from(f.data).toString().endsWith(text)),
    ).toBe(true);
    expect(client.state).toBe(State.OPEN);
    expect(server.state).toBe(State.OPEN);
  });

  it('picks the first acceptable of several offers', () => {
    const offers = [
      { serverMaxWindowBits: 9 }, // declined: the server config refuses below 10
      { serverNoContextTakeover: true },
      {},
    ];
    const { header, client } = negotiate(offers, { acceptOffer: (o) => (o.serverMaxWindowBits ?? 15) >= 10 });
    expect(header).toBe('permessage-deflate; server_no_context_takeover');
    // Only one extension, from the factory that matches the response.
    expect(client.extensions).toHaveLength(1);
    expect(pmd(client).remoteNoContextTakeover).toBe(true);
  });

  it('server skips an invalid offer and takes the next one', () => {
    const server = new ServerPerMessageDeflateFactory();
    expect(() => server.processRequestParams([['server_max_window_bits', '16']], [])).toThrow(
      InvalidParameterError,
    );
    const pair = connect(
      [
        {
          name: 'permessage-deflate',
          getRequestParams: () => [['server_max_window_bits', '16']] as const,
          processResponseParams: () => {
            throw new NegotiationError('nope');
          },
        },
        new ClientPerMessageDeflateFactory({ clientMaxWindowBits: null }),
      ],
      [new ServerPerMessageDeflateFactory()],
    );
    expect(pair.response.headers.get('Sec-WebSocket-Extensions')).toBe('permessage-deflate');
    expect(pmd(pair.client)).toBeInstanceOf(PerMessageDeflate);
  });

  it('server declines duplicates after accepting an offer', () => {
    const factory = new ServerPerMessageDeflateFactory();
    const [, extension] = factory.processRequestParams([], []);
    const error = errorOf(() => factory.processRequestParams([], [extension]));
    expect(error).toBeInstanceOf(NegotiationError);
    expect(error.message).toBe('skipped duplicate permessage-deflate');
  });

  it('server can require client_max_window_bits', () => {
    const factory = new ServerPerMessageDeflateFactory({
      clientMaxWindowBits: 10,
      requireClientMaxWindowBits: true,
    });
    expect(() => factory.processRequestParams([], [])).toThrow(/required client_max_window_bits/);
    expect(factory.processRequestParams([['client_max_window_bits', null]], [])[0]).toEqual([
      ['client_max_window_bits', '10'],
    ]);
    expect(() => new ServerPerMessageDeflateFactory({ requireClientMaxWindowBits: true })).toThrow(
      RangeError,
    );
    // Without an acceptable offer, the server answers without the extension.
    const { header, client } = negotiate(
      { clientMaxWindowBits: null },
      { clientMaxWindowBits: 10, requireClientMaxWindowBits: true },
    );
    expect(header).toBeUndefined();
    expect(client.extensions).toEqual([]);
  });

  describe('client rejects invalid responses', () => {
    const cases: Array<
      [string, ClientPerMessageDeflateOptions, ExtensionParameter[], RegExp, typeof NegotiationError]
    > = [
      ['an unknown parameter', {}, [['foo', null]], /unknown parameter: foo/, InvalidParameterError],
      [
        'a duplicate parameter',
        {},
        [
          ['server_no_context_takeover', null],
          ['server_no_context_takeover', null],
        ],
        /duplicate parameter/,
        InvalidParameterError,
      ],
      [
        'client_max_window_bits without a value',
        {},
        [['client_max_window_bits', null]],
        /requires a value/,
        InvalidParameterError,
      ],
      ['an invalid window', {}, [['server_max_window_bits', '16']], /invalid value/, InvalidParameterError],
      [
        'a missing server_no_context_takeover',
        { serverNoContextTakeover: true },
        [],
        /expected server_no_context_takeover/,
        NegotiationError,
      ],
      [
        'a missing server_max_window_bits',
        { serverMaxWindowBits: 10 },
        [],
        /expected server_max_window_bits/,
        NegotiationError,
      ],
      [
        'a larger server_max_window_bits',
        { serverMaxWindowBits: 10 },
        [['server_max_window_bits', '11']],
        /server_max_window_bits=11 exceeds the offered 10/,
        NegotiationError,
      ],
      [
        'an unoffered client_max_window_bits',
        { clientMaxWindowBits: null },
        [['client_max_window_bits', '10']],
        /unexpected client_max_window_bits/,
        NegotiationError,
      ],
      [
        'a larger client_max_window_bits',
        { clientMaxWindowBits: 10 },
        [['client_max_window_bits', '12']],
        /client_max_window_bits=12 exceeds the offered 10/,
        NegotiationError,
      ],
    ];
    for (const [what, offer, response, message, errorClass] of cases) {
      it(`fails on ${what}`, () => {
        const error = errorOf(() =>
          new ClientPerMessageDeflateFactory(offer).processResponseParams(response, []),
        );
        expect(error).toBeInstanceOf(errorClass);
        expect(error.message).toMatch(message);
      });
    }

    it('fails on a second permessage-deflate', () => {
      const factory = new ClientPerMessageDeflateFactory();
      const extension = factory.processResponseParams([], []);
      expect(() => factory.processResponseParams([], [extension])).toThrow(
        'received duplicate permessage-deflate',
      );
    });

    it('keeps its own promises when the response is silent', () => {
      const extension = new ClientPerMessageDeflateFactory({
        clientNoContextTakeover: true,
        clientMaxWindowBits: 10,
      }).processResponseParams([], []);
      expect(extension).toMatchObject({ localNoContextTakeover: true, localMaxWindowBits: 10 });
    });

    it('accepts what the server adds unasked', () => {
      const extension = new ClientPerMessageDeflateFactory({
        clientMaxWindowBits: null,
      }).processResponseParams(
        [
          ['server_no_context_takeover', null],
          ['client_no_context_takeover', null],
          ['server_max_window_bits', '9'],
        ],
        [],
      );
      expect(extension).toMatchObject({
        remoteNoContextTakeover: true,
        localNoContextTakeover: true,
        remoteMaxWindowBits: 9,
        localMaxWindowBits: 15,
      });
    });

    it('fails the handshake end to end', () => {
      const client = new ClientProtocol('ws://example.com/', {
        random: zeroMask,
        extensions: [new ClientPerMessageDeflateFactory({ serverMaxWindowBits: 10 })],
      });
      const request = client.connect();
      client.sendRequest(request);
      client.dataToSend();
      const key = request.headers.get('Sec-WebSocket-Key');
      const server = new ServerProtocol();
      // A hand-written response that ignores the offered window.
      const accept = server.accept(request).headers.get('Sec-WebSocket-Accept');
      expect(key).toBeDefined();
      client.receiveData(
        utf8(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
        ),
      );
      expect(client.handshakeError).toBeInstanceOf(NegotiationError);
      expect(client.handshakeError?.message).toBe('expected server_max_window_bits in the response');
    });
  });

  it('validates factory options', () => {
    expect(() => new ClientPerMessageDeflateFactory({ serverMaxWindowBits: 7 })).toThrow(RangeError);
    expect(() => new ClientPerMessageDeflateFactory({ clientMaxWindowBits: 16 })).toThrow(RangeError);
    expect(() => new ClientPerMessageDeflateFactory({ level: -1 })).toThrow(RangeError);
    expect(() => new ServerPerMessageDeflateFactory({ serverMaxWindowBits: 20 })).toThrow(RangeError);
    expect(() => new ServerPerMessageDeflateFactory({ memLevel: 10 })).toThrow(RangeError);
    expect(() => new ServerPerMessageDeflateFactory({ threshold: -1 })).toThrow(RangeError);
  });

  it('enable*PermessageDeflate add defaults once', () => {
    const client = enableClientPermessageDeflate();
    expect(client).toHaveLength(1);
    expect(client[0]!.getRequestParams()).toEqual([['client_max_window_bits', null]]);
    expect(enableClientPermessageDeflate(client)).toHaveLength(1);
    expect(enableClientPermessageDeflate([], [{ serverNoContextTakeover: true }, {}])).toHaveLength(2);
    const server = enableServerPermessageDeflate();
    expect(server).toHaveLength(1);
    expect(enableServerPermessageDeflate(server)).toHaveLength(1);
    const { header } = (() => {
      const pair = connect(enableClientPermessageDeflate(), enableServerPermessageDeflate());
      return { header: pair.response.headers.get('Sec-WebSocket-Extensions') };
    })();
    expect(header).toBe('permessage-deflate; server_max_window_bits=12; client_max_window_bits=12');
  });
});

// ---------------------------------------------------------------------------

describe('framing (RFC 7692, 7.2.3)', () => {
  function open(
    clientOptions: ClientPerMessageDeflateOptions = { threshold: 0 },
    serverOptions: ServerPerMessageDeflateOptions = { threshold: 0 },
  ) {
    return connect(
      [new ClientPerMessageDeflateFactory(clientOptions)],
      [new ServerPerMessageDeflateFactory(serverOptions)],
    );
  }

  it('sends "Hello" as c1 07 f2 48 cd c9 c9 07 00, then c1 05 f2 00 11 00 00 (7.2.3.1, 7.2.3.2)', () => {
    const { client, server } = open();
    server.sendText(utf8('Hello'));
    expect(toHex(bytesOf(server))).toBe('c107f248cdc9c90700');
    server.sendText(utf8('Hello'));
    expect(toHex(bytesOf(server))).toBe('c105f200110000');
    // The client masks (with a zero key here): same payload.
    client.sendText(utf8('Hello'));
    expect(toHex(bytesOf(client))).toBe('c18700000000f248cdc9c90700');
    client.sendText(utf8('Hello'));
    expect(toHex(bytesOf(client))).toBe('c18500000000f200110000');
  });

  it('resets the window after each message without context takeover', () => {
    const { client, server } = open({
      threshold: 0,
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    });
    for (let i = 0; i < 3; i++) {
      server.sendText(utf8('Hello'));
      expect(toHex(bytesOf(server))).toBe('c107f248cdc9c90700');
      client.sendText(utf8('Hello'));
      expect(toHex(bytesOf(client))).toBe('c18700000000f248cdc9c90700');
    }
  });

  it('receives the RFC examples', () => {
    const { client } = open();
    const receive = (h: string) => {
      client.receiveData(hex(h));
      return dataFrames(client.eventsReceived()).map((f) => [
        f.opcode,
        Buffer.from(f.data).toString(),
        f.fin,
        f.rsv1,
      ]);
    };
    expect(receive('c107f248cdc9c90700')).toEqual([[Opcode.TEXT, 'Hello', true, false]]);
    // 7.2.3.1: fragmented; RSV1 only on the first frame.
    expect(receive('4103f248cd 8004c9c90700')).toEqual([
      [Opcode.TEXT, 'He', false, false],
      [Opcode.CONT, 'llo', true, false],
    ]);
    expect(receive('c105f200110000')).toEqual([[Opcode.TEXT, 'Hello', true, false]]); // 7.2.3.2
    expect(receive('c10b000500faff48656c6c6f00')).toEqual([[Opcode.TEXT, 'Hello', true, false]]); // 7.2.3.3
    expect(receive('c108f348cdc9c9070000')).toEqual([[Opcode.TEXT, 'Hello', true, false]]); // 7.2.3.4
    expect(receive('c10df24805000000ffffcac9c90700')).toEqual([[Opcode.TEXT, 'Hello', true, false]]); // 7.2.3.5
    // An uncompressed message (RSV1 clear) passes through.
    expect(receive('810548656c6c6f')).toEqual([[Opcode.TEXT, 'Hello', true, false]]);
    expect(client.state).toBe(State.OPEN);
  });

  it('compresses a fragmented message frame by frame, RSV1 on the first only (7.2.3.6)', () => {
    const { client, server } = open();
    server.sendText(utf8('Hello'), false);
    server.sendContinuation(new Uint8Array(0), true);
    // 7.2.3.6: "Hello" with a sync flush, then an empty final fragment: 00.
    expect(toHex(bytesOf(server))).toBe('410bf248cdc9c907000000ffff' + '800100');
    server.sendBinary(utf8('abc'), false);
    server.sendContinuation(utf8('abc'), false);
    server.sendContinuation(utf8('abc'), true);
    pump(server, client);
    const frames = dataFrames(client.eventsReceived());
    expect(frames.map((f) => Buffer.from(f.data).toString())).toEqual(['abc', 'abc', 'abc']);
  });

  it('never compresses control frames', () => {
    const { client, server } = open();
    server.sendPing(utf8('Hello'));
    expect(toHex(bytesOf(server))).toBe('890548656c6c6f');
    server.sendClose(1000, 'Hello');
    expect(toHex(bytesOf(server))).toBe('880703e848656c6c6f');
    client.receiveData(hex('8a0548656c6c6f'));
    expect(dataFrames(client.eventsReceived())[0]).toEqual(frame(Opcode.PONG, utf8('Hello')));
  });

  it('fails with 1002 on RSV1 in a continuation frame', () => {
    const { client } = open();
    client.receiveData(hex('4103f248cd c004c9c90700'));
    expect(client.parserError?.message).toBe('compressed bit set on a continuation frame');
    expect(toHex(bytesOf(client)).startsWith('88')).toBe(true);
    expect(client.closeSent?.code).toBe(1002);
  });

  it('fails with 1002 on RSV1 in a continuation of an uncompressed message', () => {
    const { client } = open();
    client.receiveData(hex('0103486520 c003006c6c6f'));
    expect(client.closeSent?.code).toBe(1002);
  });

  it('fails with 1002 on RSV1 in a control frame', () => {
    const { client } = open();
    client.receiveData(hex('c900'));
    expect(client.parserError?.message).toBe('reserved bits must be 0');
    expect(client.closeSent?.code).toBe(1002);
  });

  it('fails with 1002 on RSV2 or RSV3 in a compressed frame', () => {
    const { client } = open();
    client.receiveData(hex('e107f248cdc9c90700'));
    expect(client.closeSent?.code).toBe(1002);
  });

  it('fails with 1002 on a new message in the middle of a compressed one', () => {
    const { client } = open();
    client.receiveData(hex('4103f248cd c107f248cdc9c90700'));
    expect(client.parserError?.message).toBe('expected a continuation frame');
    expect(client.closeSent?.code).toBe(1002);
  });

  it('fails with 1007 on corrupt compressed data', () => {
    const { client, server } = open();
    server.receiveData(serializeFrame(frame(Opcode.BINARY, hex('ffffffff'), true, true), new Uint8Array(4)));
    expect(server.parserError).toBeInstanceOf(DecompressionError);
    expect(server.parserError?.message).toMatch(/^decompression failed/);
    expect(server.closeSent?.code).toBe(1007);
    expect(client.state).toBe(State.OPEN);
  });

  it('wraps errors of a custom codec as 1007', () => {
    const { client } = connect(
      [
        new ClientPerMessageDeflateFactory({
          codec: () => ({
            compress: () => new Uint8Array(0),
            decompress: () => {
              throw new Error('boom');
            },
            reset: () => {},
          }),
        }),
      ],
      [new ServerPerMessageDeflateFactory()],
    );
    client.receiveData(hex('c107f248cdc9c90700'));
    expect(client.parserError).toBeInstanceOf(DecompressionError);
    expect(client.closeSent?.code).toBe(1007);
  });

  it('applies maxMessageSize to the inflated size (1009)', () => {
    const { client, server } = connect(
      [new ClientPerMessageDeflateFactory({ threshold: 0 })],
      [new ServerPerMessageDeflateFactory()],
      {},
      { maxMessageSize: 1000 },
    );
    client.sendBinary(new Uint8Array(1000));
    pump(client, server);
    expect(dataFrames(server.eventsReceived())[0]?.data.byteLength).toBe(1000);
    // 1001 zero bytes compress to a few bytes, under the limit on the wire.
    client.sendBinary(new Uint8Array(1001));
    const wire = bytesOf(client);
    expect(wire.byteLength).toBeLessThan(20);
    server.receiveData(wire);
    expect(server.parserError).toBeInstanceOf(PayloadTooBigError);
    expect(server.closeSent?.code).toBe(1009);
  });

  it('accepts an incompressible message exactly at maxMessageSize, although it is larger compressed', () => {
    const { client, server } = connect(
      [new ClientPerMessageDeflateFactory({ threshold: 0 })],
      [new ServerPerMessageDeflateFactory()],
      {},
      { maxMessageSize: 100_000 },
    );
    const random = new Uint8Array(100_000);
    for (let i = 0; i < random.length; i += 65536) crypto.getRandomValues(random.subarray(i, i + 65536));
    client.sendBinary(random);
    const wire = bytesOf(client);
    expect(wire.byteLength).toBeGreaterThan(100_000 + 14);
    server.receiveData(wire);
    expect(server.parserError).toBeNull();
    expect(dataFrames(server.eventsReceived())[0]?.data).toEqual(random);
    client.sendBinary(new Uint8Array(100_001));
    server.receiveData(bytesOf(client));
    expect(server.closeSent?.code).toBe(1009);
  });

  it('applies maxMessageSize across the frames of a compressed message', () => {
    const { client, server } = connect(
      [new ClientPerMessageDeflateFactory({ threshold: 0 })],
      [new ServerPerMessageDeflateFactory()],
      {},
      { maxMessageSize: 1000 },
    );
    client.sendBinary(new Uint8Array(600), false);
    client.sendContinuation(new Uint8Array(300), false);
    client.sendContinuation(new Uint8Array(50), true);
    pump(client, server);
    expect(server.state).toBe(State.OPEN);
    expect(dataFrames(server.eventsReceived()).map((f) => f.data.byteLength)).toEqual([600, 300, 50]);
    client.sendBinary(new Uint8Array(600), false);
    client.sendContinuation(new Uint8Array(401), true);
    pump(client, server);
    expect(server.closeSent?.code).toBe(1009);
  });

  describe('when to compress', () => {
    it(`sends messages under the threshold uncompressed (default ${DEFAULT_COMPRESSION_THRESHOLD})`, () => {
      const { server } = open({}, {});
      server.sendText(utf8('x'.repeat(DEFAULT_COMPRESSION_THRESHOLD - 1)));
      expect(bytesOf(server)[0]).toBe(0x81);
      server.sendText(utf8('x'.repeat(DEFAULT_COMPRESSION_THRESHOLD)));
      expect(bytesOf(server)[0]).toBe(0xc1);
    });

    it('decides on the first frame of a fragmented message', () => {
      const { client, server } = open({ threshold: 10 }, { threshold: 10 });
      server.sendText(utf8('short'), false);
      server.sendContinuation(utf8('x'.repeat(100)), true);
      const sent = bytesOf(server);
      expect(sent[0]).toBe(0x01);
      expect(sent[7]).toBe(0x80); // continuation uncompressed too: 80 64 ...
      expect(sent[8]).toBe(100);
      client.receiveData(sent);
      expect(dataFrames(client.eventsReceived()).map((f) => f.data.byteLength)).toEqual([5, 100]);
    });

    it('skips one message on request', () => {
      const { client, server } = open();
      pmd(server).skipNextMessage();
      server.sendText(utf8('Hello'));
      expect(toHex(bytesOf(server))).toBe('810548656c6c6f');
      server.sendText(utf8('Hello'));
      // The skipped message isn't in the window: a fresh "Hello".
      expect(toHex(bytesOf(server))).toBe('c107f248cdc9c90700');
      pump(server, client);
    });

    it('asks shouldCompress', () => {
      const { server } = open({}, { threshold: 0, shouldCompress: (f) => f.opcode === Opcode.TEXT });
      server.sendBinary(utf8('Hello'));
      expect(bytesOf(server)[0]).toBe(0x82);
      server.sendText(utf8('Hello'));
      expect(bytesOf(server)[0]).toBe(0xc1);
    });
  });

  it('validates its parameters', () => {
    expect(() => new PerMessageDeflate({ ...DEFAULT_PARAMS, localMaxWindowBits: 16 })).toThrow(RangeError);
    expect(() => new PerMessageDeflate({ ...DEFAULT_PARAMS, remoteMaxWindowBits: 7 })).toThrow(RangeError);
    expect(() => new PerMessageDeflate(DEFAULT_PARAMS, { threshold: 1.5 })).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------

/**
 * A message that inflates to `copies` MiB of zeros, cheaply: compress 1 MiB
 * of zeros twice with one context; the second output refers only to earlier
 * zeros, so it can be repeated.
 */
function zipBomb(copies: number): Uint8Array {
  const codec = createDeflateCodec({ windowBits: 15, level: 9 });
  const zeros = new Uint8Array(2 ** 20);
  const first = codec.compress(zeros);
  const next = codec.compress(zeros);
  const out = new Uint8Array(first.byteLength + next.byteLength * (copies - 1));
  out.set(first, 0);
  for (let i = 1; i < copies; i++) out.set(next, first.byteLength + next.byteLength * (i - 1));
  return out;
}

describe('zip bombs', () => {
  it('fail with 1009 without inflating past maxMessageSize', () => {
    const bomb = zipBomb(4096); // 4 GiB inflated
    expect(bomb.byteLength).toBeLessThan(8 * 2 ** 20);
    const { server } = connect(
      [new ClientPerMessageDeflateFactory()],
      [new ServerPerMessageDeflateFactory()],
      {},
      { maxMessageSize: 16 * 2 ** 20 },
    );
    const wire = serializeFrame(frame(Opcode.BINARY, bomb, true, true), new Uint8Array(4));
    const before = process.memoryUsage();
    const started = performance.now();
    server.receiveData(wire);
    const after = process.memoryUsage();
    expect(server.parserError).toBeInstanceOf(PayloadTooBigError);
    expect(server.parserError?.message).toBe('decompressed message exceeds limit of 16777216 bytes');
    expect(server.closeSent?.code).toBe(1009);
    // 16 MiB of output at most, plus copies: far from 4 GiB.
    expect(after.rss - before.rss).toBeLessThan(256 * 2 ** 20);
    expect(after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers)).toBeLessThan(
      256 * 2 ** 20,
    );
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('fail with 1009 when fragmented too', () => {
    const bomb = zipBomb(64);
    const { server } = connect(
      [new ClientPerMessageDeflateFactory()],
      [new ServerPerMessageDeflateFactory()],
      {},
      { maxMessageSize: 4 * 2 ** 20 },
    );
    const half = bomb.byteLength >> 1;
    server.receiveData(
      serializeFrame(frame(Opcode.BINARY, bomb.subarray(0, half), false, true), new Uint8Array(4)),
    );
    server.receiveData(serializeFrame(frame(Opcode.CONT, bomb.subarray(half), true), new Uint8Array(4)));
    expect(server.parserError).toBeInstanceOf(PayloadTooBigError);
    expect(server.closeSent?.code).toBe(1009);
  });

  it('inflate fine under a disabled limit', () => {
    const bomb = zipBomb(8);
    const { server } = connect(
      [new ClientPerMessageDeflateFactory()],
      [new ServerPerMessageDeflateFactory()],
      {},
      { maxMessageSize: null },
    );
    server.receiveData(serializeFrame(frame(Opcode.BINARY, bomb, true, true), new Uint8Array(4)));
    expect(dataFrames(server.eventsReceived())[0]?.data.byteLength).toBe(8 * 2 ** 20);
  });
});
