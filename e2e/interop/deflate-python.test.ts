/**
 * permessage-deflate against Python websockets 10.4 (Debian's, run with
 * /usr/bin/python3) on 127.0.0.1, both roles. The Python peer echoes; it
 * echoes messages over 64 KiB in three frames. websockets 10.4 cannot
 * compress with an 8-bit window (zlib refuses raw windowBits 8), so 8 bits
 * appear only on the windows the core compresses with.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  ClientPerMessageDeflateFactory,
  type ClientPerMessageDeflateOptions,
  Opcode,
  PerMessageDeflate,
  type PerMessageDeflateParams,
  ServerPerMessageDeflateFactory,
  type ServerPerMessageDeflateOptions,
  type ServerProtocol,
  State,
} from '../../src/protocol/index.js';
import {
  countMessages,
  messageMix,
  messagesOf,
  PythonDeflatePeer,
  sameMessages,
  sendMessage,
  totalBytes,
} from './deflate-helpers.js';
import { type Connection, connectClient, startServer } from './net-driver.js';

const MAX_SIZE = 16 * 2 ** 20;
const TIME_SCALE = inject('timeScale');
/** Bound on the Python peer's start (interpreter, websockets) and handshake. */
const START_MS = 10_000 * TIME_SCALE;
/**
 * Bound on the echo of a mix (about 7 MiB, deflated and inflated on both
 * sides, pako's side in JavaScript): about 5 s on an idle 2-core machine.
 */
const ECHO_MS = 15_000 * TIME_SCALE;
/** Bound on the closing handshake and the peer's report of it. */
const CLOSE_MS = 5_000 * TIME_SCALE;
/** Each test: the bounds above in turn, plus making the mix; the bounds above fail first, with the peer's stderr. */
const TEST_MS = START_MS + ECHO_MS + CLOSE_MS + 5_000 * TIME_SCALE;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function paramsOf(extensions: readonly unknown[]): PerMessageDeflateParams {
  expect(extensions).toHaveLength(1);
  const pmd = extensions[0] as PerMessageDeflate;
  expect(pmd).toBeInstanceOf(PerMessageDeflate);
  return {
    remoteNoContextTakeover: pmd.remoteNoContextTakeover,
    localNoContextTakeover: pmd.localNoContextTakeover,
    remoteMaxWindowBits: pmd.remoteMaxWindowBits,
    localMaxWindowBits: pmd.localMaxWindowBits,
  };
}

const P = (r: boolean, l: boolean, rb: number, lb: number): PerMessageDeflateParams => ({
  remoteNoContextTakeover: r,
  localNoContextTakeover: l,
  remoteMaxWindowBits: rb,
  localMaxWindowBits: lb,
});

interface Case {
  readonly name: string;
  readonly ours: ClientPerMessageDeflateOptions & ServerPerMessageDeflateOptions;
  /** websockets factory keyword arguments. */
  readonly theirs: Record<string, unknown>;
  readonly params: PerMessageDeflateParams;
}

