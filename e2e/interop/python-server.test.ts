/**
 * ClientProtocol against a Python websockets 10.4 server (peers/python-server.py).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  type ClientProtocol,
  type ClientProtocolOptions,
  InvalidStatusError,
  InvalidUtf8Error,
  Opcode,
  PayloadTooBigError,
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
  killPythonPeers,
  LIMIT,
  messagesOf,
  type PythonServer,
  startPythonServer,
  VALID_CLOSE_CODES,
  waitClosed,
} from './helpers.js';
import { type Connection, connectClient } from './net-driver.js';

let server: PythonServer;
const open: Connection<ClientProtocol>[] = [];
let nextId = 0;

beforeAll(async () => {
  server = await startPythonServer(['--subprotocol', 'chat.v1', '--subprotocol', 'chat.v2']);
});

afterEach(() => {
  for (const c of open.splice(0)) c.socket.destroy();
});

afterAll(() => {
  killPythonPeers();
});

/** Connect to `path` on the Python server; returns the connection and the id its close line carries. */
async function connect(
  path: string,
  options: ClientProtocolOptions = {},
): Promise<{ conn: Connection<ClientProtocol>; id: string }> {
  const id = `c${++nextId}`;
  const conn = await connectClient(server.url(path, id), options);
  open.push(conn);
  return { conn, id };
}

/** Close from our side, wait for the TCP close, and return what the server saw. */
async function closeCleanly(conn: Connection<ClientProtocol>, id: string, code = 1000, reason = 'bye') {
  act(conn, (p) => p.sendClose(code, reason));
  await waitClosed(conn);
  return server.closedLine(id);
}

