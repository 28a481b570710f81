/**
 * Backpressure benchmark: what a slow reader and a paced sender cost with
 * polysocket's `WebSocketStream` (as built by `vite build` into dist/, which
 * the run does first) beside undici's, and, for reference, with
 * `WebSocket` clients (polysocket's, `ws`, undici's), whose API has no
 * backpressure at all, over TCP loopback.
 *
 * Run with `npm run bench:backpressure` (`tsx bench/backpressure.bench.ts`);
 * `--quick` runs a short smoke test (a 3 s stop, smaller caps) and writes
 * nothing; `--only=TEXT` runs the cases whose name contains TEXT and writes
 * nothing. Results go to bench/results/backpressure.{json,md}.
 *
 * Method
 * ------
 * - Processes: this process only orchestrates. A `ws` WebSocketServer
 *   (with bufferutil, no permessage-deflate) runs in a child process of its
 *   own for the whole run; every case runs in a fresh client process, one
 *   at a time, so that each peak RSS is that case's alone. Each client
 *   process loads its library, runs a full GC and measures its RSS before
 *   it connects (the baseline); it then samples `process.memoryUsage()`
 *   every SAMPLE_INTERVAL_MS, and reports `ru_maxrss`
 *   (`process.resourceUsage().maxRSS`) too.
 * - Slow reader: once the connection is open, the server sends binary
 *   messages of MESSAGE_SIZE bytes, each carrying its sequence number, as
 *   fast as its socket takes them (it stops calling `send()` while more
 *   than SERVER_QUEUE_LIMIT bytes wait in its socket, until 'drain'), up to
 *   FLOOD_CAP messages (the count undici#5503 reported: 200,000 unread 1 KiB
 *   messages took undici's WebSocketStream from 75 to 337 MiB). The client
 *   reads nothing for STOP_MS. A WebSocketStream client simply does not
 *   read its readable. A `WebSocket` client cannot refuse a message event:
 *   its handler keeps each message in an array for later, as an
 *   application that cannot keep up must. At the end of the stop the client
 *   reports its memory, the server how much it sent by then and how much
 *   still waits in its own socket (`writableLength`), and `ss` (Linux) the
 *   kernel's queues of the connection: what the server's kernel took less
 *   what sits in those queues is what the client process read from its
 *   socket and holds. Then the client drains: it reads every message up to
 *   the cap and checks that each arrives, in order (sequence numbers, and
 *   the payload's fill byte), within DRAIN_TIMEOUT_MS.
 * - Paced sender: the server reads slowly, READ_RATE bytes per second
 *   (`ws.pause()` whenever it is ahead of that rate, `resume()` once the
 *   rate catches up), checks sequence numbers, and tells the client every
 *   STATUS_INTERVAL_MS how much it has read. The client sends binary
 *   messages of 1 KiB or 64 KiB for PACED_MS. WebSocketStream clients, in
 *   two loops: `await writer.write(message)` per message, and the way
 *   `pipeTo()` writes (`await writer.ready` only while `desiredSize <= 0`,
 *   then `writer.write()` without awaiting it). `WebSocket` clients send as
 *   an application that ignores `bufferedAmount` does (the API has no
 *   signal to wait for): messages in batches of BATCH_BYTES per event-loop
 *   turn, up to NAIVE_CAP_BYTES. When the client is done sending, the
 *   server stops reading for good and reports what it read; then the client
 *   counts what was written (writes resolved; bytes sent less
 *   `bufferedAmount`), then `ss` reads the kernel's queues, so that the
 *   figures add up. Reported besides: the most the client held (writes
 *   called and not yet resolved; `bufferedAmount`), how often
 *   `writer.ready` was pending, the lowest `desiredSize`, and the peak RSS.
 * - One run per case: these are memory and flow figures, bounded by the
 *   caps and the flow control, not timings; the machine's noise moves them
 *   little.
 */
import { type ChildProcess, spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type NodeEnvironment, nextMessage, nodeEnvironment, sizeName } from './support/common.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------
// Configuration

const QUICK = process.argv.includes('--quick');
const ONLY = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
/** Slow reader: how long the client reads nothing (the issue's 60 s). */
const STOP_MS = QUICK ? 3_000 : 60_000;
/** Slow reader: message size and how many the server sends at most. */
const MESSAGE_SIZE = 1024;
const FLOOD_CAP = QUICK ? 50_000 : 200_000;
/** Slow reader: the server stops calling `send()` while this many bytes wait in its socket. */
const SERVER_QUEUE_LIMIT = 1024 * 1024;
/**
 * Slow reader: reading the messages after the stop stops after this long.
 * Generous: a ReadableStream's queue on Node 20 reads back more slowly the
 * longer it is (200,000 queued chunks took over a minute), and undici's
 * holds every message the server sent.
 */
const DRAIN_TIMEOUT_MS = 240_000;
/** Slow reader: the server sends at most this many messages per event-loop turn (it stays responsive). */
const PUMP_BATCH = 1024;
/** Paced sender: how long the client sends, and how fast the server reads. */
const PACED_MS = QUICK ? 2_000 : 10_000;
const READ_RATE = 4 * 1024 * 1024;
const PACED_SIZES = [1024, 64 * 1024] as const;
/** Paced sender: the server reports what it has read this often. */
const STATUS_INTERVAL_MS = 250;
/** Paced sender, `WebSocket` clients: bytes sent per event-loop turn, and in all. */
const BATCH_BYTES = 256 * 1024;
const NAIVE_CAP_BYTES = (QUICK ? 64 : 256) * 1024 * 1024;
/** Paced sender, WebSocketStream clients: a bound on messages, beside the time limit. */
const PACED_MESSAGE_CAP = 1_000_000;
/** Memory samples in the client. */
const SAMPLE_INTERVAL_MS = 100;
/** Slow reader timeline: the server's count of messages sent at these times into the stop (seconds). */
const TIMELINE_SECONDS = [1, 2, 5, 10, 30, 60] as const;
/** A client process must be loaded, connected and done with a case within these. */
const START_TIMEOUT_MS = 30_000;
const CASE_TIMEOUT_MS = STOP_MS + DRAIN_TIMEOUT_MS + 30_000;
/** The whole run is stopped after this long. */
const RUN_TIMEOUT_MS = 30 * 60_000;

type ImplName =
  | 'polysocket WebSocketStream'
  | 'undici WebSocketStream'
  | 'polysocket WebSocket'
  | 'undici WebSocket'
  | 'ws';
const WSS_IMPLS: readonly ImplName[] = ['polysocket WebSocketStream', 'undici WebSocketStream'];
/** Slow reader: the two WebSocketStreams, and two event-based clients for reference. */
const SLOW_READER_IMPLS: readonly ImplName[] = [...WSS_IMPLS, 'polysocket WebSocket', 'ws'];
const NAIVE_SENDERS: readonly ImplName[] = ['polysocket WebSocket', 'undici WebSocket', 'ws'];

type SendLoop = 'await write' | 'await ready' | 'naive send';

type Case =
  | { readonly kind: 'slow reader'; readonly impl: ImplName }
  | {
      readonly kind: 'paced sender';
      readonly impl: ImplName;
      readonly loop: SendLoop;
      readonly size: number;
    };

