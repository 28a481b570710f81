import { describe, expect, test } from 'vitest';
import { concat, hex, seededRandom } from '../testing/chunking.js';
import { ByteQueue } from './byte-queue.js';
import { type Frame, frame, Opcode, serializeFrame } from './frames.js';
import { Protocol } from './protocol.js';

function queueOf(...chunks: string[]): ByteQueue {
  const queue = new ByteQueue();
  for (const chunk of chunks) queue.push(hex(chunk));
  return queue;
}

describe('ByteQueue', () => {
  test('take within one (large) chunk returns a view without copying', () => {
    const chunk = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    const queue = new ByteQueue();
    queue.push(chunk);
    const view = queue.take(2);
    expect(view.buffer).toBe(chunk.buffer);
    expect(view).toEqual(hex('00 01'));
    expect(queue.length).toBe(998);
  });

  test('small chunks share a tail buffer: one array per 4 KiB, not per chunk, and bytes stay in order', () => {
    const queue = new ByteQueue();
    const pushed: Uint8Array[] = [];
    for (let i = 0; i < 10_000; i++) {
      const chunk = Uint8Array.of(i & 0xff, (i >> 8) & 0xff);
      pushed.push(chunk.slice());
      queue.push(chunk);
      // Interleave reads, so that appends land in a partly consumed tail.
      if (i % 7 === 0) expect(queue.take(1)[0]).toBe(pushed[0]![0]);
      if (i % 7 === 0) pushed[0] = pushed[0]!.subarray(1);
      if (pushed[0]!.byteLength === 0) pushed.shift();
    }
    const rest = queue.take(queue.length);
    let offset = 0;
    for (const chunk of pushed) {
      expect(rest.subarray(offset, offset + chunk.byteLength)).toEqual(chunk);
      offset += chunk.byteLength;
    }
    expect(offset).toBe(rest.byteLength);
  });

  test('take across chunks copies into one array', () => {
    const queue = queueOf('01', '02 03', '04 05');
    queue.skip(0);
    expect(queue.take(4)).toEqual(hex('01 02 03 04'));
    expect(queue.take(1)).toEqual(hex('05'));
    expect(queue.length).toBe(0);
  });

  test('peek reads across chunks without consuming', () => {
    const queue = queueOf('01 02', '03', '04');
    expect([0, 1, 2, 3].map((i) => queue.peek(i))).toEqual([1, 2, 3, 4]);
    queue.skip(1);
    expect(queue.peek(0)).toBe(2);
    expect(queue.peek(2)).toBe(4);
    expect(() => queue.peek(3)).toThrow(RangeError);
  });

  test('indexOf searches across chunks from an offset', () => {
    const queue = queueOf('0a 0b', '0c 0a', '0d');
    expect(queue.indexOf(0x0a)).toBe(0);
    expect(queue.indexOf(0x0a, 1)).toBe(3);
    expect(queue.indexOf(0x0d, 2)).toBe(4);
    expect(queue.indexOf(0xff)).toBe(-1);
    queue.skip(1);
    expect(queue.indexOf(0x0a)).toBe(2);
    expect(queue.indexOf(0x0a, 5)).toBe(-1);
  });

  test('empty chunks are ignored; take(0) and clear() work', () => {
    const queue = queueOf('', '01', '');
    expect(queue.length).toBe(1);
    expect(queue.take(0)).toEqual(new Uint8Array(0));
    queue.clear();
    expect(queue.length).toBe(0);
    expect(() => queue.take(1)).toThrow(RangeError);
    expect(() => queue.skip(1)).toThrow(RangeError);
  });

  test('many small chunks are consumed in linear time and compacted', () => {
    const queue = new ByteQueue();
    for (let i = 0; i < 5000; i++) queue.push(new Uint8Array([i & 0xff]));
    for (let i = 0; i < 4999; i++) expect(queue.take(1)[0]).toBe(i & 0xff);
    expect(queue.length).toBe(1);
    queue.push(hex('aa'));
    expect(queue.take(2)).toEqual(new Uint8Array([4999 & 0xff, 0xaa]));
  });
});

describe('ByteQueue large copies', () => {
  test('a copy across chunks of 64 KiB or more is a plain Uint8Array with every byte set', () => {
    const queue = new ByteQueue();
    const size = 200_000;
    for (let i = 0; i < size; i += 50_000) {
      queue.push(Uint8Array.from({ length: 50_000 }, (_, j) => (i + j) & 0xff));
    }
    const out = queue.take(size);
    expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(size);
    for (let i = 0; i < size; i += 997) expect(out[i]).toBe(i & 0xff);
  });
});

