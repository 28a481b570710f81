/**
 * ServerProtocol (through the net driver's startServer) against an in-process
 * `ws` client.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { type ClientOptions, WebSocket } from 'ws';
import {
  type Frame,
  InvalidOriginError,
  InvalidUtf8Error,
  Opcode,
  PayloadTooBigError,
  ProtocolError,
  type Request,
  type ServerProtocol,
  type ServerProtocolOptions,
  State,
} from '../../src/protocol/index.js';
import {
  bytes,
  dataFramesOf,
  decoder,
  encoder,
  framesWithOpcode,
  hex,
  LIMIT,
  VALID_CLOSE_CODES,
  waitClosed,
  withTimeout,
} from './helpers.js';
import { type Connection, startServer } from './net-driver.js';

type Server = Awaited<ReturnType<typeof startServer>>;
type Handler = (connection: Connection<ServerProtocol>, event: Request | Frame) => void;

const servers: Server[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});

/** Echo data frames as they come, so fragmentation is preserved both ways. */
const echo: Handler = (connection, event) => {
  const p = connection.protocol;
  if (event.kind !== 'frame' || p.state !== State.OPEN) return;
  if (event.opcode === Opcode.TEXT) p.sendText(event.data, event.fin);
  else if (event.opcode === Opcode.BINARY) p.sendBinary(event.data, event.fin);
  else if (event.opcode === Opcode.CONT) p.sendContinuation(event.data, event.fin);
};

type WsMessage = { type: 'text'; text: string } | { type: 'binary'; hex: string };

/** A ws client and what it observed. */
interface Client {
  ws: WebSocket;
  messages: WsMessage[];
  errors: Error[];
  /** Wait until ws is open. */
  opened(): Promise<void>;
  /** Wait for the close code and reason ws reports. */
  closed(): Promise<{ code: number; reason: string }>;
  /** Wait until ws received `n` messages. */
  received(n: number): Promise<void>;
}