function caseName(c: Case): string {
  return c.kind === 'slow reader'
    ? `slow reader: ${c.impl}`
    : `paced sender: ${c.impl}, ${c.loop}, ${sizeName(c.size)}`;
}

function cases(): Case[] {
  const all: Case[] = SLOW_READER_IMPLS.map((impl) => ({ kind: 'slow reader', impl }));
  for (const size of PACED_SIZES) {
    for (const impl of WSS_IMPLS) {
      all.push({ kind: 'paced sender', impl, loop: 'await write', size });
      all.push({ kind: 'paced sender', impl, loop: 'await ready', size });
    }
    for (const impl of NAIVE_SENDERS) all.push({ kind: 'paced sender', impl, loop: 'naive send', size });
  }
  return all.filter((c) => ONLY === undefined || caseName(c).includes(ONLY));
}

// ---------------------------------------------------------------------------
// Helpers shared by all roles

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A binary message: its sequence number (big-endian, 4 bytes), then its low byte repeated. */
function message(seq: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes.fill(seq & 0xff, 4);
  new DataView(bytes.buffer).setUint32(0, seq);
  return bytes;
}

/** The sequence number of a message, or -1 if its payload is not the one `message()` builds. */
function sequenceOf(data: Uint8Array, size: number): number {
  if (data.byteLength !== size) return -1;
  const seq = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
  return data[size - 1] === (seq & 0xff) ? seq : -1;
}

// ---------------------------------------------------------------------------
// Server role

