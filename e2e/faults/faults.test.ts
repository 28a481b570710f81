/**
 * The fault-injecting transport wrapper over real sockets: polysocket's
 * `WebSocket` (Node entry point) whose transport is a `NodeTransport`
 * wrapped in a `FaultTransport`, against a `ws` echo server on 127.0.0.1.
 *
 * - Benign faults (random re-chunking at every size down to 1 byte, split
 *   writes, delays and stalls mid-frame): every message comes back intact
 *   and in order, exactly as without faults.
 * - Destructive faults (early EOF, reset mid-frame, reset or EOF
 *   mid-handshake): the connection ends with `close` 1006 (`wasClean`
 *   false), preceded by `error` only when cut during the handshake (once
 *   open, a lost connection is not a failed one: Chromium fires no error
 *   either); every message delivered before that is intact and
 *   in order, the loss is visible (exactly the messages whose frames were
 *   complete before the cut), no event follows `close`, and no socket,
 *   timer or listener outlives the connection.
 *
 * Every message carries its sequence number and an FNV-1a checksum of its
 * body in-band (those too short for that are checked against what was sent),
 * and is compared with what was sent. Seeded: set FAULT_SEEDS=1,2,3,... to
 * run other seeds.
 */
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RawData, WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { nodeTransport, type Transport, type TransportFactory, WebSocket } from '../../src/node.js';
import { computeAccept } from '../../src/protocol/handshake.js';
import { type FaultOptions, FaultTransport, mulberry32 } from '../../src/testing/fault-transport.js';
import { expectNothingLeft, resources } from './resources.js';

/** Bound for one connection's whole life. */
const RUN_TIMEOUT = 40_000;
/** Bound for one test (a baseline run and a faulty one). */
const TEST_TIMEOUT = 90_000;
/** How long to keep listening after `close` for stray events. */
const AFTER_CLOSE_MS = 100;
const MiB = 2 ** 20;

const SEEDS = (process.env['FAULT_SEEDS'] ?? '1,2,3')
  .split(',')
  .map(Number)
  .filter((seed) => Number.isInteger(seed))
  .slice(0, 20);

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------
// Messages: random sizes, text with 1- to 4-byte characters, binary; each
// with its sequence number and a checksum in-band when it is long enough.

interface Outgoing {
  readonly seq: number;
  readonly type: 'text' | 'binary';
  /** Bytes on the wire (UTF-8 for text). */
  readonly size: number;
  readonly data: string | Uint8Array;
}

/** 32-bit FNV-1a. */
function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash >>> 0;
}

const hex8 = (value: number): string => value.toString(16).padStart(8, '0');

/** 1-, 2-, 3- and 4-byte characters: random splits fall inside them. */
const CHARS = ['a', 'Z', '7', ' ', '{', 'é', 'ß', 'Ж', '€', '中', '✓', '😀', '𝄞'];
const CHAR_BYTES = CHARS.map((c) => encoder.encode(c).byteLength);

function randomText(random: () => number, bytes: number): string {
  const parts: string[] = [];
  for (let left = bytes; left > 0; ) {
    const i = Math.floor(random() * CHARS.length);
    const size = CHAR_BYTES[i]!;
    if (size > left) {
      parts.push('a');
      left -= 1;
    } else {
      parts.push(CHARS[i]!);
      left -= size;
    }
  }
  return parts.join('');
}

