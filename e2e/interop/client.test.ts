/**
 * polysocket as the client: ClientProtocol, through the net driver, against
 * each peer's server (peers.ts), one scenario at a time.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
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
import { hex, toHex, utf8 } from '../../src/testing/chunking.js';
import {
  act,
  bytes,
  dataFramesOf,
  decoder,
  encoder,
  expectCleanCloseFromPeer,
  framesWithOpcode,
  LIMIT,
  messagesOf,
  sizeOf,
  VALID_CLOSE_CODES,
  waitClosed,
} from './helpers.js';
import { type Connection, connectClient } from './net-driver.js';
import { PEERS, type PeerServer } from './peers.js';

const SUBPROTOCOLS = ['chat.v1', 'chat.v2'];
const TEXT_FRAGMENTS = ['frag', 'ment', 'ed ☃'];
const BINARY_FRAGMENTS = ['0001', '', '02ff'];

for (const peer of PEERS) {
  describe(`ClientProtocol vs ${peer.name} server`, () => {
    let server: PeerServer;
    const open: Connection<ClientProtocol>[] = [];
    let nextId = 0;

    beforeAll(async () => {
      server = await peer.startServer({ subprotocols: SUBPROTOCOLS });
    });

    afterEach(() => {
      for (const c of open.splice(0)) c.socket.destroy();
    });

    afterAll(() => server?.stop());

    /** Connect to `path` on the peer's server; returns the connection and the id the server knows it by. */
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
      return server.closed(id);
    }

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
      expect(await closeCleanly(conn, id)).toMatchObject({ code: 1000, reason: 'bye' });
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
      const parts = (list: string[]) => encodeURIComponent(JSON.stringify(list));
      const { conn, id } = await connect(
        `/fragments?text=${parts(TEXT_FRAGMENTS)}&hex=${parts(BINARY_FRAGMENTS)}`,
      );
      await conn.waitFor((events) => messagesOf(events).length === 2);
      expect(dataFramesOf(conn.events)).toEqual([
        ...peer.fragmentFrames(Opcode.TEXT, TEXT_FRAGMENTS.map(utf8)),
        ...peer.fragmentFrames(Opcode.BINARY, BINARY_FRAGMENTS.map(hex)),
      ]);
      expect(messagesOf(conn.events)).toEqual([
        { type: 'text', text: 'fragmented ☃' },
        { type: 'binary', hex: '000102ff' },
      ]);
      await closeCleanly(conn, id);
    });

    test.each([
      { type: 'binary', sizes: [LIMIT] },
      { type: 'binary', sizes: [LIMIT / 2, LIMIT / 2] },
      { type: 'text', sizes: [LIMIT] },
      { type: 'text', sizes: [LIMIT / 2, LIMIT / 2] },
    ])('accepts a $type message of exactly maxMessageSize in frames of $sizes', async ({ type, sizes }) => {
      const { conn, id } = await connect(`/send?type=${type}&sizes=${sizes}`, { maxMessageSize: LIMIT });
      await conn.waitFor((events) => messagesOf(events).length === 1);
      const [message] = messagesOf(conn.events);
      expect(message?.type).toBe(type);
      expect(message && sizeOf(message)).toBe(LIMIT);
      expect(conn.protocol.parserError).toBeNull();
      await closeCleanly(conn, id);
    });

    test.each([
      { what: 'whole', sizes: [LIMIT + 1] },
      // Fragments count towards the message size, not each frame: the first is exactly the limit.
      { what: 'fragmented', sizes: [LIMIT, 1] },
    ])(
      'fails with 1009 on a $what message of maxMessageSize + 1, and the server sees 1009',
      async ({ sizes }) => {
        const { conn, id } = await connect(`/send?type=binary&sizes=${sizes}`, { maxMessageSize: LIMIT });
        await waitClosed(conn);
        expect(conn.protocol.parserError).toBeInstanceOf(PayloadTooBigError);
        expect(conn.protocol.closeSent?.code).toBe(1009);
        expect(messagesOf(conn.events)).toEqual([]);
        expect((await server.closed(id)).code).toBe(1009);
      },
    );

    test("respects the server's size limit: limit passes, limit + 1 is closed with 1009", async () => {
      const { conn, id } = await connect(`/echo?max_size=${LIMIT}`);
      act(conn, (p) => p.sendBinary(bytes(LIMIT)));
      await conn.waitFor((events) => messagesOf(events).length === 1);
      act(conn, (p) => p.sendBinary(bytes(LIMIT + 1)));
      await waitClosed(conn);
      expect(messagesOf(conn.events)).toHaveLength(1);
      expect(conn.protocol.closeCode).toBe(1009);
      expect(conn.protocol.parserError).toBeNull();
      expect(await server.closed(id)).toMatchObject(peer.refusedOversize);
    });

    test('our ping is answered by a pong with the same payload', async () => {
      const { conn, id } = await connect('/echo');
      act(conn, (p) => p.sendPing(encoder.encode('ours')));
      await conn.waitFor((events) => framesWithOpcode(events, Opcode.PONG).length === 1);
      expect(decoder.decode(framesWithOpcode(conn.events, Opcode.PONG)[0]!.data)).toBe('ours');
      await closeCleanly(conn, id);
    });

    test("the server's ping is answered automatically", async () => {
      const { conn, id } = await connect('/ping?data=peer-ping');
      // The server only sends "got pong" once the pong came.
      await conn.waitFor((events) => messagesOf(events).length === 1);
      expect(messagesOf(conn.events)).toEqual([{ type: 'text', text: 'got pong: peer-ping' }]);
      expect(framesWithOpcode(conn.events, Opcode.PING).map((f) => decoder.decode(f.data))).toEqual([
        'peer-ping',
      ]);
      await closeCleanly(conn, id);
    });

    test.each(VALID_CLOSE_CODES)('close code %i with a reason reaches the server', async (code) => {
      const { conn, id } = await connect('/echo');
      const reason = `reason ${code} ☃`;
      expect(await closeCleanly(conn, id, code, reason)).toMatchObject({ code, reason });
      // The server echoes our close frame.
      expect(conn.protocol.closeCode).toBe(code);
      expect(conn.protocol.closeReason).toBe(reason);
      expect(conn.protocol.closeRcvdThenSent).toBe(false);
    });

    test.each([1000, 1001, 1008, 1011, 3000, 4999])('close %i initiated by the server', async (code) => {
      const reason = `server says ${code} ✓`;
      const { conn, id } = await connect(`/close?code=${code}&reason=${encodeURIComponent(reason)}`);
      await waitClosed(conn);
      expectCleanCloseFromPeer(conn.protocol, code, reason);
      expect(await server.closed(id)).toMatchObject({ code, reason });
    });

    test('fails with 1007 on invalid UTF-8 text from the server', async () => {
      const { conn, id } = await connect(`/write-frame?opcode=${Opcode.TEXT}&hex=cebaff&mask=0`);
      await waitClosed(conn);
      expect(conn.protocol.parserError).toBeInstanceOf(InvalidUtf8Error);
      expect(conn.protocol.closeSent?.code).toBe(1007);
      expect(messagesOf(conn.events)).toEqual([]);
      expect((await server.closed(id)).code).toBe(1007);
    });

    test('fails with 1002 on a masked frame from the server', async () => {
      const { conn, id } = await connect(
        `/write-frame?opcode=${Opcode.TEXT}&hex=${toHex(utf8('masked'))}&mask=1`,
      );
      await waitClosed(conn);
      expect(conn.protocol.parserError).toBeInstanceOf(ProtocolError);
      expect(conn.protocol.parserError?.message).toBe('incorrect masking');
      expect(conn.protocol.closeSent?.code).toBe(1002);
      expect(messagesOf(conn.events)).toEqual([]);
      expect((await server.closed(id)).code).toBe(1002);
    });

    test('a 403 response fails the handshake with InvalidStatusError carrying status and body', async () => {
      const { conn } = await connect('/reject?body=forbidden%20by%20the%20interop%20test&reason=test');
      await waitClosed(conn);
      const error = conn.protocol.handshakeError;
      expect(error).toBeInstanceOf(InvalidStatusError);
      const response = (error as InvalidStatusError).response;
      expect(response.status).toBe(403);
      expect(response.headers.getOne('X-Reason')).toBe('test');
      expect(decoder.decode(response.body)).toBe('forbidden by the interop test');
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
}