interface WsServerSocket {
  readonly _socket: net.Socket;
  readonly bufferedAmount: number;
  readonly isPaused: boolean;
  send(data: Uint8Array | string, options?: { binary: boolean }): void;
  pause(): void;
  resume(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

/** What the server reports about a slow reader's connection. */
interface FloodStats {
  /** Messages passed to `send()`. */
  readonly sent: number;
  /** Bytes waiting in the server's socket (not yet taken by the kernel). */
  readonly writableLength: number;
  /** Bytes taken by the kernel (`bytesWritten` less `writableLength`). */
  readonly kernelBytes: number;
  /** When the cap was reached, in ms after the connection opened (null: not reached). */
  readonly capReachedMs: number | null;
  /** Messages sent by each TIMELINE_SECONDS mark. */
  readonly timeline: Array<{ readonly seconds: number; readonly sent: number }>;
}

/** What the server has read from a paced sender's connection. */
interface SinkStats {
  readonly messages: number;
  readonly bytes: number;
  readonly outOfOrder: number;
}

async function runServer(): Promise<void> {
  delete process.env['WS_NO_BUFFER_UTIL'];
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  /** Each connection's figures, by the id in its URL, for the orchestrator. */
  const stats = new Map<string, () => FloodStats | SinkStats>();
  /** Every connection's timers, cleared when it closes and at exit. */
  const timers = new Set<ReturnType<typeof setTimeout>>();
  wss.on('connection', (socket: unknown, request: { url?: string }) => {
    const ws = socket as WsServerSocket;
    ws.on('error', () => {});
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const id = url.searchParams.get('id') ?? '';
    if (url.pathname === '/flood') {
      const size = Number(url.searchParams.get('size'));
      const cap = Number(url.searchParams.get('cap'));
      const opened = now();
      const raw = ws._socket;
      let seq = 0;
      let closed = false;
      let capReachedMs: number | null = null;
      const timeline: Array<{ seconds: number; sent: number }> = [];
      for (const seconds of TIMELINE_SECONDS) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          timeline.push({ seconds, sent: seq });
        }, seconds * 1000);
        timers.add(timer);
      }
      const pump = (): void => {
        const batchEnd = seq + PUMP_BATCH;
        while (!closed && seq < cap && seq < batchEnd && raw.writableLength < SERVER_QUEUE_LIMIT) {
          // A fresh buffer per message: ws sends it without copying.
          ws.send(message(seq, size), { binary: true });
          seq++;
        }
        if (seq >= cap) capReachedMs ??= now() - opened;
        else if (closed) return;
        else if (raw.writableLength >= SERVER_QUEUE_LIMIT) raw.once('drain', pump);
        else setImmediate(pump);
      };
      ws.on('close', () => {
        closed = true;
      });
      stats.set(id, () => ({
        sent: seq,
        writableLength: raw.writableLength,
        kernelBytes: raw.bytesWritten - raw.writableLength,
        capReachedMs,
        timeline: [...timeline],
      }));
      pump();
    } else if (url.pathname === '/sink') {
      const start = now();
      let messages = 0;
      let bytes = 0;
      let outOfOrder = 0;
      let next = 0;
      let resumeTimer: ReturnType<typeof setTimeout> | undefined;
      ws.on('message', (data, isBinary) => {
        if (!isBinary || frozen) return;
        messages++;
        bytes += data.byteLength;
        if (sequenceOf(data, data.byteLength) !== next) outOfOrder++;
        next++;
        // Read no faster than READ_RATE: pause until the rate catches up.
        const ahead = bytes - (READ_RATE * (now() - start)) / 1000;
        if (ahead > 0 && !ws.isPaused && !frozen) {
          ws.pause();
          resumeTimer = setTimeout(
            () => {
              if (resumeTimer !== undefined) timers.delete(resumeTimer);
              if (!frozen) ws.resume();
            },
            Math.max(1, Math.ceil((ahead / READ_RATE) * 1000)),
          );
          timers.add(resumeTimer);
        }
      });
      let frozen = false;
      // Asked once, at the end of the case: reading stops for good, so that
      // the client's figures and the kernel's queues, taken next, add up
      // with these.
      stats.set(id, () => {
        frozen = true;
        ws.pause();
        if (resumeTimer !== undefined) clearTimeout(resumeTimer);
        return { messages, bytes, outOfOrder };
      });
      const status = setInterval(() => {
        ws.send(JSON.stringify({ messages, bytes, outOfOrder }));
      }, STATUS_INTERVAL_MS);
      timers.add(status);
      ws.on('close', () => {
        clearInterval(status);
        timers.delete(status);
        if (resumeTimer !== undefined) {
          clearTimeout(resumeTimer);
          timers.delete(resumeTimer);
        }
      });
    }
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  process.send?.({ type: 'listening', port: (wss.address() as net.AddressInfo).port });
  process.on('message', (m: { type: string; id?: string }) => {
    if (m.type === 'stats') {
      process.send?.({ type: 'stats', id: m.id, stats: stats.get(m.id ?? '')?.() ?? null });
    } else if (m.type === 'exit') {
      for (const timer of timers) clearTimeout(timer);
      for (const client of wss.clients) client.terminate();
      wss.close();
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------
// Client role

/** Peaks of `process.memoryUsage()`, sampled every SAMPLE_INTERVAL_MS. */
interface MemoryPeaks {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  external: number;
}

/** Memory sampling in a client process, from the baseline on. */
function memorySampler(): {
  readonly baselineRss: number;
  readonly peaks: MemoryPeaks;
  sample(): void;
  stop(): void;
} {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const baselineRss = process.memoryUsage.rss();
  const peaks: MemoryPeaks = { rss: 0, heapUsed: 0, arrayBuffers: 0, external: 0 };
  const sample = (): void => {
    const m = process.memoryUsage();
    peaks.rss = Math.max(peaks.rss, m.rss);
    peaks.heapUsed = Math.max(peaks.heapUsed, m.heapUsed);
    peaks.arrayBuffers = Math.max(peaks.arrayBuffers, m.arrayBuffers);
    peaks.external = Math.max(peaks.external, m.external);
  };
  sample();
  const timer = setInterval(sample, SAMPLE_INTERVAL_MS);
  return { baselineRss, peaks, sample, stop: () => clearInterval(timer) };
}

function maxRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** Parent's next message of `type` (the orchestrator drives the phases). */
function fromParent<T>(type: string): Promise<T> {
  return new Promise((resolve) => {
    const listener = (m: { type: string }): void => {
      if (m.type !== type) return;
      process.off('message', listener);
      resolve(m as T);
    };
    process.on('message', listener);
  });
}

/** What polysocket's and undici's `WebSocketStream` have in common, as used here. */
interface WssStream {
  readonly opened: Promise<{
    readonly readable: ReadableStream<string | Uint8Array>;
    readonly writable: WritableStream<string | Uint8Array>;
  }>;
  readonly closed: Promise<unknown>;
  close(): void;
}
type WssCtor = new (url: string) => WssStream;

/** The WHATWG `WebSocket`, as polysocket and undici implement it. */
interface WhatwgSocket {
  binaryType: string;
  readonly bufferedAmount: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string | Uint8Array): void;
  close(): void;
}
type WhatwgCtor = new (url: string) => WhatwgSocket;

interface WsClientSocket {
  binaryType: string;
  readonly bufferedAmount: number;
  on(event: 'open', listener: () => void): this;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  send(data: Uint8Array | string): void;
  close(): void;
}

/**
 * The one API the cases need from each client: message events (or a
 * readable), sending, `bufferedAmount` where there is one.
 */
type Client =
  | { readonly api: 'stream'; readonly version: string; readonly Ctor: WssCtor }
  | {
      readonly api: 'events';
      readonly version: string;
      open(url: string): Promise<EventClient>;
    };

/** An event-based client, opened. */
interface EventClient {
  onMessage(listener: ((data: Uint8Array | string) => void) | null): void;
  send(data: Uint8Array): void;
  readonly bufferedAmount: number;
  close(): void;
}

async function loadClient(impl: ImplName): Promise<Client> {
  const ownVersion = (require('../package.json') as { version: string }).version;
  const undiciVersion = (require('undici/package.json') as { version: string }).version;
  const built = '../dist/node.js';
  switch (impl) {
    case 'polysocket WebSocketStream': {
      const { WebSocketStream } = (await import(built)) as typeof import('../src/node.js');
      return { api: 'stream', version: ownVersion, Ctor: WebSocketStream as unknown as WssCtor };
    }
    case 'undici WebSocketStream': {
      const { WebSocketStream } = await import('undici');
      return { api: 'stream', version: undiciVersion, Ctor: WebSocketStream as unknown as WssCtor };
    }
    case 'polysocket WebSocket': {
      const { WebSocket } = (await import(built)) as typeof import('../src/node.js');
      return {
        api: 'events',
        version: ownVersion,
        open: (url) => openWhatwg(WebSocket as unknown as WhatwgCtor, url),
      };
    }
    case 'undici WebSocket': {
      const { WebSocket } = await import('undici');
      return {
        api: 'events',
        version: undiciVersion,
        open: (url) => openWhatwg(WebSocket as unknown as WhatwgCtor, url),
      };
    }
    case 'ws': {
      const { default: WsWebSocket } = await import('ws');
      const Ctor = WsWebSocket as unknown as new (url: string, options: object) => WsClientSocket;
      const version = (require('ws/package.json') as { version: string }).version;
      return { api: 'events', version, open: (url) => openWs(Ctor, url) };
    }
  }
}

/**
 * Message delivery for an event client: messages go to the listener set by
 * `onMessage()`, and those that arrive before it is set (the server may
 * send at once, and `ws` emits what came with the handshake in the same
 * turn as 'open') wait for it, so that none is missed.
 */
function messageRelay(): {
  deliver(data: Uint8Array | string): void;
  onMessage(listener: ((data: Uint8Array | string) => void) | null): void;
} {
  let listener: ((data: Uint8Array | string) => void) | null = null;
  const early: Array<Uint8Array | string> = [];
  return {
    deliver(data) {
      if (listener === null) early.push(data);
      else listener(data);
    },
    onMessage(next) {
      listener = next;
      if (next !== null) for (const data of early.splice(0)) next(data);
    },
  };
}

function openWhatwg(Ctor: WhatwgCtor, url: string): Promise<EventClient> {
  return new Promise((resolve, reject) => {
    const ws = new Ctor(url);
    const relay = messageRelay();
    ws.binaryType = 'arraybuffer';
    ws.onmessage = (event) => {
      const data = event.data as ArrayBuffer | string;
      relay.deliver(typeof data === 'string' ? data : new Uint8Array(data));
    };
    ws.onerror = () => reject(new Error('connection failed'));
    ws.onopen = () =>
      resolve({
        onMessage: relay.onMessage,
        send: (data) => ws.send(data),
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        close: () => ws.close(),
      });
  });
}

function openWs(
  Ctor: new (url: string, options: object) => WsClientSocket,
  url: string,
): Promise<EventClient> {
  return new Promise((resolve, reject) => {
    const ws = new Ctor(url, { perMessageDeflate: false });
    const relay = messageRelay();
    // ws's default: Buffers, views of the socket's reads.
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => relay.deliver(isBinary ? data : data.toString()));
    ws.on('error', reject);
    ws.on('open', () =>
      resolve({
        onMessage: relay.onMessage,
        send: (data) => ws.send(data),
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        close: () => ws.close(),
      }),
    );
  });
}

/** What a slow reader's client reports at the end of its stop. */
interface StoppedReport {
  readonly type: 'stopped';
  readonly baselineRss: number;
  readonly peaks: MemoryPeaks;
  readonly maxRss: number;
  /** Messages the client holds: the backlog array of a `WebSocket` client (a WebSocketStream: unknown, 0). */
  readonly backlog: number;
}

/** What a slow reader's client reports once it has read everything. */
interface DrainedReport {
  readonly type: 'drained';
  readonly received: number;
  /** Every message up to the cap was read (within DRAIN_TIMEOUT_MS). */
  readonly complete: boolean;
  /** Every message read was the one expected next, intact. */
  readonly inOrder: boolean;
  readonly firstBad: number | null;
  readonly drainMs: number;
  readonly peaks: MemoryPeaks;
  readonly maxRss: number;
}

async function slowReader(client: Client, url: string): Promise<void> {
  const memory = memorySampler();
  const cap = FLOOD_CAP;
  let received = 0;
  let firstBad: number | null = null;
  const check = (data: Uint8Array | string): void => {
    const seq = typeof data === 'string' ? -1 : sequenceOf(data, MESSAGE_SIZE);
    if (seq !== received && firstBad === null) firstBad = received;
    received++;
  };
  let stopped: StoppedReport;
  let drainMs: number;
  if (client.api === 'stream') {
    const stream = new client.Ctor(url);
    stream.closed.catch(() => {});
    const { readable } = await stream.opened;
    await sleep(STOP_MS);
    memory.sample();
    stopped = {
      type: 'stopped',
      baselineRss: memory.baselineRss,
      peaks: { ...memory.peaks },
      maxRss: maxRss(),
      backlog: 0,
    };
    process.send?.(stopped);
    await fromParent('drain');
    const start = now();
    const reader = readable.getReader();
    while (received < cap && now() - start < DRAIN_TIMEOUT_MS) {
      const { value, done } = await reader.read();
      if (done) break;
      check(value);
    }
    drainMs = now() - start;
    stream.close();
  } else {
    const ws = await client.open(url);
    // The application cannot refuse a message event: it keeps it for later.
    const backlog: Array<Uint8Array | string> = [];
    ws.onMessage((data) => backlog.push(data));
    await sleep(STOP_MS);
    memory.sample();
    stopped = {
      type: 'stopped',
      baselineRss: memory.baselineRss,
      peaks: { ...memory.peaks },
      maxRss: maxRss(),
      backlog: backlog.length,
    };
    process.send?.(stopped);
    await fromParent('drain');
    const start = now();
    for (const data of backlog.splice(0)) check(data);
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(resolve, Math.max(0, DRAIN_TIMEOUT_MS - (now() - start)));
      const done = (): void => {
        clearTimeout(deadline);
        ws.onMessage(null);
        resolve();
      };
      if (received >= cap) done();
      else
        ws.onMessage((data) => {
          check(data);
          if (received >= cap) done();
        });
    });
    drainMs = now() - start;
    ws.close();
  }
  memory.sample();
  memory.stop();
  const drained: DrainedReport = {
    type: 'drained',
    received,
    complete: received === cap,
    inOrder: firstBad === null,
    firstBad,
    drainMs,
    peaks: { ...memory.peaks },
    maxRss: maxRss(),
  };
  process.send?.(drained);
}

/** One status of the paced sender's server, as the client saw it. */
interface PacedPoint {
  /** ms since sending started. */
  readonly t: number;
  /** What the server has read. */
  readonly serverBytes: number;
  /** Bytes whose write resolved (WebSocketStream) or that the transport accepted (`send()`ed less `bufferedAmount`). */
  readonly writtenBytes: number;
  /** Bytes the client holds: writes called and not yet resolved, or `bufferedAmount`. */
  readonly clientQueuedBytes: number;
}

interface PacedReport {
  readonly type: 'paced';
  readonly baselineRss: number;
  readonly peaks: MemoryPeaks;
  readonly maxRss: number;
  readonly ms: number;
  /** Messages whose write resolved (WebSocketStream) or passed to `send()` (`WebSocket`). */
  readonly messages: number;
  /** Bytes the application passed to `writer.write()` or `send()`. */
  readonly sentBytes: number;
  /** WebSocketStream: writes resolved, in bytes; `WebSocket`: bytes sent less `bufferedAmount` at the end. */
  readonly writtenBytes: number;
  /** The server's last status: what it read, and messages out of order. */
  readonly serverBytes: number;
  readonly serverOutOfOrder: number;
  /** Largest bytes held in the client (writes called and not resolved; `bufferedAmount`). */
  readonly maxClientQueuedBytes: number;
  readonly maxClientQueuedMessages: number;
  /** Largest bytes written but not yet read by the server (the transport's buffers), over the statuses. */
  readonly maxInTransportBytes: number;
  /** WebSocketStream: how often the loop found `ready` pending, the time spent waiting for it, the lowest `desiredSize`. */
  readonly readyWaits: number;
  readonly readyWaitMs: number;
  readonly minDesiredSize: number | null;
  /** `WebSocket`: when NAIVE_CAP_BYTES were sent (ms), null if not reached. */
  readonly capReachedMs: number | null;
  /** The server's statuses, as the client saw them (only while its loop let the event loop run). */
  readonly timeline: PacedPoint[];
  /** `WebSocket`: `bufferedAmount` over time. */
  readonly buffered: Array<{ t: number; bufferedAmount: number }>;
}

async function pacedSender(client: Client, url: string, loop: SendLoop, size: number): Promise<void> {
  const memory = memorySampler();
  let server = { bytes: 0, outOfOrder: 0 };
  const timeline: PacedPoint[] = [];
  let maxInTransport = 0;
  let maxQueuedBytes = 0;
  let maxQueuedMessages = 0;
  let readyWaits = 0;
  let readyWaitMs = 0;
  let minDesiredSize: number | null = null;
  let capReachedMs: number | null = null;
  /** `WebSocket`: `bufferedAmount` every STATUS_INTERVAL_MS (or as soon after as the loop looks). */
  const buffered: Array<{ t: number; bufferedAmount: number }> = [];
  let messages = 0;
  let start = 0;
  /** Written (resolved, or accepted by the transport) and held in the client, in bytes, now. */
  let progress = (): { written: number; queued: number } => ({ written: 0, queued: 0 });
  const onStatus = (text: string): void => {
    const status = JSON.parse(text) as { bytes: number; outOfOrder: number };
    server = status;
    const { written, queued } = progress();
    maxInTransport = Math.max(maxInTransport, written - status.bytes);
    timeline.push({
      t: now() - start,
      serverBytes: status.bytes,
      writtenBytes: written,
      clientQueuedBytes: queued,
    });
  };
  let writtenBytes = 0;
  /** Done sending: the orchestrator stops the server's reading, then asks for the report. */
  const endOfCase = async (): Promise<void> => {
    const asked = fromParent('report');
    process.send?.({ type: 'ending' });
    await asked;
  };
  const report = (ms: number, sent: number, written: number): PacedReport => {
    memory.stop();
    return {
      type: 'paced',
      baselineRss: memory.baselineRss,
      peaks: { ...memory.peaks },
      maxRss: maxRss(),
      ms,
      messages,
      sentBytes: sent,
      writtenBytes: written,
      serverBytes: server.bytes,
      serverOutOfOrder: server.outOfOrder,
      maxClientQueuedBytes: maxQueuedBytes,
      maxClientQueuedMessages: maxQueuedMessages,
      maxInTransportBytes: maxInTransport,
      readyWaits,
      readyWaitMs,
      minDesiredSize,
      capReachedMs,
      timeline,
      buffered,
    };
  };
  if (client.api === 'stream') {
    const stream = new client.Ctor(url);
    stream.closed.catch(() => {});
    const { readable, writable } = await stream.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    // Statuses arrive while the loop sends; reading them is part of the case.
    const statuses = (async () => {
      for (let n = 0; n < (PACED_MS / STATUS_INTERVAL_MS) * 4 + 100; n++) {
        const { value, done } = await reader.read();
        if (done) return;
        if (typeof value === 'string') onStatus(value);
      }
    })();
    statuses.catch(() => {});
    let called = 0;
    let calledBytes = 0;
    let resolved = 0;
    progress = () => ({ written: writtenBytes, queued: calledBytes - writtenBytes });
    const track = (): void => {
      maxQueuedMessages = Math.max(maxQueuedMessages, called - resolved);
      maxQueuedBytes = Math.max(maxQueuedBytes, calledBytes - writtenBytes);
      const desired = writer.desiredSize;
      if (desired !== null)
        minDesiredSize = minDesiredSize === null ? desired : Math.min(minDesiredSize, desired);
    };
    let failure: unknown = null;
    start = now();
    const end = start + PACED_MS;
    for (let seq = 0; seq < PACED_MESSAGE_CAP && now() < end && failure === null; seq++) {
      if (loop === 'await ready' && (writer.desiredSize ?? 0) <= 0) {
        readyWaits++;
        const waited = now();
        await writer.ready;
        readyWaitMs += now() - waited;
      }
      const write = writer.write(message(seq, size));
      called++;
      calledBytes += size;
      track();
      const settled = write.then(
        () => {
          resolved++;
          writtenBytes += size;
        },
        (error: unknown) => {
          failure = error;
        },
      );
      if (loop === 'await write') await settled;
    }
    const ms = now() - start;
    track();
    if (failure !== null) throw failure;
    await endOfCase();
    messages = resolved;
    memory.sample();
    process.send?.(report(ms, calledBytes, writtenBytes));
    // Left open: the orchestrator reads the kernel's queues, then kills this process.
    return;
  }
  const ws = await client.open(url);
  ws.onMessage((data) => {
    if (typeof data === 'string') onStatus(data);
  });
  let sentBytes = 0;
  progress = () => {
    const queued = ws.bufferedAmount;
    return { written: sentBytes - queued, queued };
  };
  start = now();
  const end = start + PACED_MS;
  let seq = 0;
  let nextPoint = start;
  const watch = (): void => {
    const queued = ws.bufferedAmount;
    maxQueuedBytes = Math.max(maxQueuedBytes, queued);
    maxQueuedMessages = Math.max(maxQueuedMessages, Math.ceil(queued / size));
    const t = now();
    if (t >= nextPoint) {
      buffered.push({ t: t - start, bufferedAmount: queued });
      nextPoint += STATUS_INTERVAL_MS;
    }
  };
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      watch();
      if (now() >= end) {
        resolve();
        return;
      }
      if (sentBytes >= NAIVE_CAP_BYTES) {
        capReachedMs ??= now() - start;
        // Nothing left to send: only watch bufferedAmount fall.
        setTimeout(tick, SAMPLE_INTERVAL_MS);
        return;
      }
      // An application that ignores bufferedAmount: a batch per turn, whatever is queued.
      for (let sent = 0; sent < BATCH_BYTES && sentBytes < NAIVE_CAP_BYTES; sent += size) {
        ws.send(message(seq++, size));
        sentBytes += size;
      }
      watch();
      setImmediate(tick);
    };
    tick();
  });
  const ms = now() - start;
  await endOfCase();
  messages = seq;
  writtenBytes = sentBytes - ws.bufferedAmount;
  memory.sample();
  process.send?.(report(ms, sentBytes, writtenBytes));
  // Left open: the orchestrator reads the kernel's queues, then kills this process.
}

