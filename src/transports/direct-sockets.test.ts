import { describe, expect, test } from 'vitest';
import { fakeDirectSockets } from '../testing/fake-tcp-socket.js';
import { recordEvents } from '../testing/memory-transport.js';
import { WebSocket } from '../websocket.js';
import {
  DIRECT_SOCKETS_MAX_WRITE_SIZE,
  DirectSocketsTransport,
  directSocketsTransport,
  directSocketsWriteSizes,
} from './direct-sockets.js';
import type { Transport, TransportTarget } from './transport.js';

const te = new TextEncoder();
const td = new TextDecoder();

function target(port = 9000, secure = false, host = '127.0.0.1'): TransportTarget {
  return { url: `${secure ? 'wss' : 'ws'}://${host}:${port}/`, host, port, secure };
}

function once(transport: Transport, event: 'open' | 'end' | 'close'): Promise<Error | undefined> {
  return new Promise((resolve) => transport.once(event, (error?: Error) => resolve(error)));
}

/** Byte equality without the matcher's element-by-element diff (slow on MiBs). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

function divides64KiB(size: number): boolean {
  return 65_536 % size === 0;
}

describe('directSocketsWriteSizes', () => {
  test('sums to the size, never above the cap, never a divisor of 64 KiB (from 8 bytes)', () => {
    const sizes = [0, 1, 6, 7, 8, 16, 1018, 1024, 4096, 32_768, 59_999, 60_000, 60_001, 61_024, 65_536];
    for (let i = 0; i < 200; i++) sizes.push(Math.floor(Math.random() * 300_000));
    for (let k = 3; k <= 22; k++) sizes.push(2 ** k, 2 ** k + 60_000, 60_000 * k + 1024);
    for (const size of sizes) {
      const pieces = directSocketsWriteSizes(size);
      expect(pieces.reduce((a, b) => a + b, 0)).toBe(size);
      for (const piece of pieces) {
        expect(piece).toBeGreaterThan(0);
        expect(piece).toBeLessThanOrEqual(DIRECT_SOCKETS_MAX_WRITE_SIZE);
        if (size >= 8) expect(divides64KiB(piece), `${size} -> ${pieces}`).toBe(false);
      }
    }
  });

  test('small writes and ordinary sizes stay whole', () => {
    expect(directSocketsWriteSizes(6)).toEqual([6]);
    expect(directSocketsWriteSizes(1000)).toEqual([1000]);
    expect(directSocketsWriteSizes(1024)).toEqual([513, 511]);
    expect(directSocketsWriteSizes(120_000)).toEqual([60_000, 60_000]);
  });

  test('rejects a cap that would itself stall', () => {
    expect(() => directSocketsWriteSizes(10, 65_536)).toThrow(RangeError);
    expect(() => directSocketsWriteSizes(10, 4)).toThrow(RangeError);
    expect(() => new DirectSocketsTransport(target(), { maxWriteSize: 32_768 })).toThrow(RangeError);
  });
});

describe('DirectSocketsTransport over a fake TCPSocket', () => {
  test('opens, passes options, echoes bytes both ways and closes on end()', async () => {
    const { TCPSocket, peers } = fakeDirectSockets({
      accept: (peer) => {
        peer.onData = (chunk) => void peer.write(chunk);
      },
    });
    const transport = new DirectSocketsTransport(target(4321), { TCPSocket, keepAliveDelay: 1000 });
    const log = recordEvents(transport);
    expect(transport.supportsHalfClose).toBe(false);
    expect(transport.secure).toBe(false);
    await once(transport, 'open');
    expect(peers[0]).toMatchObject({
      host: '127.0.0.1',
      port: 4321,
      options: { noDelay: true, keepAliveDelay: 1000 },
    });
    await transport.write(te.encode('ping'));
    while (!log.includes('data:ping')) await new Promise((resolve) => setTimeout(resolve, 1));
    const closed = once(transport, 'close');
    await transport.end();
    expect(await closed).toBeUndefined();
    await peers[0]!.waitEof();
    expect(log).toEqual(['open', 'data:ping', 'close']);
    expect(transport.listenerCount('data')).toBe(0);
    await expect(transport.write(te.encode('late'))).rejects.toThrow();
  });

  test('end() flushes pending writes before closing', async () => {
    const { TCPSocket, peers } = fakeDirectSockets();
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    await once(transport, 'open');
    const payload = new Uint8Array(300_001).map((_, i) => i * 7);
    const written = transport.write(payload);
    const closed = once(transport, 'close');
    await transport.end();
    await written;
    await closed;
    await peers[0]!.waitEof();
    expect(sameBytes(peers[0]!.receivedAll(), payload)).toBe(true);
  });

  test('the peer closing first gives end; writes still work until end()', async () => {
    const { TCPSocket, peers } = fakeDirectSockets({ accept: (peer) => void peer.end() });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    const log = recordEvents(transport);
    await once(transport, 'end');
    await transport.write(te.encode('after FIN'));
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    expect(log).toEqual(['open', 'end', 'close']);
    await peers[0]!.waitEof();
    expect(td.decode(peers[0]!.receivedAll())).toBe('after FIN');
  });

  test('large writes are cut into pieces that avoid the 64 KiB stall', async () => {
    // The fake drops data the way Chromium 156 did: a direct 64 KiB writer stalls.
    const control = fakeDirectSockets({ stallBug: true });
    const socket = new control.TCPSocket('127.0.0.1', 1);
    const { writable, readable } = await socket.opened;
    const writer = writable.getWriter();
    for (let i = 0; i < 16; i++) await writer.write(new Uint8Array(65_536));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(control.peers[0]!.receivedBytes).toBe(65_536);
    await writer.abort();
    await readable.cancel();

    const { TCPSocket, peers } = fakeDirectSockets({ stallBug: true });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    await once(transport, 'open');
    const size = 4 * 1024 * 1024;
    const payload = new Uint8Array(size).map((_, i) => (i * 31) >> 3);
    // Power-of-two-sized writes of every kind, as a WebSocket could make them.
    const writes: Promise<void>[] = [];
    for (let offset = 0, k = 0; offset < size; k++) {
      const length = Math.min(2 ** (10 + (k % 7)), size - offset);
      writes.push(transport.write(payload.subarray(offset, offset + length)));
      offset += length;
    }
    await Promise.all(writes);
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    await peers[0]!.waitEof();
    expect(peers[0]!.receivedBytes).toBe(size);
    expect(sameBytes(peers[0]!.receivedAll(), payload)).toBe(true);
    for (const piece of peers[0]!.writeSizes) {
      expect(piece).toBeLessThanOrEqual(60_000);
      expect(divides64KiB(piece)).toBe(false);
    }
  });

  test('a refused connection closes with a clear error and never opens', async () => {
    const { TCPSocket } = fakeDirectSockets({ refuse: () => true });
    const transport = directSocketsTransport({ TCPSocket })(target(1));
    const log = recordEvents(transport);
    const error = await once(transport, 'close');
    expect(error?.message).toBe(
      'Direct Sockets: connecting to 127.0.0.1:1 failed: NetworkError: Network Error.',
    );
    expect((error!.cause as DOMException).name).toBe('NetworkError');
    expect(log).toEqual([`close:${error?.message}`]);
    await expect(transport.write(te.encode('x'))).rejects.toThrow('write after close');
  });

  test('a frame that may not use Direct Sockets: the constructor error is reported', async () => {
    const notAllowed = new DOMException(
      "Failed to construct 'TCPSocket': Frame is not sufficiently isolated to use Direct Sockets.",
      'NotAllowedError',
    );
    const { TCPSocket } = fakeDirectSockets({ throwOnConstruct: notAllowed });
    const transport = new DirectSocketsTransport(target(80, false, '::1'), { TCPSocket });
    const error = await once(transport, 'close');
    expect(error?.message).toMatch(/^Direct Sockets: cannot connect to \[::1\]:80: NotAllowedError: Failed/);
  });

  test('wss: fails at once: Direct Sockets has no TLS', async () => {
    const { TCPSocket, peers } = fakeDirectSockets();
    const transport = new DirectSocketsTransport(target(443, true), { TCPSocket });
    const error = await once(transport, 'close');
    expect(error?.message).toMatch(/^Direct Sockets has no TLS: cannot connect to wss:/);
    expect(peers).toHaveLength(0);
  });

  test('without TCPSocket (not an Isolated Web App) it closes with an error', async () => {
    const transport = new DirectSocketsTransport(target());
    const error = await once(transport, 'close');
    expect(error?.message).toMatch(/TCPSocket\) is not available/);
  });

  test('a reset closes with the error', async () => {
    const { TCPSocket } = fakeDirectSockets({ accept: (peer) => setTimeout(() => peer.reset(), 5) });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    const log = recordEvents(transport);
    const error = await once(transport, 'close');
    expect(error?.message).toBe('Connection reset.');
    expect(log).toEqual(['open', 'close:Connection reset.']);
  });

  test('destroy() before and after open; close is emitted once, asynchronously', async () => {
    const { TCPSocket, peers } = fakeDirectSockets();
    const early = new DirectSocketsTransport(target(), { TCPSocket });
    const earlyLog = recordEvents(early);
    early.destroy(new Error('gave up'));
    early.destroy();
    expect(earlyLog).toEqual([]);
    await once(early, 'close');
    expect(earlyLog).toEqual(['close:gave up']);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await peers[0]!.waitEof(); // the socket that opened late was let go

    const late = new DirectSocketsTransport(target(), { TCPSocket });
    const lateLog = recordEvents(late);
    await once(late, 'open');
    const pending = late.write(new Uint8Array(10));
    late.destroy();
    await once(late, 'close');
    await pending.catch(() => {});
    expect(lateLog).toEqual(['open', 'close']);
    await peers[1]!.waitEof();
  });

  test('a WebSocket handshake and echo over the fake socket', async () => {
    // A minimal server side: answer the handshake with the core's server.
    const { ServerProtocol } = await import('../protocol/server.js');
    const { SEND_EOF } = await import('../protocol/protocol.js');
    const { TCPSocket } = fakeDirectSockets({
      accept: (peer) => {
        const server = new ServerProtocol();
        const flush = (): void => {
          for (const out of server.dataToSend()) {
            if (out === SEND_EOF) void peer.end();
            else void peer.write(out as Uint8Array);
          }
        };
        peer.onData = (chunk) => {
          server.receiveData(chunk);
          flush();
          for (const event of server.eventsReceived()) {
            if (event.kind === 'request') server.sendResponse(server.accept(event));
            else if (event.opcode === 1) server.sendText(event.data);
          }
          flush();
        };
      },
    });
    const ws = new WebSocket('ws://127.0.0.1:8080/', [], {
      transport: directSocketsTransport({ TCPSocket }),
    });
    const message = await new Promise<unknown>((resolve, reject) => {
      ws.onopen = () => ws.send('héllo');
      ws.onmessage = (event) => resolve(event.data);
      ws.onerror = () => reject(new Error('error event'));
    });
    expect(message).toBe('héllo');
    const closed = new Promise<CloseEvent>((resolve) => {
      ws.onclose = (event) => resolve(event as CloseEvent);
    });
    ws.close(4000, 'bye');
    const event = await closed;
    expect([event.code, event.reason]).toEqual([4000, 'bye']);
  });
});
