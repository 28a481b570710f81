/**
 * End-to-end client benchmark over TCP loopback: polysocket's Node client
 * (`polysocket/node` as built by `vite build` into dist/, which the run does
 * first), its `WebSocket` and its `WebSocketStream`, beside `ws` (pure JS,
 * and with `bufferutil`), undici's `WebSocket` and `WebSocketStream` and a
 * raw TCP socket (the framing-free ceiling), in one run, against one
 * server.
 *
 * Run with `npm run bench:client` (i.e. `tsx bench/client.bench.ts`);
 * `--quick` runs a short smoke test and writes nothing; `--only=TEXT` runs
 * the scenarios whose name contains TEXT and writes nothing;
 * `--cpu-prof=IMPL` runs that implementation's client processes under
 * `node --cpu-prof`, one profile per scenario (a process per scenario, see
 * below), in build/cpu-prof/IMPL-SCENARIO/ (the main thread's file has
 * thread id 0 in its name), and writes nothing.
 * `--wss-send=ready` makes the WebSocketStream clients send with
 * `await writer.ready` before each `writer.write()` (the way `pipeTo()`
 * writes) rather than `await writer.write()` per message, and writes
 * nothing. `--baseline=DIR` adds "polysocket baseline", the `WebSocket` of
 * another build of polysocket (DIR is its dist/ directory, e.g. from
 * `git worktree add ../base REV && (cd ../base && npm ci && npm run build)`),
 * reports polysocket / baseline per scenario and writes nothing: the check
 * for a regression between two commits, each scenario's pair measured in the
 * same run. `--no-app-heap` runs every client without the application heap
 * (see BALLAST_OBJECTS), as a bare process that holds only its WebSocket
 * library, and writes bench/results/client-no-app-heap.{json,md}: the two
 * regimes give different ratios, and neither hides the other
 * (`npm run bench:client` runs both). Results go to
 * bench/results/client.{json,md}.
 *
 * Method
 * ------
 * - Processes: this process only orchestrates. The server runs in a child
 *   process of its own for the whole run (it is the same for everyone).
 *   Every (scenario, implementation) pair gets a fresh client process: for
 *   each scenario, one process per implementation is forked, loads its
 *   library, builds its application heap (see BALLAST_OBJECTS) and says
 *   `ready`; only then do the warm-up and the samples run, and at the end
 *   of the scenario every one of them is asked to exit and reports its peak
 *   RSS (`ru_maxrss`) for that scenario alone. Start-up is never timed.
 *   Why: with one process per implementation reused for all scenarios, a
 *   scenario's result depended on what had run before it in that process
 *   (the heap, the GC's pacing and the old generation's size left behind by
 *   the large-message scenarios): receiving 1 KiB messages measured 0.46×
 *   `ws` alone (`--only="1 KiB"`) and 0.20–0.36× in the full run, and `ws`
 *   itself received 1 KiB text at 683 MB/s alone and 1304 MB/s after the
 *   others. Each scenario is now measured from the same starting state for
 *   every implementation and independently of the order of scenarios (as
 *   JMH forks a JVM per benchmark). Separate processes also keep the
 *   server's CPU out of the clients, let `WS_NO_BUFFER_UTIL` be set before
 *   `ws` is loaded (pure-JS `ws` only) and make each peak RSS its own. The
 *   processes of one scenario are alive together, but only one runs a
 *   sample at a time; the others sit idle.
 * - Server: a `ws` WebSocketServer (with `bufferutil`, no permessage-deflate)
 *   on 127.0.0.1. For receive scenarios it writes pre-built unmasked binary
 *   frames straight to the upgraded socket (so that it is never the
 *   bottleneck: no per-message work); send scenarios are received by `ws`
 *   itself, which counts the messages and answers with the count; echo is
 *   `ws` sending back what it got. Raw TCP uses a `net` server in the same
 *   process: a command line, then the same payload bytes without framing.
 * - Scenarios: receive N binary messages of 16 B, 1 KiB, 1 MiB, 16 MiB, and
 *   N text messages (printable ASCII) of 16 B and 1 KiB (the client sends
 *   "go", counts N messages; timed from "go" to the Nth);
 *   send N binary messages (a synchronous loop of N `send()` calls, timed
 *   until the server's acknowledgement of N arrives), and at 1 MiB also
 *   paced (before each `send()`, wait while more than 4 MiB are buffered:
 *   see PACED_SIZES); echo latency of 16 B
 *   text messages, one in flight (p50 and p99 of each sample's round trips).
 *   WebSocketStream clients (polysocket's and undici's) read with
 *   `await reader.read()` in a loop (binary arrives as Uint8Array, text as
 *   strings); they send with `await writer.write(payload)` per message, the
 *   loop a streams user writes (and the one the WebSocketStream explainer
 *   shows): each write resolves once the transport has taken the bytes, so
 *   the loop goes at the pace of the socket, one message in flight. Both
 *   implementations' sinks take one write at a time anyway, so letting the
 *   writable queue up to its high-water mark (`--wss-send=ready`, as
 *   `pipeTo()` does) changes little; echo is `await writer.write()` then
 *   `await reader.read()`.
 *   `binaryType` is 'arraybuffer' for the WHATWG clients (polysocket,
 *   undici), which deliver text as strings; `ws` delivers its default Node
 *   Buffers for both; `ws (WHATWG types)` delivers what the WHATWG clients
 *   must (ArrayBuffer, string via toString()). Raw TCP receive counts
 *   bytes; raw TCP send writes the N payloads between `cork()` and
 *   `uncork()`.
 * - Sampling: one warm-up sample per implementation and scenario, then
 *   SAMPLES samples with the implementations alternating (A B C, then C B A)
 *   so that drift on a noisy machine hits all alike; a fresh connection per
 *   sample (connecting and the handshake are not timed); a full GC in each
 *   client process once it is loaded and again before its first (warm-up)
 *   sample. The warm-up sample is all a process has run before its
 *   measured samples (no earlier scenario warmed it up: the JIT state, like
 *   the heap, is the scenario's own). Reported: medians; MB/s = 10^6
 *   payload bytes per second; client CPU = process.cpuUsage() (user +
 *   system) of the client process over the timed region divided by wall
 *   time (near 100 %: the client is the bottleneck). Memory: RSS of each
 *   client process once loaded ("idle, after loading", median over its
 *   processes) and its `ru_maxrss` at exit, i.e. the peak of one scenario
 *   (the same workload for every implementation), and the largest of those
 *   as "peak over the run".
 * - Ratio = polysocket / ws (pure JS): for throughput ≥ 1.00 means
 *   polysocket is at least as fast; for latency ≤ 1.00 means polysocket is
 *   at least as quick. The WebSocketStream columns have ratios of their
 *   own, polysocket's WebSocketStream / undici's and / ws (pure JS), read
 *   the same way.
 */