function connectWs(port: number, protocols: string[] = [], options: ClientOptions = {}): Client {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat?x=1`, protocols, options);
  clients.push(ws);
  const messages: WsMessage[] = [];
  const errors: Error[] = [];
  let wake = (): void => {};
  ws.on('message', (data, isBinary) => {
    const buffer = data as Buffer;
    messages.push(
      isBinary ? { type: 'binary', hex: buffer.toString('hex') } : { type: 'text', text: buffer.toString() },
    );
    wake();
  });
  ws.on('error', (error) => errors.push(error));
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
  });
  return {
    ws,
    messages,
    errors,
    // Timeouts start when a test waits, so an unawaited one never rejects unhandled.
    opened: () => withTimeout(opened, 10_000, 'ws client to open'),
    closed: () => withTimeout(closed, 10_000, 'ws client to close'),
    async received(n) {
      const enough = new Promise<void>((resolve) => {
        wake = () => {
          if (messages.length >= n) resolve();
        };
        wake();
      });
      await withTimeout(enough, 10_000, `ws client to receive ${n} messages`);
    },
  };
}

async function serve(options: ServerProtocolOptions, handler: Handler = echo) {
  const server = await startServer(options, handler);
  servers.push(server);
  return server;
}

/** The single connection the ws client made, once its socket closed. */
async function closedConnection(server: Server): Promise<Connection<ServerProtocol>> {
  expect(server.connections).toHaveLength(1);
  const conn = server.connections[0]!;
  await waitClosed(conn);
  return conn;
}

describe('ServerProtocol vs ws client', () => {
  test('echoes text and binary messages, including non-ASCII and empty ones', async () => {
    const server = await serve({});
    const client = connectWs(server.port);
    await client.opened();
    client.ws.send('héllo ☃ 🚀 κόσμε');
    client.ws.send('');
    client.ws.send(Buffer.of(0, 1, 0x7f, 0x80, 0xff));
    client.ws.send(Buffer.alloc(0));
    await client.received(4);
    expect(client.messages).toEqual([
      { type: 'text', text: 'héllo ☃ 🚀 κόσμε' },
      { type: 'text', text: '' },
      { type: 'binary', hex: '00017f80ff' },
      { type: 'binary', hex: '' },
    ]);
    client.ws.close(1000, 'bye');
    expect(await client.closed()).toEqual({ code: 1000, reason: 'bye' });
    const conn = await closedConnection(server);
    expect(conn.protocol.closeCode).toBe(1000);
    expect(conn.protocol.closeReason).toBe('bye');
  });

  test('receives fragmented messages from the client frame by frame', async () => {
    const server = await serve({});
    const client = connectWs(server.port);
    await client.opened();
    client.ws.send('frag', { fin: false });
    client.ws.send('ment', { fin: false });
    client.ws.send('ed ☃', { fin: true });
    client.ws.send(Buffer.of(0, 1), { fin: false });
    client.ws.send(Buffer.alloc(0), { fin: false });
    client.ws.send(Buffer.of(2, 0xff), { fin: true });
    await client.received(2);
    expect(client.messages).toEqual([
      { type: 'text', text: 'fragmented ☃' },
      { type: 'binary', hex: '000102ff' },
    ]);
    client.ws.close(1000);
    await client.closed();
    const conn = await closedConnection(server);
    expect(dataFramesOf(conn.events)).toEqual([
      [Opcode.TEXT, false, hex('frag')],
      [Opcode.CONT, false, hex('ment')],
      [Opcode.CONT, true, hex('ed ☃')],
      [Opcode.BINARY, false, '0001'],
      [Opcode.CONT, false, ''],
      [Opcode.CONT, true, '02ff'],
    ]);
  });

  test('fragmented messages we send are reassembled by the client', async () => {
    const snowman = encoder.encode('☃');
    const server = await serve({}, (connection, event) => {
      if (event.kind !== 'request') return;
      const p = connection.protocol;
      // The code point is split across frames: the peer must validate UTF-8 over the message.
      p.sendText(Uint8Array.of(...encoder.encode('a'), snowman[0]!), false);
      p.sendContinuation(snowman.subarray(1), false);
      p.sendPing(encoder.encode('mid'));
      p.sendContinuation(encoder.encode('z'), true);
      p.sendBinary(Uint8Array.of(1, 2), false);
      p.sendContinuation(new Uint8Array(0), false);
      p.sendContinuation(Uint8Array.of(3), true);
    });
    const client = connectWs(server.port);
    await client.received(2);
    expect(client.messages).toEqual([
      { type: 'text', text: 'a☃z' },
      { type: 'binary', hex: '010203' },
    ]);
    client.ws.close(1000);
    await client.closed();
    const conn = await closedConnection(server);
    expect(framesWithOpcode(conn.events, Opcode.PONG).map((f) => decoder.decode(f.data))).toEqual(['mid']);
  });

  test('maxMessageSize: exactly the limit passes, whole and fragmented', async () => {
    const server = await serve({ maxMessageSize: LIMIT });
    const client = connectWs(server.port);
    await client.opened();
    client.ws.send(Buffer.alloc(LIMIT, 0x5a));
    client.ws.send('x'.repeat(LIMIT / 2), { fin: false });
    client.ws.send('x'.repeat(LIMIT / 2), { fin: true });
    await client.received(2);
    expect(client.messages.map((m) => (m.type === 'text' ? m.text.length : m.hex.length / 2))).toEqual([
      LIMIT,
      LIMIT,
    ]);
    client.ws.close(1000);
    await client.closed();
    expect((await closedConnection(server)).protocol.parserError).toBeNull();
  });

  test.each([
    { what: 'whole', send: (ws: WebSocket) => ws.send(Buffer.alloc(LIMIT + 1)) },
    {
      what: 'fragmented',
      send: (ws: WebSocket) => {
        ws.send(Buffer.alloc(LIMIT), { fin: false });
        ws.send(Buffer.alloc(1), { fin: true });
      },
    },
  ])('maxMessageSize: a $what message of limit + 1 fails with 1009 seen by the client', async ({ send }) => {
    const server = await serve({ maxMessageSize: LIMIT });
    const client = connectWs(server.port);
    await client.opened();
    send(client.ws);
    expect((await client.closed()).code).toBe(1009);
    expect(client.messages).toEqual([]);
    const conn = await closedConnection(server);
    expect(conn.protocol.parserError).toBeInstanceOf(PayloadTooBigError);
    expect(conn.protocol.closeSent?.code).toBe(1009);
  });

  test("respects the client's maxPayload: limit passes, limit + 1 is closed with 1009", async () => {
    const server = await serve({}, (connection, event) => {
      if (event.kind !== 'request') return;
      connection.protocol.sendText(encoder.encode('x'.repeat(LIMIT)));
      connection.protocol.sendBinary(bytes(LIMIT + 1));
    });
    const client = connectWs(server.port, [], { maxPayload: LIMIT });
    expect((await client.closed()).code).toBe(1006);
    expect(client.messages.map((m) => m.type === 'text' && m.text.length)).toEqual([LIMIT]);
    expect(client.errors.map((e) => e.message)).toEqual(['Max payload size exceeded']);
    const conn = await closedConnection(server);
    expect(conn.protocol.closeCode).toBe(1009);
    expect(conn.protocol.parserError).toBeNull();
  });

  test("the client's ping is answered automatically", async () => {
    const server = await serve({});
    const client = connectWs(server.port);
    await client.opened();
    const pong = new Promise<string>((resolve) => client.ws.once('pong', (data) => resolve(data.toString())));
    client.ws.ping('ws-ping');
    expect(await withTimeout(pong, 10_000, 'pong')).toBe('ws-ping');
    client.ws.close(1000);
    await client.closed();
    const conn = await closedConnection(server);
    expect(framesWithOpcode(conn.events, Opcode.PING).map((f) => decoder.decode(f.data))).toEqual([
      'ws-ping',
    ]);
  });

  test('our ping is answered by a pong with the same payload', async () => {
    const server = await serve({}, (connection, event) => {
      if (event.kind === 'request') connection.protocol.sendPing(encoder.encode('ours'));
      else if (event.kind === 'frame' && event.opcode === Opcode.PONG) {
        connection.protocol.sendClose(1000, `pong: ${decoder.decode(event.data)}`);
      }
    });
    const client = connectWs(server.port);
    expect(await client.closed()).toEqual({ code: 1000, reason: 'pong: ours' });
    await closedConnection(server);
  });

  test.each(VALID_CLOSE_CODES)('close code %i with a reason reaches the client', async (code) => {
    const reason = `reason ${code} ☃`;
    const server = await serve({}, (connection, event) => {
      if (event.kind === 'request') connection.protocol.sendClose(code, reason);
    });
    const client = connectWs(server.port);
    expect(await client.closed()).toEqual({ code, reason });
    const conn = await closedConnection(server);
    // ws echoes our close frame.
    expect(conn.protocol.closeCode).toBe(code);
    expect(conn.protocol.closeReason).toBe(reason);
    expect(conn.protocol.closeRcvdThenSent).toBe(false);
  });

  test.each([1000, 1001, 1008, 1011, 3000, 4999])('close %i initiated by the client', async (code) => {
    const reason = `client says ${code} ✓`;
    const server = await serve({});
    const client = connectWs(server.port);
    await client.opened();
    client.ws.close(code, reason);
    expect(await client.closed()).toEqual({ code, reason });
    const conn = await closedConnection(server);
    expect(conn.protocol.closeCode).toBe(code);
    expect(conn.protocol.closeReason).toBe(reason);
    // Both close frames were exchanged: the equivalent of wasClean.
    expect(conn.protocol.closeRcvd).toEqual({ code, reason });
    expect(conn.protocol.closeSent).toEqual({ code, reason });
    expect(conn.protocol.closeRcvdThenSent).toBe(true);
    expect(conn.protocol.parserError).toBeNull();
  });

  test('fails with 1007 on invalid UTF-8 text from the client', async () => {
    const server = await serve({});
    const client = connectWs(server.port);
    await client.opened();
    // ws doesn't validate what it sends: a Buffer sent as text goes out as is.
    client.ws.send(Buffer.of(0xce, 0xba, 0xff), { binary: false });
    expect((await client.closed()).code).toBe(1007);
    const conn = await closedConnection(server);
    expect(conn.protocol.parserError).toBeInstanceOf(InvalidUtf8Error);
    expect(conn.protocol.closeSent?.code).toBe(1007);
  });

  test('fails with 1002 on an unmasked frame from the client', async () => {
    const server = await serve({});
    const client = connectWs(server.port);
    await client.opened();
    client.ws.send('unmasked', { mask: false });
    expect((await client.closed()).code).toBe(1002);
    const conn = await closedConnection(server);
    expect(conn.protocol.parserError).toBeInstanceOf(ProtocolError);
    expect(conn.protocol.parserError?.message).toBe('incorrect masking');
    expect(conn.protocol.closeSent?.code).toBe(1002);
    expect(framesWithOpcode(conn.events, Opcode.TEXT)).toEqual([]);
  });

  test('a disallowed Origin is rejected with 403 and a body', async () => {
    const server = await serve({ origins: ['https://allowed.example'] });
    const client = connectWs(server.port, [], { origin: 'https://evil.example' });
    const response = new Promise<{ status: number | undefined; body: string }>((resolve) => {
      client.ws.on('unexpected-response', (_request, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
    });
    const { status, body } = await withTimeout(response, 10_000, 'the 403 response');
    expect(status).toBe(403);
    expect(body).toMatch(/^Failed to open a WebSocket connection: .*origin/i);
    client.ws.terminate();
    const conn = await closedConnection(server);
    expect(conn.protocol.handshakeError).toBeInstanceOf(InvalidOriginError);
  });

  test('subprotocol negotiation: a common subprotocol is selected', async () => {
    const server = await serve({ subprotocols: ['chat.v1', 'chat.v2'] });
    const client = connectWs(server.port, ['chat.v2', 'other']);
    await client.opened();
    expect(client.ws.protocol).toBe('chat.v2');
    client.ws.close(1000);
    await client.closed();
    expect((await closedConnection(server)).protocol.subprotocol).toBe('chat.v2');
  });

  test('subprotocol negotiation: no subprotocol when the client offers none', async () => {
    const server = await serve({ subprotocols: ['chat.v1', 'chat.v2'] });
    const client = connectWs(server.port);
    await client.opened();
    expect(client.ws.protocol).toBe('');
    client.ws.close(1000);
    await client.closed();
    expect((await closedConnection(server)).protocol.subprotocol).toBeNull();
  });

  test('subprotocol negotiation: ws refuses a server that selects none of its offers', async () => {
    // RFC 6455 lets the server select none; ws then fails the handshake.
    const server = await serve({ subprotocols: ['chat.v1', 'chat.v2'] });
    const client = connectWs(server.port, ['other']);
    expect((await client.closed()).code).toBe(1006);
    expect(client.errors.map((e) => e.message)).toEqual(['Server sent no subprotocol']);
    const conn = await closedConnection(server);
    expect(conn.protocol.subprotocol).toBeNull();
    expect(conn.protocol.handshakeError).toBeNull();
  });
});
