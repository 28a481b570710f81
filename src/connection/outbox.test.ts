import { describe, expect, test } from 'vitest';
import { SEND_EOF } from '../protocol/protocol.js';
import { RecordingTransport } from '../testing/recording-transport.js';
import { Outbox } from './outbox.js';

/** End of the turn: the outbox's flush microtask has run. */
const endOfTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

function outbox(options: { maySendPong?: () => boolean } = {}) {
  const transport = new RecordingTransport();
  const failures: Error[] = [];
  const box = new Outbox(transport, {
    writeFailed: (error) => failures.push(error),
    maySendPong: options.maySendPong ?? (() => true),
  });
  return { transport, box, failures };
}

const bytes = (length: number, fill = 1): Uint8Array => new Uint8Array(length).fill(fill);

describe('Outbox', () => {
  test('small frames of one turn are coalesced into one write at the end of the turn, in order', async () => {
    const { transport, box } = outbox();
    box.stage([bytes(3, 1)], 0, []);
    box.stage([bytes(2, 2), bytes(1, 3)], 0, []);
    expect(transport.writes).toEqual([]);
    await endOfTurn();
    expect(transport.writes).toEqual([Uint8Array.of(1, 1, 1, 2, 2, 3)]);
  });

  test('a large frame is written at once, after the small frames staged before it', () => {
    const { transport, box } = outbox();
    box.stage([bytes(10, 1)], 0, []);
    box.stage([bytes(16 * 1024, 2)], 0, []);
    expect(transport.writes.map((chunk) => chunk.byteLength)).toEqual([10, 16 * 1024]);
  });

  test('runs are bounded at 64 KiB: a full run is written at once', () => {
    const { transport, box } = outbox();
    for (let i = 0; i < 9; i++) box.stage([bytes(8 * 1024, i)], 0, []);
    expect(transport.writes.map((chunk) => chunk.byteLength)).toEqual([64 * 1024]);
  });

  test('bufferedAmount counts application bytes until the write carrying them is accepted', async () => {
    const { transport, box } = outbox();
    box.count(5);
    box.stage([bytes(7)], 5, []);
    box.count(4);
    box.stage([bytes(6)], 4, []);
    expect(box.bufferedAmount).toBe(9);
    await endOfTurn();
    expect(box.bufferedAmount).toBe(9);
    await transport.accept();
    expect(box.bufferedAmount).toBe(0);
  });

  test('SEND_EOF ends the transport once, after the writes before it', async () => {
    const { transport, box } = outbox();
    box.stage([bytes(2), SEND_EOF], 0, []);
    await endOfTurn();
    expect(box.end()).toBe(true);
    expect(transport.calls.map((call) => call.kind)).toEqual(['write', 'end']);
    expect(box.ended).not.toBeNull();
  });

  test('automatic pongs beyond 64 KiB in flight are held back; the latest goes once earlier ones are accepted', async () => {
    const { transport, box } = outbox();
    // 600 pongs of 125 bytes: 75,000 bytes, more than the backlog allows.
    const pongs = Array.from({ length: 600 }, (_, i) => bytes(125, i & 0xff));
    box.stage(
      pongs,
      0,
      pongs.map((_, i) => i),
    );
    await endOfTurn();
    const written = transport.writes.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    expect(written).toBeLessThanOrEqual(64 * 1024);
    expect(written).toBeGreaterThan(60 * 1024);
    await transport.accept(transport.writes.length);
    await endOfTurn();
    // The one held back is the last pong: the answer to the latest ping.
    expect(transport.writes.at(-1)).toEqual(pongs.at(-1));
  });

  test('a pong held back is dropped once the connection may no longer send it', async () => {
    let open = true;
    const { transport, box } = outbox({ maySendPong: () => open });
    const pongs = Array.from({ length: 600 }, () => bytes(125));
    box.stage(
      pongs,
      0,
      pongs.map((_, i) => i),
    );
    await endOfTurn();
    const count = transport.writes.length;
    open = false;
    await transport.accept(count);
    await endOfTurn();
    expect(transport.writes).toHaveLength(count);
  });

  test('a write that rejects or throws is reported as a failure; after close() nothing is written', async () => {
    const { transport, box, failures } = outbox();
    box.stage([bytes(1)], 0, []);
    await endOfTurn();
    await transport.reject(new Error('EPIPE'));
    expect(failures.map((error) => error.message)).toEqual(['EPIPE']);
    transport.throwOnWrite = new Error('thrown');
    box.stage([bytes(20 * 1024)], 0, []);
    expect(failures.map((error) => error.message)).toEqual(['EPIPE', 'thrown']);
    transport.throwOnWrite = null;
    box.close();
    box.stage([bytes(20 * 1024)], 0, []);
    expect(transport.writes).toHaveLength(1);
  });
});
