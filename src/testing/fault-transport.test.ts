import { describe, expect, test } from 'vitest';
import { FaultTransport, mulberry32, withFaults } from './fault-transport.js';
import {
  type MemoryTransport,
  memoryTransportFactory,
  memoryTransportPair,
  recordEvents as record,
} from './memory-transport.js';

const te = new TextEncoder();
const td = new TextDecoder();
const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function collect(transport: FaultTransport): { chunks: Uint8Array[]; events: string[] } {
  const chunks: Uint8Array[] = [];
  const events: string[] = [];
  transport.on('data', (chunk) => chunks.push(chunk));
  transport.on('end', () => events.push('end'));
  transport.on('close', (error) => events.push(error === undefined ? 'close' : `close:${error.message}`));
  return { chunks, events };
}

function joined(chunks: Uint8Array[]): string {
  return chunks.map((c) => td.decode(c)).join('');
}

describe('FaultTransport', () => {
  test('mulberry32 is deterministic', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const values = Array.from({ length: 5 }, () => a());
    expect(values).toEqual(Array.from({ length: 5 }, () => b()));
    for (const v of values) expect(v >= 0 && v < 1).toBe(true);
  });

  test('re-chunks received data at seeded sizes, keeping bytes and order', async () => {
    const sizes: number[][] = [];
    for (let run = 0; run < 2; run++) {
      const [inner, peer] = memoryTransportPair();
      const fault = new FaultTransport(inner, { seed: 7, maxChunkSize: 3 });
      const { chunks } = collect(fault);
      await tick();
      await peer.write(te.encode('hello, world'));
      await peer.write(te.encode('!'));
      await tick();
      expect(joined(chunks)).toBe('hello, world!');
      expect(chunks.every((c) => c.byteLength >= 1 && c.byteLength <= 3)).toBe(true);
      sizes.push(chunks.map((c) => c.byteLength));
      fault.destroy();
    }
    expect(sizes[0]).toEqual(sizes[1]);
  });

  test('delays keep order, and end comes after the data', async () => {
    const [inner, peer] = memoryTransportPair();
    const fault = new FaultTransport(inner, { seed: 3, maxChunkSize: 2, maxDelayMs: 3 });
    const { chunks, events } = collect(fault);
    await tick();
    await peer.write(te.encode('abcdefgh'));
    await peer.end();
    await fault.end();
    await tick(100);
    expect(joined(chunks)).toBe('abcdefgh');
    expect(events).toEqual(['end', 'close']);
  });

  test('splitWrites splits what is written', async () => {
    const [inner, peer] = memoryTransportPair();
    const fault = new FaultTransport(inner, { seed: 5, maxChunkSize: 2, splitWrites: true });
    const log = record(peer);
    await tick();
    await fault.write(te.encode('abcde'));
    await tick();
    expect(
      log
        .slice(1)
        .map((e) => e.slice(5))
        .join(''),
    ).toBe('abcde');
    expect((inner as MemoryTransport).writeCount).toBeGreaterThan(1);
    fault.destroy();
  });

  test('endAfterBytes: a premature FIN after exactly N bytes', async () => {
    const [inner, peer] = memoryTransportPair();
    const fault = new FaultTransport(inner, { endAfterBytes: 5 });
    const { chunks, events } = collect(fault);
    await tick();
    await peer.write(te.encode('abc'));
    await peer.write(te.encode('defgh'));
    await tick();
    expect(joined(chunks)).toBe('abcde');
    expect(events).toEqual(['end']);
    fault.destroy();
    await tick();
    expect(events).toEqual(['end', 'close']);
  });

  test('resetAfterBytes: closes with an error; the peer sees the stream end', async () => {
    const [inner, peer] = memoryTransportPair();
    const fault = new FaultTransport(inner, { resetAfterBytes: 2 });
    const { chunks, events } = collect(fault);
    const peerLog = record(peer);
    await tick();
    await peer.write(te.encode('abcd'));
    await tick();
    expect(joined(chunks)).toBe('ab');
    expect(events).toEqual(['close:connection reset (injected fault)']);
    expect(peerLog).toEqual(['open', 'end', 'close']);
  });

  test('destroy clears pending delays and forwards capability flags', async () => {
    const factory = withFaults(
      memoryTransportFactory(() => {}, { secure: true }),
      { maxDelayMs: 1000, maxChunkSize: 1 },
    );
    const fault = factory({ url: 'wss://x/', host: 'x', port: 443, secure: true });
    expect(fault.secure).toBe(true);
    expect(fault.supportsHalfClose).toBe(true);
    const events: string[] = [];
    fault.on('close', () => events.push('close'));
    fault.destroy();
    fault.destroy();
    await tick();
    expect(events).toEqual(['close']);
  });
});