function randomBytes(random: () => number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4) {
    const word = Math.floor(random() * 2 ** 32);
    for (let j = 0; j < 4 && i + j < bytes; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return out;
}

/** Text: `seq:checksum:body`, exactly `size` bytes of UTF-8, when there is room for the header. */
function textMessage(random: () => number, seq: number, size: number): string {
  const headerLength = `${seq}:`.length + 9;
  if (size <= headerLength) return randomText(random, size);
  const body = randomText(random, size - headerLength);
  return `${seq}:${hex8(fnv1a(encoder.encode(body)))}:${body}`;
}

/** Binary: u32 sequence number, u32 checksum of the body, body; when there is room. */
function binaryMessage(random: () => number, seq: number, size: number): Uint8Array {
  if (size <= 8) return randomBytes(random, size);
  const out = randomBytes(random, size);
  const view = new DataView(out.buffer);
  view.setUint32(0, seq);
  view.setUint32(4, fnv1a(out.subarray(8)));
  return out;
}

/**
 * `count` messages of log-uniform random sizes from 1 B to `maxSize`, after
 * the sizes where frame headers change (1, 125-127, 65535-65536) and
 * `maxSize` itself, as text and binary.
 */
function makeMessages(seed: number, count: number, maxSize: number): Outgoing[] {
  const random = mulberry32(seed * 7919 + 13);
  const special = [1, 125, 126, 127, 65_535, 65_536, maxSize].filter((size) => size <= maxSize);
  const sizes: number[] = [];
  for (const size of special) sizes.push(size, size);
  while (sizes.length < count) {
    sizes.push(Math.max(1, Math.min(maxSize, Math.floor(2 ** (random() * Math.log2(maxSize + 1))))));
  }
  // Shuffle (Fisher-Yates), so that the large ones are anywhere.
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
  }
  return sizes.map((size, seq) => {
    const type = random() < 0.5 ? 'text' : 'binary';
    const data = type === 'text' ? textMessage(random, seq, size) : binaryMessage(random, seq, size);
    return { seq, type, size, data };
  });
}

/** Why message number `index` is not the one sent, or null if it is. */
function verify(sent: readonly Outgoing[], index: number, data: unknown): string | null {
  const expected = sent[index];
  if (expected === undefined) return `message ${index}: more messages than were sent`;
  if (typeof data === 'string') {
    if (expected.type !== 'text') return `message ${index}: text instead of binary`;
    const header = /^(\d+):([0-9a-f]{8}):/.exec(data);
    if (header !== null && encoder.encode(data).byteLength === expected.size) {
      if (Number(header[1]) !== index) return `message ${index}: carries sequence number ${header[1]}`;
      const body = encoder.encode(data.slice(header[0].length));
      if (hex8(fnv1a(body)) !== header[2]) return `message ${index}: checksum mismatch`;
    }
    return data === expected.data ? null : `message ${index}: text differs from what was sent`;
  }
  if (!(data instanceof ArrayBuffer)) return `message ${index}: unexpected data type`;
  if (expected.type !== 'binary') return `message ${index}: binary instead of text`;
  const bytes = new Uint8Array(data);
  if (bytes.byteLength !== expected.size)
    return `message ${index}: ${bytes.byteLength} bytes, not ${expected.size}`;
  if (bytes.byteLength > 8) {
    const view = new DataView(data);
    if (view.getUint32(0) !== index) return `message ${index}: carries sequence number ${view.getUint32(0)}`;
    if (view.getUint32(4) !== fnv1a(bytes.subarray(8))) return `message ${index}: checksum mismatch`;
  }
  return Buffer.compare(bytes, expected.data as Uint8Array) === 0
    ? null
    : `message ${index}: bytes differ from what was sent`;
}

/** Bytes of the frame the server sends for a message of `size` bytes (unmasked, one frame). */
function serverFrameLength(size: number): number {
  return size + (size < 126 ? 2 : size < 65_536 ? 4 : 10);
}

// ---------------------------------------------------------------------------
// One connection: send everything on open, verify every echo, then close.

interface Run {
  /** Event types in order, `message` included. */
  readonly events: string[];
  readonly delivered: number;
  readonly problems: string[];
  readonly close: { code: number; reason: string; wasClean: boolean };
  /** Events after `close`, listened for during {@link AFTER_CLOSE_MS}. */
  readonly afterClose: string[];
  readonly readyState: number;
  /** `extensions` at `open` (empty if it never opened). */
  readonly extensions: string;
}

