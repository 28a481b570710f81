/**
 * polysocket as the server: ServerProtocol, through the net driver's
 * startServer, against each peer's scripted client (peers.ts), one scenario
 * at a time.
 */
import { afterEach, describe, expect, test } from 'vitest';
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
import { hex, toHex, utf8 } from '../../src/testing/chunking.js';
import {
  bytes,
  dataFramesOf,
  decoder,
  encoder,
  expectCleanCloseFromPeer,
  framesWithOpcode,
  LIMIT,
  sizeOf,
  VALID_CLOSE_CODES,
  waitClosed,
} from './helpers.js';
import { type Connection, startServer } from './net-driver.js';
import { type ClientScript, PEERS } from './peers.js';

type Server = Awaited<ReturnType<typeof startServer>>;
type Handler = (connection: Connection<ServerProtocol>, event: Request | Frame) => void;

const servers: Server[] = [];

afterEach(async () => {
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
  return { server, url: `ws://127.0.0.1:${server.port}/chat?x=1` };
}

/** The single connection the client made, once its socket closed. */
async function closedConnection(server: Server): Promise<Connection<ServerProtocol>> {
  expect(server.connections).toHaveLength(1);
  const conn = server.connections[0]!;
  await waitClosed(conn);
  return conn;
}

const TEXT_FRAGMENTS = ['frag', 'ment', 'ed ☃'];
const BINARY_FRAGMENTS = ['0001', '', '02ff'];

for (const peer of PEERS) {
  describe(`ServerProtocol vs ${peer.name} client`, () => {
    const run = (script: ClientScript) => peer.runClient(script);

    test('echoes text and binary messages, including non-ASCII and empty ones', async () => {
      const { server, url } = await serve({});
      const report = await run({
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
      expect(report.messages).toEqual([
        { type: 'text', text: 'héllo ☃ 🚀 κόσμε' },
        { type: 'text', text: '' },
        { type: 'binary', hex: '00017f80ff' },
        { type: 'binary', hex: '' },
      ]);
      expect(report.closed).toMatchObject({ code: 1000, reason: 'bye' });
      const conn = await closedConnection(server);
      expect(conn.protocol.closeCode).toBe(1000);
      expect(conn.protocol.closeReason).toBe('bye');
    });

    test('receives fragmented messages from the client frame by frame', async () => {
      const { server, url } = await serve({});
      const report = await run({
        url,
        steps: [
          { op: 'send_fragments', text: TEXT_FRAGMENTS },
          { op: 'recv' },
          { op: 'send_fragments', hex: BINARY_FRAGMENTS },
          { op: 'recv' },
          { op: 'close', code: 1000, reason: '' },
        ],
      });
      expect(report.messages).toEqual([
        { type: 'text', text: 'fragmented ☃' },
        { type: 'binary', hex: '000102ff' },
      ]);
      const conn = await closedConnection(server);
      expect(dataFramesOf(conn.events)).toEqual([
        ...peer.fragmentFrames(Opcode.TEXT, TEXT_FRAGMENTS.map(utf8)),
        ...peer.fragmentFrames(Opcode.BINARY, BINARY_FRAGMENTS.map(hex)),
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
      const report = await run({
        url,
        steps: [{ op: 'recv' }, { op: 'recv' }, { op: 'close', code: 1000, reason: '' }],
      });
      expect(report.messages).toEqual([
        { type: 'text', text: 'a☃z' },
        { type: 'binary', hex: '010203' },
      ]);
      const conn = await closedConnection(server);
      expect(framesWithOpcode(conn.events, Opcode.PONG).map((f) => decoder.decode(f.data))).toEqual(['mid']);
    });

    test('maxMessageSize: exactly the limit passes, whole and fragmented', async () => {
      const { server, url } = await serve({ maxMessageSize: LIMIT });
      const half = 'x'.repeat(LIMIT / 2);
      const report = await run({
        url,
        steps: [
          { op: 'send', hex: toHex(bytes(LIMIT)) },
          { op: 'recv' },
          { op: 'send_fragments', text: [half, half] },
          { op: 'recv' },
          { op: 'close', code: 1000, reason: '' },
        ],
      });
      expect(report.messages.map((m) => [m.type, sizeOf(m)])).toEqual([
        ['binary', LIMIT],
        ['text', LIMIT],
      ]);
      expect((await closedConnection(server)).protocol.parserError).toBeNull();
    });

    test.each([
      { what: 'whole', parts: [LIMIT + 1] },
      // Fragments count towards the message size, not each frame: the first is exactly the limit.
      { what: 'fragmented', parts: [LIMIT, 1] },
    ])(
      'maxMessageSize: after a message of the limit, a $what message of limit + 1 fails with 1009 seen by the client',
      async ({ parts }) => {
        const { server, url } = await serve({ maxMessageSize: LIMIT });
        const report = await run({
          url,
          steps: [
            { op: 'send', hex: toHex(bytes(LIMIT)) },
            { op: 'recv' },
            { op: 'send_fragments', hex: parts.map((size) => toHex(bytes(size))) },
            { op: 'recv_until_closed' },
          ],
        });
        // The message of the limit came back; the one over it didn't.
        expect(report.messages.map(sizeOf)).toEqual([LIMIT]);
        expect(report.closed?.code).toBe(1009);
        const conn = await closedConnection(server);
        expect(conn.protocol.parserError).toBeInstanceOf(PayloadTooBigError);
        expect(conn.protocol.closeSent?.code).toBe(1009);
      },
    );

    test("respects the client's size limit: limit passes, limit + 1 is closed with 1009", async () => {
      const { server, url } = await serve({}, (connection, event) => {
        if (event.kind !== 'request') return;
        connection.protocol.sendText(encoder.encode('x'.repeat(LIMIT)));
        connection.protocol.sendBinary(bytes(LIMIT + 1));
      });
      const report = await run({ url, options: { max_size: LIMIT }, steps: [{ op: 'recv_until_closed' }] });
      expect(report.messages.map((m) => [m.type, sizeOf(m)])).toEqual([['text', LIMIT]]);
      expect(report.closed).toMatchObject(peer.refusedOversize);
      const conn = await closedConnection(server);
      expect(conn.protocol.closeCode).toBe(1009);
      expect(conn.protocol.parserError).toBeNull();
    });

    test("the client's ping is answered automatically", async () => {
      const { server, url } = await serve({});
      const ping = toHex(utf8('peer-ping'));
      const report = await run({
        url,
        steps: [
          { op: 'ping', hex: ping },
          { op: 'close', code: 1000, reason: '' },
        ],
      });
      expect(report.pongs).toEqual([ping]);
      const conn = await closedConnection(server);
      expect(framesWithOpcode(conn.events, Opcode.PING).map((f) => decoder.decode(f.data))).toEqual([
        'peer-ping',
      ]);
    });

    test('our ping is answered by a pong with the same payload', async () => {
      const { server, url } = await serve({}, (connection, event) => {
        if (event.kind === 'request') connection.protocol.sendPing(encoder.encode('ours'));
        else if (event.kind === 'frame' && event.opcode === Opcode.PONG) {
          connection.protocol.sendClose(1000, `pong: ${decoder.decode(event.data)}`);
        }
      });
      const report = await run({ url, steps: [{ op: 'recv_until_closed' }] });
      expect(report.closed).toMatchObject({ code: 1000, reason: 'pong: ours' });
      await closedConnection(server);
    });

    test.each(VALID_CLOSE_CODES)('close code %i with a reason reaches the client', async (code) => {
      const reason = `reason ${code} ☃`;
      const { server, url } = await serve({}, (connection, event) => {
        if (event.kind === 'request') connection.protocol.sendClose(code, reason);
      });
      const report = await run({ url, steps: [{ op: 'recv_until_closed' }] });
      expect(report.closed).toMatchObject({ code, reason });
      const conn = await closedConnection(server);
      // The client echoes our close frame.
      expect(conn.protocol.closeCode).toBe(code);
      expect(conn.protocol.closeReason).toBe(reason);
      expect(conn.protocol.closeRcvdThenSent).toBe(false);
    });

    test.each([1000, 1001, 1008, 1011, 3000, 4999])('close %i initiated by the client', async (code) => {
      const reason = `client says ${code} ✓`;
      const { server, url } = await serve({});
      const report = await run({ url, steps: [{ op: 'close', code, reason }] });
      expect(report.closed).toMatchObject({ code, reason });
      const conn = await closedConnection(server);
      expectCleanCloseFromPeer(conn.protocol, code, reason);
    });

    test('fails with 1007 on invalid UTF-8 text from the client', async () => {
      const { server, url } = await serve({});
      const report = await run({
        url,
        steps: [
          { op: 'write_frame', fin: true, opcode: Opcode.TEXT, hex: 'cebaff' },
          { op: 'recv_until_closed' },
        ],
      });
      expect(report.messages).toEqual([]);
      expect(report.closed?.code).toBe(1007);
      const conn = await closedConnection(server);
      expect(conn.protocol.parserError).toBeInstanceOf(InvalidUtf8Error);
      expect(conn.protocol.closeSent?.code).toBe(1007);
    });

    test('fails with 1002 on an unmasked frame from the client', async () => {
      const { server, url } = await serve({});
      const report = await run({
        url,
        steps: [
          { op: 'write_frame', fin: true, opcode: Opcode.TEXT, hex: toHex(utf8('unmasked')), mask: false },
          { op: 'recv_until_closed' },
        ],
      });
      expect(report.closed?.code).toBe(1002);
      const conn = await closedConnection(server);
      expect(conn.protocol.parserError).toBeInstanceOf(ProtocolError);
      expect(conn.protocol.parserError?.message).toBe('incorrect masking');
      expect(conn.protocol.closeSent?.code).toBe(1002);
      expect(framesWithOpcode(conn.events, Opcode.TEXT)).toEqual([]);
    });

    test('a disallowed Origin is rejected with 403 and a body', async () => {
      const { server, url } = await serve({ origins: ['https://allowed.example'] });
      const report = await run({ url, options: { origin: 'https://evil.example' }, steps: [] });
      expect(report.opened).toBe(false);
      expect(report.rejected?.status).toBe(403);
      // Only where the client reads the body (see ClientReport.rejected).
      if (report.rejected?.body !== undefined) {
        expect(report.rejected.body).toMatch(/^Failed to open a WebSocket connection: .*origin/i);
      }
      const conn = await closedConnection(server);
      expect(conn.protocol.handshakeError).toBeInstanceOf(InvalidOriginError);
    });

    test.each([
      { offered: ['chat.v2', 'other'], expected: 'chat.v2' },
      { offered: [], expected: null },
    ])('subprotocol negotiation: offering $offered selects $expected', async ({ offered, expected }) => {
      const { server, url } = await serve({ subprotocols: ['chat.v1', 'chat.v2'] });
      const report = await run({
        url,
        options: { subprotocols: offered },
        steps: [{ op: 'close', code: 1000, reason: '' }],
      });
      expect(report).toMatchObject({ opened: true, subprotocol: expected });
      const conn = await closedConnection(server);
      expect(conn.protocol.subprotocol).toBe(expected);
    });

    test("subprotocol negotiation: offering none of the server's selects none", async () => {
      // RFC 6455 lets the server select none; what the client makes of that is the peer's (peers.ts).
      const { server, url } = await serve({ subprotocols: ['chat.v1', 'chat.v2'] });
      const report = await run({
        url,
        options: { subprotocols: ['other'] },
        steps: [{ op: 'close', code: 1000, reason: '' }],
      });
      expect(report).toMatchObject(peer.noCommonSubprotocol);
      const conn = await closedConnection(server);
      expect(conn.protocol.subprotocol).toBeNull();
      expect(conn.protocol.handshakeError).toBeNull();
    });
  });
}
