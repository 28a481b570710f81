/**
 * The load and soak engine, shared by `scripts/soak.ts` (1,000 connections,
 * 60 s by default) and `e2e/soak/soak.test.ts` (a small run in `npm test`).
 *
 * N polysocket WebSockets (Node entry point) connect to a `ws` echo server
 * running in a child process on 127.0.0.1, and each keeps one message in
 * flight for the whole duration: binary messages of seeded log-uniform
 * random sizes, each carrying its connection, sequence number and an FNV-1a
 * checksum of its body. Every echo is checked (sequence, length, checksum,
 * bytes); a message not echoed by the end is lost. The heap is sampled
 * (after a full GC) once per interval, to show it plateaus.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket } from '../../src/node.js';
import { mulberry32 } from '../../src/testing/fault-transport.js';
import { gc } from '../../src/testing/memory.js';

export interface SoakOptions {
  readonly connections: number;
  readonly seconds: number;
  /** Largest message in bytes. @defaultValue 64 KiB */
  readonly maxSize?: number;
  readonly seed?: number;
  /** Heap sample interval. @defaultValue 1000 */
  readonly sampleMs?: number;
  /** Connections opened at a time. @defaultValue 100 */
  readonly connectBatch?: number;
  readonly log?: (line: string) => void;
}

export interface SoakResult {
  readonly connections: number;
  readonly opened: number;
  readonly seconds: number;
  readonly seed: number;
  readonly maxSize: number;
  readonly messagesSent: number;
  readonly messagesDelivered: number;
  readonly messagesLost: number;
  readonly corrupt: number;
  readonly bytesEchoed: number;
  readonly messagesPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly peakRssMiB: number;
  readonly heapSamples: ReadonlyArray<{ readonly t: number; readonly heapMiB: number }>;
  /** Least-squares slope of the heap over the second half of the run. */
  readonly heapSlopeSecondHalfKiBPerS: number;
  /** Whether the heap plateaued: growth over the second half under 10% of its mean (or 2 MiB). */
  readonly heapPlateau: boolean;
  readonly cleanCloses: number;
  readonly unexpectedCloses: number;
  readonly errors: readonly string[];
  readonly fileDescriptorLimit: number | null;
}

/** 32-bit FNV-1a. */
function fnv1a(bytes: Uint8Array, from: number): number {
  let hash = 0x811c9dc5;
  for (let i = from; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash >>> 0;
}

const HEADER = 12; // u32 connection, u32 sequence, u32 checksum

function makeMessage(random: () => number, connection: number, seq: number, maxSize: number): Uint8Array {
  const size = Math.max(HEADER, Math.floor(2 ** (random() * Math.log2(maxSize + 1))));
  const out = new Uint8Array(size);
  for (let i = HEADER; i < size; i += 4) {
    const word = Math.floor(random() * 2 ** 32);
    for (let j = 0; j < 4 && i + j < size; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
  }
  const view = new DataView(out.buffer);
  view.setUint32(0, connection);
  view.setUint32(4, seq);
  view.setUint32(8, fnv1a(out, HEADER));
  return out;
}

/**
 * Round-trip latencies in a fixed histogram (0.1 ms buckets up to 60 s), so
 * that the harness itself uses constant memory: a growing array of samples
 * would show up as heap growth in the very figure the soak checks.
 */
class Latencies {
  readonly #buckets = new Uint32Array(600_001);
  count = 0;
  max = 0;

  add(ms: number): void {
    this.#buckets[Math.min(this.#buckets.length - 1, Math.round(ms * 10))]!++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!;
      if (seen >= rank) return i / 10;
    }
    return this.max;
  }
}

function slope(points: ReadonlyArray<{ t: number; heapMiB: number }>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const mh = points.reduce((s, p) => s + p.heapMiB, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.heapMiB - mh);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den; // MiB per second
}

/** The soft limit on open files of this process's shell, or null if unknown. */
export function fileDescriptorLimit(): number | null {
  try {
    const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text);
  } catch {
    return null;
  }
}

/** Start the echo server in a child process (its own soft fd limit raised as far as allowed). */
async function startServer(connections: number): Promise<{ child: ChildProcess; port: number }> {
  const script = join(import.meta.dirname, 'echo-server.mjs');
  const want = connections + 256;
  const child = spawn(
    'sh',
    ['-c', `ulimit -n ${want} 2>/dev/null || true; exec "$0" "$1"`, process.execPath, script],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo server did not start within 10 s')), 10_000);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /\{.*\}/.exec(out)?.[0];
      if (line === undefined) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`echo server exited with ${code}`));
    });
  });
  return { child, port };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

