/**
 * Failing the connection closes it at once, over real sockets on 127.0.0.1
 * (issue 11): polysocket's WebSocket (Node entry point) against raw `net`
 * servers that break the protocol and then keep the TCP connection open,
 * reading and ignoring what they get, never closing.
 *
 * RFC 6455, 7.1.7: to _Fail the WebSocket Connection_ the endpoint sends a
 * Close frame if the connection is established, then closes the connection;
 * it does not wait for the peer (Chromium fires error and close at once).
 * Each client here has `closeTimeoutMs: null`: waiting for the peer would
 * never end, so a pass cannot come from a timer. The server checks that the
 * close frame came first (masked, with the right code) and then the FIN.
 */
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket, type WebSocketErrorEvent } from '../../src/node.js';
import { testCertificateChain } from '../runtimes/certs.js';
import { type RawServer, rawServer, upgrade } from './raw-server.js';
import { expectNothingLeft, resources } from './resources.js';

const servers: RawServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

/** What the server saw after its bad bytes: everything the client wrote, and when it half-closed. */
interface Seen {
  bytes: Buffer;
  ended: boolean;
  readonly done: Promise<void>;
  /** The server's end of the connection, once the request arrived. */
  readonly socket: Promise<net.Socket>;
}

/** A server that answers with `response(key)`, then reads everything and never closes. */
async function stubbornServer(
  response: (key: string) => Buffer | string,
): Promise<{ url: string; seen: Seen }> {
  let resolveDone: () => void = () => {};
  let resolveSocket: (socket: net.Socket) => void = () => {};
  const seen: Seen = {
    bytes: Buffer.alloc(0),
    ended: false,
    done: new Promise((resolve) => {
      resolveDone = resolve;
    }),
    socket: new Promise((resolve) => {
      resolveSocket = resolve;
    }),
  };
  const server = await rawServer((socket: net.Socket, key) => {
    resolveSocket(socket);
    socket.on('data', (chunk: Buffer) => {
      seen.bytes = Buffer.concat([seen.bytes, chunk]);
    });
    socket.on('end', () => {
      seen.ended = true;
      resolveDone();
    });
    socket.on('close', () => resolveDone());
    socket.write(response(key));
  });
  servers.push(server);
  return { url: server.url, seen };
}

/** The close code of a masked client close frame that makes up all of `bytes`, or null. */
function closeCodeOf(bytes: Buffer): number | null {
  if (bytes.length < 8 || bytes[0] !== 0x88 || (bytes[1]! & 0x80) === 0) return null;
  if (6 + (bytes[1]! & 0x7f) !== bytes.length) return null;
  return ((bytes[6]! ^ bytes[2]!) << 8) | (bytes[7]! ^ bytes[3]!);
}

/** The masked frames a client wrote, unmasked: opcode and payload of each, in order. */
function clientFrames(bytes: Buffer): Array<{ opcode: number; payload: Buffer }> {
  const frames: Array<{ opcode: number; payload: Buffer }> = [];
  let offset = 0;
  while (offset + 6 <= bytes.length) {
    let length = bytes[offset + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      length = bytes.readUInt16BE(offset + 2);
      header = 4;
    }
    const key = bytes.subarray(offset + header, offset + header + 4);
    const payload = Buffer.from(bytes.subarray(offset + header + 4, offset + header + 4 + length));
    for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
    frames.push({ opcode: bytes[offset]! & 0x0f, payload });
    offset += header + 4 + length;
  }
  return frames;
}

/** Connect, record events until close; nothing may wait on a timer. */
async function run(
  url: string,
): Promise<{ events: string[]; error: WebSocketErrorEvent | null; close: CloseEvent }> {
  const ws = new WebSocket(url, [], { closeTimeoutMs: null, openTimeoutMs: null, compression: false });
  const events: string[] = [];
  let error: WebSocketErrorEvent | null = null;
  const close = await new Promise<CloseEvent>((resolve) => {
    ws.addEventListener('open', () => events.push('open'));
    ws.addEventListener('message', (event) => events.push(`message ${String((event as MessageEvent).data)}`));
    ws.addEventListener('error', (event) => {
      events.push('error');
      error = event as WebSocketErrorEvent;
    });
    ws.addEventListener('close', (event) => {
      events.push(`close ${(event as CloseEvent).code}`);
      resolve(event as CloseEvent);
    });
  });
  return { events, error, close };
}

const frames = (...bytes: number[]) => Buffer.from(bytes);

describe('a protocol violation from a server that keeps TCP open: close frame, FIN, error and close 1006 at once', () => {
  test.each([
    ['reserved bits (RSV1 without an extension)', frames(0xc1, 0x02, 0x6f, 0x6b), 1002],
    ['a reserved opcode', frames(0x83, 0x00), 1002],
    ['invalid UTF-8 in a text frame', frames(0x81, 0x02, 0xc3, 0x28), 1007],
    [
      'a control frame over 125 bytes',
      Buffer.concat([frames(0x89, 0x7e, 0x00, 0x7e), Buffer.alloc(126, 0x61)]),
      1002,
    ],
    ['an invalid close code (999)', frames(0x88, 0x02, 0x03, 0xe7), 1002],
    ['a masked frame from the server', frames(0x81, 0x82, 1, 2, 3, 4, 0x6e, 0x6d), 1002],
  ])('%s', async (_, bad, code) => {
    const before = resources();
    const { url, seen } = await stubbornServer((key) => Buffer.concat([Buffer.from(upgrade(key)), bad]));
    const { events, error, close } = await run(url);
    expect(events).toEqual(['open', 'error', 'close 1006']);
    expect(close.wasClean).toBe(false);
    expect(error!.error).toMatchObject({ kind: 'protocol', closeCode: code });
    await seen.done;
    // The close frame, then the FIN: nothing else, nothing after.
    expect(closeCodeOf(seen.bytes)).toBe(code);
    expect(seen.ended).toBe(true);
    // The server's own socket stays open by design: only the client's must be gone.
    await expectNothingLeft({ ...before, sockets: before.sockets + 1 });
  });
});

