import { describe, expect, test } from 'vitest';
import type { Transport } from '../transports/transport.js';
import { memoryTransportFactory, memoryTransportPair, recordEvents as record } from './memory-transport.js';

const te = new TextEncoder();
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe('memoryTransportPair', () => {
  test('opens both ends and delivers bytes in order', async () => {
    const [a, b] = memoryTransportPair();
    const logA = record(a);
    const logB = record(b);
    await tick();
    await a.write(te.encode('one'));
    await a.write(te.encode('two'));
    await b.write(te.encode('three'));
    await tick();
    expect(logA).toEqual(['open', 'data:three']);
    expect(logB).toEqual(['open', 'data:one', 'data:two']);
    expect(a.writeCount).toBe(2);
    expect(a.bytesWritten).toBe(6);
  });

  test('the receiver owns a copy of what was written', async () => {
    const [a, b] = memoryTransportPair();
    const received: Uint8Array[] = [];
    b.on('data', (chunk) => received.push(chunk));
    await tick();
    const chunk = te.encode('abc');
    await a.write(chunk);
    chunk[0] = 0x7a;
    expect(new TextDecoder().decode(received[0])).toBe('abc');
  });

  test('half-close: each end sees end; close follows once both ended', async () => {
    const [a, b] = memoryTransportPair();
    const logA = record(a);
    const logB = record(b);
    await tick();
    await a.end();
    await tick();
    expect(logB).toEqual(['open', 'end']);
    expect(logA).toEqual(['open']);
    await b.write(te.encode('late'));
    await b.end();
    await tick();
    expect(logA).toEqual(['open', 'data:late', 'end', 'close']);
    expect(logB).toEqual(['open', 'end', 'close']);
  });

  test('destroy closes this end with the error; the peer sees end then close', async () => {
    const [a, b] = memoryTransportPair();
    const logA = record(a);
    const logB = record(b);
    await tick();
    a.destroy(new Error('boom'));
    a.destroy();
    await tick();
    expect(logA).toEqual(['open', 'close:boom']);
    expect(logB).toEqual(['open', 'end', 'close']);
    await expect(a.write(te.encode('x'))).rejects.toThrow('write after close');
  });

  test('hold keeps writes pending until release', async () => {
    const [a, b] = memoryTransportPair();
    const logB = record(b);
    await tick();
    a.hold();
    let done = false;
    const written = a.write(te.encode('held')).then(() => {
      done = true;
    });
    await tick();
    expect(done).toBe(false);
    expect(logB).toEqual(['open']);
    a.release();
    await written;
    expect(logB).toEqual(['open', 'data:held']);
  });

  test('destroy rejects held writes', async () => {
    const [a] = memoryTransportPair();
    await tick();
    a.hold();
    const written = a.write(te.encode('held'));
    a.destroy();
    await expect(written).rejects.toThrow('transport destroyed');
  });

  test('write before open rejects; autoOpen: false waits for open()', async () => {
    const [a, b] = memoryTransportPair({ autoOpen: false });
    const logA = record(a);
    await tick();
    expect(logA).toEqual([]);
    await expect(a.write(te.encode('x'))).rejects.toThrow('write before open');
    a.open();
    b.open();
    expect(logA).toEqual(['open']);
  });

  test('memoryTransportFactory hands the server end to accept()', async () => {
    const servers: Transport[] = [];
    const factory = memoryTransportFactory((server, target) => {
      expect(target.host).toBe('example.com');
      servers.push(server);
    });
    const client = factory({ url: 'wss://example.com/', host: 'example.com', port: 443, secure: true });
    expect(client.secure).toBe(true);
    expect(client.supportsHalfClose).toBe(true);
    expect(servers).toHaveLength(1);
  });
});
