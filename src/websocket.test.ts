import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CloseEvent } from './events.js';
import { WebSocketConnectionError, type WebSocketErrorEvent } from './failure.js';
import { InvalidStatusError } from './protocol/errors.js';
import { frame, Opcode, serializeFrame } from './protocol/frames.js';
import { Headers } from './protocol/headers.js';
import { response } from './protocol/http11.js';
import { concat } from './testing/chunking.js';
import { memoryServer } from './testing/memory-server.js';
import { memoryTransportPair } from './testing/memory-transport.js';
import { WebSocket, type WebSocketOptions } from './websocket.js';

const te = new TextEncoder();
const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * Wait until `done()` holds (at most 2 s). Event tasks run in the check
 * phase, so a fixed timer can fire first on a loaded machine: wait for the
 * events themselves.
 */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 2000; waited += 5) await tick(5);
}

interface Tracked {
  readonly log: string[];
  readonly closed: Promise<CloseEvent>;
  readonly opened: Promise<void>;
}

/** Record every event as a string; `closed` resolves with the close event. */
function track(ws: WebSocket): Tracked {
  const log: string[] = [];
  ws.addEventListener('open', () => log.push('open'));
  ws.addEventListener('message', (event) => {
    const { data } = event as MessageEvent;
    log.push(`message:${typeof data === 'string' ? data : Object.prototype.toString.call(data)}`);
  });
  ws.addEventListener('error', (event) => log.push(`error:${event.constructor.name}`));
  const closed = new Promise<CloseEvent>((resolve) => {
    ws.addEventListener('close', (event) => {
      const { code, reason, wasClean } = event as CloseEvent;
      log.push(`close:${code}:${reason}:${wasClean}`);
      resolve(event as CloseEvent);
    });
  });
  const opened = new Promise<void>((resolve) => ws.addEventListener('open', () => resolve()));
  return { log, closed, opened };
}

/** A WebSocket connected to a fresh memory server. */
function connect(
  serverOptions: Parameters<typeof memoryServer>[0] = {},
  protocols: string | string[] = [],
  options: WebSocketOptions = {},
): { ws: WebSocket; server: ReturnType<typeof memoryServer>; tracked: Tracked } {
  const server = memoryServer(serverOptions);
  const ws = new WebSocket('ws://example.com/chat?x=1', protocols, { transport: server.factory, ...options });
  return { ws, server, tracked: track(ws) };
}

let timersBefore = 0;
const activeTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
beforeEach(() => {
  timersBefore = activeTimers();
});
afterEach(async () => {
  // No timer may outlive a closed connection. The connection's own timers
  // last seconds (close timeout, keepalive); waiting up to 1 s lets the test
  // runner's short-lived timers of a loaded machine settle first.
  for (let waited = 0; activeTimers() > timersBefore && waited < 1000; waited += 50) await tick(50);
  expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
});

describe('constructor', () => {
  const transport = () => memoryTransportPair({ autoOpen: false })[0];

  test.each([
    ['ws://example.com', 'ws://example.com/'],
    ['wss://example.com:8443/a?b#', null],
    ['http://example.com/a?b', 'ws://example.com/a?b'],
    ['https://EXAMPLE.com:443/', 'wss://example.com/'],
    ['ws://[::1]:9000/p', 'ws://[::1]:9000/p'],
    ['ftp://example.com/', null],
    ['ws://example.com/#frag', null],
    ['ws://example.com/#', null],
    ['/relative', null],
    ['not a url', null],
    ['ws://exa mple.com/', null],
  ])('URL %s → %s', (input, expected) => {
    if (expected === null) {
      expect(() => new WebSocket(input, [], { transport: transport() })).toThrow(
        expect.objectContaining({ name: 'SyntaxError' }),
      );
      try {
        new WebSocket(input, [], { transport: transport() });
      } catch (error) {
        expect(error).toBeInstanceOf(DOMException);
      }
    } else {
      const ws = new WebSocket(input, [], { transport: transport(), openTimeoutMs: null });
      expect(ws.url).toBe(expected);
    }
  });

  test('relative URLs resolve against location when there is one', () => {
    const global = globalThis as { location?: unknown };
    global.location = { href: 'https://example.org/app/page.html' };
    try {
      const ws = new WebSocket('../socket', [], { transport: transport(), openTimeoutMs: null });
      expect(ws.url).toBe('wss://example.org/socket');
    } finally {
      delete global.location;
    }
  });

  test('accepts a URL object', () => {
    const ws = new WebSocket(new URL('ws://example.com/x'), [], {
      transport: transport(),
      openTimeoutMs: null,
    });
    expect(ws.url).toBe('ws://example.com/x');
  });

  test.each([[['chat', 'chat']], [['chat', 'CHAT']], [['']], [['a b']], [['é']], ['a,b']])(
    'protocols %j → SyntaxError',
    (protocols) => {
      expect(() => new WebSocket('ws://x/', protocols, { transport: transport() })).toThrow(
        expect.objectContaining({ name: 'SyntaxError' }),
      );
    },
  );

  test('initial attributes', () => {
    const ws = new WebSocket('ws://x/', 'chat', { transport: transport(), openTimeoutMs: null });
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    expect(ws.bufferedAmount).toBe(0);
    expect(ws.protocol).toBe('');
    expect(ws.extensions).toBe('');
    expect(ws.binaryType).toBe('blob');
    expect(ws.onopen).toBeNull();
    expect(Object.prototype.toString.call(ws)).toBe('[object WebSocket]');
    expect(ws).toBeInstanceOf(EventTarget);
  });

  test('constants on the constructor and the prototype, read-only', () => {
    for (const [name, value] of [
      ['CONNECTING', 0],
      ['OPEN', 1],
      ['CLOSING', 2],
      ['CLOSED', 3],
    ] as const) {
      expect(WebSocket[name]).toBe(value);
      expect(WebSocket.prototype[name]).toBe(value);
      expect(Object.getOwnPropertyDescriptor(WebSocket, name)).toMatchObject({
        writable: false,
        enumerable: true,
      });
      expect(Object.getOwnPropertyDescriptor(WebSocket.prototype, name)).toMatchObject({ writable: false });
    }
  });

  test('binaryType ignores values other than blob and arraybuffer', () => {
    const ws = new WebSocket('ws://x/', [], { transport: transport(), openTimeoutMs: null });
    ws.binaryType = 'arraybuffer';
    expect(ws.binaryType).toBe('arraybuffer');
    ws.binaryType = 'nodebuffer' as BinaryType;
    expect(ws.binaryType).toBe('arraybuffer');
    ws.binaryType = 'blob';
    expect(ws.binaryType).toBe('blob');
  });

  test('without a transport: TypeError; bad options: RangeError', () => {
    expect(() => new WebSocket('ws://x/')).toThrow(TypeError);
    expect(() => new WebSocket('ws://x/', [], { transport: transport(), closeTimeoutMs: -1 })).toThrow(
      RangeError,
    );
  });

  test('send while CONNECTING throws InvalidStateError', () => {
    const ws = new WebSocket('ws://x/', [], { transport: transport(), openTimeoutMs: null });
    expect(() => ws.send('x')).toThrow(expect.objectContaining({ name: 'InvalidStateError' }));
  });
});

