/**
 * ServerProtocol (through the net driver's startServer) against a scripted
 * Python websockets 10.4 client (peers/python-client.py).
 */
import { afterEach, describe, expect, test } from 'vitest';
import {
  type Frame,
  InvalidOriginError,
  InvalidUtf8Error,
  Opcode,
  PayloadTooBigError,
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
  killPythonPeers,
  LIMIT,
  lineOf,
  messageLines,
  runPythonClient,
  VALID_CLOSE_CODES,
  waitClosed,
} from './helpers.js';
import { type Connection, startServer } from './net-driver.js';

type Server = Awaited<ReturnType<typeof startServer>>;
type Handler = (connection: Connection<ServerProtocol>, event: Request | Frame) => void;

const servers: Server[] = [];

afterEach(async () => {
  killPythonPeers();
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

async function serve(options: ServerProtocolOptions, handler: Handler = echo) {
  const server = await startServer(options, handler);
  servers.push(server);
  return { server, url: `ws://127.0.0.1:${server.port}/` };
}

/** The single connection the Python client made, once its socket closed. */
async function closedConnection(server: Server): Promise<Connection<ServerProtocol>> {
  expect(server.connections).toHaveLength(1);
  const conn = server.connections[0]!;
  await waitClosed(conn);
  return conn;
}

describe('ServerProtocol vs Python websockets client', () => {
  test('echoes text and binary messages, including non-ASCII and empty ones', async () => {
    const { server, url } = await serve({});
    const lines = await runPythonClient({
      url,
      steps: [
        { op: 'send', text: 'héllo ☃ 🚀 κόσμε' },
        { op: 'recv' },
        { op: 'send', text: '' },
        { op: 'recv' },
        { op: 'send', hex: '00017f80ff' },
        { op: 'recv' },
        { op: 'send', hex: '' },
        { op: 'recv' },
        { op: 'close', code: 1000, reason: 'bye' },
      ],
    });
    expect(messageLines(lines).map((l) => l['text'] ?? l['hex'])).toEqual([
      'héllo ☃ 🚀 κόσμε',
      '',
      '00017f80ff',
      '',
    ]);
    expect(lineOf(lines, 'closed')['code']).toBe(1000);
    const conn = await closedConnection(server);
    expect(conn.protocol.closeCode).toBe(1000);
    expect(conn.protocol.closeReason).toBe('bye');
  });

  test('receives fragmented messages from the client frame by frame', async () => {
    const { server, url } = await serve({});
    const lines = await runPythonClient({
      url,
      steps: [
        { op: 'send_fragments', text: ['frag', 'ment', 'ed ☃'] },
        { op: 'recv' },
        { op: 'send_fragments', hex: ['0001', '', '02ff'] },
        { op: 'recv' },
        { op: 'close', code: 1000, reason: '' },
      ],
    });
    expect(messageLines(lines).map((l) => l['text'] ?? l['hex'])).toEqual(['fragmented ☃', '000102ff']);
    const conn = await closedConnection(server);
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
  });

  test('fragmented messages we send are reassembled by the client', async () => {
    const snowman = encoder.encode('☃');
    const { server, url } = await serve({}, (connection, event) => {
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
    const lines = await runPythonClient({
      url,
      steps: [{ op: 'recv' }, { op: 'recv' }, { op: 'close', code: 1000, reason: '' }],
    });
    expect(messageLines(lines).map((l) => l['text'] ?? l['hex'])).toEqual(['a☃z', '010203']);
    const conn = await closedConnection(server);
    expect(framesWithOpcode(conn.events, Opcode.PONG).map((f) => decoder.decode(f.data))).toEqual(['mid']);
  });

  test('maxMessageSize: the limit passes, limit + 1 fails with 1009 seen by the client', async () => {
    const { server, url } = await serve({ maxMessageSize: LIMIT });
    const lines = await runPythonClient({
      url,
      steps: [
        { op: 'send', hex: hex(bytes(LIMIT)) },
        { op: 'recv' },
        // Fragments count towards the message size, not each frame.
        { op: 'send_fragments', hex: [hex(bytes(LIMIT / 2)), hex(bytes(LIMIT / 2 + 1))] },
        { op: 'recv_until_closed' },
      ],
    });
    expect(messageLines(lines).map((l) => l['size'])).toEqual([LIMIT]);
    expect(lineOf(lines, 'closed')['rcvd']).toEqual([1009, expect.any(String)]);
    const conn = await closedConnection(server);
    expect(conn.protocol.parserError).toBeInstanceOf(PayloadTooBigError);
    expect(conn.protocol.closeSent?.code).toBe(1009);
  });

  test("respects the client's max_size: limit passes, limit + 1 is closed with 1009", async () => {
    const { server, url } = await serve({}, (connection, event) => {
      if (event.kind !== 'request') return;
      connection.protocol.sendText(encoder.encode('x'.repeat(LIMIT)));
      connection.protocol.sendBinary(bytes(LIMIT + 1));
    });
    const lines = await runPythonClient({
      url,
      options: { max_size: LIMIT },
      steps: [{ op: 'recv_until_closed' }],
    });
    expect(messageLines(lines).map((l) => l['size'])).toEqual([LIMIT]);
    expect(lineOf(lines, 'closed')['sent']).toEqual([1009, expect.any(String)]);
    const conn = await closedConnection(server);
    expect(conn.protocol.closeCode).toBe(1009);
    expect(conn.protocol.parserError).toBeNull();
  });

  test("the client's ping is answered automatically", async () => {
    const { server, url } = await serve({});
    const lines = await runPythonClient({
      url,
      steps: [
        { op: 'ping', hex: hex('py-ping') },
        { op: 'close', code: 1000, reason: '' },
      ],
    });
    expect(lines.some((l) => l['event'] === 'pong')).toBe(true);
    const conn = await closedConnection(server);
    expect(framesWithOpcode(conn.events, Opcode.PING).map((f) => decoder.decode(f.data))).toEqual([
      'py-ping',
    ]);
  });

  test('our ping is answered by a pong with the same payload', async () => {
    const { server, url } = await serve({}, (connection, event) => {
      if (event.kind === 'request') connection.protocol.sendPing(encoder.encode('ours'));
      else if (event.kind === 'frame' && event.opcode === Opcode.PONG) {
        connection.protocol.sendClose(1000, `pong: ${decoder.decode(event.data)}`);
      }
    });
    const lines = await runPythonClient({ url, steps: [{ op: 'recv_until_closed' }] });
    expect(lineOf(lines, 'closed')).toMatchObject({ code: 1000, reason: 'pong: ours' });
    await closedConnection(server);
  });

  test.each(VALID_CLOSE_CODES)('close code %i with a reason reaches the client', async (code) => {
    const reason = `reason ${code} ☃`;
    const { server, url } = await serve({}, (connection, event) => {
      if (event.kind === 'request') connection.protocol.sendClose(code, reason);
    });
    const lines = await runPythonClient({ url, steps: [{ op: 'recv_until_closed' }] });
    expect(lineOf(lines, 'closed')).toMatchObject({ code, reason, rcvd: [code, reason] });
    const conn = await closedConnection(server);
    // The client echoes our close frame.
    expect(conn.protocol.closeCode).toBe(code);
    expect(conn.protocol.closeReason).toBe(reason);
    expect(conn.protocol.closeRcvdThenSent).toBe(false);
  });

  test.each([1000, 1001, 1008, 1011, 3000, 4999])('close %i initiated by the client', async (code) => {
    const reason = `client says ${code} ✓`;
    const { server, url } = await serve({});
    const lines = await runPythonClient({ url, steps: [{ op: 'close', code, reason }] });
    expect(lineOf(lines, 'closed')).toMatchObject({ code, reason });
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
    const { server, url } = await serve({});
    const lines = await runPythonClient({
      url,
      steps: [
        { op: 'write_frame', fin: true, opcode: Opcode.TEXT, hex: 'cebaff' },
        { op: 'recv_until_closed' },
      ],
    });
    expect(messageLines(lines)).toEqual([]);
    expect(lineOf(lines, 'closed')['rcvd']).toEqual([1007, expect.any(String)]);
    const conn = await closedConnection(server);
    expect(conn.protocol.parserError).toBeInstanceOf(InvalidUtf8Error);
    expect(conn.protocol.closeSent?.code).toBe(1007);
  });

  test('a disallowed Origin is rejected with 403', async () => {
    const { server, url } = await serve({ origins: ['https://allowed.example'] });
    const lines = await runPythonClient({ url, options: { origin: 'https://evil.example' }, steps: [] });
    expect(lineOf(lines, 'handshake_error')).toMatchObject({ type: 'InvalidStatusCode', status: 403 });
    const conn = await closedConnection(server);
    expect(conn.protocol.handshakeError).toBeInstanceOf(InvalidOriginError);
  });

  test.each([
    { offered: ['chat.v2', 'other'], expected: 'chat.v2' },
    { offered: ['other'], expected: null },
  ])('subprotocol negotiation: offering $offered selects $expected', async ({ offered, expected }) => {
    const { server, url } = await serve({ subprotocols: ['chat.v1', 'chat.v2'] });
    const lines = await runPythonClient({
      url,
      options: { subprotocols: offered },
      steps: [{ op: 'close', code: 1000, reason: '' }],
    });
    expect(lineOf(lines, 'open')['subprotocol']).toBe(expected);
    const conn = await closedConnection(server);
    expect(conn.protocol.subprotocol).toBe(expected);
  });
});
