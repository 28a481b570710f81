import { describe, expect, test } from 'vitest';
import { SEND_EOF } from '../protocol/protocol.js';
import { ServerProtocol } from '../protocol/server.js';
import { type FakeTcpPeer, fakeDirectSockets } from '../testing/fake-tcp-socket.js';
import { recordEvents } from '../testing/memory-transport.js';
import { WebSocket } from '../websocket.js';
import {
  DIRECT_SOCKETS_DRAIN_MS,
  DIRECT_SOCKETS_MAX_DRAIN_MS,
  DIRECT_SOCKETS_MAX_WRITE_SIZE,
  DIRECT_SOCKETS_PIPE_SIZE,
  DIRECT_SOCKETS_VIEW_SIZE,
  DirectSocketsTransport,
  directSocketsTransport,
  directSocketsWriteSize,
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

/** A task later: the fake pipe's network service drains in tasks. */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Bytes `start .. start + size` of a pattern that shows any gap or reordering. */
function pattern(size: number, start = 0): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (start + i) % 251);
}

/**
 * The server side of a WebSocket over a fake socket: the core's
 * ServerProtocol answers the handshake and echoes text and binary
 * messages; its output is written in `segment`-byte writes when given, as a
 * network delivers it.
 */
function serveEcho(peer: FakeTcpPeer, segment = Number.POSITIVE_INFINITY): void {
  const server = new ServerProtocol({ maxMessageSize: null });
  const flush = (): void => {
    for (const out of server.dataToSend()) {
      if (out === SEND_EOF) {
        void peer.end();
        continue;
      }
      const bytes = out as Uint8Array;
      for (let at = 0; at < bytes.byteLength; at += segment)
        void peer.write(bytes.subarray(at, at + segment));
    }
  };
  peer.onData = (chunk) => {
    server.receiveData(chunk);
    flush();
    for (const event of server.eventsReceived()) {
      if (event.kind === 'request') server.sendResponse(server.accept(event));
      else if (event.opcode === 1) server.sendText(event.data);
      else if (event.opcode === 2) server.sendBinary(event.data);
    }
    flush();
  };
}

describe('directSocketsWriteSize', () => {
  test('everything queued, up to the cap', () => {
    expect(directSocketsWriteSize(0, 6)).toBe(6);
    expect(directSocketsWriteSize(0, 1000)).toBe(1000);
    expect(directSocketsWriteSize(0, 65_536)).toBe(65_536); // not above the pipe: left alone
    expect(directSocketsWriteSize(0, 100_000)).toBe(100_000);
    expect(directSocketsWriteSize(0, 5_000_000)).toBe(DIRECT_SOCKETS_MAX_WRITE_SIZE);
  });

  test('a write larger than the pipe never ends on a multiple of 64 KiB', () => {
    expect(directSocketsWriteSize(0, 131_072)).toBe(131_071);
    expect(directSocketsWriteSize(60_000, 71_072)).toBe(71_071);
    expect(directSocketsWriteSize(65_535, 65_537)).toBe(65_537); // 65536 would not be larger than the pipe
    expect(directSocketsWriteSize(65_535, 65_538, 65_537)).toBe(65_538); // a byte more then
    expect(directSocketsWriteSize(0, 2 ** 22, 2 ** 20)).toBe(2 ** 20 - 1);
    for (let i = 0; i < 2000; i++) {
      const offset = Math.floor(Math.random() * 2 ** 24);
      const queued = 1 + Math.floor(Math.random() * 3 * 2 ** 20);
      const max = 65_538 + Math.floor(Math.random() * 2 ** 20);
      const size = directSocketsWriteSize(offset, queued, max);
      expect(size).toBeGreaterThan(0);
      expect(size).toBeLessThanOrEqual(Math.min(queued, max + 1));
      if (size > DIRECT_SOCKETS_PIPE_SIZE && queued > size) {
        expect((offset + size) % DIRECT_SOCKETS_PIPE_SIZE, `${offset} ${queued} ${max}`).not.toBe(0);
      }
    }
  });

  test('maxWriteSize must be larger than the pipe, so that a lost write shows', () => {
    expect(() => new DirectSocketsTransport(target(), { maxWriteSize: 60_000 })).toThrow(RangeError);
    expect(() => new DirectSocketsTransport(target(), { maxWriteSize: 65_537 })).toThrow(RangeError);
    expect(() => new DirectSocketsTransport(target(), { maxWriteSize: 1.5e6 + 0.5 })).toThrow(RangeError);
  });
});