describe('opening handshake', () => {
  test('opens: request carries protocols, headers and origin; protocol is set', async () => {
    const { ws, server, tracked } = connect({ subprotocols: ['superchat', 'chat'] }, ['chat', 'superchat'], {
      headers: { 'X-Token': 'abc' },
      origin: 'https://app.example',
    });
    let stateInOpen = -1;
    ws.onopen = () => {
      stateInOpen = ws.readyState;
    };
    await tracked.opened;
    expect(stateInOpen).toBe(WebSocket.OPEN);
    expect(ws.protocol).toBe('chat');
    expect(ws.extensions).toBe('');
    const request = (await server.connection()).request!;
    expect(request.path).toBe('/chat?x=1');
    expect(request.headers.get('Host')).toBe('example.com');
    expect(request.headers.get('Sec-WebSocket-Protocol')).toBe('chat, superchat');
    expect(request.headers.get('X-Token')).toBe('abc');
    expect(request.headers.get('Origin')).toBe('https://app.example');
    ws.close();
    await tracked.closed;
  });

  test('rejected with 403: error, then close 1006, no open', async () => {
    const { ws, tracked } = connect({
      respond: (_request, protocol) => protocol.reject(403, 'Forbidden\n'),
    });
    const event = await tracked.closed;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
    expect(event).toBeInstanceOf(CloseEvent);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  test('rejected with a body that never arrives whole: fails at the end of the head', async () => {
    // The body is never read: the open timeout (far beyond the test's) is not what ends it.
    const { server, tracked } = connect({ respond: () => undefined }, [], { openTimeoutMs: 60_000 });
    const connection = await server.connection();
    await until(() => connection.request !== null);
    void connection.writeRaw(te.encode('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\npartial'));
    await tracked.closed;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
  });

  test('wrong Sec-WebSocket-Accept fails the connection', async () => {
    const { tracked } = connect({
      respond: (request, protocol) => {
        const accepted = protocol.accept(request);
        const headers = new Headers();
        for (const [name, value] of accepted.headers) {
          headers.append(name, name === 'Sec-WebSocket-Accept' ? 'dGhlIHNhbXBsZSBub25jZQ==' : value);
        }
        return response(101, 'Switching Protocols', headers);
      },
    });
    await tracked.closed;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
  });

  test('server selecting none of the offered subprotocols fails the connection', async () => {
    const { ws, tracked } = connect({}, ['chat']);
    await tracked.closed;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
    expect(ws.protocol).toBe('');
  });

  test('server selecting a subprotocol that was not offered fails the connection', async () => {
    const { tracked } = connect({ selectSubprotocol: () => 'other' }, []);
    await tracked.closed;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
  });

  test('no response within openTimeoutMs: error, then close 1006', async () => {
    const { tracked, server } = connect({ respond: () => undefined }, [], { openTimeoutMs: 30 });
    await tracked.closed;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
    await (await server.connection()).closed;
  });

  test('a transport that fails to connect: error, then close 1006', async () => {
    const [client] = memoryTransportPair({ autoOpen: false });
    const ws = new WebSocket('ws://x/', [], { transport: client });
    const tracked = track(ws);
    client.destroy(new Error('ECONNREFUSED'));
    await tracked.closed;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
  });

  test('close() while CONNECTING: CLOSING at once, then error and close 1006', async () => {
    const { ws, tracked } = connect();
    ws.close(1000, 'never mind');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    ws.close(); // does nothing
    await tracked.closed;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
  });

  test('close() after the handshake but before the open event: same as CONNECTING', async () => {
    const { ws, server, tracked } = connect();
    await server.connection();
    // The WebSocket's own listener runs first: once it has read the 101
    // response, the open event is queued but not dispatched.
    server.clients[0]!.once('data', () => {
      expect(ws.readyState).toBe(WebSocket.CONNECTING);
      ws.close();
    });
    await tracked.closed;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
  });
});

describe('messages', () => {
  async function opened(serverOptions: Parameters<typeof memoryServer>[0] = {}) {
    const result = connect(serverOptions);
    await result.tracked.opened;
    return { ...result, connection: await result.server.connection() };
  }

  test('text, and binary as Blob (default) or ArrayBuffer, with origin', async () => {
    const { ws, connection, tracked } = await opened();
    const events: MessageEvent[] = [];
    ws.onmessage = (event) => events.push(event);
    connection.sendText('héllo');
    connection.sendBinary(Uint8Array.of(1, 2, 3));
    await until(() => events.length === 2);
    ws.binaryType = 'arraybuffer';
    connection.sendBinary(Uint8Array.of(4, 5));
    await until(() => events.length === 3);
    expect(events.map((e) => e.constructor.name)).toEqual(['MessageEvent', 'MessageEvent', 'MessageEvent']);
    expect(events[0]!.data).toBe('héllo');
    expect(events[0]!.origin).toBe('ws://example.com');
    expect(events[1]!.data).toBeInstanceOf(Blob);
    expect([...new Uint8Array(await (events[1]!.data as Blob).arrayBuffer())]).toEqual([1, 2, 3]);
    expect(events[2]!.data).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(events[2]!.data as ArrayBuffer)]).toEqual([4, 5]);
    ws.close();
    await tracked.closed;
  });

  test('binaryType is read when the event is dispatched, not when bytes arrive', async () => {
    const { ws, connection, tracked } = await opened();
    const data: unknown[] = [];
    ws.onmessage = (event) => data.push(event.data);
    connection.sendBinary(Uint8Array.of(1));
    await Promise.resolve(); // bytes are in, the task isn't run yet
    ws.binaryType = 'arraybuffer';
    await until(() => data.length === 1);
    expect(data[0]).toBeInstanceOf(ArrayBuffer);
    ws.close();
    await tracked.closed;
  });

  test('a fragmented message is delivered once, whole; a leading BOM is stripped from text', async () => {
    const { ws, connection, tracked } = await opened();
    const data: unknown[] = [];
    ws.onmessage = (event) => data.push(event.data);
    connection.protocol.sendText(te.encode('\uFEFFfrag'), false);
    connection.protocol.sendContinuation(te.encode('men'), false);
    connection.protocol.sendContinuation(te.encode('ted'), true);
    connection.flush();
    await until(() => data.length === 1);
    expect(data).toEqual(['fragmented']);
    ws.close();
    await tracked.closed;
  });

  test('each message event runs in its own task: microtasks from one handler run before the next', async () => {
    const { ws, connection, tracked } = await opened();
    const order: string[] = [];
    ws.onmessage = (event) => {
      order.push(`message ${event.data}`);
      queueMicrotask(() => order.push(`microtask after ${event.data}`));
      void Promise.resolve()
        .then(() => undefined)
        .then(() => order.push(`chained microtask after ${event.data}`));
    };
    // Both frames arrive in one chunk.
    connection.protocol.sendText(te.encode('1'));
    connection.protocol.sendText(te.encode('2'));
    connection.flush();
    await until(() => order.length === 6);
    expect(order).toEqual([
      'message 1',
      'microtask after 1',
      'chained microtask after 1',
      'message 2',
      'microtask after 2',
      'chained microtask after 2',
    ]);
    ws.close();
    await tracked.closed;
  });

  test('messages arriving after close() are not dispatched', async () => {
    const { ws, connection, tracked } = await opened();
    connection.sendText('late');
    ws.close();
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'close:1005::true']);
  });

  test('a message larger than maxMessageSize fails the connection with 1009', async () => {
    const server = memoryServer();
    const ws = new WebSocket('ws://x/', [], { transport: server.factory, maxMessageSize: 4 });
    const tracked = track(ws);
    await tracked.opened;
    const connection = await server.connection();
    connection.sendText('12345');
    await tracked.closed;
    expect(connection.frames.at(-1)?.opcode).toBe(Opcode.CLOSE);
    expect([...connection.frames.at(-1)!.data.subarray(0, 2)]).toEqual([0x03, 0xf1]);
    expect(tracked.log).toEqual(['open', 'error:Event', 'close:1006::false']);
  });

  test('invalid UTF-8 from the server: 1007 is sent; error, then close 1006', async () => {
    const { connection, tracked } = await opened();
    await connection.writeRaw(Uint8Array.of(0x81, 0x02, 0xc3, 0x28));
    await tracked.closed;
    expect([...connection.frames.at(-1)!.data.subarray(0, 2)]).toEqual([0x03, 0xef]);
    expect(tracked.log).toEqual(['open', 'error:Event', 'close:1006::false']);
  });

  test('the server closing the stream mid-frame: close 1006 without error (a lost connection, as in Chromium)', async () => {
    const { connection, tracked } = await opened();
    await connection.writeRaw(Uint8Array.of(0x81, 0x05, 0x48, 0x65));
    await connection.transport.end();
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'close:1006::false']);
  });
});