async function exchange(url: string, sent: readonly Outgoing[], transport: TransportFactory): Promise<Run> {
  const ws = new WebSocket(url, [], { transport, openTimeoutMs: 20_000, closeTimeoutMs: 10_000 });
  ws.binaryType = 'arraybuffer';
  const events: string[] = [];
  const problems: string[] = [];
  const afterClose: string[] = [];
  let delivered = 0;
  let extensions = '';
  let closeEvent: CloseEvent | null = null;
  const closed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`no close event within ${RUN_TIMEOUT} ms (${delivered}/${sent.length} messages)`));
    }, RUN_TIMEOUT);
    const onEvent = (event: Event): void => {
      if (closeEvent !== null) {
        afterClose.push(event.type);
        return;
      }
      events.push(event.type);
      switch (event.type) {
        case 'open':
          extensions = ws.extensions;
          for (const message of sent) ws.send(message.data);
          if (sent.length === 0) ws.close(1000, 'done');
          break;
        case 'message': {
          const problem = verify(sent, delivered, (event as MessageEvent).data);
          if (problem !== null) problems.push(problem);
          delivered++;
          if (delivered === sent.length) ws.close(1000, 'done');
          break;
        }
        case 'close':
          closeEvent = event as CloseEvent;
          clearTimeout(timer);
          resolve();
          break;
      }
    };
    for (const type of ['open', 'message', 'error', 'close']) ws.addEventListener(type, onEvent);
  });
  await closed;
  await new Promise((resolve) => setTimeout(resolve, AFTER_CLOSE_MS));
  const { code, reason, wasClean } = closeEvent as unknown as CloseEvent;
  return {
    events,
    delivered,
    problems,
    close: { code, reason, wasClean },
    afterClose,
    readyState: ws.readyState,
    extensions,
  };
}

/** The NodeTransport factory, wrapped in a FaultTransport; remembers both layers. */
function faulty(
  options: FaultOptions,
  made: Array<{ fault: Transport; inner: Transport }>,
): TransportFactory {
  const base = nodeTransport();
  return (target) => {
    const inner = base(target);
    const fault = new FaultTransport(inner, options);
    made.push({ fault, inner });
    return fault;
  };
}

const EVENTS = ['open', 'data', 'end', 'close'] as const;

function listenerCounts(made: ReadonlyArray<{ fault: Transport; inner: Transport }>): number[] {
  return made.flatMap(({ fault, inner }) =>
    EVENTS.flatMap((event) => [fault.listenerCount(event), inner.listenerCount(event)]),
  );
}

// ---------------------------------------------------------------------------

let wss: WebSocketServer;
let url: string;
/** The same echo server with permessage-deflate (which the client offers by default). */
let deflateWss: WebSocketServer;
let deflateUrl: string;
/** Bytes of the server's 101 response, before the first frame. */
let handshakeLength = 0;

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  url = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/echo`;
  wss.on('headers', (headers: string[]) => {
    handshakeLength = headers.reduce((sum, line) => sum + encoder.encode(line).byteLength + 2, 2);
  });
  wss.on('connection', (socket: WsSocket) => {
    socket.on('error', () => {}); // resets are expected here
    socket.on('message', (data: RawData, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
  });
  deflateWss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } });
  await new Promise((resolve) => deflateWss.once('listening', resolve));
  deflateUrl = `ws://127.0.0.1:${(deflateWss.address() as net.AddressInfo).port}/echo`;
  deflateWss.on('connection', (socket: WsSocket) => {
    socket.on('error', () => {});
    socket.on('message', (data: RawData, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
  });
  // Learn the length of the 101 response (it is the same for every connection).
  const probe = await exchange(url, [], nodeTransport());
  expect(probe.events).toEqual(['open', 'close']);
  expect(probe.extensions).toBe(''); // frames on the wire are the messages themselves
  expect(handshakeLength).toBeGreaterThan(100);
});