describe('ByteQueue memory under a dribbling peer', () => {
  test('a 1 MiB frame received one byte per chunk costs about its size, not 100 bytes per byte', async () => {
    const { MiB, memoryInUse } = await import('../testing/memory.js');
    const protocol = new Protocol('client', { maxMessageSize: null });
    const size = MiB;
    const before = memoryInUse();
    protocol.receiveData(hex('82 7f 0000000000100000'));
    for (let i = 0; i < size - 1; i++) protocol.receiveData(new Uint8Array(1));
    // Measured while the frame is still incomplete: every byte is buffered.
    // Tail buffers hold it in ~1 MiB; one array per byte would be ~100 MiB.
    const grown = memoryInUse() - before;
    expect(grown).toBeLessThan(8 * MiB);
    protocol.receiveData(new Uint8Array(1));
    const [received] = protocol.eventsReceived();
    expect(received?.data.byteLength).toBe(size);
  });
});

const pattern = (length: number, seed: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);

/** Feed `wire` to `protocol` in chunks of 1..maxChunk random bytes; the frames received. */
function receiveInRandomChunks(
  protocol: Protocol,
  wire: Uint8Array,
  random: () => number,
  maxChunk: number,
): Array<{ data: Uint8Array }> {
  for (let offset = 0; offset < wire.byteLength; ) {
    const size = Math.min(wire.byteLength - offset, 1 + Math.floor(random() * maxChunk));
    protocol.receiveData(wire.slice(offset, offset + size));
    offset += size;
  }
  return protocol.eventsReceived() as Array<{ data: Uint8Array }>;
}

