/**
 * The core against raw `net` peers that break RFC 6455 on purpose: real
 * libraries won't produce these bytes. Each violation must fail the
 * connection with the right close code and set parserError (or
 * handshakeError) without anything throwing out of the driver; an exception
 * in a socket handler would surface as an unhandled error and fail the run.
 */
import net from 'node:net';
import { describe, expect, onTestFinished, test } from 'vitest';
import {
  type ClientProtocol,
  type ClientProtocolOptions,
  InvalidHeaderError,
  InvalidMessageError,
  InvalidMethodError,
  InvalidStatusError,
  InvalidUpgradeError,
  InvalidUtf8Error,
  InvalidVersionError,
  NegotiationError,
  PayloadTooBigError,
  ProtocolError,
  type ServerProtocol,
  State,
} from '../../src/protocol/index.js';
import {
  acceptFor,
  closeCodeOf,
  decoder,
  encoder,
  LIMIT,
  messagesOf,
  parseRawFrames,
  rawFrame,
  WAIT_MS,
  waitClosed,
  withTimeout,
} from './helpers.js';
import { type Connection, connectClient, startServer } from './net-driver.js';

const HEAD_END = '\r\n\r\n';

interface Violation {
  name: string;
  /** The offending bytes; `mask` is what the receiving side expects. */
  bytes: (mask: boolean) => Buffer;
  code: number;
  error: abstract new (...args: never[]) => ProtocolError;
  message?: string;
}

const u8 = (...values: number[]) => Uint8Array.of(...values);

/** Violations either side must detect; each is sent with the masking the receiver expects. */
const VIOLATIONS: Violation[] = [
  {
    name: 'invalid UTF-8 in a text frame',
    bytes: (mask) => rawFrame(0x81, u8(0xce, 0xba, 0xff), { mask }),
    code: 1007,
    error: InvalidUtf8Error,
  },
  {
    name: 'invalid UTF-8 split across fragments',
    // U+2603 starts with e2 98; "(" can't continue it.
    bytes: (mask) =>
      Buffer.concat([rawFrame(0x01, u8(0xe2, 0x98), { mask }), rawFrame(0x80, u8(0x28), { mask })]),
    code: 1007,
    error: InvalidUtf8Error,
  },
  {
    name: 'a text message ending inside a code point',
    bytes: (mask) => rawFrame(0x81, u8(0x61, 0xe2, 0x98), { mask }),
    code: 1007,
    error: InvalidUtf8Error,
  },
  {
    name: 'reserved data opcode 0x3',
    bytes: (mask) => rawFrame(0x83, u8(), { mask }),
    code: 1002,
    error: ProtocolError,
    message: 'invalid opcode: 0x3',
  },
  {
    name: 'reserved control opcode 0xb',
    bytes: (mask) => rawFrame(0x8b, u8(), { mask }),
    code: 1002,
    error: ProtocolError,
    message: 'invalid opcode: 0xb',
  },
  {
    name: 'a 64-bit length with the most significant bit set',
    bytes: (mask) => rawFrame(0x82, u8(), { mask, length: u8(127, 0x80, 0, 0, 0, 0, 0, 0, 1) }),
    code: 1002,
    error: ProtocolError,
    message: 'invalid 64-bit payload length',
  },
  {
    name: 'RSV1 set without a negotiated extension',
    bytes: (mask) => rawFrame(0xc1, encoder.encode('x'), { mask }),
    code: 1002,
    error: ProtocolError,
    message: 'reserved bits must be 0',
  },
  {
    name: 'a fragmented control frame',
    bytes: (mask) => rawFrame(0x09, u8(), { mask }),
    code: 1002,
    error: ProtocolError,
    message: 'fragmented control frame',
  },
  {
    name: 'a control frame longer than 125 bytes',
    bytes: (mask) => rawFrame(0x89, new Uint8Array(126), { mask }),
    code: 1002,
    error: ProtocolError,
    message: 'control frame too long',
  },
  {
    name: 'a continuation frame with no message started',
    bytes: (mask) => rawFrame(0x80, u8(1), { mask }),
    code: 1002,
    error: ProtocolError,
    message: 'unexpected continuation frame',
  },
  {
    name: 'a new message while a fragmented one is in progress',
    bytes: (mask) => Buffer.concat([rawFrame(0x01, u8(0x61), { mask }), rawFrame(0x81, u8(0x62), { mask })]),
    code: 1002,
    error: ProtocolError,
    message: 'expected a continuation frame',
  },
  {
    name: 'a close frame with a one-byte payload',
    bytes: (mask) => rawFrame(0x88, u8(0x03), { mask }),
    code: 1002,
    error: ProtocolError,
    message: 'close frame too short',
  },
  ...[1004, 1005, 1006, 1015, 999, 2999, 5000].map(
    (code): Violation => ({
      name: `close code ${code} on the wire`,
      bytes: (mask) => rawFrame(0x88, u8(code >> 8, code & 0xff), { mask }),
      code: 1002,
      error: ProtocolError,
      message: `invalid close code: ${code}`,
    }),
  ),
  {
    name: 'invalid UTF-8 in a close reason',
    bytes: (mask) => rawFrame(0x88, u8(0x03, 0xe8, 0xff), { mask }),
    code: 1007,
    error: InvalidUtf8Error,
  },
  {
    // Only the header is sent: the limit must trip before the payload arrives.
    name: 'a frame header announcing more than maxMessageSize',
    bytes: (mask) => rawFrame(0x82, u8(), { mask, length: u8(127, 0, 0, 0, 0, 0, 1, 0, 1) }).subarray(0, 10),
    code: 1009,
    error: PayloadTooBigError,
  },
];