import { type ChildProcess, spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { type NodeEnvironment, nodeEnvironment, sizeName } from './support/common.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------
// Configuration

const QUICK = process.argv.includes('--quick');
/** `--no-app-heap`: clients hold no application heap (BALLAST_OBJECTS); results go to client-no-app-heap.*. */
const APP_HEAP = !process.argv.includes('--no-app-heap');
const RESULTS_NAME = APP_HEAP ? 'client' : 'client-no-app-heap';
const ONLY = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
/** `--cpu-prof=IMPL`: run that client's processes under `node --cpu-prof` (a directory per scenario in build/cpu-prof, a file per thread); writes nothing. */
const CPU_PROF = process.argv.find((arg) => arg.startsWith('--cpu-prof='))?.slice('--cpu-prof='.length);
/** `--baseline=DIR`: another build's dist/ directory, run as "polysocket baseline"; writes nothing. */
const BASELINE_ARG = process.argv.find((arg) => arg.startsWith('--baseline='))?.slice('--baseline='.length);
const BASELINE = BASELINE_ARG === undefined ? undefined : resolve(BASELINE_ARG);
/** Samples per implementation and scenario after one warm-up (even: each order runs as often). */
const SAMPLES = QUICK ? 2 : 10;
/** Echo: more, shorter samples, so that scheduling noise on a shared machine averages out. */
const ECHO_SAMPLES = QUICK ? 2 : 30;
/**
 * How the WebSocketStream clients send: `await writer.write()` per message
 * (the default), or `await writer.ready` before each write as `pipeTo()`
 * does (`--wss-send=ready`, writes nothing).
 */
const WSS_SEND: 'await' | 'ready' = process.argv.includes('--wss-send=ready') ? 'ready' : 'await';
/** A sample that takes longer fails the run. */
const SAMPLE_TIMEOUT_MS = 20_000;
/** The whole run is stopped after this long. */
const RUN_TIMEOUT_MS = 15 * 60_000;
const SIZES = [16, 1024, 1024 * 1024, 16 * 1024 * 1024] as const;
/**
 * Sizes also sent paced: before each send the client waits (1 ms timers)
 * while more than PACED_LIMIT bytes are buffered
 * (`bufferedAmount`; raw TCP: the socket's `writableLength`), as an upload
 * loop does. Unpaced, every frame of a sample is made in one turn before
 * any is written; paced, frames are made while earlier ones are being
 * written, which is when a client can reuse their memory. WebSocketStream
 * clients are paced by their writer in both.
 */
const PACED_SIZES = [1024 * 1024] as const;
const PACED_LIMIT = 4 * 1024 * 1024;

/**
 * `count` sends: in one synchronous loop, or `paced`, each once at most
 * PACED_LIMIT bytes are buffered; bounded by `count` (and the sample's
 * timeout).
 */
async function sendAll(
  count: number,
  paced: boolean,
  send: () => void,
  buffered: () => number,
): Promise<void> {
  for (let n = 0; n < count; n++) {
    // A 1 ms timer, as an upload loop would use: polling every turn of the
    // event loop would count its own spinning as the client's CPU.
    while (paced && buffered() > PACED_LIMIT) await new Promise((resolve) => setTimeout(resolve, 1));
    send();
  }
}
/** Text messages received too, where decoding to a string replaces the ArrayBuffer. */
const TEXT_SIZES = [16, 1024] as const;
/** Messages per sample for each size: about 1–64 MiB of payload, bounded by count. */
function messageCount(size: number): number {
  const counts: Record<number, number> = { 16: 200_000, 1024: 50_000, 1048576: 128, 16777216: 8 };
  const count = counts[size] ?? 16;
  return QUICK ? Math.max(2, Math.ceil(count / 10)) : count;
}
const ECHO_SIZE = 16;
const ECHO_ROUND_TRIPS = QUICK ? 200 : 500;

type ImplName =
  | 'polysocket'
  | 'polysocket baseline'
  | 'polysocket WebSocketStream'
  | 'polysocket core'
  | 'ws'
  | 'ws (WHATWG types)'
  | 'ws+bufferutil'
  | 'undici'
  | 'undici WebSocketStream'
  | 'raw TCP';
const IMPLS: readonly ImplName[] = [
  'polysocket',
  ...(BASELINE === undefined ? [] : (['polysocket baseline'] as const)),
  'polysocket WebSocketStream',
  'polysocket core',
  'ws',
  'ws (WHATWG types)',
  'ws+bufferutil',
  'undici',
  'undici WebSocketStream',
  'raw TCP',
];
const POLYSOCKET_WSS: ImplName = 'polysocket WebSocketStream';
const UNDICI_WSS: ImplName = 'undici WebSocketStream';
/**
 * `ws` pure JS delivering the data types the WHATWG clients must deliver: a
 * fresh ArrayBuffer per binary message (`binaryType = 'arraybuffer'`) and a
 * string per text message (`toString()`, as a ws user reads text); receive
 * scenarios only (nothing else changes).
 */
const RECEIVE_ONLY: readonly ImplName[] = ['ws (WHATWG types)', 'polysocket core'];

type Scenario =
  | { readonly kind: 'receive'; readonly size: number; readonly count: number; readonly text: boolean }
  | { readonly kind: 'send'; readonly size: number; readonly count: number; readonly paced: boolean }
  | { readonly kind: 'echo'; readonly size: number; readonly count: number };

interface SampleResult {
  /** Wall time of the timed region. */
  readonly ms: number;
  /** Client process CPU time (user + system) over the timed region. */
  readonly cpuMs: number;
  /** Echo only: round-trip times in milliseconds, sorted. */
  readonly p50?: number;
  readonly p99?: number;
  /** Full (mark-compact) garbage collections in the client during the sample. */
  readonly majorGcs?: number;
}

// ---------------------------------------------------------------------------
// Helpers shared by all roles

function scenarioName(s: Scenario): string {
  if (s.kind === 'echo') return `echo ${sizeName(s.size)} latency`;
  return `${s.kind}${s.kind === 'receive' && s.text ? ' text' : ''} ${sizeName(s.size)}${s.kind === 'send' && s.paced ? ' paced' : ''}`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function cpuNow(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The receiving side of a sample: `start()` when the clock starts, then
 * `add()` each message's size; the Nth message settles the sample with the
 * timed region's figures, or rejects if bytes went missing.
 */
function receiveTally(
  size: number,
  count: number,
  resolve: (result: SampleResult) => void,
  reject: (error: Error) => void,
): { start(): void; add(received: number): void } {
  let seen = 0;
  let bytes = 0;
  let start = 0;
  let cpu = 0;
  return {
    start() {
      cpu = cpuNow();
      start = now();
    },
    add(received) {
      bytes += received;
      if (++seen !== count) return;
      const ms = now() - start;
      const cpuMs = cpuNow() - cpu;
      if (bytes === size * count) resolve({ ms, cpuMs });
      else reject(new Error(`received ${bytes} bytes, expected ${size * count}`));
    },
  };
}

function payloadOf(size: number, text = false): Uint8Array {
  const payload = new Uint8Array(size);
  // Text: printable ASCII (valid UTF-8, one UTF-16 code unit per byte).
  for (let i = 0; i < size; i++) payload[i] = text ? 32 + ((i * 31 + 7) % 95) : (i * 31 + 7) & 0xff;
  return payload;
}

// ---------------------------------------------------------------------------
// Server role: a ws WebSocketServer and a raw net server on 127.0.0.1.

interface WsServerSocket {
  readonly _socket: net.Socket;
  send(data: Buffer | string, options?: { binary: boolean }): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

/** Unmasked FIN binary (or text) frame header for `size` bytes. */
function frameHeader(size: number, text: boolean): Buffer {
  const first = text ? 0x81 : 0x82;
  if (size < 126) return Buffer.from([first, size]);
  if (size < 65536) {
    const header = Buffer.alloc(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(size, 2);
    return header;
  }
  const header = Buffer.alloc(10);
  header[0] = first;
  header[1] = 127;
  header.writeBigUInt64BE(BigInt(size), 2);
  return header;
}

const BATCH_BYTES = 1024 * 1024;

/** What the server writes for N messages of `size`: batches of whole frames, or header + payload pairs. */
function* framesToWrite(size: number, count: number, raw: boolean, text = false): Generator<Buffer> {
  const payload = Buffer.from(payloadOf(size, text));
  const header = raw ? Buffer.alloc(0) : frameHeader(size, text);
  const frameLength = header.byteLength + size;
  if (frameLength >= BATCH_BYTES) {
    for (let n = 0; n < count; n++) {
      if (header.byteLength > 0) yield header;
      yield payload;
    }
    return;
  }
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / frameLength));
  const batch = Buffer.allocUnsafe(perBatch * frameLength);
  for (let i = 0; i < perBatch; i++) {
    header.copy(batch, i * frameLength);
    payload.copy(batch, i * frameLength + header.byteLength);
  }
  for (let n = 0; n < count; n += perBatch) {
    const frames = Math.min(perBatch, count - n);
    yield frames === perBatch ? batch : batch.subarray(0, frames * frameLength);
  }
}

async function writeAll(socket: net.Socket, chunks: Iterable<Buffer>): Promise<void> {
  for (const chunk of chunks) {
    if (socket.destroyed) return;
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    }
  }
}

async function runServer(): Promise<void> {
  // ws with bufferutil: the server's unmasking is native.
  delete process.env['WS_NO_BUFFER_UTIL'];
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
  });
  wss.on('connection', (socket: unknown, request: { url?: string }) => {
    const ws = socket as WsServerSocket;
    ws.on('error', () => {});
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const size = Number(url.searchParams.get('size'));
    const count = Number(url.searchParams.get('count'));
    const text = url.searchParams.get('text') === '1';
    if (url.pathname === '/receive') {
      // The client says "go" once its timer runs; then pre-built frames go out.
      let started = false;
      ws.on('message', () => {
        if (started) return;
        started = true;
        void writeAll(ws._socket, framesToWrite(size, count, false, text));
      });
    } else if (url.pathname === '/send') {
      let seen = 0;
      let bytes = 0;
      ws.on('message', (data) => {
        seen++;
        bytes += data.byteLength;
        if (seen === count) ws.send(bytes === size * count ? String(seen) : `bad byte count ${bytes}`);
      });
    } else {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    }
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));

  const raw = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => {});
    let command = '';
    let mode: 'receive' | 'send' | 'echo' | null = null;
    let expected = 0;
    let seen = 0;
    socket.on('data', (chunk: Buffer) => {
      let data = chunk;
      if (mode === null) {
        command += data.toString('latin1');
        const eol = command.indexOf('\n');
        if (eol === -1) return;
        const [verb, sizeText, countText] = command.slice(0, eol).split(' ');
        const size = Number(sizeText);
        const count = Number(countText);
        data = Buffer.from(command.slice(eol + 1), 'latin1');
        mode = verb as 'receive' | 'send' | 'echo';
        expected = size * count;
        if (mode === 'receive') void writeAll(socket, framesToWrite(size, count, true));
      }
      if (mode === 'send') {
        seen += data.byteLength;
        if (seen === expected) socket.write('ok\n');
      } else if (mode === 'echo' && data.byteLength > 0) {
        socket.write(data);
      }
    });
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', () => resolve()));
  const wsPort = (wss.address() as net.AddressInfo).port;
  const rawPort = (raw.address() as net.AddressInfo).port;
  process.send?.({ wsPort, rawPort });
  process.on('message', (message) => {
    if (message === 'exit') {
      for (const client of wss.clients) client.terminate();
      wss.close();
      raw.close();
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------
// Client role

interface ClientImpl {
  readonly version: string;
  readonly notes: string;
  receive(size: number, count: number, text: boolean): Promise<SampleResult>;
  /** `paced`: wait while more than PACED_LIMIT bytes are buffered before each send, as an upload loop does. */
  send(size: number, count: number, paced: boolean): Promise<SampleResult>;
  echo(size: number, count: number): Promise<SampleResult>;
}

/** The WHATWG API, as polysocket and undici implement it. */
interface WhatwgSocket {
  binaryType: string;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onclose: ((event: Event) => void) | null;
  readonly bufferedAmount: number;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(): void;
}
type WhatwgCtor = new (url: string) => WhatwgSocket;

function whatwgClient(Ctor: WhatwgCtor, base: string, version: string, notes: string): ClientImpl {
  const open = (path: string): Promise<WhatwgSocket> =>
    new Promise((resolve, reject) => {
      const ws = new Ctor(`${base}${path}`);
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error(`${path}: connection failed`));
    });
  const close = (ws: WhatwgSocket): Promise<void> =>
    new Promise((resolve) => {
      ws.onmessage = null;
      ws.onerror = () => {};
      ws.onclose = () => resolve();
      ws.close();
    });
  return {
    version,
    notes,
    async receive(size, count, text) {
      const ws = await open(`/receive?size=${size}&count=${count}&text=${text ? 1 : 0}`);
      const result = await new Promise<SampleResult>((resolve, reject) => {
        const tally = receiveTally(size, count, resolve, reject);
        ws.onerror = () => reject(new Error('error event'));
        ws.onmessage = (event) => {
          const data = event.data as ArrayBuffer | string;
          tally.add(typeof data === 'string' ? data.length : data.byteLength);
        };
        tally.start();
        ws.send('go');
      });
      await close(ws);
      return result;
    },
    async send(size, count, paced) {
      const ws = await open(`/send?size=${size}&count=${count}`);
      const payload = payloadOf(size);
      const result = await new Promise<SampleResult>((resolve, reject) => {
        ws.onerror = () => reject(new Error('error event'));
        ws.onmessage = (event) => {
          const ms = now() - start;
          const cpuMs = cpuNow() - cpu;
          if (event.data === String(count)) resolve({ ms, cpuMs });
          else reject(new Error(`server answered ${String(event.data)}`));
        };
        const cpu = cpuNow();
        const start = now();
        sendAll(
          count,
          paced,
          () => ws.send(payload),
          () => ws.bufferedAmount,
        ).catch(reject);
      });
      await close(ws);
      return result;
    },
    async echo(size, count) {
      const ws = await open('/echo');
      const message = 'x'.repeat(size);
      const times: number[] = [];
      const cpu = cpuNow();
      const begin = now();
      await new Promise<void>((resolve, reject) => {
        let sent = 0;
        ws.onerror = () => reject(new Error('error event'));
        ws.onmessage = (event) => {
          times.push(now() - sent);
          if (event.data !== message) reject(new Error('echo mismatch'));
          else if (times.length === count) resolve();
          else {
            sent = now();
            ws.send(message);
          }
        };
        sent = now();
        ws.send(message);
      });
      const result = echoResult(times, now() - begin, cpuNow() - cpu);
      await close(ws);
      return result;
    },
  };
}

function echoResult(times: number[], ms: number, cpuMs: number): SampleResult {
  times.sort((a, b) => a - b);
  return { ms, cpuMs, p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** What polysocket's and undici's `WebSocketStream` have in common, as the benchmark uses it. */
interface WssStream {
  readonly opened: Promise<{
    readonly readable: ReadableStream<string | Uint8Array>;
    readonly writable: WritableStream<string | Uint8Array>;
  }>;
  readonly closed: Promise<unknown>;
  close(): void;
}
type WssCtor = new (url: string) => WssStream;

/** How long closing a sample's connection may take before the sample fails. */
const CLOSE_TIMEOUT_MS = 5_000;

function wssClient(Ctor: WssCtor, base: string, version: string, notes: string): ClientImpl {
  const open = async (
    path: string,
  ): Promise<{
    stream: WssStream;
    reader: ReadableStreamDefaultReader<string | Uint8Array>;
    writer: WritableStreamDefaultWriter<string | Uint8Array>;
  }> => {
    const stream = new Ctor(`${base}${path}`);
    // Handled here: `closed` rejects on an unclean close, which the sample reports otherwise.
    stream.closed.catch(() => {});
    const { readable, writable } = await stream.opened;
    return { stream, reader: readable.getReader(), writer: writable.getWriter() };
  };
  const close = async (stream: WssStream): Promise<void> => {
    stream.close();
    await withTimeout(
      stream.closed.catch(() => {}),
      CLOSE_TIMEOUT_MS,
      'WebSocketStream close',
    );
  };
  const read = async (
    reader: ReadableStreamDefaultReader<string | Uint8Array>,
  ): Promise<string | Uint8Array> => {
    const { value, done } = await reader.read();
    if (done) throw new Error('the readable closed early');
    return value;
  };
  return {
    version,
    notes,
    async receive(size, count, text) {
      const { stream, reader, writer } = await open(
        `/receive?size=${size}&count=${count}&text=${text ? 1 : 0}`,
      );
      const result = await new Promise<SampleResult>((resolve, reject) => {
        const tally = receiveTally(size, count, resolve, reject);
        tally.start();
        const run = async (): Promise<void> => {
          await writer.write('go');
          for (let n = 0; n < count; n++) {
            const data = await read(reader);
            tally.add(typeof data === 'string' ? data.length : data.byteLength);
          }
        };
        run().catch(reject);
      });
      await close(stream);
      return result;
    },
    async send(size, count) {
      const { stream, reader, writer } = await open(`/send?size=${size}&count=${count}`);
      const payload = payloadOf(size);
      const answer = read(reader);
      const cpu = cpuNow();
      const start = now();
      if (WSS_SEND === 'await') {
        for (let n = 0; n < count; n++) await writer.write(payload);
      } else {
        // As pipeTo() writes: wait for `ready` only while the queue is full.
        let last: Promise<void> = Promise.resolve();
        for (let n = 0; n < count; n++) {
          if ((writer.desiredSize ?? 0) <= 0) await writer.ready;
          last = writer.write(payload);
          last.catch(() => {}); // the last write's failure is awaited below; the others fail it too
        }
        await last;
      }
      const data = await answer;
      const ms = now() - start;
      const cpuMs = cpuNow() - cpu;
      if (data !== String(count)) throw new Error(`server answered ${String(data)}`);
      await close(stream);
      return { ms, cpuMs };
    },
    async echo(size, count) {
      const { stream, reader, writer } = await open('/echo');
      const message = 'x'.repeat(size);
      const times: number[] = [];
      const cpu = cpuNow();
      const begin = now();
      for (let n = 0; n < count; n++) {
        const sent = now();
        await writer.write(message);
        const data = await read(reader);
        times.push(now() - sent);
        if (data !== message) throw new Error('echo mismatch');
      }
      const result = echoResult(times, now() - begin, cpuNow() - cpu);
      await close(stream);
      return result;
    },
  };
}

interface WsClientSocket {
  binaryType: string;
  on(event: 'open', listener: () => void): this;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  once(event: 'close', listener: () => void): this;
  removeAllListeners(event: string): this;
  readonly bufferedAmount: number;
  send(data: Uint8Array | string): void;
  close(): void;
}

async function wsClient(base: string, binaryType: 'nodebuffer' | 'arraybuffer'): Promise<ClientImpl> {
  const { default: WsWebSocket } = await import('ws');
  const Ctor = WsWebSocket as unknown as new (url: string, options: object) => WsClientSocket;
  const version = (require('ws/package.json') as { version: string }).version;
  const nativeMask = Object.keys(require.cache).some((file) => file.includes(`${'/'}bufferutil${'/'}`));
  const wantNative = process.env['WS_NO_BUFFER_UTIL'] === undefined;
  if (nativeMask !== wantNative) {
    throw new Error(`ws: bufferutil ${nativeMask ? 'loaded' : 'not loaded'}, expected the opposite`);
  }
  const open = (path: string): Promise<WsClientSocket> =>
    new Promise((resolve, reject) => {
      const ws = new Ctor(`${base}${path}`, { perMessageDeflate: false });
      ws.binaryType = binaryType;
      ws.on('open', () => resolve(ws));
      ws.on('error', reject);
    });
  const close = (ws: WsClientSocket): Promise<void> =>
    new Promise((resolve) => {
      ws.removeAllListeners('message');
      ws.once('close', () => resolve());
      ws.close();
    });
  return {
    version,
    notes: `${nativeMask ? 'bufferutil (native masking)' : 'WS_NO_BUFFER_UTIL=1 (pure-JS masking)'}, binaryType '${binaryType}'`,
    async receive(size, count, text) {
      const ws = await open(`/receive?size=${size}&count=${count}&text=${text ? 1 : 0}`);
      const result = await new Promise<SampleResult>((resolve, reject) => {
        const tally = receiveTally(size, count, resolve, reject);
        ws.on('error', reject);
        ws.on('message', (data, isBinary) => {
          // ws hands text over as a Buffer too; a user who wants the string
          // (what a WHATWG client delivers) calls toString().
          if (!isBinary && binaryType === 'arraybuffer') tally.add(data.toString().length);
          else tally.add((data as Buffer | ArrayBuffer).byteLength);
        });
        tally.start();
        ws.send('go');
      });
      await close(ws);
      return result;
    },
    async send(size, count, paced) {
      const ws = await open(`/send?size=${size}&count=${count}`);
      const payload = payloadOf(size);
      const result = await new Promise<SampleResult>((resolve, reject) => {
        ws.on('error', reject);
        ws.on('message', (data) => {
          const ms = now() - start;
          const cpuMs = cpuNow() - cpu;
          if (data.toString() === String(count)) resolve({ ms, cpuMs });
          else reject(new Error(`server answered ${data.toString()}`));
        });
        const cpu = cpuNow();
        const start = now();
        sendAll(
          count,
          paced,
          () => ws.send(payload),
          () => ws.bufferedAmount,
        ).catch(reject);
      });
      await close(ws);
      return result;
    },
    async echo(size, count) {
      const ws = await open('/echo');
      const message = 'x'.repeat(size);
      const times: number[] = [];
      const cpu = cpuNow();
      const begin = now();
      await new Promise<void>((resolve, reject) => {
        let sent = 0;
        ws.on('error', reject);
        ws.on('message', (data, isBinary) => {
          times.push(now() - sent);
          // As a ws user reads a text message: toString().
          if (isBinary || data.toString() !== message) reject(new Error('echo mismatch'));
          else if (times.length === count) resolve();
          else {
            sent = now();
            ws.send(message);
          }
        });
        sent = now();
        ws.send(message);
      });
      const result = echoResult(times, now() - begin, cpuNow() - cpu);
      await close(ws);
      return result;
    },
  };
}

/**
 * polysocket's Sans-I/O core driven directly over its Node transport, the
 * way `ws` delivers messages: synchronously in the socket callback, no task
 * and no `MessageEvent`, with the WHATWG data types (a whole ArrayBuffer per
 * binary message, a string per text message). Receive scenarios only: it
 * shows what the protocol and transport cost, apart from the WHATWG layer.
 */
async function coreClient(base: string): Promise<ClientImpl> {
  const built = '../dist/protocol.js';
  const node = '../dist/node.js';
  const { ClientProtocol, Opcode } = (await import(built)) as typeof import('../src/protocol/index.js');
  const { NodeTransport } = (await import(node)) as typeof import('../src/node.js');
  const decoder = new TextDecoder();
  const version = (require('../package.json') as { version: string }).version;
  const unsupported = (): Promise<SampleResult> => Promise.reject(new Error('receive only'));
  return {
    version,
    notes: 'ClientProtocol + NodeTransport, messages handled synchronously in the socket callback',
    async receive(size, count, text) {
      const url = `${base}/receive?size=${size}&count=${count}&text=${text ? 1 : 0}`;
      const { port } = new URL(url);
      const transport = new NodeTransport({ url, host: '127.0.0.1', port: Number(port), secure: false });
      const protocol = new ClientProtocol(url, { maxMessageSize: 64 * 1024 * 1024 });
      // Large payloads read in place, as the WebSocket class does.
      transport.readTarget = () => protocol.receiveBuffer();
      let failed: ((error: Error) => void) | undefined;
      let tally: ReturnType<typeof receiveTally> | undefined;
      const result = new Promise<SampleResult>((resolve, reject) => {
        failed = reject;
        tally = receiveTally(size, count, resolve, reject);
      });
      const flush = (): void => {
        for (const output of protocol.dataToSend()) {
          if (typeof output === 'symbol') void transport.end();
          else void transport.write(output);
        }
      };
      const handle = (): void => {
        flush();
        for (const event of protocol.eventsReceived()) {
          if (event.kind === 'response') {
            if (protocol.handshakeError !== null) {
              failed?.(protocol.handshakeError);
              return;
            }
            tally?.start();
            protocol.sendText(new TextEncoder().encode('go'));
            flush();
          } else if (event.opcode === Opcode.TEXT) {
            tally?.add(decoder.decode(event.data).length);
          } else if (event.opcode === Opcode.BINARY) {
            // What the WebSocket class hands out (message.ts's toArrayBuffer,
            // not exported): the whole buffer when the payload fills it, else a copy.
            const data = event.data;
            const whole =
              data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
                ? data.buffer
                : new Uint8Array(data).buffer;
            tally?.add(whole.byteLength);
          }
        }
      };
      transport.on('open', () => {
        protocol.sendRequest(protocol.connect());
        flush();
      });
      transport.on('data', (chunk) => {
        protocol.receiveData(chunk);
        handle();
      });
      transport.on('close', (error) => failed?.(error ?? new Error('connection closed')));
      try {
        return await result;
      } finally {
        failed = undefined;
        transport.destroy();
      }
    },
    send: unsupported,
    echo: unsupported,
  };
}

function rawClient(port: number): ClientImpl {
  const open = (): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.on('error', reject);
    });
  const close = (socket: net.Socket): Promise<void> =>
    new Promise((resolve) => {
      socket.removeAllListeners('data');
      socket.once('close', () => resolve());
      socket.resume();
      socket.end();
    });
  return {
    version: `node:net (Node ${process.version})`,
    notes: 'no framing: payload bytes only',
    async receive(size, count) {
      const socket = await open();
      const expected = size * count;
      const result = await new Promise<SampleResult>((resolve) => {
        let bytes = 0;
        socket.on('data', (chunk: Buffer) => {
          bytes += chunk.byteLength;
          if (bytes === expected) resolve({ ms: now() - start, cpuMs: cpuNow() - cpu });
        });
        const cpu = cpuNow();
        const start = now();
        socket.write(`receive ${size} ${count}\n`);
      });
      await close(socket);
      return result;
    },
    async send(size, count, paced) {
      const socket = await open();
      const payload = payloadOf(size);
      const result = await new Promise<SampleResult>((resolve) => {
        socket.on('data', () => resolve({ ms: now() - start, cpuMs: cpuNow() - cpu }));
        const cpu = cpuNow();
        const start = now();
        if (paced) {
          socket.write(`send ${size} ${count}\n`);
          void sendAll(
            count,
            true,
            () => socket.write(payload),
            () => socket.writableLength,
          );
        } else {
          socket.cork();
          socket.write(`send ${size} ${count}\n`);
          for (let n = 0; n < count; n++) socket.write(payload);
          socket.uncork();
        }
      });
      await close(socket);
      return result;
    },
    async echo(size, count) {
      const socket = await open();
      const message = Buffer.from('x'.repeat(size));
      socket.write(`echo ${size} ${count}\n`);
      const times: number[] = [];
      const cpu = cpuNow();
      const begin = now();
      await new Promise<void>((resolve) => {
        let sent = 0;
        let pending = 0;
        socket.on('data', (chunk: Buffer) => {
          pending += chunk.byteLength;
          while (pending >= size) {
            pending -= size;
            times.push(now() - sent);
            if (times.length === count) {
              resolve();
              return;
            }
            sent = now();
            socket.write(message);
          }
        });
        sent = now();
        socket.write(message);
      });
      const result = echoResult(times, now() - begin, cpuNow() - cpu);
      await close(socket);
      return result;
    },
  };
}

/**
 * Live objects every client process holds, as an application does (its own
 * state, its framework): about 40 MiB of small objects. Without them the
 * results depended on each library's own footprint rather than on its work:
 * V8 11 (Node 20) starts no incremental marking while the old generation is
 * at most 8 MiB, and a client process with only the library loaded sits
 * right at that line, where receiving large messages (each socket read a new
 * 64 KiB ArrayBuffer) either triggers a full GC every few MiB or none. Which
 * side a client landed on varied with its code size and from run to run
 * (0.4–1.1× `ws` for 1 MiB messages); with this ballast every client runs in
 * the same regime, as in a real application.
 */
const BALLAST_OBJECTS = 300_000;

function makeBallast(): unknown[] {
  const objects: unknown[] = [];
  if (!APP_HEAP) return objects;
  for (let i = 0; i < BALLAST_OBJECTS; i++) objects.push({ id: i, name: `item ${i}`, tags: [i & 7] });
  return objects;
}

function wssNotes(): string {
  return `reads with await reader.read(); sends with ${WSS_SEND === 'await' ? 'await writer.write() per message' : 'await writer.ready before each writer.write()'}`;
}

async function runClient(impl: ImplName, wsPort: number, rawPort: number): Promise<void> {
  const base = `ws://127.0.0.1:${wsPort}`;
  let client: ClientImpl;
  switch (impl) {
    case 'polysocket': {
      // The built package (what users run), not the sources through tsx:
      // tsx keeps function names by wrapping every closure it creates.
      const built = '../dist/node.js';
      const { WebSocket } = (await import(built)) as typeof import('../src/node.js');
      const version = (require('../package.json') as { version: string }).version;
      client = whatwgClient(WebSocket as unknown as WhatwgCtor, base, version, "binaryType 'arraybuffer'");
      break;
    }
    case 'polysocket baseline': {
      const built = pathToFileURL(join(BASELINE ?? '', 'node.js')).href;
      const { WebSocket } = (await import(built)) as typeof import('../src/node.js');
      client = whatwgClient(WebSocket as unknown as WhatwgCtor, base, 'baseline', `dist from ${BASELINE}`);
      break;
    }
    case 'undici': {
      const { WebSocket } = await import('undici');
      const version = (require('undici/package.json') as { version: string }).version;
      client = whatwgClient(WebSocket as unknown as WhatwgCtor, base, version, "binaryType 'arraybuffer'");
      break;
    }
    case 'polysocket WebSocketStream': {
      const built = '../dist/node.js';
      const { WebSocketStream } = (await import(built)) as typeof import('../src/node.js');
      const version = (require('../package.json') as { version: string }).version;
      client = wssClient(WebSocketStream as unknown as WssCtor, base, version, wssNotes());
      break;
    }
    case 'undici WebSocketStream': {
      const { WebSocketStream } = await import('undici');
      const version = (require('undici/package.json') as { version: string }).version;
      client = wssClient(WebSocketStream as unknown as WssCtor, base, version, wssNotes());
      break;
    }
    case 'ws':
    case 'ws+bufferutil':
      client = await wsClient(base, 'nodebuffer');
      break;
    case 'ws (WHATWG types)':
      client = await wsClient(base, 'arraybuffer');
      break;
    case 'polysocket core':
      client = await coreClient(base);
      break;
    case 'raw TCP':
      client = rawClient(rawPort);
      break;
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  // An application's own heap: see BALLAST_OBJECTS.
  gc?.();
  const heapBefore = getHeapStatistics().used_heap_size;
  // Held on globalThis for the life of the process.
  (globalThis as { benchBallast?: unknown[] }).benchBallast = makeBallast();
  gc?.();
  const ballastBytes = getHeapStatistics().used_heap_size - heapBefore;
  let majorGcs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR)
        majorGcs++;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  process.send?.({
    type: 'ready',
    version: client.version,
    notes: client.notes,
    idleRssBytes: process.memoryUsage.rss(),
    loadedMaxRssBytes: process.resourceUsage().maxRSS * 1024,
    ballastBytes,
  });
  let lastScenario = '';
  process.on('message', (message: { type: string; id: number; scenario: Scenario }) => {
    if (message.type === 'exit') {
      process.send?.({ type: 'exit', maxRssBytes: process.resourceUsage().maxRSS * 1024 }, () =>
        process.exit(0),
      );
      return;
    }
    const { id, scenario } = message;
    const name = scenarioName(scenario);
    if (name !== lastScenario) {
      lastScenario = name;
      gc?.();
    }
    const run =
      scenario.kind === 'receive'
        ? client.receive(scenario.size, scenario.count, scenario.text)
        : scenario.kind === 'send'
          ? client.send(scenario.size, scenario.count, scenario.paced)
          : client.echo(scenario.size, scenario.count);
    const gcsBefore = majorGcs;
    withTimeout(run, SAMPLE_TIMEOUT_MS, `${impl} ${name}`).then(
      // GC entries are delivered asynchronously: read the count a task later.
      (result) =>
        setImmediate(() =>
          process.send?.({ type: 'result', id, result: { ...result, majorGcs: majorGcs - gcsBefore } }),
        ),
      (error: unknown) => process.send?.({ type: 'result', id, error: String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------
// Orchestrator

/** One client process: one implementation, one scenario. */
interface Worker {
  readonly impl: ImplName;
  readonly child: ChildProcess;
  readonly version: string;
  readonly notes: string;
  /** RSS once the library is loaded and the ballast built. */
  readonly idleRssBytes: number;
  /** `ru_maxrss` at that point: the peak of loading alone. */
  readonly loadedMaxRssBytes: number;
  readonly ballastBytes: number;
}

/** Every child process still running (removed as each exits): killed on failure, timeout or exit. */
const children = new Set<ChildProcess>();

/**
 * CPUs to pin the server and the clients to with `taskset`, where it exists
 * and there are two CPUs or more: the server on the last, clients on the
 * first, so that where the scheduler puts them (same core or not) doesn't
 * change from one process to the next. Latency is bimodal without this.
 */
const PINNING: { readonly server: string; readonly client: string } | null = (() => {
  const cpus = os.cpus().length;
  if (cpus < 2 || spawnSync('taskset', ['-V']).status !== 0) return null;
  return { server: String(cpus - 1), client: '0' };
})();

/**
 * `profile`: the name of this process's `--cpu-prof` directory (in
 * build/cpu-prof), if any. A directory per process, not a file name: tsx's
 * module hooks run in a thread of their own, which `--cpu-prof` profiles too,
 * and with one `--cpu-prof-name` both threads wrote the same file, the
 * hooks thread last (a profile 98% idle). Node names each thread's file
 * `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`: thread 0 is the
 * client's main thread.
 */
function spawn(
  args: string[],
  env: NodeJS.ProcessEnv,
  cpu: string | undefined,
  profile?: string,
): ChildProcess {
  const prof =
    profile === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${join(HERE, '..', 'build', 'cpu-prof', profile)}`];
  // undici warns once per process that its WebSocketStream is experimental: not a result.
  const nodeArgs = [
    ...process.execArgv,
    '--expose-gc',
    '--disable-warning=UNDICI-WSS',
    ...prof,
    SELF,
    ...args,
  ];
  const child =
    cpu === undefined
      ? nodeSpawn(process.execPath, nodeArgs, { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : nodeSpawn('taskset', ['-c', cpu, process.execPath, ...nodeArgs], {
          env,
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
  children.add(child);
  child.once('exit', () => children.delete(child));
  // A failed spawn emits 'error' (and may never emit 'exit'): fail the run, don't crash on it.
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

function nextMessage<T>(child: ChildProcess, accept: (message: T) => boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    if (!running(child)) {
      reject(new Error(`child had exited with ${child.exitCode ?? child.signalCode}`));
      return;
    }
    const onMessage = (message: T): void => {
      if (!accept(message)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`child exited with ${code}`));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}

/** How long a client process may take to load (its library and its ballast). */
const START_TIMEOUT_MS = 30_000;
/** How long a client process may take to report its peak RSS and exit. */
const EXIT_TIMEOUT_MS = 10_000;

/**
 * Fork one client process per implementation for `scenario`, one after the
 * other, each once the previous one is ready (start-up is not timed: nothing
 * is measured until every one of them is ready; one at a time, so that the
 * load stays what the samples see). Every process forked is pushed to
 * `started` as soon as it exists, so that the caller can kill them all
 * whatever happens.
 */
async function startWorkers(
  impls: readonly ImplName[],
  scenario: Scenario,
  ports: { readonly wsPort: number; readonly rawPort: number },
  started: ChildProcess[],
): Promise<Worker[]> {
  const baseEnv = { ...process.env };
  delete baseEnv['WS_NO_BUFFER_UTIL'];
  const workers: Worker[] = [];
  for (const impl of impls) {
    const pureJs = impl === 'ws' || impl === 'ws (WHATWG types)';
    const env = pureJs ? { ...baseEnv, WS_NO_BUFFER_UTIL: '1' } : baseEnv;
    const profile =
      impl === CPU_PROF ? `${impl} ${scenarioName(scenario)}`.replace(/[^A-Za-z0-9]+/g, '-') : undefined;
    const child = spawn(
      [
        `--role=client`,
        `--impl=${impl}`,
        `--ws-port=${ports.wsPort}`,
        `--raw-port=${ports.rawPort}`,
        ...(APP_HEAP ? [] : ['--no-app-heap']),
        ...(BASELINE === undefined ? [] : [`--baseline=${BASELINE}`]),
      ],
      env,
      PINNING?.client,
      profile,
    );
    started.push(child);
    const ready = await withTimeout(
      nextMessage<{
        type: string;
        version: string;
        notes: string;
        idleRssBytes: number;
        loadedMaxRssBytes: number;
        ballastBytes: number;
      }>(child, (m) => m.type === 'ready'),
      START_TIMEOUT_MS,
      `${impl} start (${scenarioName(scenario)})`,
    );
    workers.push({
      impl,
      child,
      version: ready.version,
      notes: ready.notes,
      idleRssBytes: ready.idleRssBytes,
      loadedMaxRssBytes: ready.loadedMaxRssBytes,
      ballastBytes: ready.ballastBytes,
    });
  }
  return workers;
}

/** Ask a client process to exit; its peak RSS (`ru_maxrss`, bytes) once it has exited. */
async function stopWorker(worker: Worker): Promise<number> {
  const child = worker.child;
  // Let it exit by itself (a --cpu-prof profile is written at exit).
  const exited = new Promise<void>((resolve) => {
    if (!running(child)) resolve();
    else child.once('exit', () => resolve());
  });
  const reply = nextMessage<{ type: string; maxRssBytes: number }>(child, (m) => m.type === 'exit');
  child.send({ type: 'exit' });
  const { maxRssBytes } = await withTimeout(reply, EXIT_TIMEOUT_MS, `${worker.impl} exit`);
  await withTimeout(exited, EXIT_TIMEOUT_MS, `${worker.impl} exit`);
  return maxRssBytes;
}

let requestId = 0;

async function runSample(worker: Worker, scenario: Scenario): Promise<SampleResult> {
  const id = ++requestId;
  const reply = nextMessage<{ type: string; id: number; result?: SampleResult; error?: string }>(
    worker.child,
    (m) => m.type === 'result' && m.id === id,
  );
  worker.child.send({ type: 'run', id, scenario });
  const message = await reply;
  if (message.error !== undefined || message.result === undefined) {
    throw new Error(`${worker.impl} ${scenarioName(scenario)}: ${message.error}`);
  }
  return message.result;
}

interface ImplResult {
  readonly impl: ImplName;
  readonly samples: SampleResult[];
  readonly medianMs: number;
  readonly medianCpuPercent: number;
  /** Median over samples of full GCs during the sample. */
  readonly medianMajorGcs: number;
  /** Throughput scenarios. */
  readonly messagesPerSec?: number;
  readonly mbPerSec?: number;
  /** Echo: medians over samples of each sample's percentile, ms. */
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  /** This scenario's client process: RSS once loaded (before any sample) and its peak (`ru_maxrss` at exit). */
  readonly idleRssBytes: number;
  readonly maxRssBytes: number;
}

interface Row {
  readonly scenario: string;
  readonly kind: Scenario['kind'];
  readonly size: number;
  readonly count: number;
  readonly results: ImplResult[];
  /** polysocket / ws (pure JS): throughput (≥ 1 better) or p50 latency (≤ 1 better). */
  readonly ratio: number;
  readonly ratioP99?: number;
  /** Receive: polysocket / ws (pure JS) with binaryType 'arraybuffer', the same data type delivered. */
  readonly ratioArrayBuffer?: number;
  /** Receive: polysocket's core driven directly / ws (pure JS). */
  readonly ratioCore?: number;
  /** Peak RSS of this scenario's process, polysocket / ws (pure JS) (≤ 1: polysocket used no more). */
  readonly ratioMaxRss: number;
  /** polysocket's WebSocketStream / undici's and / ws (pure JS): as `ratio` and `ratioP99`, and peak RSS. */
  readonly wss?: WssRatios;
}

/** The WebSocketStream columns' ratios: polysocket's / undici's, polysocket's / ws (pure JS). */
interface WssRatios {
  readonly vsUndici: number;
  readonly vsWs: number;
  /** Echo: p99 latency. */
  readonly vsUndiciP99?: number;
  readonly vsWsP99?: number;
  /** Peak RSS of the scenario's process, polysocket's WebSocketStream / undici's (≤ 1: no more). */
  readonly maxRssVsUndici: number;
}

/** `ours` against `theirs`: throughput as theirs' time / ours (≥ 1 better), latency as ours / theirs (≤ 1 better). */
function speedRatio(
  kind: Scenario['kind'],
  ours: ImplResult | undefined,
  theirs: ImplResult | undefined,
  p99 = false,
): number {
  if (ours === undefined || theirs === undefined) return Number.NaN;
  if (kind !== 'echo') return theirs.medianMs / ours.medianMs;
  return p99 ? ours.p99Ms! / theirs.p99Ms! : ours.p50Ms! / theirs.p50Ms!;
}

function wssRatios(kind: Scenario['kind'], results: readonly ImplResult[]): WssRatios | undefined {
  const ours = results.find((r) => r.impl === POLYSOCKET_WSS);
  if (ours === undefined) return undefined;
  const undici = results.find((r) => r.impl === UNDICI_WSS);
  const ws = results.find((r) => r.impl === 'ws');
  return {
    vsUndici: speedRatio(kind, ours, undici),
    vsWs: speedRatio(kind, ours, ws),
    ...(kind === 'echo'
      ? { vsUndiciP99: speedRatio(kind, ours, undici, true), vsWsP99: speedRatio(kind, ours, ws, true) }
      : {}),
    maxRssVsUndici: undici === undefined ? Number.NaN : ours.maxRssBytes / undici.maxRssBytes,
  };
}

function summarize(
  scenario: Scenario,
  impl: ImplName,
  samples: SampleResult[],
  memory: { readonly idleRssBytes: number; readonly maxRssBytes: number },
): ImplResult {
  const medianMs = median(samples.map((s) => s.ms));
  const medianCpuPercent = median(samples.map((s) => (100 * s.cpuMs) / s.ms));
  const medianMajorGcs = median(samples.map((s) => s.majorGcs ?? 0));
  const common = { impl, samples, medianMs, medianCpuPercent, medianMajorGcs };
  const { idleRssBytes, maxRssBytes } = memory;
  if (scenario.kind === 'echo') {
    return {
      ...common,
      p50Ms: median(samples.map((s) => s.p50!)),
      p99Ms: median(samples.map((s) => s.p99!)),
      idleRssBytes,
      maxRssBytes,
    };
  }
  return {
    ...common,
    messagesPerSec: scenario.count / (medianMs / 1e3),
    mbPerSec: (scenario.size * scenario.count) / 1e6 / (medianMs / 1e3),
    idleRssBytes,
    maxRssBytes,
  };
}

function scenarios(): Scenario[] {
  const all: Scenario[] = [];
  for (const size of SIZES) all.push({ kind: 'receive', size, count: messageCount(size), text: false });
  for (const size of TEXT_SIZES) all.push({ kind: 'receive', size, count: messageCount(size), text: true });
  for (const size of SIZES) all.push({ kind: 'send', size, count: messageCount(size), paced: false });
  for (const size of PACED_SIZES) all.push({ kind: 'send', size, count: messageCount(size), paced: true });
  all.push({ kind: 'echo', size: ECHO_SIZE, count: ECHO_ROUND_TRIPS });
  return all.filter((s) => ONLY === undefined || scenarioName(s).includes(ONLY));
}

function bufferutilLoads(): string {
  try {
    const bufferutil = require('bufferutil') as { mask?: unknown };
    const version = (require('bufferutil/package.json') as { version: string }).version;
    return typeof bufferutil.mask === 'function' ? version : '';
  } catch {
    return '';
  }
}

/** An implementation as its client processes reported it. */
interface ClientInfo {
  readonly impl: ImplName;
  readonly version: string;
  readonly notes: string;
}

/** An implementation's memory over the run, from its client processes (one per scenario it ran). */
interface MemorySummary {
  readonly impl: ImplName;
  readonly processes: number;
  /** Median over its processes of the RSS once loaded. */
  readonly idleRssBytes: number;
  /** Median over its processes of `ru_maxrss` once loaded: the peak of loading alone. */
  readonly loadedMaxRssBytes: number;
  /** Largest peak RSS (`ru_maxrss` at exit) over its scenarios. */
  readonly maxRssBytes: number;
}

function ratioOfResults(results: readonly ImplResult[], value: (r: ImplResult) => number): number {
  const ours = results.find((r) => r.impl === 'polysocket');
  const theirs = results.find((r) => r.impl === 'ws');
  return ours === undefined || theirs === undefined ? Number.NaN : value(ours) / value(theirs);
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
  const bufferutilVersion = bufferutilLoads();
  const impls = IMPLS.filter((impl) => impl !== 'ws+bufferutil' || bufferutilVersion !== '');
  if (bufferutilVersion === '') console.log('bufferutil does not load: the ws+bufferutil column is skipped');

  const serverEnv = { ...process.env };
  delete serverEnv['WS_NO_BUFFER_UTIL'];
  const server = spawn(['--role=server'], serverEnv, PINNING?.server);
  const ports = await withTimeout(
    nextMessage<{ wsPort: number; rawPort: number }>(server, () => true),
    20_000,
    'server start',
  );
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  console.log(
    `client benchmark on Node ${process.version}, ${cpu} ×${os.cpus().length}, load ${loadStart.toFixed(2)}; a fresh client process per scenario and implementation`,
  );

  const clients = new Map<ImplName, ClientInfo>();
  /** Every client process once loaded, over all scenarios. */
  const loaded: Worker[] = [];
  let startupMs = 0;
  const rows: Row[] = [];
  for (const scenario of scenarios()) {
    const name = scenarioName(scenario);
    const scenarioImpls = impls.filter((impl) => scenario.kind === 'receive' || !RECEIVE_ONLY.includes(impl));
    /** This scenario's processes: killed in `finally` if anything fails before they exit. */
    const forked: ChildProcess[] = [];
    try {
      const startedAt = now();
      const active = await startWorkers(scenarioImpls, scenario, ports, forked);
      startupMs += now() - startedAt;
      for (const w of active) {
        loaded.push(w);
        if (!clients.has(w.impl)) {
          clients.set(w.impl, { impl: w.impl, version: w.version, notes: w.notes });
          console.log(`  ${w.impl}: ${w.version}, ${w.notes}`);
        }
      }
      for (const worker of active) await runSample(worker, scenario);
      const samples = active.map(() => [] as SampleResult[]);
      const sampleCount = scenario.kind === 'echo' ? ECHO_SAMPLES : SAMPLES;
      for (let s = 0; s < sampleCount; s++) {
        for (let k = 0; k < active.length; k++) {
          const index = s % 2 === 0 ? k : active.length - 1 - k;
          samples[index]!.push(await runSample(active[index]!, scenario));
        }
      }
      const maxRss = await Promise.all(active.map((w) => stopWorker(w)));
      const results = active.map((w, i) =>
        summarize(scenario, w.impl, samples[i]!, { idleRssBytes: w.idleRssBytes, maxRssBytes: maxRss[i]! }),
      );
      const ours = results.find((r) => r.impl === 'polysocket');
      const theirs = results.find((r) => r.impl === 'ws');
      const theirsArrayBuffer = results.find((r) => r.impl === 'ws (WHATWG types)');
      let ratio = Number.NaN;
      let ratioP99: number | undefined;
      let ratioArrayBuffer: number | undefined;
      let ratioCore: number | undefined;
      const core = results.find((r) => r.impl === 'polysocket core');
      if (core !== undefined && theirs !== undefined) ratioCore = theirs.medianMs / core.medianMs;
      if (ours !== undefined && theirs !== undefined) {
        if (scenario.kind === 'echo') {
          ratio = ours.p50Ms! / theirs.p50Ms!;
          ratioP99 = ours.p99Ms! / theirs.p99Ms!;
        } else {
          ratio = theirs.medianMs / ours.medianMs;
        }
      }
      if (ours !== undefined && theirsArrayBuffer !== undefined) {
        ratioArrayBuffer = theirsArrayBuffer.medianMs / ours.medianMs;
      }
      const wss = wssRatios(scenario.kind, results);
      const row: Row = {
        scenario: name,
        kind: scenario.kind,
        size: scenario.size,
        count: scenario.count,
        results,
        ratio,
        ...(ratioP99 === undefined ? {} : { ratioP99 }),
        ...(ratioArrayBuffer === undefined ? {} : { ratioArrayBuffer }),
        ...(ratioCore === undefined ? {} : { ratioCore }),
        ratioMaxRss: ratioOfResults(results, (r) => r.maxRssBytes),
        ...(wss === undefined ? {} : { wss }),
      };
      rows.push(row);
      console.log(consoleLine(row));
    } finally {
      for (const child of forked) kill(child);
    }
  }

  server.send('exit');
  const floor = await measureFloor();
  console.log(
    `per-message floor (ns): task ${fmt(floor.taskNs, 0)}, MessageEvent + dispatch ${fmt(floor.eventNs, 0)}, 16 B ArrayBuffer ${fmt(floor.arrayBufferNs, 0)}, 16 B string ${fmt(floor.stringNs, 0)}`,
  );
  clearTimeout(runTimer);
  const seconds = (Date.now() - started) / 1000;
  const loadEnd = os.loadavg()[0] ?? 0;
  const columns = impls.flatMap((impl) => clients.get(impl) ?? []);
  const memory: MemorySummary[] = columns.map(({ impl }) => {
    const processes = loaded.filter((w) => w.impl === impl);
    const peaks = rows.flatMap((row) => row.results.filter((r) => r.impl === impl).map((r) => r.maxRssBytes));
    return {
      impl,
      processes: processes.length,
      idleRssBytes: median(processes.map((w) => w.idleRssBytes)),
      loadedMaxRssBytes: median(processes.map((w) => w.loadedMaxRssBytes)),
      maxRssBytes: Math.max(...peaks),
    };
  });
  const environment = {
    ...nodeEnvironment(),
    versions: Object.fromEntries(columns.map((c) => [c.impl, c.version])),
    notes: Object.fromEntries(columns.map((c) => [c.impl, c.notes])),
    bufferutil: bufferutilVersion === '' ? 'does not load' : bufferutilVersion,
    server: 'ws WebSocketServer with bufferutil, perMessageDeflate off, in a child process for the whole run',
    clientProcesses: 'a fresh child process per scenario and implementation (start-up not timed)',
    processCount: loaded.length,
    startupSeconds: startupMs / 1000,
    pinning:
      PINNING === null
        ? 'none'
        : `taskset: server on CPU ${PINNING.server}, clients on CPU ${PINNING.client}`,
    ballast: APP_HEAP
      ? `${BALLAST_OBJECTS} live objects per client, ${mib(median(loaded.map((w) => w.ballastBytes)))} MiB of heap`
      : 'none (--no-app-heap): each client holds only its WebSocket library',
    samples: SAMPLES,
    echoSamples: ECHO_SAMPLES,
    warmup: 1,
    seconds,
    loadAverage: { start: loadStart, end: loadEnd },
  };
  console.log(
    `\nRSS (MiB), idle after loading (median) / peak over the run: ${memory.map((m) => `${m.impl} ${mib(m.idleRssBytes)} / ${mib(m.maxRssBytes)}`).join(', ')}`,
  );
  console.log(
    `${rows.length} scenarios, ${loaded.length} client processes (start-up ${(startupMs / 1000).toFixed(1)} s, not timed) in ${seconds.toFixed(1)} s; load ${loadStart.toFixed(2)} → ${loadEnd.toFixed(2)}`,
  );
  killChildren();
  if (QUICK || ONLY !== undefined || CPU_PROF !== undefined || WSS_SEND !== 'await' || BASELINE !== undefined)
    return;

  const resultsDir = join(HERE, 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    join(resultsDir, `${RESULTS_NAME}.json`),
    `${JSON.stringify({ environment, memory, floor, rows }, null, 2)}\n`,
  );
  writeFileSync(join(resultsDir, `${RESULTS_NAME}.md`), markdown(environment, columns, memory, rows, floor));
  console.log(`wrote ${join('bench', 'results', `${RESULTS_NAME}.{json,md}`)}`);
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

// ---------------------------------------------------------------------------
// The per-message floor of the WHATWG contract

/** What one received message costs at least in a WHATWG client on this runtime, in ns. */
interface Floor {
  /** One task (`setImmediate`), N queued at once as a burst of messages queues them. */
  readonly taskNs: number;
  /** `new MessageEvent()` and `dispatchEvent()` to one listener. */
  readonly eventNs: number;
  /** A fresh ArrayBuffer holding 16 bytes copied from a larger chunk (binaryType 'arraybuffer'). */
  readonly arrayBufferNs: number;
  /** A string decoded from 16 bytes of UTF-8 (`TextDecoder`). */
  readonly stringNs: number;
}

/**
 * Measure, in this process (the clients are idle by then), what the WHATWG
 * API makes every received message cost before any protocol work: the
 * standard queues a task per message and fires a MessageEvent carrying a
 * fresh ArrayBuffer (or a string). Medians of 5 rounds.
 */
async function measureFloor(): Promise<Floor> {
  const n = QUICK ? 50_000 : 500_000;
  const chunk = new Uint8Array(65_536).map((_, i) => 32 + (i % 95));
  const target = new EventTarget();
  let sink = 0;
  target.addEventListener('message', (event) => {
    sink += (event as MessageEvent).data.length;
  });
  const decoder = new TextDecoder();
  const sync = (body: (i: number) => void): number => {
    const rounds: number[] = [];
    for (let r = 0; r < 6; r++) {
      const start = now();
      for (let i = 0; i < n; i++) body(i);
      if (r > 0) rounds.push(((now() - start) * 1e6) / n);
    }
    return median(rounds);
  };
  const tasks: number[] = [];
  for (let r = 0; r < 6; r++) {
    const start = now();
    await new Promise<void>((resolve) => {
      let left = n;
      const task = (): void => {
        if (--left === 0) resolve();
      };
      for (let i = 0; i < n; i++) setImmediate(task);
    });
    if (r > 0) tasks.push(((now() - start) * 1e6) / n);
  }
  const floor: Floor = {
    taskNs: median(tasks),
    eventNs: sync(() => {
      target.dispatchEvent(new MessageEvent('message', { data: 'x', origin: 'ws://127.0.0.1' }));
    }),
    arrayBufferNs: sync((i) => {
      const at = (i * 16) & 0xffff;
      sink += new Uint8Array(chunk.subarray(at, at + 16)).buffer.byteLength;
    }),
    stringNs: sync((i) => {
      const at = (i * 16) & 0xffff;
      sink += decoder.decode(chunk.subarray(at, at + 16)).length;
    }),
  };
  if (sink < 0) console.log(sink); // keeps the work observable
  return floor;
}

// ---------------------------------------------------------------------------
// Output

function fmt(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function mib(bytes: number): string {
  return fmt(bytes / 2 ** 20, 1);
}

function consoleLine(row: Row): string {
  const cells = row.results.map((r) =>
    r.p50Ms === undefined
      ? `${r.impl} ${fmt(r.mbPerSec!)} MB/s ${fmt(r.messagesPerSec!, 0)} msg/s ${fmt(r.medianMajorGcs, 0)} GC`
      : `${r.impl} p50 ${fmt(r.p50Ms * 1000, 0)} µs p99 ${fmt(r.p99Ms! * 1000, 0)} µs`,
  );
  const vsArrayBuffer =
    row.ratioArrayBuffer === undefined ? '' : ` (${fmt(row.ratioArrayBuffer, 2)} vs WHATWG types)`;
  const wss =
    row.wss === undefined
      ? ''
      : ` | WebSocketStream: polysocket / undici ${fmt(row.wss.vsUndici, 2)}, / ws ${fmt(row.wss.vsWs, 2)}`;
  const baseline = baselineRatio(row);
  const peaks = row.results.map((r) => `${r.impl} ${mib(r.maxRssBytes)}`);
  return `${row.scenario}: ${cells.join(' | ')} | ratio ${fmt(row.ratio, 2)}${vsArrayBuffer}${wss}${baseline}\n  peak RSS (MiB): ${peaks.join(' | ')} | ratio ${fmt(row.ratioMaxRss, 2)}`;
}

/** `--baseline`: polysocket / its baseline, as "ratio" reads (above 1 is better). */
function baselineRatio(row: Row): string {
  const ours = row.results.find((r) => r.impl === 'polysocket');
  const base = row.results.find((r) => r.impl === 'polysocket baseline');
  if (ours === undefined || base === undefined) return '';
  if (ours.p50Ms !== undefined && base.p50Ms !== undefined) {
    return ` | polysocket / baseline p50 ${fmt(ours.p50Ms / base.p50Ms, 2)}, p99 ${fmt(ours.p99Ms! / base.p99Ms!, 2)}`;
  }
  return ` | polysocket / baseline ${fmt(ours.mbPerSec! / base.mbPerSec!, 2)}`;
}

function markdown(
  environment: NodeEnvironment & {
    bufferutil: string;
    pinning: string;
    ballast: string;
    processCount: number;
    startupSeconds: number;
    seconds: number;
    loadAverage: { start: number; end: number };
  },
  clients: readonly ClientInfo[],
  memory: readonly MemorySummary[],
  rows: readonly Row[],
  floor: Floor,
): string {
  const smallRow = rows.find((row) => row.scenario === 'receive 16 B');
  const wsSmall = smallRow?.results.find((r) => r.impl === 'ws');
  const wsPerMessageNs =
    smallRow === undefined || wsSmall === undefined ? Number.NaN : (wsSmall.medianMs * 1e6) / smallRow.count;
  const names = clients.map((c) => c.impl);
  const head = (first: string, ...last: string[]): string[] => [
    `| ${first} | ${[...names, ...last].join(' | ')} |`,
    `| --- | ${[...names, ...last].map(() => '---:').join(' | ')} |`,
  ];
  /** One cell per implementation, in column order; '—' where it didn't run. */
  const cells = (row: Row, cell: (r: ImplResult) => string): string =>
    names
      .map((name) => {
        const result = row.results.find((r) => r.impl === name);
        return result === undefined ? '—' : cell(result);
      })
      .join(' | ');
  const throughput = (kind: 'receive' | 'send', unit: 'MB/s' | 'msg/s'): string[] => {
    const ratios =
      kind === 'receive'
        ? ['polysocket / ws', 'polysocket / ws (WHATWG types)', 'polysocket core / ws', ...WSS_RATIOS]
        : ['polysocket / ws', ...WSS_RATIOS];
    const lines = head(`${kind} (${unit})`, ...ratios);
    for (const row of rows) {
      if (row.kind !== kind) continue;
      const values = cells(row, (r) => (unit === 'MB/s' ? fmt(r.mbPerSec!) : fmt(r.messagesPerSec!, 0)));
      const wss = ` | ${fmt(row.wss?.vsUndici ?? Number.NaN, 2)} | ${fmt(row.wss?.vsWs ?? Number.NaN, 2)}`;
      const extra =
        kind === 'receive'
          ? ` | ${fmt(row.ratioArrayBuffer ?? Number.NaN, 2)} | ${fmt(row.ratioCore ?? Number.NaN, 2)}${wss}`
          : wss;
      const label = kind === 'receive' ? `${row.scenario.includes(' text ') ? 'text' : 'binary'} ` : '';
      const paced = row.scenario.endsWith(' paced') ? ', paced' : '';
      lines.push(
        `| ${label}${sizeName(row.size)} × ${row.count}${paced} | ${values} | ${fmt(row.ratio, 2)}${extra} |`,
      );
    }
    return lines;
  };
  const gcTable = (): string[] => {
    const lines = head('full GCs per sample');
    for (const row of rows)
      lines.push(`| ${row.scenario} | ${cells(row, (r) => fmt(r.medianMajorGcs, 0))} |`);
    return lines;
  };
  const memoryTable = (): string[] => {
    const lines = head("peak RSS of the scenario's process (MiB)", 'polysocket / ws', WSS_RATIOS[0]);
    for (const row of rows)
      lines.push(
        `| ${row.scenario} | ${cells(row, (r) => mib(r.maxRssBytes))} | ${fmt(row.ratioMaxRss, 2)} | ${fmt(row.wss?.maxRssVsUndici ?? Number.NaN, 2)} |`,
      );
    return lines;
  };
  const cpuTable = (): string[] => {
    const lines = head('client CPU (% of wall time)');
    for (const row of rows)
      lines.push(`| ${row.scenario} | ${cells(row, (r) => fmt(r.medianCpuPercent, 0))} |`);
    return lines;
  };
  const lines = [
    '# Client benchmark: polysocket (WebSocket and WebSocketStream) vs ws, undici and raw TCP',
    '',
    `Generated by \`npm run bench:client\` (\`tsx bench/client.bench.ts\`) on ${environment.date}.`,
    '',
    `- Node ${environment.node} (V8 ${environment.v8}), ${environment.platform}, ${environment.cpu} ×${environment.cpus}; TCP loopback (127.0.0.1).`,
    `- polysocket runs as built by \`vite build\` (dist/node.js, built at the start of the run), not from the sources.\n- Clients: ${clients.map((c) => `${c.impl} ${c.version} (${c.notes})`).join('; ')}.`,
    `- bufferutil: ${environment.bufferutil === 'does not load' ? 'does not load, the ws+bufferutil column is skipped' : `${environment.bufferutil}, loads (prebuilt binary from the npm package)`}.`,
    `- Processes: a fresh client process for every scenario and implementation (${environment.processCount} in all), as JMH forks a JVM per benchmark: for each scenario, one process per implementation is forked, loads its library and builds its application heap (below), and only once all are ready do the warm-up and the samples run (start-up, ${fmt(environment.startupSeconds)} s in all, is not timed); at the end of the scenario each exits and reports its peak RSS. Why: when one process per implementation ran every scenario in turn, a scenario's result depended on what had run before it in that process (the heap and the GC pacing left behind by the large-message scenarios): polysocket / ws for receiving 1 KiB messages was 0.46 (binary) and 1.18 (text) when those scenarios ran alone, and 0.20–0.36 and 0.61–0.65 in the full run, where \`ws\` itself went from 683 to 1,304 MB/s for 1 KiB text. Now every scenario starts from the same state for every implementation, whatever runs before it. The processes of a scenario are alive together but only one runs a sample at a time; the others sit idle.`,
    '- Server: a `ws` WebSocketServer (with bufferutil, permessage-deflate off) in a child process of its own, the same one for the whole run. Receive: the server writes pre-built unmasked binary (or text) frames straight to the upgraded socket once the client says "go"; the clock runs from "go" to the Nth message. Send: a synchronous loop of N `send()` calls, timed until the server (ws, counting messages and bytes) answers with the count. Echo: 16 B text messages, one in flight, answered by `ws`.',
    `- ${SAMPLES} samples per implementation and scenario (echo: ${ECHO_SAMPLES} samples of ${ECHO_ROUND_TRIPS} round trips) after 1 warm-up; medians (echo: median over samples of each sample's p50 and p99). Implementations alternate (A B C …, then … C B A); a fresh connection per sample (not timed); a full GC in each client process once loaded and again before its warm-up sample, which is all it has run before the measured samples.`,
    "- `polysocket core` (receive only): polysocket's Sans-I/O `ClientProtocol` driven directly over its `NodeTransport`, the way `ws` delivers messages (synchronously in the socket callback, no task, no `MessageEvent`) but with the WHATWG data types: what the protocol and the transport cost apart from the WHATWG layer.",
    `- WebSocketStream (polysocket's and undici's): the reader reads with \`await reader.read()\` in a loop (binary messages arrive as Uint8Array, text as strings); the sender ${WSS_SEND === 'await' ? 'awaits `writer.write(payload)` for every message, the loop a streams user writes: each write resolves once the transport has taken the bytes, so the loop goes at the pace of the socket with one message in flight (both sinks take one write at a time; `--wss-send=ready` measures writing as `pipeTo()` does, waiting for `writer.ready` only while the queue is full)' : 'waits for `writer.ready` before each `writer.write()`, as `pipeTo()` does'}; echo awaits \`writer.write()\` then \`reader.read()\`. Ratios "polysocket WSS / undici WSS" and "polysocket WSS / ws" compare polysocket's WebSocketStream with undici's and with pure-JS \`ws\`, read like the others. polysocket's \`WebSocketStream\` pauses reading from the socket while more than 1 MiB of messages wait for the reader; undici's enqueues every message as it arrives (see \`npm run bench:backpressure\` for a reader that stops).`,
    "- `binaryType` 'arraybuffer' for polysocket and undici: a fresh ArrayBuffer per binary message and a string per text message, as the WHATWG API requires. `ws` delivers its default Node Buffers for both (views, no copy, text not decoded); `ws (WHATWG types)` is pure-JS `ws` delivering the same data types as the WHATWG clients (`binaryType = 'arraybuffer'`, text read with `toString()`), run in receive scenarios only. Raw TCP: the same payload bytes without framing (receive: counts bytes; send: N writes between `cork()` and `uncork()`; echo: 16 bytes back and forth).",
    `- CPU pinning: ${environment.pinning}.`,
    `- Application heap: ${environment.ballast}${APP_HEAP ? ', as an application holds its own state' : '; client.md has the same run with an application heap of 40 MiB'}. V8 11 starts no incremental marking while the old generation is at most 8 MiB; a process holding only a WebSocket library sits right at that line, where receiving large messages (a new 64 KiB ArrayBuffer per socket read) either triggers a full GC every few MiB or none, depending on a few hundred KB of code or heap: without this ballast, 1 MiB receives varied between 0.4× and 1.1× \`ws\` from run to run. See \`BALLAST_OBJECTS\`. \`npm run bench:client\` runs both regimes; client-no-app-heap.md has the bare one (a new user's first measurement: a fresh process with nothing but the library).`,
    '- MB/s = 10^6 payload bytes per second. Ratio = polysocket / ws (pure JS): throughput ≥ 1.00 means polysocket is at least as fast; latency ≤ 1.00 means at least as quick.',
    '- Client CPU = `process.cpuUsage()` (user + system) of the client process over the timed region / wall time: near 100 % means the client, not the server or the loopback, is the bottleneck.',
    `- Total run time: ${fmt(environment.seconds)} s; 1-minute load average ${fmt(environment.loadAverage.start, 2)} at the start, ${fmt(environment.loadAverage.end, 2)} at the end, on ${environment.cpus} cores. The machine is shared and noisy: read ratios, not absolute figures.`,
    '',
    '## Receive',
    '',
    ...throughput('receive', 'MB/s'),
    '',
    ...throughput('receive', 'msg/s'),
    '',
    '## Send',
    '',
    ...throughput('send', 'MB/s'),
    '',
    ...throughput('send', 'msg/s'),
    '',
    '## Echo latency (one message in flight)',
    '',
    ...head('round trip (µs)', 'polysocket / ws', ...WSS_RATIOS),
  ];
  for (const row of rows) {
    if (row.kind !== 'echo') continue;
    const p50 = cells(row, (r) => fmt(r.p50Ms! * 1000, 0));
    const p99 = cells(row, (r) => fmt(r.p99Ms! * 1000, 0));
    const wss = row.wss;
    lines.push(
      `| p50, ${sizeName(row.size)} × ${row.count} | ${p50} | ${fmt(row.ratio, 2)} | ${fmt(wss?.vsUndici ?? Number.NaN, 2)} | ${fmt(wss?.vsWs ?? Number.NaN, 2)} |`,
    );
    lines.push(
      `| p99, ${sizeName(row.size)} × ${row.count} | ${p99} | ${fmt(row.ratioP99 ?? Number.NaN, 2)} | ${fmt(wss?.vsUndiciP99 ?? Number.NaN, 2)} | ${fmt(wss?.vsWsP99 ?? Number.NaN, 2)} |`,
    );
  }
  lines.push(
    '',
    '## Memory',
    '',
    "RSS of the client processes, each holding its application heap (see above). Idle: once loaded, before any sample, median over the implementation's processes (one per scenario it runs). Peak: `ru_maxrss` of a process when it exits, i.e. the peak of one scenario, loading included (loading alone peaks at about the idle figure: the application heap is the largest part of it); peak over the run is the largest of these.",
    '',
    ...head('client process RSS (MiB)', 'polysocket / ws'),
    `| idle, after loading | ${memory.map((m) => mib(m.idleRssBytes)).join(' | ')} | ${ratioOf(memory, 'idleRssBytes')} |`,
    `| peak over the run (largest scenario peak) | ${memory.map((m) => mib(m.maxRssBytes)).join(' | ')} | ${ratioOf(memory, 'maxRssBytes')} |`,
    '',
    ...memoryTable(),
    '',
    '## Client CPU',
    '',
    ...cpuTable(),
    '',
    '## Full garbage collections',
    '',
    'Mark-compact GCs in the client process during a sample (`PerformanceObserver` `gc` entries), median over samples.',
    '',
    ...gcTable(),
    '',
    '## The per-message floor of the WHATWG API',
    '',
    'Measured in the orchestrating process (`measureFloor()`), medians of 5 rounds of ' +
      `${QUICK ? '50,000' : '500,000'} operations: what the standard makes every received message cost in any WHATWG client on this runtime, before any protocol work. The standard queues a task per message and fires a \`MessageEvent\` carrying a fresh \`ArrayBuffer\` (binary) or a string (text).`,
    '',
    '| per message (ns) | task (`setImmediate`) | `MessageEvent` + `dispatchEvent` | fresh 16 B `ArrayBuffer` | 16 B string (`TextDecoder`) | binary floor | text floor | `ws` per 16 B message, whole receive path |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| Node ${environment.node} | ${fmt(floor.taskNs, 0)} | ${fmt(floor.eventNs, 0)} | ${fmt(floor.arrayBufferNs, 0)} | ${fmt(floor.stringNs, 0)} | ${fmt(floor.taskNs + floor.eventNs + floor.arrayBufferNs, 0)} | ${fmt(floor.taskNs + floor.eventNs + floor.stringNs, 0)} | ${fmt(wsPerMessageNs, 0)} |`,
    '',
    'Where the binary (or text) floor exceeds what `ws` spends on a whole 16 B message (it emits a view of the socket chunk synchronously), no WHATWG-exact client can receive small messages as fast as `ws`; `ws (WHATWG types)` shows the libraries compared on the same data types.',
    '',
    '## Notes',
    '',
    "- Small binary messages received: the WHATWG API must hand every message event a fresh `ArrayBuffer` (or `Blob`), in a task of its own. Allocating an `ArrayBuffer` in V8 (backing store, GC extension) costs more than the parsing, the task and the `MessageEvent` together; `ws` with its default Node Buffers hands out views of the socket's chunk without copying. Compare with `ws (WHATWG types)`, which pays the same allocation, to see the difference in the libraries rather than in the APIs. Text messages need no ArrayBuffer but a string each, and still a task and a `MessageEvent` each (`ws` emits a Buffer synchronously).",
    '- Sends: polysocket coalesces the frames produced in one turn of the event loop into one transport write (frames of 16 KiB or more are written as they are), where `ws` and undici write every frame to the socket on its own.',
    '- Latency: polysocket and undici dispatch each message event in a task of its own (`setImmediate` on Node), as browsers do; `ws` emits synchronously from the socket callback.',
    '',
  );
  return lines.join('\n');
}

/** Ratio columns of the WebSocketStream clients ("WSS" for short). */
const WSS_RATIOS = ['polysocket WSS / undici WSS', 'polysocket WSS / ws'] as const;

function ratioOf(memory: readonly MemorySummary[], key: 'idleRssBytes' | 'maxRssBytes'): string {
  const ours = memory.find((m) => m.impl === 'polysocket');
  const theirs = memory.find((m) => m.impl === 'ws');
  return ours === undefined || theirs === undefined ? '' : fmt(ours[key] / theirs[key], 2);
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
      ? runClient(argument('impl') as ImplName, Number(argument('ws-port')), Number(argument('raw-port')))
      : orchestrate();
main.catch((error: unknown) => {
  console.error(error);
  killChildren();
  process.exit(1);
});
