/**
 * ClientProtocol against an in-process `ws` server.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { WebSocket } from 'ws';
import {
  type ClientProtocol,
  type ClientProtocolOptions,
  InvalidStatusError,
  InvalidUtf8Error,
  Opcode,
  PayloadTooBigError,
  ProtocolError,
  State,
} from '../../src/protocol/index.js';
import {
  act,
  bytes,
  dataFramesOf,
  decoder,
  encoder,
  framesWithOpcode,
  hex,
  LIMIT,
  messagesOf,
  startWsServer,
  VALID_CLOSE_CODES,
  type WsServer,
  waitClosed,
  withTimeout,
} from './helpers.js';
import { type Connection, connectClient } from './net-driver.js';

const servers: WsServer[] = [];
const open: Connection<ClientProtocol>[] = [];

afterEach(async () => {
  for (const c of open.splice(0)) c.socket.destroy();
  for (const s of servers.splice(0)) await s.close();
});

/** What the ws side of the connection saw. */
interface Peer {
  ws: WebSocket;
  /** Resolves with the close code and reason ws reports. */
  closed: Promise<{ code: number; reason: string }>;
  /** Errors ws reported (it throws them as uncaught without a listener). */
  errors: Error[];
}

/**
 * Start a ws server that runs `onConnection` for each client, connect to it
 * and return both ends.
 */
async function setup(
  serverOptions: Parameters<typeof startWsServer>[0],
  onConnection: (ws: WebSocket) => void,
  clientOptions: ClientProtocolOptions = {},
): Promise<{ conn: Connection<ClientProtocol>; peer: Promise<Peer> }> {
  const server = await startWsServer(serverOptions);
  servers.push(server);
  const peer = new Promise<Peer>((resolve) => {
    server.server.on('connection', (ws) => {
      const closed = new Promise<{ code: number; reason: string }>((resolveClose) => {
        ws.on('close', (code, reason) => resolveClose({ code, reason: reason.toString('utf8') }));
      });
      const errors: Error[] = [];
      ws.on('error', (error) => errors.push(error));
      onConnection(ws);
      resolve({ ws, closed, errors });
    });
  });
  const conn = await connectClient(`ws://127.0.0.1:${server.port}/path?q=1`, clientOptions);
  open.push(conn);
  return { conn, peer };
}

const echo = (ws: WebSocket) => {
  ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
};

async function peerClosed(peer: Promise<Peer>) {
  return withTimeout((await peer).closed, 10_000, 'ws server to see the close');
}

async function closeCleanly(
  conn: Connection<ClientProtocol>,
  peer: Promise<Peer>,
  code = 1000,
  reason = 'bye',
) {
  act(conn, (p) => p.sendClose(code, reason));
  await waitClosed(conn);
  return peerClosed(peer);
}