describe('ByteQueue.reserve: a large region assembled as it arrives', () => {
  test('once 1/16 is buffered, the region is copied into one array and later chunks are released', () => {
    const queue = new ByteQueue();
    const header = hex('82 7f 0000000000020000'); // a 128 KiB binary frame
    const payload = pattern(128 * 1024, 3);
    const first = new Uint8Array(10 + 4_000);
    first.set(header);
    first.set(payload.subarray(0, 4_000), 10);
    queue.push(first);
    queue.reserve(10, payload.byteLength); // under 1/16: nothing happens yet
    expect(queue.fillTarget()).toBeNull();
    queue.push(payload.slice(4_000, 70_000));
    queue.reserve(10, payload.byteLength);
    const chunk = payload.slice(70_000, 100_000);
    queue.push(chunk);
    chunk.fill(0); // already copied: the queue no longer holds it
    queue.push(payload.slice(100_000));
    expect(queue.length).toBe(10 + payload.byteLength);
    expect(queue.peek(0)).toBe(0x82);
    queue.skip(10);
    const out = queue.take(payload.byteLength);
    expect(out).toEqual(payload);
    // The whole backing buffer: a WebSocket hands it out without a copy.
    expect([out.byteOffset, out.buffer.byteLength]).toEqual([0, payload.byteLength]);
    expect(queue.length).toBe(0);
  });

  test('bytes beyond the region are queued after it, in order', () => {
    const queue = new ByteQueue();
    const payload = pattern(100_000, 5);
    queue.push(hex('82 7e'));
    queue.push(payload.slice(0, 60_000));
    queue.reserve(2, 100_000);
    const rest = new Uint8Array(40_000 + 3);
    rest.set(payload.subarray(60_000));
    rest.set([1, 2, 3], 40_000);
    queue.push(rest);
    queue.skip(2);
    expect(queue.take(100_000)).toEqual(payload);
    expect(queue.take(3)).toEqual(Uint8Array.of(1, 2, 3));
  });

  test('consuming before the region is complete cancels it; the bytes stay queued in order', () => {
    const queue = new ByteQueue();
    const payload = pattern(100_000, 9);
    queue.push(hex('aa bb'));
    queue.push(payload.slice(0, 60_000));
    queue.reserve(2, 100_000);
    expect(queue.take(1)).toEqual(hex('aa'));
    queue.push(payload.slice(60_000, 80_000));
    queue.push(payload.slice(80_000));
    expect(queue.take(1)).toEqual(hex('bb'));
    expect(queue.take(100_000)).toEqual(payload);
  });

  test('no reservation for short regions, regions already buffered, or under 1/16 buffered', () => {
    for (const [length, buffered] of [
      [30_000, 20_000],
      [100_000, 100_000],
      [200_000, 12_499],
    ] as const) {
      const queue = new ByteQueue();
      const payload = pattern(length, 1);
      queue.push(payload.slice(0, buffered));
      queue.reserve(0, length);
      const chunk = payload.slice(buffered);
      queue.push(chunk);
      if (chunk.byteLength > 0) chunk.fill(0); // kept, not copied: the change shows
      const expected = payload.slice();
      if (chunk.byteLength > 0) expected.fill(0, buffered);
      expect(queue.take(length)).toEqual(expected);
    }
  });

  test('fillTarget(): bytes written into it and pushed as a view of it are not copied again', () => {
    const queue = new ByteQueue();
    const payload = pattern(300_000, 7);
    queue.push(hex('82 7f 00000000000493e0')); // a 300,000-byte binary frame
    queue.push(payload.slice(0, 20_000));
    expect(queue.fillTarget()).toBeNull();
    queue.reserve(10, payload.byteLength);
    let offset = 20_000;
    for (const size of [65_536, 100_000, 114_464]) {
      const target = queue.fillTarget()!;
      expect(target.byteLength).toBe(payload.byteLength - offset);
      target.set(payload.subarray(offset, offset + size)); // a socket read into it
      queue.push(target.subarray(0, size));
      offset += size;
    }
    expect(queue.fillTarget()).toBeNull(); // complete: nothing more to fill
    expect(queue.length).toBe(10 + payload.byteLength);
    queue.skip(10);
    const out = queue.take(payload.byteLength);
    expect(sameBytes(out, payload)).toBe(true);
    expect([out.byteOffset, out.buffer.byteLength]).toEqual([0, payload.byteLength]);
  });

  test('fillTarget(): a target gone stale (the region was cancelled) is copied like any chunk', () => {
    const queue = new ByteQueue();
    const payload = pattern(100_000, 2);
    queue.push(hex('aa bb'));
    queue.push(payload.slice(0, 60_000));
    queue.reserve(2, 100_000);
    const target = queue.fillTarget()!;
    expect(queue.take(1)).toEqual(hex('aa')); // cancels the region
    expect(queue.fillTarget()).toBeNull();
    target.set(payload.subarray(60_000));
    queue.push(target.subarray(0, 40_000));
    expect(queue.take(1)).toEqual(hex('bb'));
    expect(sameBytes(queue.take(100_000), payload)).toBe(true);
  });

  test('Protocol.receiveBuffer(): a frame read into it in socket-sized pieces is received whole, not copied', () => {
    const protocol = new Protocol('client', { maxMessageSize: null });
    const payload = pattern(1 << 20, 4);
    const wire = concat([serializeFrame(frame(Opcode.BINARY, payload), null), hex('81 02 6f 6b')]);
    expect(protocol.receiveBuffer()).toBeNull();
    protocol.receiveData(wire.slice(0, 65_536)); // the header and 1/16 of the payload
    const frames: Frame[] = [];
    let offset = 65_536;
    let direct = 0;
    while (offset < wire.byteLength) {
      const target = protocol.receiveBuffer();
      const into = target ?? new Uint8Array(65_536);
      const count = Math.min(into.byteLength, 65_536, wire.byteLength - offset);
      into.set(wire.subarray(offset, offset + count)); // a socket read
      if (target !== null) direct += count;
      protocol.receiveData(into.subarray(0, count));
      offset += count;
      frames.push(...(protocol.eventsReceived() as Frame[]));
    }
    expect(direct).toBeGreaterThan(payload.byteLength - 65_536 * 2);
    expect(frames.map((f) => f.data.byteLength)).toEqual([payload.byteLength, 2]);
    expect(sameBytes(frames[0]!.data, payload)).toBe(true);
    expect(frames[0]!.data.buffer.byteLength).toBe(payload.byteLength);
    expect(protocol.receiveBuffer()).toBeNull();
  });

  test('Protocol.receiveBuffer(): reads that transfer its buffer (BYOB) are adopted, and the message keeps the memory', () => {
    const protocol = new Protocol('client', { maxMessageSize: null });
    const payload = pattern(1 << 20, 9);
    const wire = concat([serializeFrame(frame(Opcode.BINARY, payload), null), hex('81 02 6f 6b')]);
    protocol.receiveData(wire.slice(0, 65_536));
    let offset = 65_536;
    let transferred = 0;
    let last: ArrayBufferLike | null = null;
    while (offset < wire.byteLength) {
      const target = protocol.receiveBuffer();
      let view: Uint8Array;
      if (target !== null) {
        // What ReadableStreamBYOBReader.read(target) does: write into the
        // target, detach its buffer and fulfil with a view of the same
        // memory in a new one.
        const count = Math.min(target.byteLength, 100_000, wire.byteLength - offset);
        const at = target.byteOffset;
        target.set(wire.subarray(offset, offset + count));
        const moved = structuredClone(target.buffer, { transfer: [target.buffer] });
        expect(target.byteLength).toBe(0); // detached
        view = new Uint8Array(moved, at, count);
        transferred += count;
        last = moved;
      } else {
        view = wire.slice(offset, offset + 65_536);
      }
      protocol.receiveData(view);
      offset += view.byteLength;
    }
    const frames = protocol.eventsReceived() as Frame[];
    expect(transferred).toBeGreaterThan(payload.byteLength - 65_536 * 2);
    expect(frames.map((f) => f.data.byteLength)).toEqual([payload.byteLength, 2]);
    expect(sameBytes(frames[0]!.data, payload)).toBe(true);
    expect(frames[0]!.data.buffer).toBe(last); // the last read's buffer, not a copy
  });

  test('fillTarget(): after a transfer, bytes that are not the read into it throw InvalidStateError', () => {
    const queue = new ByteQueue();
    queue.push(hex('aa'));
    queue.push(pattern(10_000, 3));
    queue.reserve(1, 100_000);
    const target = queue.fillTarget()!;
    structuredClone(target.buffer, { transfer: [target.buffer] });
    expect(() => queue.push(pattern(1000, 4))).toThrow(
      expect.objectContaining({ name: 'InvalidStateError', message: expect.stringMatching(/detached/) }),
    );
  });

  test('parsing 1 MiB frames split at random points gives the same frames, and the payload is the whole buffer', async () => {
    const random = seededRandom(42);
    for (let round = 0; round < 8; round++) {
      const protocol = new Protocol('client', { maxMessageSize: null });
      const sizes = [1 << 20, 65_536, 70_000, 200_000, 3];
      const payloads = sizes.map((size, i) => pattern(size, round + i));
      const wire = concat(payloads.map((payload) => serializeFrame(frame(Opcode.BINARY, payload), null)));
      const frames = receiveInRandomChunks(protocol, wire, random, 100_000);
      expect(frames.map((f) => f.data.byteLength)).toEqual(sizes);
      for (const [i, f] of frames.entries()) expect(sameBytes(f.data, payloads[i]!), `frame ${i}`).toBe(true);
      expect(frames[0]!.data.buffer.byteLength).toBe(1 << 20);
    }
  });
});

