/**
 * The `logger` option of the `WebSocket` (ConnectionOptions): what the
 * driver and its core log over memory transports and against a real `ws`
 * server.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { bindOptions, deriveWebSocket } from './bind-options.js';
import { applyLogging } from './connection/logging.js';
import type { CloseEvent } from './events.js';
import { WebSocket as BrowserWebSocket, WebSocketStream as BrowserWebSocketStream } from './index.js';
import { WebSocket as LiteWebSocket, WebSocketStream as LiteWebSocketStream } from './lite.js';
import { WebSocket as NodeWebSocket } from './node.js';
import type { Logger } from './protocol/logging.js';
import { memoryServer } from './testing/memory-server.js';
import { memoryTransportPair } from './testing/memory-transport.js';
import { WebSocket as BaseWebSocket } from './websocket.js';

/** The `WebSocket` of an entry that logs (as `polysocket`'s, without its default compression). */
const WebSocket = deriveWebSocket(BaseWebSocket, applyLogging);
type WebSocket = BaseWebSocket;

/** A logger keeping every line, `warn` and `error` ones marked. */
function recorder(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (message) => lines.push(message),
    warn: (message) => lines.push(`WARN ${message}`),
    error: (message) => lines.push(`ERROR ${message}`),
  };
}

const closed = (ws: WebSocket): Promise<CloseEvent> =>
  new Promise((resolve) => ws.addEventListener('close', (event) => resolve(event as CloseEvent)));
const opened = (ws: WebSocket): Promise<void> =>
  new Promise((resolve) => ws.addEventListener('open', () => resolve()));
const message = (ws: WebSocket): Promise<unknown> =>
  new Promise((resolve) => ws.addEventListener('message', (event) => resolve((event as MessageEvent).data)));
/** The lines with the handshake's nonces (random) replaced. */
const stable = (lines: readonly string[]): string[] =>
  lines.map((line) => line.replace(/(Sec-WebSocket-(?:Key|Accept): )\S+/, '$1<nonce>'));