describe('send()', () => {
  async function opened() {
    const result = connect();
    await result.tracked.opened;
    return { ...result, connection: await result.server.connection() };
  }

  test('strings, ArrayBuffers, views and Blobs arrive in order', async () => {
    const { ws, connection, tracked } = await opened();
    const buffer = Uint8Array.of(9, 8, 7, 6).buffer;
    ws.send('text \uD800'); // a lone surrogate becomes U+FFFD
    ws.send(buffer);
    ws.send(new Uint8Array(buffer, 1, 2));
    ws.send(new DataView(buffer, 3, 1));
    ws.send(new Blob(['blob ', Uint8Array.of(0x41)]));
    ws.send('after blob');
    ws.send(Uint16Array.of(0x0102));
    await tick(10);
    const sent = connection.frames.map((f) =>
      f.opcode === Opcode.TEXT ? new TextDecoder().decode(f.data) : [...f.data],
    );
    expect(sent).toEqual([
      'text \uFFFD',
      [9, 8, 7, 6],
      [8, 7],
      [6],
      [98, 108, 111, 98, 32, 65],
      'after blob',
      [2, 1],
    ]);
    ws.close();
    await tracked.closed;
  });

  test('frames sent in one turn of the event loop go out in one write', async () => {
    const { ws, server, tracked } = await opened();
    const client = (await server.connection()).client;
    const before = client.writeCount;
    ws.send('a');
    ws.send('b');
    ws.send(Uint8Array.of(1));
    await tick();
    expect(client.writeCount).toBe(before + 1);
    ws.close();
    await tracked.closed;
  });

  test('a large frame is written at once, after the small frames staged before it, in order', async () => {
    const { ws, server, tracked } = await opened();
    const connection = await server.connection();
    const client = connection.client;
    const before = client.writeCount;
    const large = new Uint8Array(20_000).fill(7);
    ws.send('first');
    ws.send(large);
    // Synchronously: the run holding 'first', then the large frame.
    expect(client.writeCount).toBe(before + 2);
    ws.send('last');
    expect(client.writeCount).toBe(before + 2);
    await until(() => connection.frames.length === 3);
    expect(connection.frames.map((f) => f.data.byteLength)).toEqual([5, 20_000, 4]);
    expect(connection.texts).toEqual(['first', 'last']);
    expect(client.writeCount).toBe(before + 3);
    ws.close();
    await tracked.closed;
  });

  test('a transport whose write() throws instead of rejecting fails the connection; send() does not throw', async () => {
    const { ws, server, tracked } = await opened();
    const client = (await server.connection()).client;
    client.write = () => {
      throw new Error('broken transport');
    };
    // A large frame is written inside send() itself.
    expect(() => ws.send(new Uint8Array(20_000))).not.toThrow();
    const event = await tracked.closed;
    expect(event.code).toBe(1006);
    expect(event.wasClean).toBe(false);
    // As for a write that rejects: the transport failed, not the protocol,
    // so close 1006 without an error event (as Chromium on a reset).
    expect(tracked.log).toEqual(['open', 'close:1006::false']);
  });

  test('a burst of small sends is coalesced into bounded writes, in order, and bufferedAmount drops after the last', async () => {
    const { ws, server, tracked } = await opened();
    const connection = await server.connection();
    const client = connection.client;
    const before = client.writeCount;
    client.hold();
    // 300 × 1 KiB frames: more than four 64 KiB runs, so several writes.
    const sent = Array.from({ length: 300 }, (_, i) =>
      `${i} `.padEnd(1024, String.fromCharCode(97 + (i % 26))),
    );
    for (const message of sent) ws.send(message);
    await tick();
    const writes = client.writeCount - before;
    expect(writes).toBeGreaterThanOrEqual(4);
    expect(writes).toBeLessThanOrEqual(6);
    expect(ws.bufferedAmount).toBe(300 * 1024);
    client.release();
    await until(() => connection.texts.length === sent.length);
    expect(connection.texts).toEqual(sent);
    await until(() => ws.bufferedAmount === 0);
    ws.close();
    await tracked.closed;
  });

  test('bufferedAmount counts application bytes until the transport accepted them', async () => {
    const { ws, server, tracked } = await opened();
    const client = (await server.connection()).client;
    client.hold();
    ws.send('héllo'); // 6 bytes of UTF-8
    ws.send(new ArrayBuffer(10));
    ws.send(new Blob(['abc']));
    expect(ws.bufferedAmount).toBe(19);
    await tick(5);
    expect(ws.bufferedAmount).toBe(19);
    client.release();
    await tick(5);
    expect(ws.bufferedAmount).toBe(0);
    ws.close();
    await tracked.closed;
    // After close, send() is silently ignored but still counted (WHATWG send(), step 2).
    ws.send('abcd');
    expect(ws.bufferedAmount).toBe(4);
  });
});

