import { describe, expect, test } from 'vitest';
import { hex } from '../testing/chunking.js';
import { ByteQueue } from './byte-queue.js';

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
    const { Protocol } = await import('./protocol.js');
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
