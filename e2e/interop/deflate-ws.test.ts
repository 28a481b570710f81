/**
 * permessage-deflate against `ws` on 127.0.0.1, both roles: the core echoes
 * or is echoed a mix of messages (tiny to 3 MiB, text and binary, whole and
 * fragmented, many similar small ones), with the window and context
 * takeover settings varied on both ends.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type PerMessageDeflateOptions, WebSocket, WebSocketServer } from 'ws';
import {
  ClientPerMessageDeflateFactory,
  type ClientPerMessageDeflateOptions,
  Opcode,
  PerMessageDeflate,
  type PerMessageDeflateParams,
  ServerPerMessageDeflateFactory,
  type ServerPerMessageDeflateOptions,
  State,
} from '../../src/protocol/index.js';
import {
  countMessages,
  messageMix,
  messagesOf,
  sameMessages,
  sendMessage,
  totalBytes,
} from './deflate-helpers.js';
import { connectClient, startServer } from './net-driver.js';

const MAX_SIZE = 16 * 2 ** 20;
const TIME_SCALE = inject('timeScale');
/** Bound on an opening or a closing handshake. */
const HANDSHAKE_MS = 5_000 * TIME_SCALE;
/**
 * Bound on the echo of a mix (about 7 MiB, deflated and inflated on both
 * sides, the core's side in JavaScript): about 5 s on an idle 2-core machine.
 */
const ECHO_MS = 15_000 * TIME_SCALE;
/** Each test: the bounds above in turn, plus making the mix; the bounds above fail first, saying which. */
const TEST_MS = 2 * HANDSHAKE_MS + ECHO_MS + 5_000 * TIME_SCALE;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function timed<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

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

interface Case {
  readonly name: string;
  readonly ours: ClientPerMessageDeflateOptions & ServerPerMessageDeflateOptions;
  readonly theirs: PerMessageDeflateOptions;
  /** Expected parameters on our side. */
  readonly params: PerMessageDeflateParams;
}

const P = (r: boolean, l: boolean, rb: number, lb: number): PerMessageDeflateParams => ({
  remoteNoContextTakeover: r,
  localNoContextTakeover: l,
  remoteMaxWindowBits: rb,
  localMaxWindowBits: lb,
});

describe('core client ↔ ws server', () => {
  const cases: Case[] = [
    { name: 'defaults', ours: { threshold: 0 }, theirs: { threshold: 0 }, params: P(false, false, 15, 15) },
    {
      name: 'ws forces no context takeover both ways',
      ours: { threshold: 0 },
      theirs: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
      params: P(true, true, 15, 15),
    },
    {
      name: 'ws caps the windows: server 9, client 10',
      ours: { threshold: 0 },
      theirs: { threshold: 0, serverMaxWindowBits: 9, clientMaxWindowBits: 10 },
      params: P(false, false, 9, 10),
    },
    {
      name: 'ws caps the client window at 8 (zlib quirk)',
      ours: { threshold: 0 },
      theirs: { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 8 },
      params: P(false, false, 10, 8),
    },
    {
      name: 'client asks for server no context takeover and an 8-bit server window',
      ours: {
        threshold: 0,
        serverNoContextTakeover: true,
        serverMaxWindowBits: 8,
        clientNoContextTakeover: true,
      },
      theirs: { threshold: 0 },
      params: P(true, true, 8, 15),
    },
    {
      name: 'our default threshold, ws default threshold (1024)',
      ours: {},
      theirs: {},
      params: P(false, false, 15, 15),
    },
  ];

  for (const c of cases) {
    it(c.name, { timeout: TEST_MS }, async () => {
      const wss = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        perMessageDeflate: c.theirs,
        maxPayload: MAX_SIZE,
      });
      cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
      await once(wss, 'listening');
      wss.on('connection', (ws) => {
        ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
      });
      const port = (wss.address() as AddressInfo).port;
      const conn = await connectClient(`ws://127.0.0.1:${port}/`, {
        extensions: [new ClientPerMessageDeflateFactory(c.ours)],
        maxMessageSize: MAX_SIZE,
      });
      cleanups.push(() => {
        conn.socket.destroy();
      });
      expect(conn.protocol.state).toBe(State.OPEN);
      expect(paramsOf(conn.protocol.extensions)).toEqual(c.params);

      const messages = messageMix(c.name.length);
      for (const message of messages) sendMessage(conn.protocol, message);
      conn.flush();
      await conn.waitFor((events) => countMessages(events) >= messages.length, ECHO_MS);
      expect(sameMessages(messagesOf(conn.events), messages)).toBeNull();
      // Both directions were compressed: far fewer bytes than payload.
      expect(conn.socket.bytesRead).toBeLessThan(totalBytes(messages) * 0.6);
      expect(conn.socket.bytesWritten).toBeLessThan(totalBytes(messages) * 0.6);

      conn.protocol.sendClose(1000);
      conn.flush();
      await timed(conn.closed, HANDSHAKE_MS, 'close');
      expect(conn.protocol.closeCode).toBe(1000);
    });
  }
});