describe('complete messages before a violation: their events first, and replies reach the server before the close frame', () => {
  const messages = Buffer.concat([
    frames(0x81, 0x03, 0x6f, 0x6e, 0x65), // "one"
    frames(0x01, 0x02, 0x74, 0x77, 0x80, 0x01, 0x6f), // "two" in two fragments
  ]);
  test.each([
    ['reserved bits (RSV1 without an extension)', frames(0xc1, 0x02, 0x6f, 0x6b)],
    ['a reserved opcode', frames(0x83, 0x00)],
    ['a continuation with nothing to continue', frames(0x80, 0x01, 0x78)],
  ])('%s, in one write and byte by byte', async (_, bad) => {
    for (const byteByByte of [false, true]) {
      const { url, seen } = await stubbornServer((key) => Buffer.from(upgrade(key)));
      const ws = new WebSocket(url, [], { closeTimeoutMs: null, openTimeoutMs: null, compression: false });
      const events: string[] = [];
      const closed = new Promise<void>((resolve) => {
        ws.addEventListener('message', (event) => {
          const data = String((event as MessageEvent).data);
          events.push(`message ${data}`);
          ws.send(`re: ${data}`);
        });
        ws.addEventListener('error', () => events.push('error'));
        ws.addEventListener('close', (event) => {
          events.push(`close ${(event as CloseEvent).code}`);
          resolve();
        });
      });
      await new Promise((resolve) => ws.addEventListener('open', resolve));
      await writeTo(await seen.socket, Buffer.concat([messages, bad]), byteByByte);
      await closed;
      expect(events, byteByByte ? 'byte by byte' : 'one write').toEqual([
        'message one',
        'message two',
        'error',
        'close 1006',
      ]);
      await seen.done;
      const written = clientFrames(seen.bytes);
      expect(
        written.map(({ opcode, payload }) =>
          opcode === 8 ? `close ${payload.readUInt16BE(0)}` : payload.toString(),
        ),
      ).toEqual(['re: one', 're: two', 'close 1002']);
    }
  });
});

/** Write `bytes` to a connection, at once or one byte per write (each flushed before the next). */
async function writeTo(socket: net.Socket, bytes: Buffer, byteByByte: boolean): Promise<void> {
  if (!byteByByte) {
    socket.write(bytes);
    return;
  }
  socket.setNoDelay(true);
  for (const byte of bytes) {
    await new Promise((resolve) => socket.write(Buffer.of(byte), resolve));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('a response head that cannot be parsed, from a server that keeps TCP open: FIN, error and close 1006 at once', () => {
  test.each([
    ['too many headers', `HTTP/1.1 101 Switching Protocols\r\n${'X-Filler: 1\r\n'.repeat(200)}\r\n`],
    ['a line over 8 KiB', `HTTP/1.1 101 Switching Protocols\r\nX-Long: ${'a'.repeat(9000)}\r\n\r\n`],
    ['a folded header', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n  websocket\r\n\r\n'],
    ['no HTTP at all', 'SSH-2.0-OpenSSH_9.6\r\n\r\n'],
  ])('%s', async (_, head) => {
    const before = resources();
    const { url, seen } = await stubbornServer(() => head);
    const { events, error } = await run(url);
    expect(events).toEqual(['error', 'close 1006']);
    expect(error!.error.kind).toBe('handshake');
    expect(error!.error.message).toMatch(
      /^WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/' failed: Error during WebSocket handshake: /,
    );
    await seen.done;
    expect(seen.ended).toBe(true);
    // The server's own socket stays open by design: only the client's must be gone.
    await expectNothingLeft({ ...before, sockets: before.sockets + 1 });
  });
});

describe('failures say why', () => {
  test('a refused TCP connection: kind transport, the socket error as the cause', async () => {
    const { url } = await stubbornServer(() => '');
    await servers.pop()!.stop(); // the port is closed now
    const { events, error } = await run(url);
    expect(events).toEqual(['error', 'close 1006']);
    expect(error!.error.kind).toBe('transport');
    expect(error!.error.message).toContain('ECONNREFUSED');
    expect((error!.error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  test('a TLS certificate that does not verify: kind transport, the TLS error as the cause', async () => {
    // A server certificate from a CA the client does not trust.
    const chain = testCertificateChain();
    const server = tls.createServer({ cert: chain.cert, key: chain.key }, (socket) =>
      socket.on('error', () => {}),
    );
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const { events, error } = await run(`wss://127.0.0.1:${port}/`);
      expect(events).toEqual(['error', 'close 1006']);
      expect(error!.error.kind).toBe('transport');
      expect(error!.error.message).toMatch(/certificate/i);
      expect((error!.error.cause as NodeJS.ErrnoException).code).toMatch(/CERT|SIGNATURE/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('a wrong Sec-WebSocket-Accept: kind handshake', async () => {
    const { url } = await stubbornServer(
      () =>
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
    );
    const { error } = await run(url);
    expect(error!.error.kind).toBe('handshake');
    expect(error!.error.message).toContain('Sec-WebSocket-Accept');
  });
});
