/**
 * The WebSocket class against hostile peers, in memory: whatever the peer
 * sends, memory stays within the limits (measured after a full GC, loops
 * bounded in count), the connection ends with the right events, and data
 * the application sent is never lost.
 *
 * - a 2^63-byte length, an endless stream of 1-byte fragments, an endless
 *   stream of empty fragments, an endless HTTP head (one endless line, or
 *   endless header lines);
 * - a flood of pings while the peer reads nothing: pongs in flight stay
 *   bounded (only the latest ping's pong is kept beyond the limit, RFC 6455
 *   5.5.3) and the latest ping is answered once the peer reads again;
 * - a slow-reading peer: `bufferedAmount` grows by exactly what `send()` was
 *   given, drains to 0 once the peer reads, and every message arrives.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { CloseEvent } from './events.js';
import { Opcode } from './protocol/frames.js';
import { hex } from './testing/chunking.js';
import { MiB, memoryInUse } from './testing/memory.js';
import { memoryServer, type ServerConnection } from './testing/memory-server.js';
import { WebSocket, type WebSocketOptions } from './websocket.js';

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const CHUNK = 64 * 1024;

interface Tracked {
  readonly log: string[];
  readonly closed: Promise<CloseEvent>;
  readonly opened: Promise<void>;
}

function track(ws: WebSocket): Tracked {
  const log: string[] = [];
  let closedAt: number | null = null;
  for (const type of ['open', 'message', 'error', 'close']) {
    ws.addEventListener(type, (event) => {
      if (closedAt !== null) log.push(`after close: ${type}`);
      else if (type === 'close') {
        const { code, reason, wasClean } = event as CloseEvent;
        log.push(`close:${code}:${reason}:${wasClean}`);
        closedAt = Date.now();
      } else log.push(type);
    });
  }
  const closed = new Promise<CloseEvent>((resolve) =>
    ws.addEventListener('close', (e) => resolve(e as CloseEvent)),
  );
  const opened = new Promise<void>((resolve) => ws.addEventListener('open', () => resolve()));
  return { log, closed, opened };
}

async function open(
  serverOptions: Parameters<typeof memoryServer>[0] = {},
  options: WebSocketOptions = {},
): Promise<{ ws: WebSocket; connection: ServerConnection; tracked: Tracked }> {
  const server = memoryServer(serverOptions);
  const ws = new WebSocket('ws://example.com/', [], { transport: server.factory, ...options });
  ws.binaryType = 'arraybuffer';
  const tracked = track(ws);
  const connection = await server.connection();
  return { ws, connection, tracked };
}

/** `count` copies of `unit` in one array. */
function repeat(unit: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(unit.byteLength * count);
  for (let i = 0; i < count; i++) out.set(unit, i * unit.byteLength);
  return out;
}

/** The close frame the server received, if any. */
function closeReceived(connection: ServerConnection): number | null {
  return connection.protocol.closeRcvd?.code ?? null;
}

let timersBefore = 0;
const activeTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
beforeEach(() => {
  timersBefore = activeTimers();
});
afterEach(async () => {
  await tick(5);
  expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
});

describe('hostile frames: memory stays within the limits', () => {
  test('a 2^63-byte length fails at once with 1009; what follows is discarded', async () => {
    const { connection, tracked } = await open();
    await tracked.opened;
    const before = memoryInUse();
    await connection.writeRaw(hex('82 7f 7fffffffffffffff'));
    // 16 MiB of "payload" that must not be buffered.
    const junk = new Uint8Array(CHUNK).fill(0x41);
    for (let i = 0; i < 256 && !connection.transport.closed; i++)
      await connection.writeRaw(junk).catch(() => {});
    await tracked.closed;
    expect(memoryInUse() - before).toBeLessThan(4 * MiB);
    expect(closeReceived(connection)).toBe(1009);
    expect(tracked.log).toEqual(['open', 'error', 'close:1006::false']);
  });

  test('an endless stream of 1-byte fragments fails with 1009 at maxMessageSize', async () => {
    const { connection, tracked } = await open({}, { maxMessageSize: MiB });
    await tracked.opened;
    const before = memoryInUse();
    await connection.writeRaw(hex('02 01 00'));
    const fragments = repeat(hex('00 01 00'), CHUNK / 4);
    let sent = 0;
    // At most 4 MiB of fragments (bounded); the limit trips at 1 MiB.
    for (let i = 0; i < 256 && !connection.transport.closed; i++) {
      await connection.writeRaw(fragments).catch(() => {});
      sent += CHUNK / 4;
    }
    await tracked.closed;
    expect(sent).toBeGreaterThanOrEqual(MiB);
    expect(memoryInUse() - before).toBeLessThan(8 * MiB);
    expect(closeReceived(connection)).toBe(1009);
    expect(tracked.log).toEqual(['open', 'error', 'close:1006::false']);
  });

  test('an endless stream of empty fragments costs no memory; the message still arrives', async () => {
    const { ws, connection, tracked } = await open();
    await tracked.opened;
    const messages: unknown[] = [];
    ws.addEventListener('message', (event) => messages.push((event as MessageEvent).data));
    const before = memoryInUse();
    await connection.writeRaw(hex('01 02 4869')); // "Hi", not final
    const empty = repeat(hex('00 00'), CHUNK / 2);
    // 2 million empty continuation frames (4 MiB on the wire).
    for (let i = 0; i < 64; i++) await connection.writeRaw(empty);
    await tick();
    const grown = memoryInUse() - before;
    await connection.writeRaw(hex('80 01 21')); // "!", final
    await tick(5);
    expect(messages).toEqual(['Hi!']);
    // Regression: every empty fragment was kept (~100 bytes each: 200 MB).
    expect(grown).toBeLessThan(8 * MiB);
    ws.close();
    expect((await tracked.closed).wasClean).toBe(true);
  });
});