// -----------------------------------------------------------------------------
// Raw server, for ClientProtocol

interface RawServer {
  port: number;
  /** Everything the client sent after its request, once it closed. */
  received(): Promise<Buffer>;
}

/**
 * A server that reads one request and hands its Sec-WebSocket-Key to
 * `respond`. Like a conforming server, it closes the TCP connection once it
 * receives a close frame, so our client can reach CLOSED.
 */
async function rawServer(respond: (socket: net.Socket, key: string) => unknown): Promise<RawServer> {
  let received: Promise<Buffer> = Promise.reject(new Error('no connection'));
  received.catch(() => {});
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buffer = Buffer.alloc(0);
    let headEnd = -1;
    received = new Promise((resolve) => {
      socket.on('close', () => resolve(headEnd < 0 ? Buffer.alloc(0) : buffer.subarray(headEnd)));
    });
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (headEnd < 0) {
        const index = buffer.indexOf(HEAD_END);
        if (index < 0) return;
        headEnd = index + HEAD_END.length;
        const key = /^sec-websocket-key: *(\S+)/im.exec(buffer.subarray(0, index).toString('latin1'))?.[1];
        respond(socket, key ?? '');
      }
      if (parseRawFrames(buffer.subarray(headEnd)).some((f) => f.opcode === 0x8)) socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => withTimeout(received, WAIT_MS, 'raw server connection to close'),
  };
}