afterAll(async () => {
  for (const server of [wss, deflateWss]) {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface Profile {
  readonly name: string;
  readonly count: number;
  readonly maxSize: number;
  readonly faults: Omit<FaultOptions, 'seed'>;
}

const PROFILES: Profile[] = [
  // Every received and written byte on its own.
  { name: '1-byte chunks', count: 30, maxSize: 2048, faults: { maxChunkSize: 1, splitWrites: true } },
  // Tiny pieces through 16-bit-length frames.
  {
    name: '1-16 byte chunks',
    count: 30,
    maxSize: 96 * 1024,
    faults: { maxChunkSize: 16, splitWrites: true },
  },
  // Up to 2 MiB messages in pieces of 1 B to 8 KiB, with small delays.
  {
    name: '1 B-8 KiB chunks, delays',
    count: 24,
    maxSize: 2 * MiB,
    faults: { maxChunkSize: 8192, splitWrites: true, maxDelayMs: 1 },
  },
  // Stalls of up to 40 ms anywhere in a frame.
  { name: 'stalls', count: 10, maxSize: 2 * MiB, faults: { maxChunkSize: 65_536, maxDelayMs: 40 } },
];

describe('benign faults: every message intact and in order, as without faults', () => {
  for (const profile of PROFILES) {
    for (const seed of SEEDS) {
      test(`${profile.name}, seed ${seed}`, { timeout: TEST_TIMEOUT }, async () => {
        const sent = makeMessages(seed, profile.count, profile.maxSize);
        const before = resources();
        const baseline = await exchange(url, sent, nodeTransport());
        const made: Array<{ fault: Transport; inner: Transport }> = [];
        const run = await exchange(url, sent, faulty({ seed, ...profile.faults }, made));

        for (const result of [baseline, run]) {
          expect(result.problems).toEqual([]);
          expect(result.delivered).toBe(sent.length);
          expect(result.events).toEqual(['open', ...sent.map(() => 'message'), 'close']);
          expect(result.close).toEqual({ code: 1000, reason: 'done', wasClean: true });
          expect(result.afterClose).toEqual([]);
          expect(result.readyState).toBe(WebSocket.CLOSED);
        }
        expect(run).toEqual(baseline);
        expect(made).toHaveLength(1);
        expect(listenerCounts(made).every((count) => count === 0)).toBe(true);
        await expectNothingLeft(before);
      });
    }
  }
});

describe('benign faults with permessage-deflate negotiated', () => {
  for (const profile of [PROFILES[1]!, PROFILES[2]!]) {
    for (const seed of SEEDS) {
      test(`${profile.name}, seed ${seed}`, { timeout: TEST_TIMEOUT }, async () => {
        const sent = makeMessages(seed, profile.count, profile.maxSize);
        const before = resources();
        const made: Array<{ fault: Transport; inner: Transport }> = [];
        const run = await exchange(deflateUrl, sent, faulty({ seed, ...profile.faults }, made));
        expect(run.extensions).toMatch(/^permessage-deflate/);
        expect(run.problems).toEqual([]);
        expect(run.delivered).toBe(sent.length);
        expect(run.events).toEqual(['open', ...sent.map(() => 'message'), 'close']);
        expect(run.close).toEqual({ code: 1000, reason: 'done', wasClean: true });
        expect(run.afterClose).toEqual([]);
        expect(listenerCounts(made).every((count) => count === 0)).toBe(true);
        await expectNothingLeft(before);
      });
    }
  }
});

type Cut = 'early EOF mid-stream' | 'reset mid-frame' | 'reset mid-handshake' | 'EOF mid-handshake';
const CUTS: Cut[] = ['early EOF mid-stream', 'reset mid-frame', 'reset mid-handshake', 'EOF mid-handshake'];

// Cut before the handshake completed, connecting failed: error, then close
// 1006. Cut once open, the connection was lost: close 1006 without error, as
// Chromium's native WebSocket does (e2e/browser/parity.spec.ts).
describe('destructive faults: close 1006, no corrupt, reordered or late message', () => {
  for (const cut of CUTS) {
    for (const seed of SEEDS) {
      test(`${cut}, seed ${seed}`, { timeout: TEST_TIMEOUT }, async () => {
        const random = mulberry32(seed * 31 + cut.length);
        const sent = makeMessages(seed, 16, 256 * 1024);
        // Where each echoed frame ends in what the server sends.
        const ends: number[] = [];
        let offset = handshakeLength;
        for (const message of sent) ends.push((offset += serverFrameLength(message.size)));
        const total = offset;

        let at: number;
        if (cut === 'reset mid-handshake' || cut === 'EOF mid-handshake') {
          at = Math.floor(random() * handshakeLength); // 0 .. length - 1
        } else if (cut === 'reset mid-frame') {
          // Strictly inside the frame of a random message: header or payload.
          const index = Math.floor(random() * sent.length);
          const start = index === 0 ? handshakeLength : ends[index - 1]!;
          at = start + 1 + Math.floor(random() * (ends[index]! - start - 1));
        } else {
          at = handshakeLength + Math.floor(random() * (total - handshakeLength)); // before the last byte
        }
        const expectedDelivered = at < handshakeLength ? 0 : ends.filter((end) => end <= at).length;
        const faults: FaultOptions = {
          seed,
          maxChunkSize: 4096,
          maxDelayMs: 1,
          splitWrites: true,
          ...(cut.startsWith('reset') ? { resetAfterBytes: at } : { endAfterBytes: at }),
        };

        const before = resources();
        const made: Array<{ fault: Transport; inner: Transport }> = [];
        const run = await exchange(url, sent, faulty(faults, made));

        expect(run.problems).toEqual([]);
        expect(run.delivered).toBe(expectedDelivered);
        expect(run.delivered).toBeLessThan(sent.length);
        const opened = at >= handshakeLength;
        expect(run.events).toEqual([
          ...(opened ? ['open'] : []),
          ...Array(expectedDelivered).fill('message'),
          ...(opened ? [] : ['error']),
          'close',
        ]);
        expect(run.close).toEqual({ code: 1006, reason: '', wasClean: false });
        expect(run.afterClose).toEqual([]);
        expect(run.readyState).toBe(WebSocket.CLOSED);
        expect(made).toHaveLength(1);
        expect(listenerCounts(made).every((count) => count === 0)).toBe(true);
        await expectNothingLeft(before);
      });
    }
  }
});

describe('a peer that half-closes without a close frame and stops reading', () => {
  test('close 1006 after closeTimeoutMs, though our writes are stuck', {
    timeout: TEST_TIMEOUT,
  }, async () => {
    // Regression: the WebSocket waited for its own FIN, queued behind writes
    // the peer would never read, with no timer: close never fired.
    const peers = new Set<net.Socket>();
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      peers.add(socket);
      socket.on('error', () => {});
      let request = '';
      const onData = (chunk: Buffer): void => {
        request += chunk.toString('latin1');
        const key = /\r\nsec-websocket-key: *([^\r]*)\r\n/i.exec(request)?.[1];
        if (!request.includes('\r\n\r\n') || key === undefined) return;
        socket.off('data', onData);
        socket.pause(); // never reads again
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
        );
        setTimeout(() => socket.end(), 100); // FIN, no close frame
      };
      socket.on('data', onData);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const before = resources();
      const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, [], {
        closeTimeoutMs: 300,
      });
      const events: string[] = [];
      let closeEvent: CloseEvent | null = null;
      let openedAt = 0;
      let closedAt = 0;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no close event; events: ${events}`)), 10_000);
        for (const type of ['open', 'message', 'error', 'close']) {
          ws.addEventListener(type, (event) => {
            events.push(type);
            if (type === 'open') {
              openedAt = Date.now();
              ws.send(new Uint8Array(64 * MiB)); // more than the socket buffers hold
            } else if (type === 'close') {
              closedAt = Date.now();
              closeEvent = event as CloseEvent;
              clearTimeout(timer);
              resolve();
            }
          });
        }
      });
      await new Promise((resolve) => setTimeout(resolve, AFTER_CLOSE_MS));
      // A lost connection, not a failed one: no error event (as in Chromium).
      expect(events).toEqual(['open', 'close']);
      const { code, wasClean } = closeEvent as unknown as CloseEvent;
      expect({ code, wasClean }).toEqual({ code: 1006, wasClean: false });
      expect(closedAt - openedAt).toBeGreaterThanOrEqual(300);
      // The stuck bytes were never sent: they stay counted (WHATWG: it never resets after close).
      expect(ws.bufferedAmount).toBe(64 * MiB);
      for (const peer of peers) peer.destroy();
      await expectNothingLeft(before);
    } finally {
      for (const peer of peers) peer.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