interface Peer {
  readonly ws: WebSocket;
  readonly index: number;
  readonly random: () => number;
  seq: number;
  inFlight: { seq: number; data: Uint8Array; sentAt: number } | null;
  closed: CloseEvent | null;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { connections, seconds } = options;
  const maxSize = options.maxSize ?? 64 * 1024;
  const seed = options.seed ?? 20261126;
  const sampleMs = options.sampleMs ?? 1000;
  const batch = options.connectBatch ?? 100;
  const log = options.log ?? (() => {});
  const fdLimit = fileDescriptorLimit();
  if (fdLimit !== null && fdLimit < connections + 64) {
    throw new Error(
      `open-file limit ${fdLimit} is too low for ${connections} connections: raise it (ulimit -n ${connections + 256})`,
    );
  }
  const { child, port } = await startServer(connections);
  const url = `ws://127.0.0.1:${port}/soak`;
  const errors: string[] = [];
  const latencies = new Latencies();
  let sent = 0;
  let delivered = 0;
  let corrupt = 0;
  let bytesEchoed = 0;
  let sending = true;
  let peakRss = 0;
  const peers: Peer[] = [];
  const samples: Array<{ t: number; heapMiB: number }> = [];
  let sampler: ReturnType<typeof setInterval> | undefined;

  const sendNext = (peer: Peer): void => {
    if (!sending || peer.ws.readyState !== WebSocket.OPEN) return;
    const data = makeMessage(peer.random, peer.index, peer.seq, maxSize);
    peer.inFlight = { seq: peer.seq, data, sentAt: performance.now() };
    peer.seq++;
    sent++;
    peer.ws.send(data);
  };