describe('a WebSocket with a logger', () => {
  test('logs the handshake heads (secrets redacted), frames, the close and the outcome', async () => {
    const logger = recorder();
    const server = memoryServer();
    const ws = new WebSocket('ws://alice:secret@example.com/chat?room=1&token=abc', [], {
      transport: server.factory,
      headers: { Cookie: 'session=1' },
      logger,
    });
    await opened(ws);
    ws.send('hello');
    expect(await message(ws)).toBe('hello');
    ws.close(1000, 'bye');
    expect((await closed(ws)).wasClean).toBe(true);
    expect(stable(logger.lines)).toEqual([
      '= connection is CONNECTING',
      'x opening transport to ws://***@example.com/chat?room=1&token=***',
      'x transport opened',
      '> GET /chat?room=1&token=*** HTTP/1.1',
      '> Host: example.com',
      '> Authorization: Basic ***',
      '> Upgrade: websocket',
      '> Connection: Upgrade',
      '> Sec-WebSocket-Key: <nonce>',
      '> Sec-WebSocket-Version: 13',
      '> Cookie: ***',
      '< HTTP/1.1 101 Switching Protocols',
      '< Upgrade: websocket',
      '< Connection: Upgrade',
      '< Sec-WebSocket-Accept: <nonce>',
      '= connection is OPEN',
      "> TEXT 'hello' [5 bytes]",
      "< TEXT 'hello' [5 bytes]",
      '> CLOSE 1000 (OK) bye [5 bytes]',
      '= connection is CLOSING',
      '< CLOSE 1000 (OK) bye [5 bytes]',
      '< EOF',
      '> EOF',
      '= connection is CLOSED',
      'x transport closed',
      '= closed 1000 (OK) bye [clean]',
    ]);
    expect(logger.lines.join('\n')).not.toMatch(/secret|abc|session=1|YWxpY2U6c2VjcmV0/);
  });

  test('a protocol violation: the core fails the connection, the driver says why (warn)', async () => {
    const logger = recorder();
    const server = memoryServer();
    const ws = new WebSocket('ws://example.com/', [], { transport: server.factory, logger });
    await opened(ws);
    const connection = await server.connection();
    logger.lines.length = 0;
    // Opcode 0x3 is reserved (RFC 6455, 5.2).
    await connection.writeRaw(Uint8Array.of(0x83, 0x00));
    await closed(ws);
    expect(logger.lines).toEqual([
      '! failing connection with code 1002: invalid opcode: 0x3',
      '> CLOSE 1002 (protocol error) invalid opcode: 0x3 [21 bytes]',
      '= connection is CLOSING',
      'WARN ! connection failed (protocol): the server broke the WebSocket protocol: invalid opcode: 0x3',
      // RFC 6455, 7.1.1: the server closes the TCP connection first.
      '< EOF',
      '> EOF',
      '= connection is CLOSED',
      'x closing transport',
      'x transport closed',
      '= closed 1006 (abnormal closure [internal]) [not clean]',
    ]);
    expect(ws.failure?.kind).toBe('protocol');
  });

  test('a rejected handshake: the response head and why', async () => {
    const logger = recorder();
    const server = memoryServer({ respond: (_request, protocol) => protocol.reject(403, 'Forbidden\n') });
    const ws = new WebSocket('ws://example.com/', [], { transport: server.factory, logger });
    await closed(ws);
    const from = logger.lines.indexOf('< HTTP/1.1 403 Forbidden');
    expect(from).toBeGreaterThan(0);
    expect(logger.lines.slice(from)).toEqual([
      '< HTTP/1.1 403 Forbidden',
      '< Connection: close',
      '< Content-Length: 10',
      '< Content-Type: text/plain; charset=utf-8',
      '! invalid handshake: server rejected WebSocket connection: HTTP 403',
      '> EOF',
      'WARN ! connection failed (handshake): Error during WebSocket handshake: server rejected WebSocket connection: HTTP 403',
      'x closing transport',
      'x transport closed',
      '< EOF',
      '= connection is CLOSED',
      '= closed 1006 (abnormal closure [internal]) [not clean]',
    ]);
  });

  test('a transport that cannot connect', async () => {
    const logger = recorder();
    const [transport] = memoryTransportPair({ autoOpen: false });
    const ws = new WebSocket('ws://127.0.0.1:8/', [], { transport, logger });
    transport.destroy(new Error('connect ECONNREFUSED 127.0.0.1:8'));
    await closed(ws);
    expect(logger.lines).toEqual([
      '= connection is CONNECTING',
      'x opening transport to ws://127.0.0.1:8/',
      'x transport closed: connect ECONNREFUSED 127.0.0.1:8',
      // The core hears the end of the stream too (what it writes then is dropped).
      '< EOF',
      '! invalid handshake: connection closed while reading HTTP head',
      '> EOF',
      '= connection is CLOSED',
      'WARN ! connection failed (transport): connect ECONNREFUSED 127.0.0.1:8',
      '= closed 1006 (abnormal closure [internal]) [not clean]',
    ]);
  });

  test('no response within openTimeoutMs', async () => {
    const logger = recorder();
    const server = memoryServer({ respond: () => undefined });
    const ws = new WebSocket('ws://example.com/', [], {
      transport: server.factory,
      logger,
      openTimeoutMs: 20,
    });
    await closed(ws);
    expect(logger.lines).toContain(
      'WARN ! connection failed (timeout): no connection within 20 ms (openTimeoutMs)',
    );
    expect(logger.lines).toContain('! failing connection with code 1006');
  });

  test('aborted while connecting', async () => {
    const logger = recorder();
    const server = memoryServer({ respond: () => undefined });
    const ws = new WebSocket('ws://example.com/', [], { transport: server.factory, logger });
    ws.close();
    await closed(ws);
    expect(logger.lines.filter((line) => line.startsWith('WARN'))).toEqual([
      'WARN ! connection failed (aborted): close() was called before the connection was established',
    ]);
  });

  test('keepalive: pings and pongs with the latency; then a pong that never comes', async () => {
    const logger = recorder();
    const server = memoryServer();
    const ws = new WebSocket('ws://example.com/', [], {
      transport: server.factory,
      logger,
      pingIntervalMs: 5,
      pongTimeoutMs: 30,
      closeTimeoutMs: 50,
    });
    await opened(ws);
    const connection = await server.connection();
    while (!logger.lines.some((line) => line.startsWith('% received keepalive pong'))) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const ping = logger.lines.indexOf('% sending keepalive ping');
    expect(logger.lines[ping + 1]).toMatch(/^> PING [0-9a-f]{2}( [0-9a-f]{2}){3} \[4 bytes\]$/);
    expect(logger.lines[ping + 2]).toMatch(/^< PONG [0-9a-f]{2}( [0-9a-f]{2}){3} \[4 bytes\]$/);
    expect(logger.lines[ping + 3]).toMatch(/^% received keepalive pong \(latency \d+\.\d{3} ms\)$/);
    // The server stops answering.
    connection.transport.removeAllListeners('data');
    await closed(ws);
    expect(logger.lines).toContain(
      'WARN ! connection failed (keepalive): no pong within 30 ms of a keepalive ping (pongTimeoutMs)',
    );
    expect(logger.lines).toContain('> CLOSE 1011 (internal error) keepalive ping timeout [24 bytes]');
  });

  test('a Blob that cannot be read', async () => {
    const logger = recorder();
    const server = memoryServer();
    const ws = new WebSocket('ws://example.com/', [], { transport: server.factory, logger });
    await opened(ws);
    const blob = new Blob(['x']);
    blob.arrayBuffer = () => Promise.reject(new Error('file gone'));
    ws.send(blob);
    await closed(ws);
    expect(logger.lines).toContain(
      'WARN ! connection failed (blob): a Blob passed to send() could not be read (file gone)',
    );
    expect(logger.lines).toContain('> CLOSE 1011 (internal error) failed to read a Blob [23 bytes]');
  });

  test('bindOptions: a bound logger, and null per call turns it off', async () => {
    const logger = recorder();
    const server = memoryServer();
    const Logged = bindOptions(WebSocket, { transport: server.factory, logger });
    const quiet = new Logged('ws://example.com/', [], { logger: null });
    await opened(quiet);
    quiet.close();
    await closed(quiet);
    expect(logger.lines).toEqual([]);
    const loud = new Logged('ws://example.com/');
    await opened(loud);
    loud.close();
    await closed(loud);
    expect(logger.lines).toContain('= connection is OPEN');
  });

  test('an invalid logger throws in the constructor', () => {
    const server = memoryServer();
    expect(
      () => new WebSocket('ws://example.com/', [], { transport: server.factory, logger: {} as Logger }),
    ).toThrow(TypeError);
    expect(server.connections).toHaveLength(0);
  });

  test('a logger that throws does not break the connection', async () => {
    const server = memoryServer();
    const ws = new WebSocket('ws://example.com/', [], {
      transport: server.factory,
      logger: {
        debug: () => {
          throw new Error('disk full');
        },
      },
    });
    await opened(ws);
    ws.send('still here');
    expect(await message(ws)).toBe('still here');
    ws.close();
    expect((await closed(ws)).wasClean).toBe(true);
  });

  test('against a real ws server, through the Node entry point', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket) =>
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
    );
    try {
      const logger = recorder();
      const { port } = wss.address() as AddressInfo;
      const ws = new NodeWebSocket(`ws://127.0.0.1:${port}/echo`, [], { logger });
      await opened(ws);
      ws.send(Uint8Array.of(1, 2, 3));
      await message(ws);
      ws.close(4000, 'done');
      expect((await closed(ws)).code).toBe(4000);
      // Whether the driver closes the socket before Node reports it closed is timing.
      const lines = stable(logger.lines).filter((line) => line !== 'x closing transport');
      expect(lines).toEqual([
        '= connection is CONNECTING',
        `x opening transport to ws://127.0.0.1:${port}/echo`,
        'x transport opened',
        '> GET /echo HTTP/1.1',
        `> Host: 127.0.0.1:${port}`,
        '> Upgrade: websocket',
        '> Connection: Upgrade',
        '> Sec-WebSocket-Key: <nonce>',
        '> Sec-WebSocket-Version: 13',
        '> Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
        '< HTTP/1.1 101 Switching Protocols',
        '< Upgrade: websocket',
        '< Connection: Upgrade',
        '< Sec-WebSocket-Accept: <nonce>',
        '= connection is OPEN',
        '> BINARY 01 02 03 [3 bytes]',
        '< BINARY 01 02 03 [3 bytes]',
        '> CLOSE 4000 (private use) done [6 bytes]',
        '= connection is CLOSING',
        '< CLOSE 4000 (private use) done [6 bytes]',
        '< EOF',
        '> EOF',
        '= connection is CLOSED',
        'x transport closed',
        '= closed 4000 (private use) done [clean]',
      ]);
    } finally {
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  test('the polysocket entry logs, WebSocketStream too', async () => {
    const server = memoryServer();
    const logger = recorder();
    const ws = new BrowserWebSocket('ws://example.com/', [], { transport: server.factory, logger });
    await opened(ws);
    ws.close();
    await closed(ws);
    expect(logger.lines).toContain('= connection is OPEN');
    expect(logger.lines).toContain('> Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits');
    const streamLogger = recorder();
    const stream = new BrowserWebSocketStream(
      'ws://example.com/',
      {},
      { transport: server.factory, logger: streamLogger },
    );
    await stream.opened;
    stream.close();
    await stream.closed;
    expect(streamLogger.lines).toContain('= connection is OPEN');
    expect(streamLogger.lines.at(-1)).toMatch(/^= closed 1005 /);
  });
});

describe('polysocket/lite has no logging', () => {
  test('its WebSocket and WebSocketStream refuse a logger, naming the entry points that log', () => {
    const server = memoryServer();
    const message = 'logger needs the polysocket or polysocket/node entry point; polysocket/lite has none';
    expect(
      () => new LiteWebSocket('ws://example.com/', [], { transport: server.factory, logger: console }),
    ).toThrow(new TypeError(message));
    expect(
      () => new LiteWebSocketStream('ws://example.com/', {}, { transport: server.factory, logger: console }),
    ).toThrow(new TypeError(message));
    expect(
      () =>
        new (bindOptions(LiteWebSocket, { transport: server.factory, logger: console }))('ws://example.com/'),
    ).toThrow(TypeError);
    expect(server.connections).toHaveLength(0);
  });

  test('null and undefined are no logger', async () => {
    const server = memoryServer();
    const ws = new LiteWebSocket('ws://example.com/', [], { transport: server.factory, logger: null });
    await opened(ws);
    ws.close();
    await closed(ws);
  });
});