describe('core client ↔ websockets server', () => {
  const cases: Case[] = [
    { name: 'defaults', ours: { threshold: 0 }, theirs: {}, params: P(false, false, 15, 15) },
    {
      name: 'websockets defaults (12-bit windows, memLevel 5)',
      ours: { threshold: 0 },
      theirs: { server_max_window_bits: 12, client_max_window_bits: 12, compress_settings: { memLevel: 5 } },
      params: P(false, false, 12, 12),
    },
    {
      name: 'server forces no context takeover, windows 9 and 10',
      ours: { threshold: 0 },
      theirs: {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 9,
        client_max_window_bits: 10,
      },
      params: P(true, true, 9, 10),
    },
    {
      name: 'server caps the client window at 8 (zlib quirk)',
      ours: { threshold: 0 },
      theirs: { client_max_window_bits: 8 },
      params: P(false, false, 15, 8),
    },
    {
      name: 'client asks for no context takeover and a 10-bit server window',
      ours: {
        threshold: 0,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
      },
      theirs: {},
      params: P(true, true, 10, 15),
    },
  ];

  for (const c of cases) {
    it(c.name, { timeout: TEST_MS }, async () => {
      const peer = new PythonDeflatePeer(['server', JSON.stringify({ ...c.theirs, max_size: MAX_SIZE })]);
      cleanups.push(() => peer.kill());
      const port = (await peer.line((l) => typeof l['port'] === 'number', START_MS))['port'] as number;
      const conn = await connectClient(`ws://127.0.0.1:${port}/`, {
        extensions: [new ClientPerMessageDeflateFactory(c.ours)],
        maxMessageSize: MAX_SIZE,
      });
      cleanups.push(() => {
        conn.socket.destroy();
      });
      expect(conn.protocol.state).toBe(State.OPEN);
      expect(paramsOf(conn.protocol.extensions)).toEqual(c.params);

      const messages = messageMix(200 + c.name.length);
      for (const message of messages) sendMessage(conn.protocol, message);
      conn.flush();
      await conn.waitFor((events) => countMessages(events) >= messages.length, ECHO_MS);
      expect(sameMessages(messagesOf(conn.events), messages)).toBeNull();
      expect(conn.socket.bytesRead).toBeLessThan(totalBytes(messages) * 0.6);
      expect(conn.socket.bytesWritten).toBeLessThan(totalBytes(messages) * 0.6);

      conn.protocol.sendClose(1000);
      conn.flush();
      const closed = await peer.line((l) => l['event'] === 'closed', CLOSE_MS);
      expect(closed['received']).toBe(messages.length);
      expect(closed['code']).toBe(1000);
      expect(String((closed['extensions'] as string[])[0])).toMatch(/^PerMessageDeflate\(/);
    });
  }
});

describe('websockets client ↔ core server', () => {
  const cases: Case[] = [
    { name: 'defaults', ours: { threshold: 0 }, theirs: {}, params: P(false, false, 15, 15) },
    {
      name: 'client asks for everything: no context takeover, windows 10 and 9',
      ours: { threshold: 0 },
      theirs: {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 10,
        client_max_window_bits: 9,
      },
      params: P(true, true, 9, 10),
    },
    {
      name: 'client asks for an 8-bit server window (zlib quirk)',
      ours: { threshold: 0 },
      theirs: { server_max_window_bits: 8 },
      params: P(false, false, 15, 8),
    },
    {
      name: 'server forces no context takeover and caps windows at 11 and 12',
      ours: {
        threshold: 0,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 11,
        clientMaxWindowBits: 12,
      },
      theirs: {},
      params: P(true, true, 12, 11),
    },
  ];

  for (const c of cases) {
    it(c.name, { timeout: TEST_MS }, async () => {
      const messages = messageMix(300 + c.name.length);
      let connected: (connection: Connection<ServerProtocol>) => void = () => {};
      const accepted = new Promise<Connection<ServerProtocol>>((resolve) => {
        connected = resolve;
      });
      let sent = false;
      const server = await startServer(
        { extensions: [new ServerPerMessageDeflateFactory(c.ours)], maxMessageSize: MAX_SIZE },
        (connection, event) => {
          // The Python client echoes: send the mix once the connection is open.
          if (event.kind === 'request' && !sent) {
            sent = true;
            for (const message of messages) sendMessage(connection.protocol, message);
            connected(connection);
          }
        },
      );
      cleanups.push(() => server.close());
      const peer = new PythonDeflatePeer([
        'client',
        `ws://127.0.0.1:${server.port}/`,
        JSON.stringify({ ...c.theirs, max_size: MAX_SIZE }),
      ]);
      cleanups.push(() => peer.kill());
      const connection = await Promise.race([
        accepted,
        // No line matches: this rejects, with the peer's stderr, if it exits or
        // hasn't connected within START_MS.
        peer
          .line(() => false, START_MS)
          .then((): never => {
            throw new Error('unreachable');
          }),
      ]);
      await connection.waitFor((events) => countMessages(events) >= messages.length, ECHO_MS);
      expect(paramsOf(connection.protocol.extensions)).toEqual(c.params);
      expect(sameMessages(messagesOf(connection.events), messages)).toBeNull();
      // Large messages came back in three frames.
      const continuations = connection.events.filter((e) => e.kind === 'frame' && e.opcode === Opcode.CONT);
      expect(continuations.length).toBeGreaterThan(0);
      expect(connection.socket.bytesRead).toBeLessThan(totalBytes(messages) * 0.6);
      expect(connection.socket.bytesWritten).toBeLessThan(totalBytes(messages) * 0.6);

      connection.protocol.sendClose(1000);
      connection.flush();
      const closed = await peer.line((l) => l['event'] === 'closed', CLOSE_MS);
      expect(closed['received']).toBe(messages.length);
      expect(closed['code']).toBe(1000);
    });
  }
});