function switchingProtocols(key: string, extra = ''): string {
  return (
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n${extra}\r\n`
  );
}

async function connect(
  port: number,
  options: ClientProtocolOptions = {},
): Promise<Connection<ClientProtocol>> {
  const conn = await connectClient(`ws://127.0.0.1:${port}/`, options);
  onTestFinished(() => {
    conn.socket.destroy();
  });
  return conn;
}

// -----------------------------------------------------------------------------
// Raw client, for ServerProtocol

interface RawClient {
  socket: net.Socket;
  /** The response head, once complete. */
  head: Promise<string>;
  /** Everything after the response head, once the server closed the connection. */
  rest(): Promise<Buffer>;
}

function rawClient(port: number, request: string | Uint8Array): RawClient {
  const socket = net.connect({ host: '127.0.0.1', port });
  onTestFinished(() => {
    socket.destroy();
  });
  let buffer = Buffer.alloc(0);
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
  });
  const ended = new Promise<Buffer>((resolve) => socket.on('close', () => resolve(buffer)));
  const head = new Promise<string>((resolve, reject) => {
    const check = () => {
      const index = buffer.indexOf(HEAD_END);
      if (index >= 0) {
        socket.off('data', check);
        resolve(buffer.subarray(0, index).toString('latin1'));
      }
    };
    socket.on('data', check);
    socket.on('close', () =>
      reject(new Error(`closed before a response head: ${buffer.toString('latin1')}`)),
    );
  });
  head.catch(() => {});
  socket.write(request);
  return {
    socket,
    head: withTimeout(head, WAIT_MS, 'response head'),
    async rest() {
      const all = await withTimeout(ended, WAIT_MS, 'server to close the connection');
      return all.subarray(all.indexOf(HEAD_END) + HEAD_END.length);
    },
  };
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function upgradeRequest(port: number, extra = ''): string {
  return (
    `GET /chat HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

async function serve(): Promise<Awaited<ReturnType<typeof startServer>>> {
  const server = await startServer({ maxMessageSize: LIMIT }, () => {});
  onTestFinished(() => server.close());
  return server;
}

async function closedConnection(server: Awaited<ReturnType<typeof startServer>>) {
  expect(server.connections).toHaveLength(1);
  const conn: Connection<ServerProtocol> = server.connections[0]!;
  await waitClosed(conn);
  return conn;
}

// -----------------------------------------------------------------------------

describe('ClientProtocol vs a misbehaving server', () => {
  test.each([
    ...VIOLATIONS,
    {
      name: 'a masked frame',
      bytes: () => rawFrame(0x81, encoder.encode('masked'), { mask: true }),
      code: 1002,
      error: ProtocolError,
      message: 'incorrect masking',
    },
  ])('fails with $code on $name', async ({ bytes, code, error, message }) => {
    const server = await rawServer((socket, key) => {
      // A valid message first: the violation must not lose what preceded it.
      socket.write(
        Buffer.concat([
          Buffer.from(switchingProtocols(key)),
          rawFrame(0x81, encoder.encode('ok')),
          bytes(false),
        ]),
      );
    });
    const conn = await connect(server.port, { maxMessageSize: LIMIT });
    await waitClosed(conn);
    expect(conn.protocol.parserError).toBeInstanceOf(error);
    if (message !== undefined) expect(conn.protocol.parserError?.message).toBe(message);
    expect(conn.protocol.closeSent?.code).toBe(code);
    expect(conn.protocol.closeCode).toBe(1006);
    expect(messagesOf(conn.events)).toEqual([{ type: 'text', text: 'ok' }]);
    expect(closeCodeOf(parseRawFrames(await server.received()))).toBe(code);
  });

  test('parses a handshake and frames delivered one byte per write', async () => {
    const server = await rawServer(async (socket, key) => {
      socket.setNoDelay(true);
      const bytes = Buffer.concat([
        Buffer.from(switchingProtocols(key)),
        rawFrame(0x01, encoder.encode('sl')),
        rawFrame(0x89, encoder.encode('p')),
        rawFrame(0x80, encoder.encode('ow ☃')),
        rawFrame(0x88, u8(0x03, 0xe8)),
      ]);
      // Each write is its own TCP segment often enough to split every header and code point.
      for (const byte of bytes) {
        if (socket.destroyed) return;
        socket.write(Uint8Array.of(byte));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    const conn = await connect(server.port);
    await waitClosed(conn);
    expect(conn.protocol.parserError).toBeNull();
    expect(messagesOf(conn.events)).toEqual([{ type: 'text', text: 'slow ☃' }]);
    expect(conn.protocol.closeCode).toBe(1000);
    expect(closeCodeOf(parseRawFrames(await server.received()))).toBe(1000);
  });

  test('fails the handshake on a wrong Sec-WebSocket-Accept', async () => {
    const server = await rawServer((socket) => {
      socket.write(switchingProtocols('not the key that was sent'));
    });
    const conn = await connect(server.port);
    await waitClosed(conn);
    const error = conn.protocol.handshakeError;
    expect(error).toBeInstanceOf(InvalidHeaderError);
    expect((error as InvalidHeaderError).header).toBe('Sec-WebSocket-Accept');
    expect(conn.protocol.state).toBe(State.CLOSED);
    // Nothing but the request went out.
    expect(await server.received()).toHaveLength(0);
  });

  test('fails the handshake on a missing Upgrade header', async () => {
    const server = await rawServer((socket, key) => {
      socket.write(switchingProtocols(key).replace('Upgrade: websocket\r\n', ''));
    });
    const conn = await connect(server.port);
    await waitClosed(conn);
    expect(conn.protocol.handshakeError).toBeInstanceOf(InvalidUpgradeError);
  });

  test('fails the handshake on a subprotocol it did not offer', async () => {
    const server = await rawServer((socket, key) => {
      socket.write(switchingProtocols(key, 'Sec-WebSocket-Protocol: chat.v9\r\n'));
    });
    const conn = await connect(server.port, { subprotocols: ['chat.v1'] });
    await waitClosed(conn);
    expect(conn.protocol.handshakeError).toBeInstanceOf(NegotiationError);
    expect(conn.protocol.handshakeError?.message).toBe('unsupported subprotocol: chat.v9');
    expect(conn.protocol.subprotocol).toBeNull();
  });

  test('reads a chunked 403 body into InvalidStatusError', async () => {
    const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
    const server = await rawServer((socket) => {
      socket.write(
        'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n' +
          `${chunk('no way,')}${chunk(' José')}0\r\n\r\n`,
      );
    });
    const conn = await connect(server.port);
    await waitClosed(conn);
    const error = conn.protocol.handshakeError;
    expect(error).toBeInstanceOf(InvalidStatusError);
    expect((error as InvalidStatusError).response.status).toBe(403);
    expect(decoder.decode((error as InvalidStatusError).response.body)).toBe('no way, José');
  });
});

describe('ServerProtocol vs a misbehaving client', () => {
  test.each([
    ...VIOLATIONS,
    {
      name: 'an unmasked frame',
      bytes: () => rawFrame(0x81, encoder.encode('unmasked')),
      code: 1002,
      error: ProtocolError,
      message: 'incorrect masking',
    },
  ])('fails with $code on $name', async ({ bytes, code, error, message }) => {
    const server = await serve();
    const client = rawClient(server.port, upgradeRequest(server.port));
    expect(await client.head).toMatch(/^HTTP\/1\.1 101 /);
    client.socket.write(Buffer.concat([rawFrame(0x81, encoder.encode('ok'), { mask: true }), bytes(true)]));
    // The server closes the TCP connection first (7.1.1); then we close ours.
    const rest = await client.rest();
    const conn = await closedConnection(server);
    expect(conn.protocol.parserError).toBeInstanceOf(error);
    if (message !== undefined) expect(conn.protocol.parserError?.message).toBe(message);
    expect(conn.protocol.closeSent?.code).toBe(code);
    expect(messagesOf(conn.events)).toEqual([{ type: 'text', text: 'ok' }]);
    expect(closeCodeOf(parseRawFrames(rest))).toBe(code);
  });

  test('frames pipelined with the request are read once the 101 is sent', async () => {
    const server = await serve();
    // RFC 6455 4.1 says a client waits for the response; the core buffers rather than drops.
    const client = rawClient(
      server.port,
      Buffer.concat([
        Buffer.from(upgradeRequest(server.port)),
        rawFrame(0x81, encoder.encode('early'), { mask: true }),
        rawFrame(0x88, u8(0x03, 0xe8), { mask: true }),
      ]),
    );
    expect(await client.head).toMatch(/^HTTP\/1\.1 101 /);
    const rest = await client.rest();
    const conn = await closedConnection(server);
    expect(messagesOf(conn.events)).toEqual([{ type: 'text', text: 'early' }]);
    expect(closeCodeOf(parseRawFrames(rest))).toBe(1000);
  });

  // `unparsed`: the reader rejects the request itself, so no request event reaches accept().
  test.each([
    {
      name: 'no Upgrade header',
      request: (port: number) => upgradeRequest(port).replace('Upgrade: websocket\r\n', ''),
      status: 426,
      error: InvalidUpgradeError,
      unparsed: false,
    },
    {
      name: 'no Sec-WebSocket-Key',
      request: (port: number) => upgradeRequest(port).replace(/Sec-WebSocket-Key: .*\r\n/, ''),
      status: 400,
      error: InvalidHeaderError,
      unparsed: false,
    },
    {
      name: 'Sec-WebSocket-Version 8',
      request: (port: number) => upgradeRequest(port).replace('Version: 13', 'Version: 8'),
      status: 426,
      error: InvalidVersionError,
      unparsed: false,
    },
    {
      name: 'a POST request',
      request: (port: number) => upgradeRequest(port).replace('GET', 'POST'),
      status: 405,
      error: InvalidMethodError,
      unparsed: true,
    },
    {
      name: 'a garbage request line',
      request: () => 'HELLO\r\n\r\n',
      status: 400,
      error: InvalidMessageError,
      unparsed: true,
    },
  ])('answers $status to $name and sets handshakeError', async ({ request, status, error, unparsed }) => {
    const server = await serve();
    const client = rawClient(server.port, request(server.port));
    expect(await client.head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    const body = (await client.rest()).toString('utf8');
    expect(body).toMatch(/^Failed to open a WebSocket connection: /);
    const conn = await closedConnection(server);
    expect(conn.protocol.handshakeError).toBeInstanceOf(error);
    expect(conn.protocol.parserError).toBe(unparsed ? conn.protocol.handshakeError : null);
    expect(conn.events.map((e) => e.kind)).toEqual(unparsed ? [] : ['request']);
    expect(conn.protocol.state).toBe(State.CLOSED);
  });
});