describe('ws client ↔ core server', () => {
  const cases: Case[] = [
    { name: 'defaults', ours: { threshold: 0 }, theirs: { threshold: 0 }, params: P(false, false, 15, 15) },
    {
      name: 'ws asks for everything: no context takeover, windows 9 and 10',
      ours: { threshold: 0 },
      theirs: {
        threshold: 0,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 10,
      },
      params: P(true, true, 10, 9),
    },
    {
      name: 'server caps both windows at 8 (zlib quirk)',
      ours: { threshold: 0, serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
      theirs: { threshold: 0 },
      params: P(false, false, 8, 8),
    },
    {
      name: 'server forces no context takeover, windows 10 and 12',
      ours: {
        threshold: 0,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 12,
      },
      theirs: { threshold: 0 },
      params: P(true, true, 12, 10),
    },
    { name: 'default thresholds', ours: {}, theirs: {}, params: P(false, false, 15, 15) },
  ];

  for (const c of cases) {
    it(c.name, { timeout: TEST_MS }, async () => {
      const server = await startServer(
        { extensions: [new ServerPerMessageDeflateFactory(c.ours)], maxMessageSize: MAX_SIZE },
        (connection, event) => {
          if (event.kind !== 'frame') return;
          const p = connection.protocol;
          if (event.opcode === Opcode.TEXT) p.sendText(event.data, event.fin);
          else if (event.opcode === Opcode.BINARY) p.sendBinary(event.data, event.fin);
          else if (event.opcode === Opcode.CONT) p.sendContinuation(event.data, event.fin);
        },
      );
      cleanups.push(() => server.close());
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, {
        perMessageDeflate: c.theirs,
        maxPayload: MAX_SIZE,
      });
      cleanups.push(() => ws.terminate());
      await timed(once(ws, 'open'), HANDSHAKE_MS, 'open');
      const [connection] = server.connections;
      expect(paramsOf(connection!.protocol.extensions)).toEqual(c.params);

      const messages = messageMix(100 + c.name.length);
      const received: Array<{ type: string; data: Buffer }> = [];
      const echoed = new Promise<void>((resolve, reject) => {
        ws.on('message', (data, isBinary) => {
          received.push({ type: isBinary ? 'binary' : 'text', data: data as Buffer });
          if (received.length === messages.length) resolve();
        });
        ws.once('close', (code) => reject(new Error(`closed (${code}) after ${received.length} messages`)));
      });
      for (const m of messages) {
        const binary = m.type === 'binary';
        if (!m.fragmented) {
          ws.send(m.data, { binary });
          continue;
        }
        const third = Math.floor(m.data.byteLength / 3);
        ws.send(m.data.subarray(0, third), { binary, fin: false });
        ws.send(m.data.subarray(third, 2 * third), { binary, fin: false });
        ws.send(m.data.subarray(2 * third), { binary, fin: true });
      }
      await timed(echoed, ECHO_MS, `the echo of ${messages.length} messages`);
      expect(sameMessages(received, messages)).toBeNull();
      const threshold = c.theirs.threshold ?? 1024;
      if (threshold === 0) expect(connection!.socket.bytesRead).toBeLessThan(totalBytes(messages) * 0.6);
      expect(connection!.socket.bytesWritten).toBeLessThan(totalBytes(messages) * 0.6);

      ws.close(1000);
      const [code] = (await timed(once(ws, 'close'), HANDSHAKE_MS, 'close')) as [number];
      expect(code).toBe(1000);
    });
  }
});
