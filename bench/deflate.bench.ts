/**
 * permessage-deflate: polysocket's `PerMessageDeflate` (pako, synchronous)
 * against `ws` 8's `PerMessageDeflate` (native zlib on libuv's thread pool),
 * in the same run, at the extension level: what one connection spends to
 * compress a message it sends and to inflate a message it receives. No
 * framing, no sockets.
 *
 * Run with `npx tsx bench/deflate.bench.ts` (`--quick`: 1/10 of the
 * messages, writes nothing). Results go to bench/results/deflate.{json,md}.
 *
 * Method: each (implementation, scenario, direction) runs in its own child
 * process, so peak memory is its own. Both use window 15, memLevel 8,
 * level 6 (zlib's default), context takeover, threshold 0. A run sends or
 * receives MESSAGES messages in batches of BATCH; CPU time per message is
 * process.cpuUsage() (user + system, every thread: it counts ws' zlib
 * threads too) over a batch divided by BATCH, and the reported value is the
 * median over batches. Peak memory: the largest RSS and heap + array
 * buffers sampled after every batch. Ratio = compressed / original bytes.
 * Inputs of the receive direction are compressed by the same implementation
 * beforehand, outside the timed region.
 *
 * A second table measures the two candidate codecs (pako through
 * `PakoDeflateCodec`, fflate's streaming `Deflate`/`Inflate`) and their
 * minified + gzipped bundle sizes, which is how pako was chosen.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync, inflateRawSync } from 'node:zlib';
import { build } from 'esbuild';
import { Deflate as FflateDeflate, Inflate as FflateInflate } from 'fflate';
import { createDeflateCodec } from '../src/protocol/extensions/deflate-codec.js';
import { PerMessageDeflate } from '../src/protocol/extensions/permessage-deflate.js';
import { frame, Opcode } from '../src/protocol/frames.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const require = createRequire(import.meta.url);
const wsRoot = dirname(require.resolve('ws/package.json'));
const wsVersion = (require(join(wsRoot, 'package.json')) as { version: string }).version;

interface WsPerMessageDeflate {
  accept(configurations: Array<Record<string, unknown>>): Record<string, unknown>;
  compress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
  decompress(data: Buffer, fin: boolean, callback: (error: Error | null, result?: Buffer) => void): void;
}
const WsPerMessageDeflateClass = require(join(wsRoot, 'lib/permessage-deflate.js')) as new (
  options: Record<string, unknown>,
  isServer?: boolean,
  maxPayload?: number,
) => WsPerMessageDeflate;

type Impl = 'polysocket' | 'ws';
type Scenario = 'json64k' | 'small';
type Direction = 'send' | 'receive';

const QUICK = process.argv.includes('--quick');
const MESSAGES = QUICK ? 1000 : 10_000;
const BATCH = QUICK ? 100 : 500;

// ---------------------------------------------------------------------------
// Inputs

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['id', 'user', 'status', 'price', 'quantity', 'timestamp', 'items', 'name', 'ok', 'error'];
const VALUES = ['alpha', 'beta', 'gamma', 'delta', 'pending', 'done', 'failed', 'eur', 'usd', 'retry'];

/** A JSON object of about `size` bytes, like an API event. */
function json(random: () => number, size: number): Buffer {
  const parts: string[] = [];
  let length = 2;
  while (length < size) {
    const key = KEYS[Math.floor(random() * KEYS.length)]!;
    const value =
      random() < 0.5
        ? String(Math.floor(random() * 1e6))
        : `"${VALUES[Math.floor(random() * VALUES.length)]}"`;
    const part = `"${key}${Math.floor(random() * 20)}":${value}`;
    parts.push(part);
    length += part.length + 1;
  }
  return Buffer.from(`{${parts.join(',')}}`.slice(0, size));
}

/** The message pool of a scenario: 16 distinct 64 KiB messages, or 10,000 distinct ~200-byte ones. */
function pool(scenario: Scenario): Buffer[] {
  const random = prng(42);
  if (scenario === 'json64k') return Array.from({ length: 16 }, () => json(random, 65_536));
  return Array.from({ length: 10_000 }, () => json(random, 120 + Math.floor(random() * 160)));
}

// ---------------------------------------------------------------------------
// The two implementations, behind one async interface.

interface Endpoint {
  send(data: Buffer): Promise<Uint8Array> | Uint8Array;
  receive(data: Uint8Array): Promise<Uint8Array> | Uint8Array;
}