describe('ByteQueue.reserve under the server role: masked frames unmasked in the assembled array', () => {
  test('masked 100 KiB–1 MiB frames split at random points parse to the original payloads', async () => {
    const random = seededRandom(7);
    const sizes = [70_000, 1 << 20, 200_000, 5];
    for (let round = 0; round < 4; round++) {
      const protocol = new Protocol('server', { maxMessageSize: null });
      const payloads = sizes.map((size, i) => pattern(size, round + i));
      const key = Uint8Array.of(0x11 + round, 0x22, 0x33, 0x44);
      const wire = concat(payloads.map((payload) => serializeFrame(frame(Opcode.BINARY, payload), key)));
      const frames = receiveInRandomChunks(protocol, wire, random, 90_000);
      expect(frames.map((f) => f.data.byteLength)).toEqual(sizes);
      for (const [i, f] of frames.entries()) expect(sameBytes(f.data, payloads[i]!), `frame ${i}`).toBe(true);
    }
  });
});

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('views', () => {
  test('visits the bytes of a range across chunks, in order, without consuming them; stops when asked', () => {
    const queue = new ByteQueue();
    for (const chunk of [Uint8Array.of(0, 1, 2), Uint8Array.of(3, 4), Uint8Array.of(5, 6, 7, 8)])
      queue.push(chunk);
    queue.skip(1);
    const seen: number[][] = [];
    queue.views(1, 6, (view) => {
      seen.push([...view]);
      return true;
    });
    expect(seen.flat()).toEqual([2, 3, 4, 5, 6, 7]);
    expect(queue.length).toBe(8);
    const first: number[][] = [];
    queue.views(0, 8, (view) => {
      first.push([...view]);
      return false;
    });
    expect(first).toHaveLength(1);
  });
});