describe('hostile HTTP heads', () => {
  test('one endless line fails at the line limit; the rest is discarded', async () => {
    const { connection, tracked } = await open({ respond: () => undefined });
    const before = memoryInUse();
    await connection.writeRaw(new TextEncoder().encode('HTTP/1.1 101 Switching Protocols\r\nX-Filler: '));
    const filler = new Uint8Array(CHUNK).fill(0x61);
    for (let i = 0; i < 256 && !connection.transport.closed; i++)
      await connection.writeRaw(filler).catch(() => {});
    await tracked.closed;
    expect(memoryInUse() - before).toBeLessThan(4 * MiB);
    expect(tracked.log).toEqual(['error', 'close:1006::false']);
  });

  test('endless header lines fail at the header count limit', async () => {
    const { connection, tracked } = await open({ respond: () => undefined });
    await connection.writeRaw(new TextEncoder().encode('HTTP/1.1 101 Switching Protocols\r\n'));
    const line = new TextEncoder().encode(`X-Filler: ${'a'.repeat(100)}\r\n`);
    let lines = 0;
    for (; lines < 100_000 && !connection.transport.closed; lines++)
      await connection.writeRaw(line).catch(() => {});
    await tracked.closed;
    expect(lines).toBeLessThan(1000);
    expect(tracked.log).toEqual(['error', 'close:1006::false']);
  });
});

describe('a flood of pings while the peer reads nothing', () => {
  test('pongs in flight stay bounded; the latest ping is answered once the peer reads', async () => {
    const { ws, connection, tracked } = await open({ onFrame: () => {} });
    await tracked.opened;
    // The peer stops reading: the client's writes stay pending.
    connection.client.hold();
    const written = connection.client.bytesWritten;
    const before = memoryInUse();
    // 1 million pings (6 MiB on the wire), each carrying its number.
    const COUNT = 1 << 20;
    const PER_CHUNK = 8192;
    for (let first = 0; first < COUNT; first += PER_CHUNK) {
      const chunk = new Uint8Array(PER_CHUNK * 6);
      const view = new DataView(chunk.buffer);
      for (let i = 0; i < PER_CHUNK; i++) {
        chunk[i * 6] = 0x89;
        chunk[i * 6 + 1] = 4;
        view.setUint32(i * 6 + 2, first + i);
      }
      await connection.writeRaw(chunk);
    }
    await tick();
    // Without the bound: 10 bytes of masked pong per ping, 10 MiB and growing.
    const pongBytes = connection.client.bytesWritten - written;
    expect(pongBytes).toBeLessThanOrEqual(64 * 1024);
    expect(memoryInUse() - before).toBeLessThan(8 * MiB);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    // The peer reads again: the held pongs arrive, then the one for the latest ping.
    connection.client.release();
    await tick(5);
    const pongs = connection.frames.filter((f) => f.opcode === Opcode.PONG);
    expect(pongs.length).toBeGreaterThan(1000);
    expect(pongs.length).toBeLessThan(20_000);
    const numbers = pongs.map((f) => new DataView(f.data.buffer, f.data.byteOffset).getUint32(0));
    expect(numbers.at(-1)).toBe(COUNT - 1);
    // In order, each answering a ping that was sent.
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]!).toBeGreaterThan(numbers[i - 1]!);
    ws.close(1000);
    connection.sendClose(1000);
    const closed = await tracked.closed;
    expect(closed.wasClean).toBe(true);
    expect(tracked.log).toEqual(['open', 'close:1000::true']);
  });
});

describe('a slow-reading peer', () => {
  test('bufferedAmount grows by what send() was given, drains to 0, and nothing is lost', async () => {
    const { ws, connection, tracked } = await open();
    await tracked.opened;
    connection.client.hold();
    const received: ArrayBuffer[] = [];
    ws.addEventListener('message', (event) => received.push((event as MessageEvent).data as ArrayBuffer));
    const sent: Uint8Array[] = [];
    let expected = 0;
    let seed = 7;
    for (let i = 0; i < 200; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const message = new Uint8Array(1 + (seed % 40_000));
      new DataView(message.buffer).setUint8(0, i & 0xff);
      for (let j = 1; j < message.length; j++) message[j] = (seed + j * 31) & 0xff;
      ws.send(message);
      sent.push(message);
      expected += message.byteLength;
      expect(ws.bufferedAmount).toBe(expected);
    }
    await tick(5);
    // Nothing was accepted: all of it still counts.
    expect(ws.bufferedAmount).toBe(expected);
    expect(received).toHaveLength(0);
    connection.client.release();
    for (let i = 0; i < 200 && received.length < sent.length; i++) await tick(5);
    expect(ws.bufferedAmount).toBe(0);
    expect(received).toHaveLength(sent.length);
    const differing = received.findIndex((b, i) => Buffer.compare(new Uint8Array(b), sent[i]!) !== 0);
    expect(differing, 'first echoed message that differs').toBe(-1);
    ws.close(1000, 'done');
    expect(await tracked.closed).toMatchObject({ code: 1000, wasClean: true });
    expect(tracked.log.filter((e) => e !== 'message')).toEqual(['open', 'close:1000:done:true']);
  });
});