function polysocket(): Endpoint {
  const params = {
    remoteNoContextTakeover: false,
    localNoContextTakeover: false,
    remoteMaxWindowBits: 15,
    localMaxWindowBits: 15,
  };
  const sender = new PerMessageDeflate(params, { threshold: 0, level: 6, memLevel: 8 });
  const receiver = new PerMessageDeflate(params, { threshold: 0 });
  return {
    send: (data) => sender.encode(frame(Opcode.TEXT, data)).data,
    receive: (data) => receiver.decode(frame(Opcode.TEXT, data, true, true), null).data,
  };
}

function ws(): Endpoint {
  const zlibDeflateOptions = { level: 6, memLevel: 8 };
  const server = new WsPerMessageDeflateClass({ threshold: 0, zlibDeflateOptions }, true, 0);
  server.accept([{}]);
  const client = new WsPerMessageDeflateClass({ threshold: 0 }, false, 0);
  client.accept([{}]);
  return {
    send: (data) =>
      new Promise((resolve, reject) =>
        server.compress(data, true, (error, result) => (error ? reject(error) : resolve(result!))),
      ),
    receive: (data) =>
      new Promise((resolve, reject) =>
        client.decompress(Buffer.from(data), true, (error, result) =>
          error ? reject(error) : resolve(result!),
        ),
      ),
  };
}

// ---------------------------------------------------------------------------
// One measurement (in a child process)