async function runClient(c: Case, port: number, id: string): Promise<void> {
  const client = await loadClient(c.impl);
  process.send?.({ type: 'ready', version: client.version });
  await fromParent('start');
  if (c.kind === 'slow reader') {
    await slowReader(client, `ws://127.0.0.1:${port}/flood?id=${id}&size=${MESSAGE_SIZE}&cap=${FLOOD_CAP}`);
  } else {
    await pacedSender(client, `ws://127.0.0.1:${port}/sink?id=${id}`, c.loop, c.size);
  }
  // The orchestrator kills this process once it has the report.
}

// ---------------------------------------------------------------------------
// Orchestrator

const children = new Set<ChildProcess>();

function spawn(args: string[]): ChildProcess {
  const env = { ...process.env };
  delete env['WS_NO_BUFFER_UTIL'];
  // undici warns once per process that its WebSocketStream is experimental: not a result.
  // `--quick` changes the configuration, which every process reads.
  const nodeArgs = [
    ...process.execArgv,
    '--expose-gc',
    '--disable-warning=UNDICI-WSS',
    SELF,
    ...args,
    ...(QUICK ? ['--quick'] : []),
  ];
  const child = nodeSpawn(process.execPath, nodeArgs, {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.on('error', (error) => {
    children.delete(child);
    kill(child);
    console.error(`child process: ${String(error)}`);
  });
  return child;
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function kill(child: ChildProcess): void {
  if (running(child) && child.pid !== undefined) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function killChildren(): void {
  for (const child of children) kill(child);
}

/**
 * Bytes in the kernel's queues of one loopback connection, as `ss` reports
 * them: a receive queue holds what the kernel received and the process has
 * not read; a send queue what the process wrote and the peer's kernel has
 * not acknowledged.
 */
interface SocketQueues {
  readonly clientReceiveQueue: number;
  readonly clientSendQueue: number;
  readonly serverReceiveQueue: number;
  readonly serverSendQueue: number;
}

/**
 * The kernel queues of the one established connection to `port` (`ss`, on
 * Linux); null where `ss` is missing or the connection cannot be told apart.
 */
function socketQueues(port: number): SocketQueues | null {
  const result = spawnSync(
    'ss',
    ['-tnH', 'state', 'established', `( sport = :${port} or dport = :${port} )`],
    {
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  if (result.status !== 0 || typeof result.stdout !== 'string') return null;
  /** [receive queue, send queue] of client sockets, and of server sockets, by the client's port. */
  const clients = new Map<string, [number, number]>();
  const servers = new Map<string, [number, number]>();
  for (const line of result.stdout.split('\n')) {
    // Recv-Q Send-Q Local-Address:Port Peer-Address:Port
    const [receiveQueue, sendQueue, local, peer] = line.trim().split(/\s+/);
    if (receiveQueue === undefined || sendQueue === undefined || local === undefined || peer === undefined)
      continue;
    const localPort = local.slice(local.lastIndexOf(':') + 1);
    const peerPort = peer.slice(peer.lastIndexOf(':') + 1);
    const queues: [number, number] = [Number(receiveQueue), Number(sendQueue)];
    if (localPort === String(port)) servers.set(peerPort, queues);
    else if (peerPort === String(port)) clients.set(localPort, queues);
  }
  const only = clients.size === 1 ? [...clients][0] : undefined;
  if (only === undefined) return null;
  const [clientPort, [clientReceiveQueue, clientSendQueue]] = only;
  const server = servers.get(clientPort);
  if (server === undefined) return null;
  const [serverReceiveQueue, serverSendQueue] = server;
  return { clientReceiveQueue, clientSendQueue, serverReceiveQueue, serverSendQueue };
}

interface SlowReaderResult {
  readonly impl: ImplName;
  readonly version: string;
  readonly stopped: StoppedReport;
  /** The server at the end of the stop. */
  readonly server: FloodStats;
  /** The kernel's queues at the end of the stop (null: not known). */
  readonly queues: SocketQueues | null;
  /** Bytes the client process had read from its socket by the end of the stop (null: not known). */
  readonly readByClient: number | null;
  readonly drained: DrainedReport;
  /** The server once the client has read everything. */
  readonly serverAfter: FloodStats;
}

interface PacedResult {
  readonly impl: ImplName;
  readonly version: string;
  readonly loop: SendLoop;
  readonly size: number;
  readonly report: PacedReport;
  /** The server, asked as soon as the client reported: what it had read. */
  readonly server: SinkStats;
  /** The kernel's queues at that point (null: not known). */
  readonly queues: SocketQueues | null;
}

let caseId = 0;

async function runCase(c: Case, port: number, server: ChildProcess): Promise<SlowReaderResult | PacedResult> {
  const id = String(++caseId);
  const child = spawn(['--role=client', `--case=${JSON.stringify(c)}`, `--port=${port}`, `--id=${id}`]);
  try {
    const { version } = await withTimeout(
      nextMessage<{ type: string; version: string }>(child, 'ready'),
      START_TIMEOUT_MS,
      `${caseName(c)}: start`,
    );
    const serverStats = async <T extends FloodStats | SinkStats>(): Promise<T> => {
      const reply = nextMessage<{ type: string; id: string; stats: T | null }>(server, 'stats');
      server.send({ type: 'stats', id });
      const { stats } = await withTimeout(reply, 30_000, 'server stats');
      if (stats === null) throw new Error(`${caseName(c)}: the server has no connection ${id}`);
      return stats;
    };
    if (c.kind === 'slow reader') {
      const stoppedReply = nextMessage<StoppedReport>(child, 'stopped');
      child.send({ type: 'start' });
      const stopped = await withTimeout(stoppedReply, CASE_TIMEOUT_MS, `${caseName(c)}: stop`);
      const atStop = await serverStats<FloodStats>();
      const queues = socketQueues(port);
      const drainedReply = nextMessage<DrainedReport>(child, 'drained');
      child.send({ type: 'drain' });
      const drained = await withTimeout(drainedReply, DRAIN_TIMEOUT_MS + 10_000, `${caseName(c)}: drain`);
      const after = await serverStats<FloodStats>();
      const readByClient =
        queues === null ? null : atStop.kernelBytes - queues.serverSendQueue - queues.clientReceiveQueue;
      return {
        impl: c.impl,
        version,
        stopped,
        server: atStop,
        queues,
        readByClient,
        drained,
        serverAfter: after,
      };
    }
    // The client says when it is done sending; the server stops reading
    // then, and only then does the client count what was written, so that
    // its figures, the server's and the kernel's queues add up.
    const ending = nextMessage<{ type: string }>(child, 'ending');
    child.send({ type: 'start' });
    await withTimeout(ending, PACED_MS + 30_000, caseName(c));
    const sink = await serverStats<SinkStats>();
    const reply = nextMessage<PacedReport>(child, 'paced');
    child.send({ type: 'report' });
    const report = await withTimeout(reply, 30_000, `${caseName(c)}: report`);
    const queues = socketQueues(port);
    return { impl: c.impl, version, loop: c.loop, size: c.size, report, server: sink, queues };
  } finally {
    kill(child);
  }
}

/** Build the package (`vite build`) so that the clients run what `npm pack` would ship. */
function buildLibrary(): void {
  const vite = join(HERE, '..', 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'error'], {
    cwd: join(HERE, '..'),
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`vite build failed (${result.status ?? result.signal})`);
}

async function orchestrate(): Promise<void> {
  const started = Date.now();
  const loadStart = os.loadavg()[0] ?? 0;
  const runTimer = setTimeout(() => {
    console.error(`run timed out after ${RUN_TIMEOUT_MS} ms`);
    killChildren();
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  process.on('exit', killChildren);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killChildren();
      process.exit(1);
    });
  }
  buildLibrary();
  const server = spawn(['--role=server']);
  const { port } = await withTimeout(
    nextMessage<{ type: string; port: number }>(server, 'listening'),
    20_000,
    'server start',
  );
  console.log(
    `backpressure benchmark on Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown'} ×${os.cpus().length}, load ${loadStart.toFixed(2)}; stop ${STOP_MS / 1000} s, cap ${FLOOD_CAP} messages of ${sizeName(MESSAGE_SIZE)}`,
  );
  const slow: SlowReaderResult[] = [];
  const paced: PacedResult[] = [];
  const versions: Partial<Record<ImplName, string>> = {};
  for (const c of cases()) {
    const result = await runCase(c, port, server);
    versions[result.impl] = result.version;
    if ('stopped' in result) {
      slow.push(result);
      console.log(slowLine(result));
    } else {
      paced.push(result);
      console.log(pacedLine(result));
    }
  }
  server.send({ type: 'exit' });
  clearTimeout(runTimer);
  const seconds = (Date.now() - started) / 1000;
  const loadEnd = os.loadavg()[0] ?? 0;
  console.log(
    `${slow.length + paced.length} cases in ${seconds.toFixed(1)} s; load ${loadStart.toFixed(2)} → ${loadEnd.toFixed(2)}`,
  );
  killChildren();
  // Out of order is a failure for anyone; not everything read in time, for polysocket only (the
  // subject here): undici's queue may read back too slowly, which the results then show.
  const failed = slow.filter(
    (r) => !r.drained.inOrder || (!r.drained.complete && r.impl === 'polysocket WebSocketStream'),
  );
  if (failed.length > 0) {
    throw new Error(`messages lost or out of order: ${failed.map((r) => r.impl).join(', ')}`);
  }
  const outOfOrder = paced.filter((r) => r.report.serverOutOfOrder > 0);
  if (outOfOrder.length > 0) {
    throw new Error(
      `the server read messages out of order: ${outOfOrder.map((r) => caseName({ kind: 'paced sender', impl: r.impl, loop: r.loop, size: r.size })).join(', ')}`,
    );
  }
  if (QUICK || ONLY !== undefined) return;
  const environment = {
    ...nodeEnvironment(),
    versions,
    seconds,
    loadAverage: { start: loadStart, end: loadEnd },
  };
  const config = {
    stopMs: STOP_MS,
    messageSize: MESSAGE_SIZE,
    floodCap: FLOOD_CAP,
    serverQueueLimit: SERVER_QUEUE_LIMIT,
    pacedMs: PACED_MS,
    readRate: READ_RATE,
    pacedSizes: PACED_SIZES,
    statusIntervalMs: STATUS_INTERVAL_MS,
    batchBytes: BATCH_BYTES,
    naiveCapBytes: NAIVE_CAP_BYTES,
    sampleIntervalMs: SAMPLE_INTERVAL_MS,
  };
  const resultsDir = join(HERE, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    join(resultsDir, 'backpressure.json'),
    `${JSON.stringify({ environment, config, slowReader: slow, pacedSender: paced }, null, 2)}\n`,
  );
  writeFileSync(join(resultsDir, 'backpressure.md'), markdown(environment, slow, paced));
  console.log(`wrote ${join('bench', 'results', 'backpressure.{json,md}')}`);
}

// ---------------------------------------------------------------------------
// Output

function fmt(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function mib(bytes: number): string {
  return fmt(bytes / 2 ** 20, 1);
}

function kib(bytes: number): string {
  return fmt(bytes / 1024, 0);
}

function slowLine(r: SlowReaderResult): string {
  const peak = Math.max(r.stopped.peaks.rss, r.stopped.maxRss);
  return `slow reader: ${r.impl}: RSS ${mib(r.stopped.baselineRss)} → peak ${mib(peak)} MiB during the stop; server sent ${fmt((r.server.sent * MESSAGE_SIZE) / 2 ** 20)} MiB (${r.server.sent} messages, ${kib(r.server.writableLength)} KiB in its socket)${r.server.capReachedMs === null ? '' : `, cap reached after ${fmt(r.server.capReachedMs / 1000, 2)} s`}; ${r.readByClient === null ? '' : `client read ${mib(r.readByClient)} MiB from its socket, ${mib(r.queues!.clientReceiveQueue)} MiB in its kernel receive queue; `}drained ${r.drained.received} messages${r.drained.complete ? '' : ' (NOT all, time limit)'} ${r.drained.inOrder ? 'in order' : `NOT in order (first bad ${r.drained.firstBad})`} in ${fmt(r.drained.drainMs / 1000, 2)} s, peak RSS over the case ${mib(Math.max(r.drained.peaks.rss, r.drained.maxRss))} MiB`;
}

function pacedLine(r: PacedResult): string {
  const p = r.report;
  const rate = p.writtenBytes / 1e6 / (p.ms / 1000);
  const waits =
    r.loop === 'naive send'
      ? `, ${p.capReachedMs === null ? 'cap not reached' : `cap reached after ${fmt(p.capReachedMs / 1000, 2)} s`}`
      : `, ready pending ${p.readyWaits}×, min desiredSize ${p.minDesiredSize ?? '—'}`;
  const kernel = r.queues === null ? '—' : mib(r.queues.clientSendQueue + r.queues.serverReceiveQueue);
  return `paced sender: ${r.impl}, ${r.loop}, ${sizeName(r.size)}: ${p.messages} messages, sent ${mib(p.sentBytes)} MiB, written ${mib(p.writtenBytes)} MiB (${fmt(rate)} MB/s), server read ${mib(r.server.bytes)} MiB; held in client max ${kib(p.maxClientQueuedBytes)} KiB, in the kernel queues at the end ${kernel} MiB${waits}; RSS ${mib(p.baselineRss)} → peak ${mib(Math.max(p.peaks.rss, p.maxRss))} MiB`;
}

const BACKPRESSURE: Record<ImplName, string> = {
  'polysocket WebSocketStream': 'yes: reading pauses above 1 MiB waiting',
  'undici WebSocketStream': 'none: every message is enqueued as it arrives',
  'polysocket WebSocket': 'none in the API: the handler keeps each message',
  'undici WebSocket': 'none in the API: the handler keeps each message',
  ws: 'none used: the handler keeps each message',
};

function markdown(
  environment: NodeEnvironment & {
    versions: Partial<Record<ImplName, string>>;
    seconds: number;
    loadAverage: { start: number; end: number };
  },
  slow: readonly SlowReaderResult[],
  paced: readonly PacedResult[],
): string {
  const version = (impl: ImplName): string => environment.versions[impl] ?? '?';
  const undiciSlow = slow.find((r) => r.impl === 'undici WebSocketStream');
  const growth = (r: SlowReaderResult): number =>
    Math.max(r.stopped.peaks.rss, r.stopped.maxRss) - r.stopped.baselineRss;
  const marks = TIMELINE_SECONDS.filter((s) => s * 1000 <= STOP_MS);
  const lines = [
    '# Backpressure benchmark: a slow reader and a paced sender',
    '',
    `Generated by \`npm run bench:backpressure\` (\`tsx bench/backpressure.bench.ts\`) on ${environment.date}.`,
    '',
    `- Node ${environment.node} (V8 ${environment.v8}), ${environment.platform}, ${environment.cpu} ×${environment.cpus}; TCP loopback (127.0.0.1). Total run time ${fmt(environment.seconds)} s; 1-minute load average ${fmt(environment.loadAverage.start, 2)} at the start, ${fmt(environment.loadAverage.end, 2)} at the end.`,
    `- Clients: polysocket ${version('polysocket WebSocketStream')} as built by \`vite build\` (dist/node.js), undici ${version('undici WebSocketStream')}, ws ${version('ws')}. Server: \`ws\` (bufferutil, permessage-deflate off) in a child process of its own; every case runs in a fresh client process (started with \`--expose-gc\`), one at a time.`,
    `- Memory: the client's RSS after loading its library and a full GC, before connecting (baseline), then \`process.memoryUsage()\` sampled every ${SAMPLE_INTERVAL_MS} ms and \`ru_maxrss\`; "peak" is the larger of the sampled peak and \`ru_maxrss\`, "growth" is peak minus baseline.`,
    '- One run per case: memory and flow figures, bounded by the caps and by flow control, not timings.',
    '',
    '## Slow reader',
    '',
    `The server sends ${sizeName(MESSAGE_SIZE)} binary messages, each with its sequence number, as fast as its socket takes them (it stops calling \`send()\` while ${mib(SERVER_QUEUE_LIMIT)} MiB wait in its socket, until \`'drain'\`), up to ${FLOOD_CAP.toLocaleString('en-US')} messages (the count of undici#5503, where undici's WebSocketStream went from 75 to 337 MiB). The client reads nothing for ${STOP_MS / 1000} s: a WebSocketStream client leaves its readable alone; a \`WebSocket\` client cannot refuse a message event, so its handler keeps every message in an array for later, as an application that cannot keep up must. Then the client reads every message and checks that all ${FLOOD_CAP.toLocaleString('en-US')} arrived, in order.`,
    '',
    '| client | receive backpressure | RSS before connecting (MiB) | peak RSS during the stop (MiB) | growth (MiB) | growth / undici WSS | peak heap used (MiB) | peak ArrayBuffers (MiB) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of slow) {
    const peak = Math.max(r.stopped.peaks.rss, r.stopped.maxRss);
    const vsUndici = undiciSlow === undefined ? Number.NaN : growth(r) / growth(undiciSlow);
    lines.push(
      `| ${r.impl} | ${BACKPRESSURE[r.impl]} | ${mib(r.stopped.baselineRss)} | ${mib(peak)} | ${mib(growth(r))} | ${fmt(vsUndici, 2)} | ${mib(r.stopped.peaks.heapUsed)} | ${mib(r.stopped.peaks.arrayBuffers)} |`,
    );
  }
  lines.push(
    '',
    "At the end of the stop: what the server managed to send (messages passed to `send()`), what still waited in its own socket (`writableLength`: the server was paced when this sits at its limit, and no longer sending), and when it reached the cap; where the bytes it sent were (`ss`: the client's kernel receive queue, the server's kernel send queue, and the rest, which the client process had read from its socket and holds). Then the drain: every message read, checked in order.",
    '',
    "| client | server sent (messages) | server sent (MiB) | waiting in the server's socket (KiB) | in the kernel queues (MiB) | read by the client process (MiB) | cap reached after (s) | read after the stop, in order | drain time (s) | peak RSS over the case (MiB) |",
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
  );
  for (const r of slow) {
    const peakAll = Math.max(r.drained.peaks.rss, r.drained.maxRss);
    const queues = r.queues === null ? '—' : mib(r.queues.clientReceiveQueue + r.queues.serverSendQueue);
    const read = r.readByClient === null ? '—' : mib(r.readByClient);
    const drained = `${r.drained.received.toLocaleString('en-US')}${r.drained.complete ? '' : ` of ${FLOOD_CAP.toLocaleString('en-US')} (time limit)`}, ${r.drained.inOrder ? 'yes' : `no (first bad: ${r.drained.firstBad})`}`;
    lines.push(
      `| ${r.impl} | ${r.server.sent.toLocaleString('en-US')} | ${mib(r.server.sent * MESSAGE_SIZE)} | ${kib(r.server.writableLength)} | ${queues} | ${read} | ${r.server.capReachedMs === null ? 'not during the stop' : fmt(r.server.capReachedMs / 1000, 2)} | ${drained} | ${fmt(r.drained.drainMs / 1000, 2)} | ${mib(peakAll)} |`,
    );
  }
  lines.push(
    '',
    'Messages the server had sent, by time into the stop: flat where the sender was paced.',
    '',
    `| client | ${marks.map((s) => `${s} s`).join(' | ')} |`,
    `| --- | ${marks.map(() => '---:').join(' | ')} |`,
  );
  for (const r of slow) {
    const at = (s: number): string => {
      const point = r.server.timeline.find((p) => p.seconds === s);
      return point === undefined ? '—' : point.sent.toLocaleString('en-US');
    };
    lines.push(`| ${r.impl} | ${marks.map(at).join(' | ')} |`);
  }
  lines.push(
    '',
    "- polysocket's WebSocketStream keeps one message in its readable's queue (the high-water mark) and stops reading from the socket while more than 1 MiB of received messages wait behind it; TCP flow control then stops the server. What the server sent beyond that sits in the transport: the two kernel socket buffers and the server's own queue. Its RSS growth is what a reader that stops costs: about the pause threshold, whatever the stop's length.",
    "- undici's WebSocketStream enqueues every message into its readable as it arrives (the readable has no pull algorithm and nothing pauses the socket): its memory grows with what the server sends, bounded here only by the cap.",
    '- The `WebSocket` clients have no way to refuse a message: an application that cannot keep up holds the messages itself. (`ws` has non-standard `pause()`/`resume()`; a `ws` application can stop reading with them, this one does not.)',
    '',
    '## Paced sender',
    '',
    `The server reads at ${mib(READ_RATE)} MiB/s (\`ws.pause()\` while ahead of that rate), checks sequence numbers and reports what it has read every ${STATUS_INTERVAL_MS} ms. The client sends binary messages for ${PACED_MS / 1000} s. WebSocketStream clients: "await write" is \`await writer.write(message)\` per message; "await ready" writes as \`pipeTo()\` does, \`await writer.ready\` only while \`desiredSize <= 0\`, then \`writer.write()\` without awaiting it. \`WebSocket\` clients ("naive send") send as an application that ignores \`bufferedAmount\` (the API has nothing to wait for): ${kib(BATCH_BYTES)} KiB of messages per event-loop turn, up to ${mib(NAIVE_CAP_BYTES)} MiB.`,
    '',
    '- sent: bytes the application passed to `writer.write()` or `send()`. written: WebSocketStream, writes resolved (the transport took the bytes); `WebSocket`, bytes sent less `bufferedAmount` at the end. On Node a socket reports writes queued in it as done only once the whole batch it hands the kernel is, so with a large backlog `bufferedAmount` trails the bytes already gone (written can be less than the server read).',
    "- held in the client: the most bytes written and not yet resolved (WebSocketStream: the writable's queue and the write in flight), or the largest `bufferedAmount`.",
    "- server read: what the server had read when the client stopped sending (the server then stops reading for good); written is counted after that, and the kernel queues (`ss`: the client's send queue and the server's receive queue) last, so that the figures add up: written less server read is what the transport holds, the kernel queues and what the server process took from its socket and had not parsed yet.",
    '- ready pending: how often the loop found `writer.ready` pending (`desiredSize <= 0`) and waited; min desiredSize: the lowest `writer.desiredSize` seen after a write (polysocket counts bytes, high-water mark 64 KiB; undici counts chunks, high-water mark 1).',
    '',
    '| client | loop | message | sent (MiB) | written (MiB) | written (MB/s) | server read (MiB) | in the kernel queues (MiB) | held in the client, max (KiB) | ready pending | min desiredSize | RSS growth (MiB) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of paced) {
    const p = r.report;
    const rate = p.writtenBytes / 1e6 / (p.ms / 1000);
    const grown = Math.max(p.peaks.rss, p.maxRss) - p.baselineRss;
    const wss = r.loop !== 'naive send';
    lines.push(
      `| ${r.impl} | ${r.loop} | ${sizeName(r.size)} | ${mib(p.sentBytes)} | ${mib(p.writtenBytes)} | ${fmt(rate)} | ${mib(r.server.bytes)} | ${r.queues === null ? '—' : mib(r.queues.clientSendQueue + r.queues.serverReceiveQueue)} | ${kib(p.maxClientQueuedBytes)} | ${wss ? p.readyWaits.toLocaleString('en-US') : '—'} | ${wss ? (p.minDesiredSize?.toLocaleString('en-US') ?? '—') : '—'} | ${mib(grown)} |`,
    );
  }
  const naive = paced.filter((r) => r.loop === 'naive send');
  if (naive.length > 0) {
    lines.push(
      '',
      `The naive \`WebSocket\` loops: when they had sent ${mib(NAIVE_CAP_BYTES)} MiB, and \`bufferedAmount\` over time (MiB).`,
      '',
      '| client | message | cap reached after (s) | bufferedAmount at 1 s | at half time | at the end | largest |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of naive) {
      const p = r.report;
      const at = (t: number): string => {
        const point = p.buffered.find((q) => q.t >= t);
        return point === undefined ? '—' : mib(point.bufferedAmount);
      };
      const last = p.buffered[p.buffered.length - 1];
      lines.push(
        `| ${r.impl} | ${sizeName(r.size)} | ${p.capReachedMs === null ? 'not reached' : fmt(p.capReachedMs / 1000, 2)} | ${at(1000)} | ${at(PACED_MS / 2)} | ${last === undefined ? '—' : mib(last.bufferedAmount)} | ${mib(p.maxClientQueuedBytes)} |`,
      );
    }
  }
  lines.push(
    '',
    "- A WebSocketStream write resolves once the transport has taken the bytes, so both loops go at the reader's pace: what the client holds stays within the writable's high-water mark and one message, whatever the duration; what the transport holds is its buffers (kernel socket buffers on both sides and the server's).",
    '- A `WebSocket` has no such signal: a loop that does not poll `bufferedAmount` queues everything it sends in the client process.',
    '',
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------

function argument(name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const role = argument('role');
const main =
  role === 'server'
    ? runServer()
    : role === 'client'
      ? runClient(
          JSON.parse(argument('case') ?? '{}') as Case,
          Number(argument('port')),
          argument('id') ?? '',
        )
      : orchestrate();
main.catch((error: unknown) => {
  console.error(error);
  killChildren();
  process.exit(1);
});