describe('close()', () => {
  async function opened(
    serverOptions: Parameters<typeof memoryServer>[0] = {},
    options: WebSocketOptions = {},
  ) {
    const result = connect(serverOptions, [], options);
    await result.tracked.opened;
    return { ...result, connection: await result.server.connection() };
  }

  test.each([[999], [1001], [1005], [2999], [5000], [65536 + 1000], [Number.NaN]])(
    'close(%d) throws InvalidAccessError',
    async (code) => {
      const { ws, tracked } = await opened();
      expect(() => ws.close(code)).toThrow(expect.objectContaining({ name: 'InvalidAccessError' }));
      expect(ws.readyState).toBe(WebSocket.OPEN);
      ws.close();
      await tracked.closed;
    },
  );

  test('a reason over 123 bytes of UTF-8 throws SyntaxError', async () => {
    const { ws, tracked } = await opened();
    expect(() => ws.close(1000, 'é'.repeat(62))).toThrow(expect.objectContaining({ name: 'SyntaxError' }));
    ws.close(1000, `${'é'.repeat(61)}a`);
    await tracked.closed;
  });

  test('close(code, reason): the server receives them; close event mirrors the echo', async () => {
    const { ws, connection, tracked } = await opened();
    ws.close(4321, 'bye ✓');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    const event = await tracked.closed;
    expect(connection.protocol.closeRcvd).toEqual({ code: 4321, reason: 'bye ✓' });
    expect({ code: event.code, reason: event.reason, wasClean: event.wasClean }).toEqual({
      code: 4321,
      reason: 'bye ✓',
      wasClean: true,
    });
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  test('close() without arguments sends an empty close frame: code 1005', async () => {
    const { ws, connection, tracked } = await opened();
    ws.close();
    await tracked.closed;
    expect(connection.frames.at(-1)!.data.byteLength).toBe(0);
    expect(tracked.log).toEqual(['open', 'close:1005::true']);
  });

  test('a reason without a code is sent with 1000; codes are WebIDL-clamped', async () => {
    const first = await opened();
    first.ws.close(undefined, 'why');
    await first.tracked.closed;
    expect(first.connection.protocol.closeRcvd).toEqual({ code: 1000, reason: 'why' });
    const second = await opened();
    second.ws.close(3000.5);
    await second.tracked.closed;
    expect(second.connection.protocol.closeRcvd?.code).toBe(3000);
  });

  test('the server starts the closing handshake: CLOSING, then a clean close with its code', async () => {
    const { ws, connection, tracked } = await opened();
    const states: number[] = [];
    ws.onclose = () => states.push(ws.readyState);
    connection.sendText('last words');
    connection.sendClose(4000, 'server says bye');
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'message:last words', 'close:4000:server says bye:true']);
    expect(states).toEqual([WebSocket.CLOSED]);
  });

  test('the server never closes the stream: closeTimeoutMs closes it', async () => {
    const { ws, tracked } = await opened({ holdEof: true }, { closeTimeoutMs: 30 });
    const start = Date.now();
    ws.close(1000);
    await tracked.closed;
    expect(Date.now() - start).toBeGreaterThanOrEqual(25);
    expect(tracked.log).toEqual(['open', 'close:1000::true']);
  });

  test('the server ends the stream without a close frame while our writes are stuck: closeTimeoutMs closes it', async () => {
    // Regression: the WebSocket waited for its own FIN (behind the stuck
    // writes) forever, without a timer, and never fired close.
    const { ws, connection, tracked } = await opened({}, { closeTimeoutMs: 30 });
    connection.client.hold(); // the peer stops reading: writes never complete
    ws.send('stuck');
    await tick(5);
    const start = Date.now();
    await connection.transport.end();
    await tracked.closed;
    expect(Date.now() - start).toBeGreaterThanOrEqual(25);
    expect(tracked.log).toEqual(['open', 'close:1006::false']);
  });

  test('the transport resetting once open: close 1006 without error, as in Chromium', async () => {
    const { server, tracked } = await opened();
    server.clients[0]!.destroy(new Error('ECONNRESET'));
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'close:1006::false']);
  });
});