describe('ClientProtocol vs Python websockets server', () => {
  test('echoes text and binary messages, including non-ASCII and empty ones', async () => {
    const { conn, id } = await connect('/echo');
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
    const line = await closeCleanly(conn, id);
    expect(line['rcvd']).toEqual([1000, 'bye']);
  });

  test('fragmented messages we send are reassembled by the server', async () => {
    const { conn, id } = await connect('/echo');
    const snowman = encoder.encode('☃');
    act(conn, (p) => {
      // The code point is split across frames: the peer must validate UTF-8 over the message, not per frame.
      p.sendText(Uint8Array.of(...encoder.encode('a'), snowman[0]!), false);
      p.sendContinuation(snowman.subarray(1), false);
      p.sendContinuation(new Uint8Array(0), false);
      p.sendContinuation(encoder.encode('z'), true);
      p.sendBinary(Uint8Array.of(1, 2), false);
      // A control frame may interleave with a fragmented message.
      p.sendPing(encoder.encode('mid'));
      p.sendContinuation(Uint8Array.of(3), true);
    });
    await conn.waitFor((events) => messagesOf(events).length === 2);
    expect(messagesOf(conn.events)).toEqual([
      { type: 'text', text: 'a☃z' },
      { type: 'binary', hex: '010203' },
    ]);
    expect(framesWithOpcode(conn.events, Opcode.PONG).map((f) => decoder.decode(f.data))).toEqual(['mid']);
    await closeCleanly(conn, id);
  });

  test('receives fragmented messages from the server frame by frame', async () => {
    const { conn, id } = await connect('/fragments');
    await conn.waitFor((events) => messagesOf(events).length === 2);
    // websockets sends every item with fin=false, then an empty final frame.
    expect(dataFramesOf(conn.events)).toEqual([
      [Opcode.TEXT, false, hex('frag')],
      [Opcode.CONT, false, hex('ment')],
      [Opcode.CONT, false, hex('ed ☃')],
      [Opcode.CONT, true, ''],
      [Opcode.BINARY, false, '0001'],
      [Opcode.CONT, false, ''],
      [Opcode.CONT, false, '02ff'],
      [Opcode.CONT, true, ''],
    ]);
    expect(messagesOf(conn.events)).toEqual([
      { type: 'text', text: 'fragmented ☃' },
      { type: 'binary', hex: '000102ff' },
    ]);
    await closeCleanly(conn, id);
  });

  test.each(['binary', 'text'])('accepts a %s message of exactly maxMessageSize', async (type) => {
    const { conn, id } = await connect(`/send-size?n=${LIMIT}&type=${type}`, { maxMessageSize: LIMIT });
    await conn.waitFor((events) => messagesOf(events).length === 1);
    const [message] = messagesOf(conn.events);
    const size = message?.type === 'text' ? message.text.length : (message?.hex.length ?? 0) / 2;
    expect(message?.type).toBe(type);
    expect(size).toBe(LIMIT);
    expect(conn.protocol.parserError).toBeNull();
    await closeCleanly(conn, id);
  });

  test('fails with 1009 on a message of maxMessageSize + 1, and the server sees 1009', async () => {
    const { conn, id } = await connect(`/send-size?n=${LIMIT + 1}`, { maxMessageSize: LIMIT });
    await waitClosed(conn);
    expect(conn.protocol.parserError).toBeInstanceOf(PayloadTooBigError);
    expect(conn.protocol.closeSent?.code).toBe(1009);
    expect(messagesOf(conn.events)).toEqual([]);
    const line = await server.closedLine(id);
    expect(line['rcvd']).toEqual([1009, expect.any(String)]);
  });

  test("respects the server's max_size: limit passes, limit + 1 is closed with 1009", async () => {
    const { conn, id } = await connect(`/echo?max_size=${LIMIT}`);
    act(conn, (p) => p.sendBinary(bytes(LIMIT)));
    await conn.waitFor((events) => messagesOf(events).length === 1);
    act(conn, (p) => p.sendBinary(bytes(LIMIT + 1)));
    await waitClosed(conn);
    expect(messagesOf(conn.events)).toHaveLength(1);
    expect(conn.protocol.closeCode).toBe(1009);
    expect(conn.protocol.parserError).toBeNull();
    const line = await server.closedLine(id);
    expect(line['sent']).toEqual([1009, expect.any(String)]);
  });

  test('our ping is answered by a pong with the same payload', async () => {
    const { conn, id } = await connect('/echo');
    act(conn, (p) => p.sendPing(encoder.encode('ours')));
    await conn.waitFor((events) => framesWithOpcode(events, Opcode.PONG).length === 1);
    expect(decoder.decode(framesWithOpcode(conn.events, Opcode.PONG)[0]!.data)).toBe('ours');
    await closeCleanly(conn, id);
  });

  test("the server's ping is answered automatically", async () => {
    const { conn, id } = await connect('/ping');
    // The server only sends "got pong" once its ping waiter resolved.
    await conn.waitFor((events) => messagesOf(events).length === 1);
    expect(messagesOf(conn.events)).toEqual([{ type: 'text', text: 'got pong' }]);
    expect(framesWithOpcode(conn.events, Opcode.PING).map((f) => decoder.decode(f.data))).toEqual([
      'py-ping',
    ]);
    await closeCleanly(conn, id);
  });

  test.each(VALID_CLOSE_CODES)('close code %i with a reason reaches the server', async (code) => {
    const { conn, id } = await connect('/echo');
    const reason = `reason ${code} ☃`;
    const line = await closeCleanly(conn, id, code, reason);
    expect(line['rcvd']).toEqual([code, reason]);
    // The server echoes our close frame.
    expect(conn.protocol.closeCode).toBe(code);
    expect(conn.protocol.closeReason).toBe(reason);
    expect(conn.protocol.closeRcvdThenSent).toBe(false);
  });

  test.each([1000, 1001, 1008, 1011, 3000, 4999])('close %i initiated by the server', async (code) => {
    const reason = `server says ${code} ✓`;
    const { conn, id } = await connect(`/close?code=${code}&reason=${encodeURIComponent(reason)}`);
    await waitClosed(conn);
    expect(conn.protocol.closeCode).toBe(code);
    expect(conn.protocol.closeReason).toBe(reason);
    // Both close frames were exchanged: the equivalent of wasClean.
    expect(conn.protocol.closeRcvd).toEqual({ code, reason });
    expect(conn.protocol.closeSent).toEqual({ code, reason });
    expect(conn.protocol.closeRcvdThenSent).toBe(true);
    expect(conn.protocol.parserError).toBeNull();
    const line = await server.closedLine(id);
    expect(line['rcvd']).toEqual([code, reason]);
  });

  test('fails with 1007 on invalid UTF-8 text from the server', async () => {
    const { conn, id } = await connect('/invalid-utf8');
    await waitClosed(conn);
    expect(conn.protocol.parserError).toBeInstanceOf(InvalidUtf8Error);
    expect(conn.protocol.closeSent?.code).toBe(1007);
    expect(messagesOf(conn.events)).toEqual([]);
    const line = await server.closedLine(id);
    expect(line['rcvd']).toEqual([1007, expect.any(String)]);
  });

  test('a 403 response fails the handshake with InvalidStatusError carrying status and body', async () => {
    const { conn } = await connect('/reject');
    await waitClosed(conn);
    const error = conn.protocol.handshakeError;
    expect(error).toBeInstanceOf(InvalidStatusError);
    const response = (error as InvalidStatusError).response;
    expect(response.status).toBe(403);
    expect(decoder.decode(response.body)).toBe('forbidden by the interop test\n');
    expect(conn.protocol.state).toBe(State.CLOSED);
  });

  test.each([
    { offered: ['chat.v2', 'other'], expected: 'chat.v2' },
    { offered: ['other'], expected: null },
    { offered: [], expected: null },
  ])('subprotocol negotiation: offering $offered selects $expected', async ({ offered, expected }) => {
    const { conn, id } = await connect('/subprotocol', { subprotocols: offered });
    expect(conn.protocol.state).toBe(State.OPEN);
    expect(conn.protocol.subprotocol).toBe(expected);
    await conn.waitFor((events) => messagesOf(events).length === 1);
    expect(messagesOf(conn.events)).toEqual([{ type: 'text', text: expected ?? 'null' }]);
    await closeCleanly(conn, id);
  });
});
