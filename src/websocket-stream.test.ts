/**
 * WebSocketStream over in-memory transports: the API's promises and
 * streams, closing from every side, the abort signal, and backpressure both
 * ways. The WPT stream tests run against real servers in e2e/wpt.
 */
import { describe, expect, test, vi } from 'vitest';
import { bindOptions } from './bind-options.js';
import { Opcode } from './protocol/frames.js';
import { memoryServer } from './testing/memory-server.js';
import type { MemoryTransport } from './testing/memory-transport.js';
import type { TransportFactory } from './transports/transport.js';
import { WebSocketError } from './websocket-error.js';
import { WebSocketStream } from './websocket-stream.js';

const URL_ = 'ws://stream.test/chat';

function open(serverOptions: Parameters<typeof memoryServer>[0] = {}, options = {}) {
  const server = memoryServer(serverOptions);
  const wss = new WebSocketStream(URL_, options, { transport: server.factory, compression: false });
  return { server, wss };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('WebSocketError', () => {
  test('defaults, and a reason alone defaults the code to 1000', () => {
    const error = new WebSocketError();
    expect([error.name, error.message, error.code, error.closeCode, error.reason]).toEqual([
      'WebSocketError',
      '',
      0,
      null,
      '',
    ]);
    expect(error).toBeInstanceOf(DOMException);
    expect(new WebSocketError('m', { reason: 'r' }).closeCode).toBe(1000);
    expect(new WebSocketError('m', { closeCode: 3456, reason: 'r' })).toMatchObject({
      message: 'm',
      closeCode: 3456,
      reason: 'r',
    });
  });

  test.each([999, 1001, 2999, 5000])('code %i throws InvalidAccessError', (closeCode) => {
    expect(() => new WebSocketError('', { closeCode })).toThrow(
      expect.objectContaining({ name: 'InvalidAccessError' }),
    );
  });

  test('a reason over 123 bytes of UTF-8 throws SyntaxError', () => {
    expect(() => new WebSocketError('', { reason: '🔌'.repeat(32) })).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
  });
});

describe('WebSocketStream', () => {
  test('constructor argument checks', () => {
    const Ctor = WebSocketStream as unknown as new (...args: unknown[]) => unknown;
    expect(() => new Ctor()).toThrow(TypeError);
    expect(() => new Ctor('invalid:')).toThrow(expect.objectContaining({ name: 'SyntaxError' }));
    expect(() => new Ctor(URL_, true)).toThrow(TypeError);
    expect(() => new Ctor(URL_, { protocols: 'hi' })).toThrow(TypeError);
    expect(() => new Ctor(URL_, { signal: {} })).toThrow(TypeError);
    expect(() => new Ctor(URL_, { protocols: ['a', 'a'] })).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
  });

  test('opened gives the streams, protocol and extensions; text arrives as strings, binary as Uint8Arrays', async () => {
    const { wss } = open({ subprotocols: ['chat'] }, { protocols: ['chat'] });
    expect(wss.url).toBe(URL_);
    const { readable, writable, protocol, extensions } = await wss.opened;
    expect([protocol, extensions]).toEqual(['chat', '']);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write('héllo');
    await writer.write(new Uint8Array([1, 2, 3]));
    await writer.write(new Uint16Array([0x0201]).buffer);
    expect((await reader.read()).value).toBe('héllo');
    const binary = (await reader.read()).value as Uint8Array;
    expect(binary).toEqual(new Uint8Array([1, 2, 3]));
    // A buffer of its own, not a view of a larger received chunk.
    expect(binary.buffer.byteLength).toBe(3);
    expect((await reader.read()).value).toEqual(new Uint8Array([1, 2]));
    wss.close({ closeCode: 3456, reason: 'pizza' });
    // The memory server echoes the close code and reason.
    expect(await wss.closed).toEqual({ closeCode: 3456, reason: 'pizza' });
  });

  test('close() without arguments sends an empty close frame; a reason alone is sent with 1000', async () => {
    for (const [info, expected] of [
      [undefined, { closeCode: 1005, reason: '' }],
      [{ reason: 'bye' }, { closeCode: 1000, reason: 'bye' }],
    ] as const) {
      const { wss } = open();
      await wss.opened;
      wss.close(info);
      expect(await wss.closed).toEqual(expected);
    }
  });

  test('close() checks its arguments', async () => {
    const { wss } = open();
    await wss.opened;
    expect(() => wss.close({ closeCode: 1001 })).toThrow(
      expect.objectContaining({ name: 'InvalidAccessError' }),
    );
    expect(() => wss.close({ reason: '.'.repeat(124) })).toThrow(
      expect.objectContaining({ name: 'SyntaxError' }),
    );
    expect(() => wss.close(true as never)).toThrow(TypeError);
    wss.close();
    await wss.closed;
  });

  test('close() while connecting: opened and closed reject with a WebSocketError', async () => {
    const { wss } = open();
    wss.close();
    const [opened, closed] = await Promise.all([rejection(wss.opened), rejection(wss.closed)]);
    expect(opened).toBeInstanceOf(WebSocketError);
    expect(closed).toBe(opened);
    expect((closed as WebSocketError).closeCode).toBe(1006);
  });

  test('a signal aborted before: AbortError, and no connection at all', async () => {
    let connects = 0;
    const server = memoryServer();
    const factory: TransportFactory = (target) => {
      connects++;
      return server.factory(target);
    };
    const controller = new AbortController();
    controller.abort();
    const wss = new WebSocketStream(URL_, { signal: controller.signal }, { transport: factory });
    expect(await rejection(wss.opened)).toMatchObject({ name: 'AbortError' });
    expect(await rejection(wss.closed)).toMatchObject({ name: 'AbortError' });
    expect(connects).toBe(0);
  });

  test('a signal aborted during the handshake rejects with its reason; after open it does nothing', async () => {
    const hanging = memoryServer({ respond: () => undefined });
    const controller = new AbortController();
    const wss = new WebSocketStream(URL_, { signal: controller.signal }, { transport: hanging.factory });
    await hanging.connection();
    controller.abort(new Error('enough'));
    expect(await rejection(wss.opened)).toMatchObject({ message: 'enough' });
    expect(await rejection(wss.closed)).toMatchObject({ message: 'enough' });

    const late = new AbortController();
    const { wss: opened } = open({}, { signal: late.signal });
    const { readable, writable } = await opened.opened;
    late.abort();
    await writable.getWriter().write('still open');
    expect((await readable.getReader().read()).value).toBe('still open');
    opened.close();
    await opened.closed;
  });

  test('a clean close from the server: messages before it stay readable, then done; the writable errors with InvalidStateError', async () => {
    const { server, wss } = open();
    const { readable, writable } = await wss.opened;
    const connection = await server.connection();
    connection.sendText('one');
    connection.sendText('two');
    connection.sendClose(4000, 'robot');
    expect(await wss.closed).toEqual({ closeCode: 4000, reason: 'robot' });
    const reader = readable.getReader();
    expect((await reader.read()).value).toBe('one');
    expect((await reader.read()).value).toBe('two');
    expect((await reader.read()).done).toBe(true);
    expect(await rejection(writable.getWriter().ready)).toMatchObject({ name: 'InvalidStateError' });
  });

  test('an abrupt close errors both streams with the WebSocketError that closed rejects with', async () => {
    const { server, wss } = open();
    const { readable, writable } = await wss.opened;
    (await server.connection()).transport.destroy();
    const error = (await rejection(wss.closed)) as WebSocketError;
    expect(error).toBeInstanceOf(WebSocketError);
    expect(error.closeCode).toBe(1006);
    expect(await rejection(readable.getReader().read())).toBe(error);
    expect(await rejection(writable.getWriter().ready)).toBe(error);
  });

  test.each(['abort', 'cancel'] as const)(
    '%s with a WebSocketError closes with its code and reason',
    async (how) => {
      const { wss } = open();
      const { readable, writable } = await wss.opened;
      const reason = new WebSocketError('', { closeCode: 3333, reason: 'set' });
      if (how === 'abort') void writable.abort(reason);
      else void readable.cancel(reason);
      expect(await wss.closed).toEqual({ closeCode: 3333, reason: 'set' });
    },
  );

  test('writer.close() resolves once the closing handshake completes', async () => {
    const { server, wss } = open({ holdEof: false });
    const { writable } = await wss.opened;
    let closedFirst = false;
    void wss.closed.then(() => {
      closedFirst = true;
    });
    await writable.getWriter().close();
    expect(closedFirst).toBe(true);
    expect((await server.connection()).protocol.closeRcvd).toEqual({ code: 1005, reason: '' });
  });

  test('send backpressure: a write resolves once the transport took its bytes, large ones frame by frame', async () => {
    const { server, wss } = open({ onFrame: () => {} });
    const { writable } = await wss.opened;
    const clientEnd = server.clients[0] as MemoryTransport;
    clientEnd.hold();
    const writer = writable.getWriter();
    let done = false;
    const write = writer.write(new Uint8Array(200_000)).then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(done).toBe(false);
    // One 64 KiB frame handed over, the rest waiting for it.
    expect(clientEnd.bytesWritten).toBeLessThan(70_000);
    clientEnd.release();
    await write;
    const frames = (await server.connection()).frames;
    expect(frames.map((frame) => [frame.opcode, frame.fin, frame.data.byteLength])).toEqual([
      [Opcode.BINARY, false, 65536],
      [Opcode.CONT, false, 65536],
      [Opcode.CONT, false, 65536],
      [Opcode.CONT, true, 200_000 - 3 * 65536],
    ]);
    wss.close();
    await wss.closed;
  });

  test('receive backpressure: a reader that stops reading pauses the transport; reading resumes it', async () => {
    const { server, wss } = open();
    const { readable } = await wss.opened;
    const clientEnd = server.clients[0] as MemoryTransport;
    const pause = vi.spyOn(clientEnd, 'pause');
    const resume = vi.spyOn(clientEnd, 'resume');
    const connection = await server.connection();
    // 3 MiB in 48 messages of 64 KiB: over the 1 MiB the stream lets wait.
    for (let i = 0; i < 48; i++) connection.sendBinary(new Uint8Array(64 * 1024).fill(i));
    await vi.waitFor(() => expect(pause).toHaveBeenCalled());
    expect(resume).not.toHaveBeenCalled();
    const reader = readable.getReader();
    for (let i = 0; i < 48; i++) expect(((await reader.read()).value as Uint8Array)[0]).toBe(i);
    expect(resume).toHaveBeenCalled();
    wss.close();
    await wss.closed;
  });

  test('cancel() while reading is paused drops what waits and resumes reading, so the closing handshake completes', async () => {
    const { server, wss } = open();
    const { readable } = await wss.opened;
    const clientEnd = server.clients[0] as MemoryTransport;
    const pause = vi.spyOn(clientEnd, 'pause');
    const resume = vi.spyOn(clientEnd, 'resume');
    const connection = await server.connection();
    for (let i = 0; i < 48; i++) connection.sendBinary(new Uint8Array(64 * 1024).fill(i));
    await vi.waitFor(() => expect(pause).toHaveBeenCalled());
    // More behind the pause: read (and dropped) after the cancel, before the server's close frame.
    for (let i = 0; i < 8; i++) connection.sendBinary(new Uint8Array(64 * 1024));
    void readable.cancel(new WebSocketError('', { closeCode: 3333, reason: 'set' }));
    expect(await wss.closed).toEqual({ closeCode: 3333, reason: 'set' });
    expect(resume).toHaveBeenCalled();
  });

  test('bindOptions binds options to WebSocketStream too; instanceof holds', async () => {
    const server = memoryServer();
    const Bound = bindOptions(WebSocketStream, { transport: server.factory });
    const wss = new Bound(URL_);
    expect(wss).toBeInstanceOf(WebSocketStream);
    expect(wss).toBeInstanceOf(Bound);
    expect(Bound.length).toBe(1);
    await wss.opened;
    wss.close();
    await wss.closed;
  });
});