describe('keepalive', () => {
  test('pings at pingIntervalMs; pongs keep the connection open; latency is the last round trip', async () => {
    // A generous pong timeout: on a loaded machine a pong may take a while;
    // the test waits for the pings themselves, not for a fixed time.
    const { ws, server, tracked } = connect({}, [], { pingIntervalMs: 10, pongTimeoutMs: 5000 });
    expect(ws.latency).toBeNull();
    await tracked.opened;
    const connection = await server.connection();
    const pings = () => connection.frames.filter((f) => f.opcode === Opcode.PING).length;
    await until(() => pings() >= 2);
    expect(pings()).toBeGreaterThanOrEqual(2);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    // Non-standard: the round trip of the last ping answered.
    expect(ws.latency).toBeGreaterThanOrEqual(0);
    expect(ws.latency).toBeLessThan(5000);
    ws.close();
    await tracked.closed;
  });

  test('no pong within pongTimeoutMs: fails with 1011', async () => {
    const server = memoryServer({ onFrame: () => {} });
    const ws = new WebSocket('ws://x/', [], {
      transport: server.factory,
      pingIntervalMs: 5,
      pongTimeoutMs: 20,
      closeTimeoutMs: 50,
    });
    // The server's core would answer pings: make it drop them.
    const tracked = track(ws);
    await tracked.opened;
    const connection = await server.connection();
    connection.transport.removeAllListeners('data');
    const dropped: Uint8Array[] = [];
    connection.transport.on('data', (chunk) => dropped.push(chunk));
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'error:Event', 'close:1006::false']);
    // The last thing the client sent is a close frame with 1011.
    const last = dropped.at(-1)!;
    expect(last[0]).toBe(0x88);
    const mask = last.subarray(2, 6);
    expect([last[6]! ^ mask[0]!, last[7]! ^ mask[1]!]).toEqual([0x03, 0xf3]);
  });
});

describe('event handler attributes', () => {
  test('each is one listener, keeps its place when replaced, is removed by null', async () => {
    const { ws, server, tracked } = connect();
    const calls: string[] = [];
    ws.onmessage = () => calls.push('handler 1');
    ws.addEventListener('message', () => calls.push('listener'));
    ws.onmessage = function (this: unknown) {
      calls.push(this === ws ? 'handler 2 (this)' : 'handler 2');
    };
    await tracked.opened;
    const connection = await server.connection();
    connection.sendText('a');
    await until(() => calls.length === 2);
    ws.onmessage = null;
    expect(ws.onmessage).toBeNull();
    connection.sendText('b');
    await until(() => calls.length === 3);
    expect(calls).toEqual(['handler 2 (this)', 'listener', 'listener']);
    ws.onopen = 'not a function' as unknown as null;
    expect(ws.onopen).toBeNull();
    ws.close();
    await tracked.closed;
  });
});

describe('fault injection', () => {
  test.each([1, 2, 3, 4, 5])('echo over a re-chunked, delayed stream (seed %i)', async (seed) => {
    const { ws, server, tracked } = connect({ faults: { seed, maxChunkSize: 48, maxDelayMs: 2 } });
    const received: string[] = [];
    ws.onmessage = (event) => received.push(event.data as string);
    await tracked.opened;
    const sent = Array.from({ length: 20 }, (_, i) => `message ${i} ${'x'.repeat(i * 13)}`);
    for (const message of sent) ws.send(message);
    while (received.length < sent.length) await tick(5);
    expect(received).toEqual(sent);
    ws.close(1000, 'done');
    const event = await tracked.closed;
    expect(event.wasClean).toBe(true);
    expect(server.clients[0]!.listenerCount('data')).toBe(0);
  });

  test('a premature EOF in the middle of a message: close 1006 without error', async () => {
    const { ws, server, tracked } = connect({ faults: { endAfterBytes: 200 } });
    await tracked.opened;
    (await server.connection()).sendText('y'.repeat(500));
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'close:1006::false']);
    expect(ws.readyState).toBe(WebSocket.CLOSED);
  });

  test('a reset after the handshake: close 1006 without error', async () => {
    const { server, tracked } = connect({ faults: { resetAfterBytes: 140 } });
    await tracked.opened;
    (await server.connection()).sendText('z'.repeat(100));
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'close:1006::false']);
  });
});

