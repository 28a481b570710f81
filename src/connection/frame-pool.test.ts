import { describe, expect, test } from 'vitest';
import { RecordingTransport } from '../testing/recording-transport.js';
import { FRAME_POOL_MIN, FramePool } from './frame-pool.js';
import { Outbox } from './outbox.js';

describe('FramePool', () => {
  test('a released array is handed out again for a frame of up to its size, down to half of it', () => {
    const pool = new FramePool();
    const first = pool.allocate(100_000);
    expect(first.byteLength).toBe(100_000);
    pool.release(first);
    const again = pool.allocate(60_000);
    expect(again.buffer).toBe(first.buffer);
    expect([again.byteOffset, again.byteLength]).toEqual([0, 60_000]);
    pool.release(again);
    expect(pool.allocate(40_000).buffer).not.toBe(first.buffer); // under half: a new one
    expect(pool.allocate(100_001).buffer).not.toBe(first.buffer); // larger: a new one
    expect(pool.allocate(100_000).buffer).toBe(first.buffer);
  });

  test('an array is handed out once until it is released; releasing twice keeps it once', () => {
    const pool = new FramePool();
    const a = pool.allocate(FRAME_POOL_MIN);
    const b = pool.allocate(FRAME_POOL_MIN);
    expect(b.buffer).not.toBe(a.buffer);
    pool.release(a);
    pool.release(a);
    expect(pool.allocate(FRAME_POOL_MIN).buffer).toBe(a.buffer);
    expect(pool.allocate(FRAME_POOL_MIN).buffer).not.toBe(a.buffer);
  });

  test('arrays it did not hand out are never taken: an application payload, small frames', () => {
    const pool = new FramePool();
    const payload = new Uint8Array(100_000);
    pool.release(payload);
    pool.release(payload.subarray(10));
    expect(pool.allocate(100_000).buffer).not.toBe(payload.buffer);
    const small = pool.allocate(FRAME_POOL_MIN - 1);
    pool.release(small);
    expect(pool.allocate(FRAME_POOL_MIN - 1).buffer).not.toBe(small.buffer);
  });

  test('at most four spares are kept, the latest', () => {
    const pool = new FramePool();
    const arrays = Array.from({ length: 6 }, () => pool.allocate(20_000));
    for (const array of arrays) pool.release(array);
    const buffers = new Set(Array.from({ length: 6 }, () => pool.allocate(20_000).buffer));
    expect(arrays.slice(2).every((array) => buffers.has(array.buffer))).toBe(true);
    expect(arrays.slice(0, 2).some((array) => buffers.has(array.buffer))).toBe(false);
  });
});

describe('Outbox with a frame pool', () => {
  function setup(releases: boolean) {
    const transport = new RecordingTransport();
    transport.releases = releases;
    const pool = new FramePool();
    const box = new Outbox(transport, { writeFailed: () => {}, maySendPong: () => true }, pool);
    return { transport, pool, box };
  }

  test('a large frame goes back to the pool once its write resolved, not before', async () => {
    const { transport, pool, box } = setup(true);
    const frame = pool.allocate(200_000);
    box.stage([frame], 0, []);
    expect(transport.writes).toEqual([frame]);
    expect(pool.allocate(200_000).buffer).not.toBe(frame.buffer); // still being written
    await transport.accept();
    expect(pool.allocate(200_000).buffer).toBe(frame.buffer);
  });

  test('nothing goes back when the transport may still hold written chunks, or when a write fails', async () => {
    const { transport, pool, box } = setup(false);
    const frame = pool.allocate(200_000);
    box.stage([frame], 0, []);
    await transport.accept();
    expect(pool.allocate(200_000).buffer).not.toBe(frame.buffer);

    const failing = setup(true);
    const lost = failing.pool.allocate(200_000);
    failing.box.stage([lost], 0, []);
    await failing.transport.reject(new Error('reset'));
    expect(failing.pool.allocate(200_000).buffer).not.toBe(lost.buffer);
  });
});