describe('ClientProtocol vs ws server', () => {
  test('echoes text and binary messages, including non-ASCII and empty ones', async () => {
    const { conn, peer } = await setup({}, echo);
    expect(conn.protocol.state).toBe(State.OPEN);
    act(conn, (p) => {
      p.sendText(encoder.encode('héllo ☃ 🚀 κόσμε'));
      p.sendText(new Uint8Array(0));
      p.sendBinary(Uint8Array.of(0, 1, 0x7f, 0x80, 0xff));
      p.sendBinary(new Uint8Array(0));
    });
    await conn.waitFor((events) => messagesOf(events).length === 4);
    expect(messagesOf(conn.events)).toEqual([
      { type: 'text', text: 'héllo ☃ 🚀 κόσμε' },
      { type: 'text', text: '' },
      { type: 'binary', hex: '00017f80ff' },
      { type: 'binary', hex: '' },
    ]);
    expect(await closeCleanly(conn, peer)).toEqual({ code: 1000, reason: 'bye' });
  });

  test('fragmented messages we send are reassembled by the server', async () => {
    const { conn, peer } = await setup({}, echo);
    const snowman = encoder.encode('☃');
    act(conn, (p) => {
      // The code point is split across frames: the peer must validate UTF-8 over the message.
      p.sendText(Uint8Array.of(...encoder.encode('a'), snowman[0]!), false);
      p.sendContinuation(snowman.subarray(1), false);
      p.sendContinuation(new Uint8Array(0), false);
      p.sendContinuation(encoder.encode('z'), true);
      p.sendBinary(Uint8Array.of(1, 2), false);
      p.sendPing(encoder.encode('mid'));
      p.sendContinuation(Uint8Array.of(3), true);
    });
    await conn.waitFor((events) => messagesOf(events).length === 2);
    expect(messagesOf(conn.events)).toEqual([
      { type: 'text', text: 'a☃z' },
      { type: 'binary', hex: '010203' },
    ]);
    expect(framesWithOpcode(conn.events, Opcode.PONG).map((f) => decoder.decode(f.data))).toEqual(['mid']);
    await closeCleanly(conn, peer);
  });

  test('receives fragmented messages from the server frame by frame', async () => {
    const { conn, peer } = await setup({}, (ws) => {
      ws.send('frag', { fin: false });
      ws.send('ment', { fin: false });
      ws.send('ed ☃', { fin: true });
      ws.send(Buffer.of(0, 1), { fin: false });
      ws.send(Buffer.alloc(0), { fin: false });
      ws.send(Buffer.of(2, 0xff), { fin: true });
    });
    await conn.waitFor((events) => messagesOf(events).length === 2);
    expect(dataFramesOf(conn.events)).toEqual([
      [Opcode.TEXT, false, hex('frag')],
      [Opcode.CONT, false, hex('ment')],
      [Opcode.CONT, true, hex('ed ☃')],
      [Opcode.BINARY, false, '0001'],
      [Opcode.CONT, false, ''],
      [Opcode.CONT, true, '02ff'],
    ]);
    expect(messagesOf(conn.events)).toEqual([
      { type: 'text', text: 'fragmented ☃' },
      { type: 'binary', hex: '000102ff' },
    ]);
    await closeCleanly(conn, peer);
  });

  test('accepts messages of exactly maxMessageSize, whole and fragmented', async () => {
    const { conn, peer } = await setup(
      {},
      (ws) => {
        ws.send(Buffer.alloc(LIMIT, 0x5a));
        ws.send('x'.repeat(LIMIT / 2), { fin: false });
        ws.send('x'.repeat(LIMIT / 2), { fin: true });
      },
      { maxMessageSize: LIMIT },
    );
    await conn.waitFor((events) => messagesOf(events).length === 2);
    const [binary, text] = messagesOf(conn.events);
    expect(binary?.type === 'binary' && binary.hex.length / 2).toBe(LIMIT);
    expect(text?.type === 'text' && text.text.length).toBe(LIMIT);
    expect(conn.protocol.parserError).toBeNull();
    await closeCleanly(conn, peer);
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
  ])('fails with 1009 on a $what message of maxMessageSize + 1, and ws sees 1009', async ({ send }) => {
    const { conn, peer } = await setup({}, send, { maxMessageSize: LIMIT });
    await waitClosed(conn);
    expect(conn.protocol.parserError).toBeInstanceOf(PayloadTooBigError);
    expect(conn.protocol.closeSent?.code).toBe(1009);
    expect(messagesOf(conn.events)).toEqual([]);
    expect((await peerClosed(peer)).code).toBe(1009);
  });

  test("respects the server's maxPayload: limit passes, limit + 1 is closed with 1009", async () => {
    const { conn, peer } = await setup({ maxPayload: LIMIT }, echo);
    act(conn, (p) => p.sendBinary(bytes(LIMIT)));
    await conn.waitFor((events) => messagesOf(events).length === 1);
    act(conn, (p) => p.sendBinary(bytes(LIMIT + 1)));
    await waitClosed(conn);
    expect(messagesOf(conn.events)).toHaveLength(1);
    expect(conn.protocol.closeCode).toBe(1009);
    expect(conn.protocol.parserError).toBeNull();
    await peerClosed(peer);
    expect((await peer).errors.map((e) => e.message)).toEqual(['Max payload size exceeded']);
  });

  test('our ping is answered by a pong with the same payload', async () => {
    const { conn, peer } = await setup({}, echo);
    act(conn, (p) => p.sendPing(encoder.encode('ours')));
    await conn.waitFor((events) => framesWithOpcode(events, Opcode.PONG).length === 1);
    expect(decoder.decode(framesWithOpcode(conn.events, Opcode.PONG)[0]!.data)).toBe('ours');
    await closeCleanly(conn, peer);
  });

  test("the server's ping is answered automatically", async () => {
    const { conn, peer } = await setup({}, (ws) => {
      ws.on('pong', (data) => ws.send(`got pong: ${data.toString()}`));
      ws.ping('ws-ping');
    });
    await conn.waitFor((events) => messagesOf(events).length === 1);
    expect(messagesOf(conn.events)).toEqual([{ type: 'text', text: 'got pong: ws-ping' }]);
    await closeCleanly(conn, peer);
  });

  test.each(VALID_CLOSE_CODES)('close code %i with a reason reaches the server', async (code) => {
    const { conn, peer } = await setup({}, echo);
    const reason = `reason ${code} ☃`;
    expect(await closeCleanly(conn, peer, code, reason)).toEqual({ code, reason });
    // ws echoes our close frame.
    expect(conn.protocol.closeCode).toBe(code);
    expect(conn.protocol.closeReason).toBe(reason);
    expect(conn.protocol.closeRcvdThenSent).toBe(false);
  });

  test.each([1000, 1001, 1008, 1011, 3000, 4999])('close %i initiated by the server', async (code) => {
    const reason = `server says ${code} ✓`;
    const { conn, peer } = await setup({}, (ws) => ws.close(code, reason));
    await waitClosed(conn);
    expect(conn.protocol.closeCode).toBe(code);
    expect(conn.protocol.closeReason).toBe(reason);
    // Both close frames were exchanged: the equivalent of wasClean.
    expect(conn.protocol.closeRcvd).toEqual({ code, reason });
    expect(conn.protocol.closeSent).toEqual({ code, reason });
    expect(conn.protocol.closeRcvdThenSent).toBe(true);
    expect(conn.protocol.parserError).toBeNull();
    expect(await peerClosed(peer)).toEqual({ code, reason });
  });

  test('fails with 1007 on invalid UTF-8 text from the server', async () => {
    // ws doesn't validate what it sends: a Buffer sent as text goes out as is.
    const { conn, peer } = await setup({}, (ws) => ws.send(Buffer.of(0xce, 0xba, 0xff), { binary: false }));
    await waitClosed(conn);
    expect(conn.protocol.parserError).toBeInstanceOf(InvalidUtf8Error);
    expect(conn.protocol.closeSent?.code).toBe(1007);
    expect((await peerClosed(peer)).code).toBe(1007);
  });

  test('fails with 1002 on a masked frame from the server', async () => {
    const { conn, peer } = await setup({}, (ws) => ws.send('masked', { mask: true }));
    await waitClosed(conn);
    expect(conn.protocol.parserError).toBeInstanceOf(ProtocolError);
    expect(conn.protocol.parserError?.message).toBe('incorrect masking');
    expect(conn.protocol.closeSent?.code).toBe(1002);
    expect(messagesOf(conn.events)).toEqual([]);
    expect((await peerClosed(peer)).code).toBe(1002);
  });

  test('a 403 response fails the handshake with InvalidStatusError carrying status and body', async () => {
    const server = await startWsServer({
      verifyClient: (_info, callback) => callback(false, 403, 'forbidden by ws', { 'X-Reason': 'test' }),
    });
    servers.push(server);
    const conn = await connectClient(`ws://127.0.0.1:${server.port}/`);
    open.push(conn);
    await waitClosed(conn);
    const error = conn.protocol.handshakeError;
    expect(error).toBeInstanceOf(InvalidStatusError);
    const response = (error as InvalidStatusError).response;
    expect(response.status).toBe(403);
    expect(response.headers.getOne('X-Reason')).toBe('test');
    expect(decoder.decode(response.body)).toBe('forbidden by ws');
  });

  test.each([
    { offered: ['chat.v2', 'other'], expected: 'chat.v2' },
    { offered: ['other'], expected: null },
    { offered: [], expected: null },
  ])('subprotocol negotiation: offering $offered selects $expected', async ({ offered, expected }) => {
    const { conn, peer } = await setup(
      { handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false) },
      (ws) => ws.send(ws.protocol || 'null'),
      { subprotocols: offered },
    );
    expect(conn.protocol.state).toBe(State.OPEN);
    expect(conn.protocol.subprotocol).toBe(expected);
    await conn.waitFor((events) => messagesOf(events).length === 1);
    expect(messagesOf(conn.events)).toEqual([{ type: 'text', text: expected ?? 'null' }]);
    await closeCleanly(conn, peer);
  });
});