  try {
    // Connect in batches (the listen backlog is finite).
    for (let first = 0; first < connections; first += batch) {
      const opening: Array<Promise<void>> = [];
      for (let index = first; index < Math.min(connections, first + batch); index++) {
        const ws = new WebSocket(url, [], {
          compression: false,
          openTimeoutMs: 30_000,
          closeTimeoutMs: 10_000,
        });
        ws.binaryType = 'arraybuffer';
        const peer: Peer = {
          ws,
          index,
          random: mulberry32(seed + index * 7919),
          seq: 0,
          inFlight: null,
          closed: null,
        };
        peers.push(peer);
        opening.push(
          new Promise<void>((resolve) => {
            ws.onopen = () => resolve();
            ws.onerror = () => {
              errors.push(`connection ${index}: error event`);
              resolve();
            };
          }),
        );
        ws.onmessage = (event) => {
          const now = performance.now();
          const expected = peer.inFlight;
          const bytes = new Uint8Array(event.data as ArrayBuffer);
          if (expected === null) {
            corrupt++;
            errors.push(`connection ${index}: unexpected message`);
            return;
          }
          const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          const ok =
            bytes.byteLength === expected.data.byteLength &&
            view.getUint32(0) === index &&
            view.getUint32(4) === expected.seq &&
            view.getUint32(8) === fnv1a(bytes, HEADER) &&
            Buffer.compare(bytes, expected.data) === 0;
          if (!ok) {
            corrupt++;
            if (errors.length < 50) errors.push(`connection ${index}: message ${expected.seq} corrupt`);
          } else {
            delivered++;
            bytesEchoed += bytes.byteLength;
            latencies.add(now - expected.sentAt);
          }
          peer.inFlight = null;
          sendNext(peer);
        };
        ws.onclose = (event) => {
          peer.closed = event;
        };
      }
      await Promise.all(opening);
    }
    const opened = peers.filter((p) => p.ws.readyState === WebSocket.OPEN).length;
    log(`${opened}/${connections} connections open; running for ${seconds} s`);

    const started = performance.now();
    const sample = (): void => {
      gc();
      const usage = process.memoryUsage();
      peakRss = Math.max(peakRss, usage.rss);
      samples.push({ t: (performance.now() - started) / 1000, heapMiB: usage.heapUsed / 2 ** 20 });
    };
    sample();
    sampler = setInterval(sample, sampleMs);
    for (const peer of peers) sendNext(peer);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    sending = false;
    // Drain: every message in flight must come back (bounded wait).
    const drainDeadline = Date.now() + 15_000;
    while (peers.some((p) => p.inFlight !== null && p.closed === null) && Date.now() < drainDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    clearInterval(sampler);
    sampler = undefined;
    sample();
    const elapsed = (performance.now() - started) / 1000;

    // Close every connection cleanly (bounded).
    const closing = peers.map(
      (peer) =>
        new Promise<void>((resolve) => {
          if (peer.closed !== null || peer.ws.readyState === WebSocket.CLOSED) return resolve();
          peer.ws.addEventListener('close', () => resolve());
          peer.ws.close(1000, 'soak done');
        }),
    );
    await Promise.race([Promise.all(closing), new Promise((resolve) => setTimeout(resolve, 20_000))]);
    const cleanCloses = peers.filter((p) => p.closed?.wasClean === true && p.closed.code === 1000).length;
    const lost = sent - delivered - corrupt;
    const secondHalf = samples.filter((s) => s.t >= elapsed / 2);
    const heapSlope = slope(secondHalf);
    const meanHeap = secondHalf.reduce((s, p) => s + p.heapMiB, 0) / Math.max(1, secondHalf.length);
    const growth = heapSlope * (elapsed / 2);
    const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
    return {
      connections,
      opened,
      seconds,
      seed,
      maxSize,
      messagesSent: sent,
      messagesDelivered: delivered,
      messagesLost: lost,
      corrupt,
      bytesEchoed,
      messagesPerSecond: Math.round(delivered / elapsed),
      latencyMs: {
        p50: round(latencies.percentile(50)),
        p99: round(latencies.percentile(99)),
        max: round(latencies.max),
      },
      peakRssMiB: round(peakRss / 2 ** 20, 1),
      heapSamples: samples.map((s) => ({ t: round(s.t, 1), heapMiB: round(s.heapMiB) })),
      heapSlopeSecondHalfKiBPerS: round(heapSlope * 1024),
      heapPlateau: growth < Math.max(2, 0.1 * meanHeap),
      cleanCloses,
      unexpectedCloses: peers.filter(
        (p) => p.closed !== null && !(p.closed.wasClean && p.closed.code === 1000),
      ).length,
      errors,
      fileDescriptorLimit: fdLimit === Number.POSITIVE_INFINITY ? null : fdLimit,
    };
  } finally {
    if (sampler !== undefined) clearInterval(sampler);
    for (const peer of peers) if (peer.ws.readyState !== WebSocket.CLOSED) peer.ws.close();
    await stopServer(child);
  }
}

/** The figures as a Markdown report. */
export function soakMarkdown(result: SoakResult): string {
  const lines = [
    '# Soak test',
    '',
    `${result.connections} concurrent polysocket WebSocket connections (Node entry point) to a \`ws\` echo server`,
    `in a child process on 127.0.0.1, each keeping one checksummed message in flight for ${result.seconds} s;`,
    `message sizes log-uniform from 12 B to ${result.maxSize} B (seed ${result.seed}).`,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| connections opened | ${result.opened} / ${result.connections} |`,
    `| messages sent | ${result.messagesSent} |`,
    `| messages delivered (echoed, verified) | ${result.messagesDelivered} |`,
    `| messages lost | ${result.messagesLost} |`,
    `| messages corrupt | ${result.corrupt} |`,
    `| bytes echoed | ${result.bytesEchoed} |`,
    `| throughput | ${result.messagesPerSecond} messages/s |`,
    `| latency p50 / p99 / max | ${result.latencyMs.p50} / ${result.latencyMs.p99} / ${result.latencyMs.max} ms |`,
    `| peak RSS (client process) | ${result.peakRssMiB} MiB |`,
    `| heap slope, second half | ${result.heapSlopeSecondHalfKiBPerS} KiB/s |`,
    `| heap plateau | ${result.heapPlateau ? 'yes' : 'no'} |`,
    `| clean closes (1000) | ${result.cleanCloses} / ${result.connections} |`,
    `| unexpected closes | ${result.unexpectedCloses} |`,
    `| open-file soft limit | ${result.fileDescriptorLimit ?? 'unknown'} |`,
    '',
    'Heap used after a full GC (MiB), sampled over time:',
    '',
    '```',
    result.heapSamples.map((s) => `${s.t.toFixed(1).padStart(6)} s  ${s.heapMiB.toFixed(2)}`).join('\n'),
    '```',
    '',
  ];
  if (result.errors.length > 0) lines.push('Errors:', '', ...result.errors.map((e) => `- ${e}`), '');
  return lines.join('\n');
}