// Differences found by the browser parity tests (e2e/browser/parity.spec.ts),
// fixed to behave as Chromium's native WebSocket does.
describe('parity with Chromium', () => {
  const transport = () => memoryTransportPair({ autoOpen: false })[0];

  test('the server ending the stream at a frame boundary once open: close 1006, no error', async () => {
    const { server, tracked } = connect();
    await tracked.opened;
    await (await server.connection()).transport.end();
    expect((await tracked.closed).wasClean).toBe(false);
    expect(tracked.log).toEqual(['open', 'close:1006::false']);
  });

  test('the stream ending before the handshake response still fails: error, then close 1006', async () => {
    const { server, tracked } = connect({ respond: () => undefined });
    await (await server.connection()).transport.end();
    await tracked.closed;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
  });

  test('send() without an argument, and a Symbol, throw TypeError; nothing is sent', async () => {
    const { ws, tracked } = connect();
    await tracked.opened;
    const send = ws.send as (...args: unknown[]) => void;
    expect(() => send.call(ws)).toThrow(
      new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present."),
    );
    expect(() => ws.send(Symbol('s') as unknown as string)).toThrow(
      new TypeError("Failed to execute 'send' on 'WebSocket': Cannot convert a Symbol value to a string"),
    );
    expect(() => ws.close(1000, Symbol('s') as unknown as string)).toThrow(
      new TypeError("Failed to execute 'close' on 'WebSocket': Cannot convert a Symbol value to a string"),
    );
    expect(ws.bufferedAmount).toBe(0);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.send(undefined as unknown as string); // present, so converted: 'undefined'
    expect(ws.bufferedAmount).toBe(9);
    ws.close();
    await tracked.closed;
  });

  test.each([
    [
      'ftp://x/',
      "Failed to construct 'WebSocket': The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. 'ftp' is not allowed.",
    ],
    [
      'ws://x/a#frag',
      "Failed to construct 'WebSocket': The URL contains a fragment identifier ('frag'). Fragment identifiers are not allowed in WebSocket URLs.",
    ],
    [
      'ws://x/a#',
      "Failed to construct 'WebSocket': The URL contains a fragment identifier (''). Fragment identifiers are not allowed in WebSocket URLs.",
    ],
    ['ws://', "Failed to construct 'WebSocket': The URL 'ws://' is invalid."],
  ])("the URL %s: SyntaxError with Chromium's message", (url, message) => {
    expect(() => new WebSocket(url, [], { transport: transport() })).toThrow(
      expect.objectContaining({ name: 'SyntaxError', message }),
    );
  });

  test.each([
    [['a b'], "The subprotocol 'a b' is invalid."],
    [['é'], "The subprotocol '\\u00E9' is invalid."],
    [['a\tb'], "The subprotocol 'a\\u0009b' is invalid."],
    [['a\\b'], "The subprotocol 'a\\\\b' is invalid."],
    [['chat', 'chat'], "The subprotocol 'chat' is duplicated."],
  ])("protocols %j: SyntaxError with Chromium's message", (protocols, message) => {
    expect(() => new WebSocket('ws://x/', protocols, { transport: transport() })).toThrow(
      expect.objectContaining({
        name: 'SyntaxError',
        message: `Failed to construct 'WebSocket': ${message}`,
      }),
    );
  });

  test('attributes and operations are enumerable prototype members (WebIDL)', () => {
    const members = [
      'url',
      'readyState',
      'bufferedAmount',
      'onopen',
      'onerror',
      'onclose',
      'extensions',
      'protocol',
      'close',
      'onmessage',
      'binaryType',
      'send',
    ];
    for (const name of members) {
      expect(Object.getOwnPropertyDescriptor(WebSocket.prototype, name)).toMatchObject({
        enumerable: true,
        configurable: true,
      });
    }
    const ws = new WebSocket('ws://x/', [], { transport: transport(), openTimeoutMs: null });
    const enumerated: string[] = [];
    for (const key in ws) enumerated.push(key);
    expect(enumerated).toEqual(expect.arrayContaining([...members, 'CONNECTING', 'CLOSED']));
    expect(Object.keys(ws)).toEqual([]);
  });
});

describe('parsing paced by dispatch', () => {
  /** One chunk holding `count` unmasked text frames "<prefix><i>". */
  const burst = (prefix: string, count: number): Uint8Array =>
    concat(
      Array.from({ length: count }, (_, i) =>
        serializeFrame(frame(Opcode.TEXT, te.encode(`${prefix}${i}`)), null),
      ),
    );

  /** An open connection whose text messages are collected in `got`. */
  async function receiving() {
    const { ws, server, tracked } = connect();
    await tracked.opened;
    const connection = await server.connection();
    const got: string[] = [];
    ws.onmessage = (event) => got.push(event.data as string);
    return { connection, tracked, got };
  }

  test('chunks that arrive while messages wait are parsed later, in order; then the close frame and the end', async () => {
    const { connection, tracked, got } = await receiving();
    // Three bursts (the 2nd and 3rd arrive while the 1st waits for its
    // events, and the 3rd is larger than one feed), then a close frame and
    // the end of the stream, all before any message event runs.
    void connection.writeRaw(burst('a', 1000));
    void connection.writeRaw(burst('b', 1000));
    void connection.writeRaw(burst('c', 20000));
    connection.sendClose(4000, 'done');
    const event = await tracked.closed;
    expect(got).toEqual([
      ...Array.from({ length: 1000 }, (_, i) => `a${i}`),
      ...Array.from({ length: 1000 }, (_, i) => `b${i}`),
      ...Array.from({ length: 20000 }, (_, i) => `c${i}`),
    ]);
    expect([event.code, event.reason, event.wasClean]).toEqual([4000, 'done', true]);
  });

  test('a ping behind many waiting messages is answered once enough are dispatched, before later messages', async () => {
    const order: string[] = [];
    const { ws, server, tracked } = connect({
      onFrame: (frame) => {
        if (frame.opcode === Opcode.PONG) order.push('pong');
      },
    });
    await tracked.opened;
    const connection = await server.connection();
    ws.onmessage = (event) => order.push(event.data as string);
    // 300 messages wait (more than the 256 that pause parsing), then the ping.
    void connection.writeRaw(burst('a', 300));
    void connection.writeRaw(Uint8Array.of(0x89, 0)); // ping
    void connection.writeRaw(burst('b', 2));
    for (let waited = 0; order.length < 303 && waited < 2000; waited += 10) await tick(10);
    const pong = order.indexOf('pong');
    // Parsing resumes once fewer than 256 wait: after the 45th message.
    expect(order.slice(0, pong)).toEqual(Array.from({ length: 45 }, (_, i) => `a${i}`));
    expect(order.slice(pong + 1)).toEqual([
      ...Array.from({ length: 255 }, (_, i) => `a${i + 45}`),
      'b0',
      'b1',
    ]);
    ws.close();
    await tracked.closed;
  });

  test('the transport closing abruptly behind waiting chunks: their messages are dispatched, then close 1006', async () => {
    const { connection, tracked, got } = await receiving();
    void connection.writeRaw(burst('a', 500));
    void connection.writeRaw(burst('b', 500));
    await Promise.resolve();
    connection.transport.destroy();
    const event = await tracked.closed;
    expect(got).toHaveLength(1000);
    expect(got.at(-1)).toBe('b499');
    expect([event.code, event.wasClean]).toEqual([1006, false]);
    expect(tracked.log.filter((entry) => entry.startsWith('error'))).toEqual([]);
  });
});