describe('the fake pipe reproduces Chromium 150 (raw writer, no transport)', () => {
  async function rawWriter(options: { pause?: boolean } = {}) {
    const { TCPSocket, peers } = fakeDirectSockets({ dropWhenFull: true });
    const socket = new TCPSocket('127.0.0.1', 1);
    const { writable } = await socket.opened;
    if (options.pause === true) peers[0]!.pause();
    return { writer: writable.getWriter(), peer: peers[0]! };
  }

  test('a write that starts while the pipe is full resolves and is dropped', async () => {
    const { writer, peer } = await rawWriter();
    await writer.write(pattern(65_536)); // fills the pipe to the byte
    await writer.write(pattern(1000, 65_536)); // the network service has not read yet
    await nextTask();
    await nextTask();
    expect(peer.receivedBytes).toBe(65_536);
    expect(peer.droppedBytes).toBe(1000);
  });

  test('awaiting each write does not help: 60000 + 5536 pairs lose data', async () => {
    const { writer, peer } = await rawWriter();
    for (let i = 0; i < 8; i++) {
      await writer.write(new Uint8Array(60_000));
      await writer.write(new Uint8Array(5536));
    }
    await nextTask();
    expect(peer.droppedBytes).toBeGreaterThan(0);
    expect(peer.receivedBytes).toBeLessThan(8 * 65_536);
  });

  test('with room in the pipe, a larger write waits and resolves in a later task; once drained, writes go through', async () => {
    const { writer, peer } = await rawWriter();
    let settled = false;
    const big = writer.write(pattern(100_000)).then(() => {
      settled = true;
    });
    for (let i = 0; i < 50; i++) await undefined;
    expect(settled).toBe(false);
    await big;
    await writer.write(pattern(31_072, 100_000)); // ends at 131072, a read boundary: full again
    await nextTask();
    await nextTask();
    await writer.write(pattern(1000, 131_072)); // drained meanwhile: fine
    for (let i = 0; i < 5; i++) await nextTask();
    expect(peer.droppedBytes).toBe(0);
    expect(sameBytes(peer.receivedAll(), pattern(132_072))).toBe(true);
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

  test('reads into readTarget one pipe read at a time (no min: Chromium 150 stalls such reads); gives chunks back', async () => {
    const { TCPSocket, peers } = fakeDirectSockets();
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    expect(transport.releasesWrittenChunks).toBe(true);
    const sizes: number[] = [];
    let region = new Uint8Array(200_000);
    let filled = 0;
    transport.on('data', (chunk: Uint8Array) => {
      sizes.push(chunk.byteLength);
      if (region.byteLength === 0) region = new Uint8Array(chunk.buffer as ArrayBuffer, 0, 200_000); // adopted after a transfer
      if (sizes.length === 1) return;
      if (chunk.buffer !== region.buffer) region.set(chunk, filled); // not read in place: copied
      filled += chunk.byteLength;
    });
    transport.readTarget = () => (sizes.length >= 1 && filled < 200_000 ? region.subarray(filled) : null);
    await once(transport, 'open');
    const peer = peers[0]!;
    await peer.write(pattern(1000));
    while (sizes.length === 0) await nextTask();
    for (let at = 0; at < 200_000; at += 50_000) await peer.write(pattern(50_000, at));
    while (filled < 200_000) await nextTask();
    expect(sizes).toEqual([1000, 50_000, 50_000, 50_000, 50_000]);
    expect(peer.byobBytes).toBe(150_000); // the last 50,000: a rest under 64 KiB, a default read
    expect(sameBytes(region, pattern(200_000))).toBe(true);
    transport.destroy();
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

  test('bursts that fill the 64 KiB pipe exactly arrive whole and in order', async () => {
    const { TCPSocket, peers } = fakeDirectSockets({ dropWhenFull: true });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    await once(transport, 'open');
    // Sizes that filled the pipe to the byte when written straight to the
    // socket: frames of 65536 bytes, 60000 + 5536, 32769 + 32767, powers of two.
    const sizes: number[] = [];
    for (let i = 0; i < 8; i++) sizes.push(65_536, 60_000, 5536, 32_769, 32_767, 1024, 4096, 16_384);
    const total = sizes.reduce((a, b) => a + b, 0);
    const payload = pattern(total);
    const writes: Promise<void>[] = [];
    let offset = 0;
    for (const [i, size] of sizes.entries()) {
      writes.push(transport.write(payload.subarray(offset, offset + size)));
      offset += size;
      // Some in the same run of code, some a task apart.
      if (i % 5 === 4) await nextTask();
    }
    await Promise.all(writes);
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    await peers[0]!.waitEof();
    expect(peers[0]!.droppedBytes).toBe(0);
    expect(peers[0]!.receivedBytes).toBe(total);
    expect(sameBytes(peers[0]!.receivedAll(), payload)).toBe(true);
  });

  test('frames larger than the pipe are written from their own bytes, not coalesced whole', async () => {
    const { TCPSocket, peers } = fakeDirectSockets({ dropWhenFull: true });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    await once(transport, 'open');
    // Four frames of a 1 MiB message (14-byte header), queued at once.
    const frame = 2 ** 20 + 14;
    expect(frame).toBeGreaterThan(DIRECT_SOCKETS_VIEW_SIZE);
    const payload = pattern(4 * frame);
    const writes = [0, 1, 2, 3].map((i) => transport.write(payload.subarray(i * frame, (i + 1) * frame)));
    await Promise.all(writes);
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    await peers[0]!.waitEof();
    expect(sameBytes(peers[0]!.receivedAll(), payload)).toBe(true);
    // Each frame's bytes go out as views of it (up to maxWriteSize), except
    // a frame's short tail, which takes just enough of the next frame to
    // make a write larger than the pipe: 65538 bytes copied at a junction,
    // where coalescing up to maxWriteSize copied nearly everything.
    const sizes = peers[0]!.writeSizes;
    expect(sizes.filter((size) => size === 65_538).length).toBeGreaterThanOrEqual(3);
    expect(sizes.every((size) => size > 65_536)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(4 * frame);
  });

  test('a write larger than the pipe that starts while it is full is detected and written again', async () => {
    const { TCPSocket, peers } = fakeDirectSockets({ dropWhenFull: true });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    await once(transport, 'open');
    // 65536 bytes fill the empty pipe to the byte and resolve within the
    // task; the next write starts before the network service read anything.
    await transport.write(pattern(65_536));
    const second = transport.write(pattern(100_000, 65_536));
    await second;
    expect(peers[0]!.droppedBytes).toBeGreaterThanOrEqual(100_000); // Chromium dropped it...
    expect(transport.rewrites).toBeGreaterThanOrEqual(1); // ...and it was written again
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    await peers[0]!.waitEof();
    expect(sameBytes(peers[0]!.receivedAll(), pattern(165_536))).toBe(true);
  });

  test('writes of at most 64 KiB one at a time: none starts while the pipe may be full', async () => {
    const { TCPSocket, peers } = fakeDirectSockets({ dropWhenFull: true });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    await once(transport, 'open');
    // Each write awaited before the next, as a sender that waits for
    // bufferedAmount to drop to 0 makes them: 65536 bytes fill the pipe to
    // the byte and resolve at once, so the next one is held back until the
    // pipe has had time to drain (DIRECT_SOCKETS_DRAIN_MS), not lost.
    const started = Date.now();
    for (let i = 0; i < 4; i++) await transport.write(pattern(65_536, i * 65_536));
    for (let i = 0; i < 64; i++) await transport.write(pattern(1000, 4 * 65_536 + i * 1000));
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * DIRECT_SOCKETS_DRAIN_MS);
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    await peers[0]!.waitEof();
    expect(peers[0]!.droppedBytes).toBe(0);
    expect(sameBytes(peers[0]!.receivedAll(), pattern(4 * 65_536 + 64_000))).toBe(true);
  });

  test('a pipe that drains slowly gives held-back writes more time, within bounds', async () => {
    const { TCPSocket, peers } = fakeDirectSockets({ dropWhenFull: true });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    await once(transport, 'open');
    expect(transport.drainMs).toBe(DIRECT_SOCKETS_DRAIN_MS);
    // 196608 bytes through a pipe the peer stops draining for 300 ms: at
    // least 131072 went through in that time, 150 ms or more per 64 KiB.
    peers[0]!.pause();
    const written = transport.write(pattern(196_608 + 1));
    setTimeout(() => peers[0]!.resume(), 300);
    await written;
    expect(transport.drainMs).toBeGreaterThanOrEqual(2 * 150 - 10);
    expect(transport.drainMs).toBeLessThanOrEqual(DIRECT_SOCKETS_MAX_DRAIN_MS);
    const started = Date.now();
    await transport.write(pattern(65_536, 196_609)); // may fill the pipe: the next one waits
    await transport.write(pattern(10, 262_145));
    expect(Date.now() - started).toBeGreaterThanOrEqual(DIRECT_SOCKETS_DRAIN_MS);
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    await peers[0]!.waitEof();
    expect(peers[0]!.droppedBytes).toBe(0);
    expect(sameBytes(peers[0]!.receivedAll(), pattern(262_155))).toBe(true);
  });

  test('a peer that stops reading: writes wait, nothing is lost, the retries are bounded by the pause', async () => {
    const { TCPSocket, peers } = fakeDirectSockets({ dropWhenFull: true });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    await once(transport, 'open');
    const peer = peers[0]!;
    peer.pause();
    const total = 3 * 2 ** 20 + 5;
    const payload = pattern(total);
    const writes: Promise<void>[] = [];
    // Frames of every size, queued while nothing drains.
    for (let offset = 0, k = 0; offset < total; k++) {
      const size = Math.min(2 ** (8 + (k % 10)) + (k % 3) - 1, total - offset);
      writes.push(transport.write(payload.subarray(offset, offset + size)));
      offset += size;
    }
    for (let i = 0; i < 20; i++) await nextTask();
    expect(peer.receivedBytes).toBe(0);
    peer.resume();
    await Promise.all(writes);
    const closed = once(transport, 'close');
    await transport.end();
    await closed;
    await peer.waitEof();
    expect(sameBytes(peer.receivedAll(), payload)).toBe(true);
    // Coalesced: far fewer socket writes than frames, most of them above 64 KiB.
    expect(peer.writeSizes.length).toBeLessThan(writes.length / 4);
  });

  test('write promises: in order, zero-length chunks, rejected after end and on destroy', async () => {
    const { TCPSocket, peers } = fakeDirectSockets({ dropWhenFull: true });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    await expect(transport.write(te.encode('early'))).rejects.toThrow('write before open');
    await once(transport, 'open');
    const order: string[] = [];
    const a = transport.write(te.encode('a')).then(() => order.push('a'));
    const empty = transport.write(new Uint8Array(0)).then(() => order.push('empty'));
    const b = transport.write(pattern(200_000)).then(() => order.push('b'));
    await Promise.all([a, empty, b]);
    expect(order).toEqual(['a', 'empty', 'b']);
    expect(peers[0]!.writeSizes[0]).toBe(200_001); // one coalesced write

    peers[0]!.pause();
    const stuck = transport.write(pattern(300_000));
    const queued = transport.write(te.encode('queued'));
    await nextTask();
    transport.destroy(new Error('gave up'));
    await expect(stuck).rejects.toThrow('gave up');
    await expect(queued).rejects.toThrow();

    const other = new DirectSocketsTransport(target(), { TCPSocket });
    await once(other, 'open');
    const ended = other.end();
    await expect(other.write(te.encode('late'))).rejects.toThrow('write after end');
    await ended;
  });

  test('end() called twice waits for the queue both times', async () => {
    const { TCPSocket, peers } = fakeDirectSockets({ dropWhenFull: true });
    const transport = new DirectSocketsTransport(target(), { TCPSocket });
    await once(transport, 'open');
    const written = transport.write(pattern(500_000));
    const closed = once(transport, 'close');
    await Promise.all([transport.end(), transport.end()]);
    await written;
    await closed;
    await peers[0]!.waitEof();
    expect(sameBytes(peers[0]!.receivedAll(), pattern(500_000))).toBe(true);
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

  test('large messages are read in place (BYOB reads into the array the message is assembled in), intact', async () => {
    const peers: FakeTcpPeer[] = [];
    // In 50,000-byte segments, as a network delivers them.
    const { TCPSocket } = fakeDirectSockets({
      accept: (peer) => {
        peers.push(peer);
        serveEcho(peer, 50_000);
      },
    });
    const ws = new WebSocket('ws://127.0.0.1:8080/', [], {
      transport: directSocketsTransport({ TCPSocket }),
    });
    ws.binaryType = 'arraybuffer';
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error('error event'));
    });
    const sizes = [1 << 20, 3, 300_000, 70_000, 1 << 20];
    const sent = sizes.map((size, i) => pattern(size, i * 7));
    const echoed = new Promise<ArrayBuffer[]>((resolve) => {
      const got: ArrayBuffer[] = [];
      ws.onmessage = (event) => {
        got.push(event.data as ArrayBuffer);
        if (got.length === sent.length) resolve(got);
      };
    });
    for (const message of sent) ws.send(message);
    const got = await echoed;
    expect(got.map((buffer) => buffer.byteLength)).toEqual(sizes);
    for (const [i, buffer] of got.entries())
      expect(sameBytes(new Uint8Array(buffer), sent[i]!), `message ${i}`).toBe(true);
    // Most of the two 1 MiB payloads went straight into place.
    expect(peers[0]!.byobBytes).toBeGreaterThan(2 * 900_000);
    const closed = new Promise<CloseEvent>((resolve) => {
      ws.onclose = (event) => resolve(event as CloseEvent);
    });
    ws.close(1000);
    expect((await closed).code).toBe(1000);
  });

  test('a WebSocket handshake and echo over the fake socket, with frames that fill the pipe exactly', async () => {
    const { TCPSocket } = fakeDirectSockets({ dropWhenFull: true, accept: (peer) => serveEcho(peer) });
    const ws = new WebSocket('ws://127.0.0.1:8080/', [], {
      transport: directSocketsTransport({ TCPSocket }),
    });
    const message = await new Promise<unknown>((resolve, reject) => {
      ws.onopen = () => ws.send('héllo');
      ws.onmessage = (event) => resolve(event.data);
      ws.onerror = () => reject(new Error('error event'));
    });
    expect(message).toBe('héllo');
    // Text frames of 65528 bytes: 65536 on the wire with header and mask,
    // each filling the pipe to the byte.
    const frames = Array.from({ length: 12 }, (_, i) => String.fromCharCode(97 + i).repeat(65_528));
    const echoed = new Promise<unknown[]>((resolve) => {
      const got: unknown[] = [];
      ws.onmessage = (event) => {
        got.push(event.data);
        if (got.length === frames.length) resolve(got);
      };
    });
    for (const frame of frames) ws.send(frame);
    expect(await echoed).toEqual(frames);
    const closed = new Promise<CloseEvent>((resolve) => {
      ws.onclose = (event) => resolve(event as CloseEvent);
    });
    ws.close(4000, 'bye');
    const event = await closed;
    expect([event.code, event.reason]).toEqual([4000, 'bye']);
  });
});