interface Result {
  impl: Impl;
  scenario: Scenario;
  direction: Direction;
  messages: number;
  cpuUsPerMessage: number;
  ratio: number;
  peakRssMiB: number;
  peakHeapMiB: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function measure(impl: Impl, scenario: Scenario, direction: Direction): Promise<Result> {
  const messages = pool(scenario);
  const endpoint = impl === 'ws' ? ws() : polysocket();
  let inputs: Uint8Array[] = [];
  let original = 0;
  let compressed = 0;
  if (direction === 'receive') {
    // Compress the stream beforehand, with the same implementation.
    const source = impl === 'ws' ? ws() : polysocket();
    for (let i = 0; i < MESSAGES; i++) {
      const data = messages[i % messages.length]!;
      const out = await source.send(data);
      inputs.push(out);
      original += data.byteLength;
      compressed += out.byteLength;
    }
  }
  globalThis.gc?.();
  let peakRss = 0;
  let peakHeap = 0;
  const perMessage: number[] = [];
  for (let start = 0; start < MESSAGES; start += BATCH) {
    const before = process.cpuUsage();
    for (let i = start; i < start + BATCH; i++) {
      if (direction === 'send') {
        const data = messages[i % messages.length]!;
        const out = await endpoint.send(data);
        original += data.byteLength;
        compressed += out.byteLength;
      } else {
        await endpoint.receive(inputs[i]!);
      }
    }
    const used = process.cpuUsage(before);
    perMessage.push((used.user + used.system) / BATCH);
    const memory = process.memoryUsage();
    peakRss = Math.max(peakRss, memory.rss);
    peakHeap = Math.max(peakHeap, memory.heapUsed + memory.arrayBuffers);
  }
  inputs = [];
  return {
    impl,
    scenario,
    direction,
    messages: MESSAGES,
    cpuUsPerMessage: median(perMessage.slice(1)), // the first batch warms up
    ratio: compressed / original,
    peakRssMiB: peakRss / 2 ** 20,
    peakHeapMiB: peakHeap / 2 ** 20,
  };
}

// ---------------------------------------------------------------------------
// Codec comparison: pako (as shipped) against fflate

interface CodecResult {
  codec: string;
  scenario: Scenario;
  compressUs: number;
  inflateUs: number;
  ratio: number;
  /** Whether node:zlib inflates the codec's own stream of sync-flushed messages. */
  valid: boolean;
}

function fflateCodec() {
  let chunks: Uint8Array[] = [];
  const deflater = new FflateDeflate({ level: 6 }, (chunk) => chunks.push(chunk));
  const inflater = new FflateInflate((chunk) => chunks.push(chunk));
  const take = () => {
    const out = Buffer.concat(chunks);
    chunks = [];
    return out;
  };
  return {
    compress(data: Uint8Array) {
      deflater.push(data);
      deflater.flush(true);
      return take();
    },
    decompress(data: Uint8Array) {
      inflater.push(data);
      return take();
    },
  };
}

function measureCodecs(scenario: Scenario): CodecResult[] {
  const messages = pool(scenario);
  const count = Math.min(MESSAGES, scenario === 'json64k' ? 2000 : 10_000);
  const candidates = {
    pako: () => {
      const c = createDeflateCodec({ windowBits: 15, level: 6, memLevel: 8 });
      const d = createDeflateCodec({ windowBits: 15 });
      return {
        compress: (x: Uint8Array) => c.compress(x),
        decompress: (x: Uint8Array) => d.decompress(x, null, false),
      };
    },
    fflate: fflateCodec,
  };
  // Compress with each codec; check each stream with node:zlib.
  const streams: Record<string, Uint8Array[]> = {};
  const partial: Array<Omit<CodecResult, 'inflateUs'>> = [];
  for (const [name, make] of Object.entries(candidates)) {
    const sender = make();
    const compressed: Uint8Array[] = [];
    let original = 0;
    let size = 0;
    const before = process.cpuUsage();
    for (let i = 0; i < count; i++) {
      const data = messages[i % messages.length]!;
      const out = sender.compress(data);
      compressed.push(out);
      original += data.byteLength;
      size += out.byteLength - 4;
    }
    const cpu = process.cpuUsage(before);
    let valid: boolean;
    try {
      const inflated = inflateRawSync(Buffer.concat(compressed), { finishFlush: constants.Z_SYNC_FLUSH });
      valid = inflated.byteLength === original;
    } catch {
      valid = false;
    }
    streams[name] = compressed;
    partial.push({
      codec: name,
      scenario,
      compressUs: (cpu.user + cpu.system) / count,
      ratio: size / original,
      valid,
    });
  }
  // Inflate the same (pako-made, valid) stream with each codec.
  return partial.map((result) => {
    const receiver = candidates[result.codec as keyof typeof candidates]();
    const before = process.cpuUsage();
    for (const data of streams['pako']!) receiver.decompress(data);
    const cpu = process.cpuUsage(before);
    return { ...result, inflateUs: (cpu.user + cpu.system) / count };
  });
}

async function bundleSizes(): Promise<Record<string, { minified: number; gzipped: number }>> {
  const entries = {
    'pako (PakoDeflateCodec)': `export { PakoDeflateCodec } from ${JSON.stringify(join(ROOT, 'src/protocol/extensions/deflate-codec.ts'))};`,
    'fflate (Deflate + Inflate)': "export { Deflate, Inflate } from 'fflate';",
  };
  const sizes: Record<string, { minified: number; gzipped: number }> = {};
  for (const [name, contents] of Object.entries(entries)) {
    const result = await build({
      stdin: { contents, resolveDir: ROOT, loader: 'ts' },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
    });
    const code = result.outputFiles[0]!.contents;
    sizes[name] = { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };
  }
  return sizes;
}

// ---------------------------------------------------------------------------
// Driver

async function main(): Promise<void> {
  const child = process.argv.indexOf('--child');
  if (child !== -1) {
    const [impl, scenario, direction] = process.argv.slice(child + 1, child + 4) as [
      Impl,
      Scenario,
      Direction,
    ];
    process.stdout.write(`${JSON.stringify(await measure(impl, scenario, direction))}\n`);
    return;
  }
  const results: Result[] = [];
  for (const scenario of ['json64k', 'small'] as const) {
    for (const direction of ['send', 'receive'] as const) {
      // Alternate the order so that drift on a busy machine hits both.
      const order: Impl[] = results.length % 4 === 0 ? ['polysocket', 'ws'] : ['ws', 'polysocket'];
      for (const impl of order) {
        const args = [
          '--expose-gc',
          '--import',
          'tsx',
          fileURLToPath(import.meta.url),
          '--child',
          impl,
          scenario,
          direction,
          ...(QUICK ? ['--quick'] : []),
        ];
        const out = execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 });
        const result = JSON.parse(out.trim().split('\n').pop()!) as Result;
        results.push(result);
        console.log(
          `${impl.padEnd(10)} ${scenario.padEnd(7)} ${direction.padEnd(7)} ${result.cpuUsPerMessage.toFixed(1).padStart(8)} µs/msg  ratio ${result.ratio.toFixed(3)}  peak RSS ${result.peakRssMiB.toFixed(0)} MiB  heap ${result.peakHeapMiB.toFixed(0)} MiB`,
        );
      }
    }
  }
  const codecs = [...measureCodecs('json64k'), ...measureCodecs('small')];
  for (const c of codecs)
    console.log(
      `codec ${c.codec.padEnd(7)} ${c.scenario.padEnd(7)} compress ${c.compressUs.toFixed(1)} µs  inflate ${c.inflateUs.toFixed(1)} µs  ratio ${c.ratio.toFixed(3)}  zlib inflates its stream: ${c.valid}`,
    );
  const sizes = await bundleSizes();
  for (const [name, s] of Object.entries(sizes))
    console.log(`bundle ${name}: ${s.minified} B min, ${s.gzipped} B gz`);
  if (QUICK) return;

  const environment = {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    loadavg: os.loadavg().map((l) => Number(l.toFixed(2))),
    ws: wsVersion,
    pako: (require('pako/package.json') as { version: string }).version,
    fflate: (require('fflate/package.json') as { version: string }).version,
    date: new Date().toISOString(),
  };
  const outDir = join(HERE, 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, 'deflate.json'),
    `${JSON.stringify({ environment, messages: MESSAGES, batch: BATCH, results, codecs, sizes }, null, 2)}\n`,
  );

  const find = (impl: Impl, s: Scenario, d: Direction) =>
    results.find((r) => r.impl === impl && r.scenario === s && r.direction === d)!;
  const lines = [
    '# permessage-deflate: polysocket vs ws',
    '',
    `Node ${environment.node}, ${environment.cpu} (${environment.cores} cores, load ${environment.loadavg.join(' ')}), ws ${environment.ws}, pako ${environment.pako}, fflate ${environment.fflate}. ${MESSAGES} messages per run, median over batches of ${BATCH}. Window 15, memLevel 8, level 6, context takeover, threshold 0. CPU counts every thread (ws inflates and deflates on libuv threads). CPU ratio = polysocket / ws: below 1.5 meets the target.`,
    '',
    '| scenario | direction | polysocket µs/msg | ws µs/msg | CPU ratio | compression ratio (poly / ws) | peak RSS MiB (poly / ws) | peak heap+buffers MiB (poly / ws) |',
    '| --- | --- | ---: | ---: | ---: | --- | --- | --- |',
  ];
  for (const scenario of ['json64k', 'small'] as const) {
    for (const direction of ['send', 'receive'] as const) {
      const p = find('polysocket', scenario, direction);
      const w = find('ws', scenario, direction);
      lines.push(
        `| ${scenario === 'json64k' ? '64 KiB JSON text' : '~200 B JSON'} | ${direction === 'send' ? 'send (compress)' : 'receive (inflate)'} | ${p.cpuUsPerMessage.toFixed(1)} | ${w.cpuUsPerMessage.toFixed(1)} | ${(p.cpuUsPerMessage / w.cpuUsPerMessage).toFixed(2)} | ${p.ratio.toFixed(3)} / ${w.ratio.toFixed(3)} | ${p.peakRssMiB.toFixed(0)} / ${w.peakRssMiB.toFixed(0)} | ${p.peakHeapMiB.toFixed(0)} / ${w.peakHeapMiB.toFixed(0)} |`,
      );
    }
  }
  lines.push(
    '',
    '## Codec candidates (same inputs, synchronous, one context)',
    '',
    '| codec | scenario | compress µs/msg | inflate µs/msg (pako-made stream) | ratio | node:zlib inflates its stream |',
    '| --- | --- | ---: | ---: | ---: | --- |',
    ...codecs.map(
      (c) =>
        `| ${c.codec} | ${c.scenario} | ${c.compressUs.toFixed(1)} | ${c.inflateUs.toFixed(1)} | ${c.ratio.toFixed(3)} | ${c.valid ? 'yes' : '**no**'} |`,
    ),
    '',
    '| bundle (esbuild, browser, minified) | bytes | gzipped |',
    '| --- | ---: | ---: |',
    ...Object.entries(sizes).map(([name, s]) => `| ${name} | ${s.minified} | ${s.gzipped} |`),
    '',
    'fflate cannot limit its compressor window below 32 KiB (a negotiated `*_max_window_bits` < 15),',
    'inflates a pushed chunk without an output bound, and (0.8.3) its `Deflate.flush(true)` stream of many',
    'messages does not inflate with zlib ("no" above); pako\'s z_stream honours windows, bounds output',
    'and interoperates, hence pako.',
    '',
  );
  writeFileSync(join(outDir, 'deflate.md'), lines.join('\n'));
  console.log(`wrote ${join(outDir, 'deflate.json')} and deflate.md`);
}

await main();