describe('read flow control', () => {
  test('reading pauses while received messages wait for their events, and resumes once dispatched', async () => {
    const { ws, server, tracked } = connect();
    await tracked.opened;
    const connection = await server.connection();
    const calls: string[] = [];
    connection.client.pause = () => calls.push('pause');
    connection.client.resume = () => calls.push('resume');
    const sizes: number[] = [];
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (event) => sizes.push((event.data as ArrayBuffer).byteLength);
    // 8 MiB of messages arrive before any of their events can run.
    for (let i = 0; i < 8; i++) connection.protocol.sendBinary(new Uint8Array(2 ** 20));
    connection.flush();
    for (let waited = 0; sizes.length < 8 && waited < 5000; waited += 10) await tick(10);
    expect(sizes).toEqual(Array(8).fill(2 ** 20));
    expect(calls).toEqual(['pause', 'resume']);
    ws.close();
    await tracked.closed;
  });
});

describe('failing the connection: at once, and saying why (non-standard event.error, failure)', () => {
  /** The first error event, and the close event after it. */
  function failed(ws: WebSocket): Promise<{ error: WebSocketErrorEvent; close: CloseEvent }> {
    return new Promise((resolve) => {
      let error: WebSocketErrorEvent | null = null;
      ws.addEventListener('error', (event) => {
        error ??= event as WebSocketErrorEvent;
      });
      ws.addEventListener('close', (event) => resolve({ error: error!, close: event as CloseEvent }));
    });
  }

  /**
   * A server connection that stops cooperating once open: it keeps the
   * stream open, never reads a frame and never closes; what the client
   * writes is kept, and whether it half-closed.
   */
  async function stubbornPeer(
    connection: Awaited<ReturnType<ReturnType<typeof memoryServer>['connection']>>,
  ) {
    const received: Uint8Array[] = [];
    const peer = { received, ended: false };
    connection.transport.removeAllListeners('data');
    connection.transport.removeAllListeners('end');
    connection.transport.on('data', (chunk) => received.push(chunk.slice()));
    connection.transport.on('end', () => {
      peer.ended = true;
    });
    return peer;
  }

  /** The close code of the masked close frame ending `bytes`, or null. */
  function lastCloseCode(bytes: Uint8Array): number | null {
    // A client close frame with a 2-byte code and a short reason: 0x88, 0x80|len, mask(4), payload.
    for (let i = bytes.byteLength - 8; i >= 0; i--) {
      if (bytes[i] !== 0x88 || (bytes[i + 1]! & 0x80) === 0) continue;
      const length = bytes[i + 1]! & 0x7f;
      if (i + 6 + length !== bytes.byteLength) continue;
      const mask = bytes.subarray(i + 2, i + 6);
      return ((bytes[i + 6]! ^ mask[0]!) << 8) | (bytes[i + 7]! ^ mask[1]!);
    }
    return null;
  }

  test('the error event stays a plain Event; its error and the failure attribute say why', async () => {
    const { ws } = connect({ respond: (_request, protocol) => protocol.reject(403, 'Forbidden\n') });
    expect(ws.failure).toBeNull();
    const { error } = await failed(ws);
    expect(Object.getPrototypeOf(error)).toBe(Event.prototype);
    expect(String(error)).toBe('[object Event]');
    expect(error.bubbles).toBe(false);
    expect(error.cancelable).toBe(false);
    expect(error.error).toBeInstanceOf(WebSocketConnectionError);
    expect(error.error).toBe(ws.failure);
    expect(error.message).toBe(error.error.message);
    expect(error.error).toMatchObject({
      name: 'WebSocketConnectionError',
      kind: 'handshake',
      closeCode: 1006,
      url: 'ws://example.com/chat?x=1',
    });
    expect(error.error.message).toBe(
      "WebSocket connection to 'ws://example.com/chat?x=1' failed: Error during WebSocket handshake: server rejected WebSocket connection: HTTP 403",
    );
    expect(error.error.cause).toBeInstanceOf(InvalidStatusError);
    // Read-only, as attributes of an event are.
    expect(() => {
      (error as { error: unknown }).error = null;
    }).toThrow(TypeError);
  });

  test('a transport that fails to connect: kind transport, its error as the cause; no user info in the URL', async () => {
    const [client] = memoryTransportPair({ autoOpen: false });
    const ws = new WebSocket('ws://user:secret@x/', [], { transport: client });
    const result = failed(ws);
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:9');
    client.destroy(refused);
    const { error } = await result;
    expect(error.error.kind).toBe('transport');
    expect(error.error.cause).toBe(refused);
    expect(error.error.message).toBe(
      "WebSocket connection to 'ws://***@x/' failed: connect ECONNREFUSED 127.0.0.1:9",
    );
    expect(error.error.message).not.toContain('secret');
  });

  test('kinds: timeout, aborted, subprotocol, keepalive', async () => {
    const timedOut = connect({ respond: () => undefined }, [], { openTimeoutMs: 30 });
    expect((await failed(timedOut.ws)).error.error).toMatchObject({ kind: 'timeout', closeCode: 1006 });
    expect(timedOut.ws.failure?.message).toContain('no connection within 30 ms');

    const aborted = connect();
    const abortedResult = failed(aborted.ws);
    aborted.ws.close();
    expect((await abortedResult).error.error.kind).toBe('aborted');

    const noProtocol = connect({}, ['chat']);
    const noProtocolError = (await failed(noProtocol.ws)).error.error;
    expect(noProtocolError.kind).toBe('handshake');
    expect(noProtocolError.message).toContain('selected none of the subprotocols offered (chat)');

    const server = memoryServer();
    const ws = new WebSocket('ws://x/', [], {
      transport: server.factory,
      pingIntervalMs: 5,
      pongTimeoutMs: 20,
      closeTimeoutMs: null,
    });
    const result = failed(ws);
    await new Promise((resolve) => ws.addEventListener('open', resolve));
    const peer = await stubbornPeer(await server.connection());
    const { error, close } = await result;
    expect(error.error).toMatchObject({ kind: 'keepalive', closeCode: 1011 });
    expect(close.code).toBe(1006);
    // Not waiting for the peer (closeTimeoutMs is null: that would wait forever).
    expect(lastCloseCode(concat(peer.received))).toBe(1011);
    expect(peer.ended).toBe(true);
  });

  test('a connection lost once open is not a failure: no error, failure stays null', async () => {
    const { ws, server, tracked } = connect();
    await tracked.opened;
    (await server.connection()).transport.destroy(new Error('reset'));
    await tracked.closed;
    expect(tracked.log).toEqual(['open', 'close:1006::false']);
    expect(ws.failure).toBeNull();
  });

  // RFC 6455, 7.1.7: the client sends its close frame and closes the
  // connection without waiting for the peer, which here never closes:
  // closeTimeoutMs null means waiting would never end.
  test.each([
    ['reserved bits', [0xc1, 0x02, 0x6f, 0x6b], 1002],
    ['a reserved opcode', [0x83, 0x00], 1002],
    ['invalid UTF-8', [0x81, 0x02, 0xc3, 0x28], 1007],
    ['an oversized control frame', [0x89, 0x7e, 0x00, 0x7e, ...new Array<number>(126).fill(0x61)], 1002],
    ['an invalid close code', [0x88, 0x02, 0x03, 0xe7], 1002],
    ['a continuation with nothing to continue', [0x80, 0x00], 1002],
  ])(
    '%s from a peer that keeps the stream open: close frame, end, then error and close 1006 at once',
    async (_, bytes, code) => {
      const { ws, server, tracked } = connect({}, [], { closeTimeoutMs: null });
      await tracked.opened;
      const connection = await server.connection();
      const peer = await stubbornPeer(connection);
      const result = failed(ws);
      await connection.writeRaw(Uint8Array.from(bytes));
      const { error, close } = await result;
      expect(tracked.log).toEqual(['open', 'error:Event', 'close:1006::false']);
      expect(close.wasClean).toBe(false);
      expect(error.error).toMatchObject({ kind: 'protocol', closeCode: code });
      expect(error.error.message).toMatch(/failed: the server broke the WebSocket protocol: /);
      expect(lastCloseCode(concat(peer.received))).toBe(code);
      expect(peer.ended).toBe(true);
    },
  );

  test.each([
    ['too many headers', `HTTP/1.1 101 Switching Protocols\r\n${'X-A: b\r\n'.repeat(200)}\r\n`],
    ['an overlong line', `HTTP/1.1 101 Switching Protocols\r\nX-Long: ${'a'.repeat(9000)}\r\n\r\n`],
    ['a folded header', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n folded\r\n\r\n'],
    ['not HTTP', 'SSH-2.0-OpenSSH_9.6\r\n\r\n'],
  ])('a response head with %s: error and close 1006 at once, the stream ended', async (_, head) => {
    const { ws, server, tracked } = connect({ respond: () => undefined }, [], {
      closeTimeoutMs: null,
      openTimeoutMs: null,
    });
    const connection = await server.connection();
    await until(() => connection.request !== null);
    const peer = await stubbornPeer(connection);
    const result = failed(ws);
    await connection.writeRaw(te.encode(head));
    const { error } = await result;
    expect(tracked.log).toEqual(['error:Event', 'close:1006::false']);
    expect(error.error).toMatchObject({ kind: 'handshake', closeCode: 1006 });
    expect(error.error.message).toMatch(/failed: Error during WebSocket handshake: /);
    expect(peer.ended).toBe(true);
  });

  test('a message complete before the violation is dispatched before error and close', async () => {
    const { ws, server, tracked } = connect({}, [], { closeTimeoutMs: null });
    await tracked.opened;
    const connection = await server.connection();
    await stubbornPeer(connection);
    const result = failed(ws);
    await connection.writeRaw(Uint8Array.of(0x81, 0x02, 0x6f, 0x6b, 0x83, 0x00));
    await result;
    expect(tracked.log).toEqual(['open', 'message:ok', 'error:Event', 'close:1006::false']);
  });
});

describe('web-platform-tests findings (issue 12)', () => {
  test('on… attributes keep any object ([LegacyTreatNonObjectAsNull]); a non-callable one is not called; non-objects are null', async () => {
    const { ws, tracked } = connect();
    const object = { handleEvent: () => {} };
    ws.onopen = object as never;
    expect(ws.onopen).toBe(object);
    ws.onmessage = 5 as never;
    expect(ws.onmessage).toBeNull();
    await tracked.opened;
    ws.close();
    await tracked.closed;
  });

  test('the Origin header is the client’s origin where there is one (location), unless the origin option says otherwise', async () => {
    const global = globalThis as { location?: unknown };
    global.location = { href: 'https://app.example/page.html', origin: 'https://app.example' };
    try {
      const fromPage = connect();
      const given = connect({}, [], { origin: 'https://other.example' });
      const none = connect({}, [], { origin: null });
      for (const { tracked } of [fromPage, given, none]) await tracked.opened;
      const origins = await Promise.all(
        [fromPage, given, none].map(async ({ server }) =>
          (await server.connection()).request?.headers.get('Origin'),
        ),
      );
      expect(origins).toEqual(['https://app.example', 'https://other.example', undefined]);
      for (const { ws, tracked } of [fromPage, given, none]) {
        ws.close();
        await tracked.closed;
      }
    } finally {
      delete global.location;
    }
  });

  test('message events stringify as [object MessageEvent] and are MessageEvents', async () => {
    const { ws, server, tracked } = connect();
    await tracked.opened;
    const event = new Promise<MessageEvent>((resolve) =>
      ws.addEventListener('message', (e) => resolve(e as MessageEvent), { once: true }),
    );
    (await server.connection()).sendText('hi');
    const message = await event;
    expect(String(message)).toBe('[object MessageEvent]');
    expect(message).toBeInstanceOf(MessageEvent);
    ws.close();
    await tracked.closed;
  });

  test('new WebSocket() without arguments throws TypeError', () => {
    expect(() => new (WebSocket as unknown as new () => unknown)()).toThrow(TypeError);
  });
});
