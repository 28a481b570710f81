/**
 * permessage-deflate: polysocket's `PerMessageDeflate` (synchronous) against
 * `ws` 8's `PerMessageDeflate` (native zlib on libuv's thread pool), in the
 * same run, at the extension level: what one connection spends to compress a
 * message it sends and to inflate a message it receives. No framing, no
 * sockets. polysocket runs twice: with the codec of `polysocket/node`
 * (native zlib, `NodeDeflateCodec`) and with the core's default, the one
 * browsers get (pako, `PakoDeflateCodec`).
 *
 * Run with `npx tsx bench/deflate.bench.ts` (`--quick`: 1/10 of the
 * messages, writes nothing). Results go to bench/results/deflate.{json,md}.
 *
 * Method: each (implementation, scenario, direction) runs in its own child
 * process, so peak memory is its own. All use window 15, memLevel 8,
 * level 6, the default strategy (zlib's defaults, which are ws'), context
 * takeover, threshold 0. A run sends or
 * receives MESSAGES messages in batches of BATCH; CPU time per message is
 * process.cpuUsage() (user + system, every thread: it counts ws' zlib
 * threads too) over a batch divided by BATCH, and the reported value is the
 * median over batches. Peak memory: the largest RSS and heap + array
 * buffers sampled after every batch. Ratio = compressed / original bytes.
 * Inputs of the receive direction are compressed by the same implementation
 * beforehand, outside the timed region.
 *
 * A second table measures the candidate codecs on the same inputs, each
 * with one context (takeover) and a sync flush per message where it can:
 * pako (`PakoDeflateCodec`), native zlib driven synchronously
 * (`NodeDeflateCodec`, and the `fast-zlib` package's wrapper of
 * `_processChunk()`), fflate's streaming `Deflate`/`Inflate`, a WebAssembly
 * port (`@hazae41/foras`: Rust's flate2 over miniz_oxide, the only npm
 * WebAssembly DEFLATE found with streaming and a sync flush), and the
 * platform's `CompressionStream('deflate-raw')` (asynchronous and without
 * flush: one stream per message, so no context takeover). And the
 * minified + gzipped bundle sizes of the browser candidates. This is how
 * pako was chosen for browsers and native zlib for Node.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync, inflateRawSync } from 'node:zlib';
import * as Foras from '@hazae41/foras';
import { build } from 'esbuild';
import { Deflate as FflateDeflate, Inflate as FflateInflate } from 'fflate';
import { createNodeDeflateCodec, NodeDeflateCodec, nativeDeflateSupport } from '../src/node/deflate-codec.js';
import { createDeflateCodec, type DeflateCodecFactory } from '../src/protocol/extensions/deflate-codec.js';
import { PerMessageDeflate } from '../src/protocol/extensions/permessage-deflate.js';
import { frame, Opcode } from '../src/protocol/frames.js';
import { mulberry32 } from '../src/testing/fault-transport.js';

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
// ws 8: `new PerMessageDeflate({ isServer, maxPayload, ... })`.
const WsPerMessageDeflateClass = require(join(wsRoot, 'lib/permessage-deflate.js')) as new (
  options: Record<string, unknown>,
) => WsPerMessageDeflate;

interface FastZlibStream {
  process(data: Uint8Array, flag?: number): Buffer;
}
const FastZlib = require('fast-zlib') as {
  DeflateRaw: new (options: Record<string, unknown>) => FastZlibStream;
  InflateRaw: new (options: Record<string, unknown>) => FastZlibStream;
};

/** `polysocket`: the codec of `polysocket/node`; `polysocket-pako`: the core's default, as in browsers. */
type Impl = 'polysocket' | 'polysocket-pako' | 'ws';
type Scenario = 'json64k' | 'small';
type Direction = 'send' | 'receive';

const QUICK = process.argv.includes('--quick');
const MESSAGES = QUICK ? 1000 : 10_000;
const BATCH = QUICK ? 100 : 500;

// ---------------------------------------------------------------------------
// Inputs

/** Deterministic PRNG (mulberry32). */
const prng = mulberry32;

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

function polysocket(codec: DeflateCodecFactory): Endpoint {
  const params = {
    remoteNoContextTakeover: false,
    localNoContextTakeover: false,
    remoteMaxWindowBits: 15,
    localMaxWindowBits: 15,
  };
  const sender = new PerMessageDeflate(params, { threshold: 0, level: 6, memLevel: 8, codec });
  const receiver = new PerMessageDeflate(params, { threshold: 0, codec });
  return {
    send: (data) => sender.encode(frame(Opcode.TEXT, data)).data,
    receive: (data) => receiver.decode(frame(Opcode.TEXT, data, true, true), null).data,
  };
}

function ws(): Endpoint {
  const zlibDeflateOptions = { level: 6, memLevel: 8, strategy: constants.Z_DEFAULT_STRATEGY };
  const server = new WsPerMessageDeflateClass({
    isServer: true,
    maxPayload: 0,
    threshold: 0,
    zlibDeflateOptions,
  });
  server.accept([{}]);
  const client = new WsPerMessageDeflateClass({ isServer: false, maxPayload: 0, threshold: 0 });
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

function endpoint(impl: Impl): Endpoint {
  if (impl === 'ws') return ws();
  if (impl === 'polysocket-pako') return polysocket(createDeflateCodec);
  if (!nativeDeflateSupport().compress || !nativeDeflateSupport().decompress)
    throw new Error('polysocket/node would not use native zlib here');
  return polysocket(createNodeDeflateCodec);
}

async function measure(impl: Impl, scenario: Scenario, direction: Direction): Promise<Result> {
  const messages = pool(scenario);
  const sink = endpoint(impl);
  let inputs: Uint8Array[] = [];
  let original = 0;
  let compressed = 0;
  if (direction === 'receive') {
    // Compress the stream beforehand, with the same implementation.
    const source = endpoint(impl);
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
        const out = await sink.send(data);
        original += data.byteLength;
        compressed += out.byteLength;
      } else {
        await sink.receive(inputs[i]!);
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
// Codec comparison: every candidate, on the same inputs

interface CodecResult {
  codec: string;
  scenario: Scenario;
  compressUs: number;
  inflateUs: number;
  ratio: number;
  /** Whether node:zlib inflates the codec's own output back to the input. */
  valid: boolean;
}

/** One compressor and one inflater, each with one context, as a connection has. */
interface CodecPair {
  compress(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  decompress(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

interface CodecCandidate {
  readonly name: string;
  /** What the codec is, for the table. */
  readonly what: string;
  /** What of the core's needs it lacks; empty if none. */
  readonly lacks: string;
  /**
   * Each message is a whole DEFLATE stream of its own (no flush, hence no
   * context takeover); it inflates its own output then, not pako's.
   */
  readonly perMessage?: boolean;
  /** Asynchronous: measured awaiting each message. */
  readonly async?: boolean;
  make(): CodecPair | Promise<CodecPair>;
}

function fflateCodec(): CodecPair {
  let chunks: Uint8Array[] = [];
  const deflater = new FflateDeflate({ level: 6 }, (chunk) => chunks.push(chunk));
  const inflater = new FflateInflate((chunk) => chunks.push(chunk));
  const take = () => {
    const out = Buffer.concat(chunks);
    chunks = [];
    return out;
  };
  return {
    compress(data) {
      deflater.push(data);
      deflater.flush(true); // a sync flush
      return take();
    },
    decompress(data) {
      inflater.push(data);
      return take();
    },
  };
}

async function forasCodec(): Promise<CodecPair> {
  await Foras.initBundledOnce();
  const encoder = new Foras.DeflateEncoder(6);
  const decoder = new Foras.DeflateDecoder();
  const through = (coder: Foras.DeflateEncoder | Foras.DeflateDecoder, data: Uint8Array) => {
    const input = new Foras.Memory(data);
    coder.write(input);
    input.free();
    coder.flush(); // flate2: a sync flush
    return coder.read().copyAndDispose();
  };
  return { compress: (data) => through(encoder, data), decompress: (data) => through(decoder, data) };
}

/** The whole of `data` through a (de)compression stream. */
async function streamThrough(
  stream: CompressionStream | DecompressionStream,
  data: Uint8Array,
): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  void writer.write(data as Uint8Array<ArrayBuffer>);
  void writer.close();
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream.readable as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const CANDIDATES: CodecCandidate[] = [
  {
    name: 'pako',
    what: "`PakoDeflateCodec`: pako 3 (zlib ported to JavaScript) through its `z_stream`; the core's default, browsers'",
    lacks: '',
    make: () => pair(createDeflateCodec),
  },
  {
    name: 'node-zlib',
    what: "`NodeDeflateCodec`: native zlib, its node:zlib handle driven synchronously (`writeSync`); polysocket/node's",
    lacks: 'browsers (Node, Deno, Bun only)',
    make: () => pair((options) => new NodeDeflateCodec(options)),
  },
  {
    name: 'fast-zlib',
    what: "fast-zlib 2: native zlib through node:zlib's `_processChunk()` without a callback",
    lacks: 'an output bound (inflates a whole message, then checks), browsers',
    make: () => {
      const deflater = new FastZlib.DeflateRaw({ windowBits: 15, level: 6, memLevel: 8 });
      const inflater = new FastZlib.InflateRaw({ windowBits: 15 });
      return { compress: (data) => deflater.process(data), decompress: (data) => inflater.process(data) };
    },
  },
  {
    name: 'fflate',
    what: 'fflate 0.8: streaming `Deflate`/`Inflate`, `flush(true)` after each message',
    lacks: 'windows below 15 bits, an output bound',
    make: fflateCodec,
  },
  {
    name: 'foras (wasm)',
    what: '@hazae41/foras 2: flate2 over miniz_oxide (Rust) in WebAssembly, `DeflateEncoder`/`DeflateDecoder`, `flush()` after each message',
    lacks: 'windows below 15 bits, memLevel, an output bound; async instantiation first',
    make: forasCodec,
  },
  {
    name: 'CompressionStream',
    what: "the platform's `CompressionStream`/`DecompressionStream('deflate-raw')`, a stream per message",
    lacks: 'synchronous calls, a flush (so context takeover), windows, an output bound',
    perMessage: true,
    async: true,
    make: () => ({
      compress: (data) => streamThrough(new CompressionStream('deflate-raw'), data),
      decompress: (data) => streamThrough(new DecompressionStream('deflate-raw'), data),
    }),
  },
];

function pair(create: DeflateCodecFactory): CodecPair {
  const compressor = create({ windowBits: 15, level: 6, memLevel: 8 });
  const inflater = create({ windowBits: 15 });
  return {
    compress: (data) => compressor.compress(data),
    decompress: (data) => inflater.decompress(data, null, false),
  };
}

async function timed(
  candidate: CodecCandidate,
  inputs: readonly Uint8Array[],
  run: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>,
): Promise<{ us: number; outputs: Uint8Array[] }> {
  const outputs: Uint8Array[] = [];
  const before = process.cpuUsage();
  if (candidate.async) for (const data of inputs) outputs.push(await run(data));
  else for (const data of inputs) outputs.push(run(data) as Uint8Array);
  const cpu = process.cpuUsage(before);
  return { us: (cpu.user + cpu.system) / inputs.length, outputs };
}

async function measureCodecs(scenario: Scenario): Promise<CodecResult[]> {
  const messages = pool(scenario);
  const count = Math.min(MESSAGES, scenario === 'json64k' ? 2000 : 10_000);
  const inputs = Array.from({ length: count }, (_, i) => messages[i % messages.length]!);
  const original = Buffer.concat(inputs);
  // The inflaters of the synchronous candidates all inflate pako's stream.
  const reference = (await timed(CANDIDATES[0]!, inputs, (await CANDIDATES[0]!.make()).compress)).outputs;
  const results: CodecResult[] = [];
  for (const candidate of CANDIDATES) {
    // Warm up (JIT, lazy state) on a pair of its own, on what it will run.
    const warm = await candidate.make();
    const warmed: Uint8Array[] = [];
    for (const data of inputs.slice(0, 50)) warmed.push(await warm.compress(data));
    for (const data of candidate.perMessage ? warmed : reference.slice(0, 50)) await warm.decompress(data);
    const codec = await candidate.make();
    const compressed = await timed(candidate, inputs, (data) => codec.compress(data));
    const outputs = compressed.outputs;
    let valid: boolean;
    try {
      const inflated = candidate.perMessage
        ? Buffer.concat(outputs.map((out) => inflateRawSync(out)))
        : inflateRawSync(Buffer.concat(outputs), { finishFlush: constants.Z_SYNC_FLUSH });
      valid = inflated.equals(original);
    } catch {
      valid = false;
    }
    const receiver = await candidate.make();
    const inflated = await timed(candidate, candidate.perMessage ? outputs : reference, (data) =>
      receiver.decompress(data),
    );
    const size = outputs.reduce((sum, out) => sum + out.byteLength - (candidate.perMessage ? 0 : 4), 0);
    results.push({
      codec: candidate.name,
      scenario,
      compressUs: compressed.us,
      inflateUs: inflated.us,
      ratio: size / original.byteLength,
      valid,
    });
  }
  return results;
}

/** Minified + gzipped browser bundles of the candidates that can run in a browser. */
async function bundleSizes(): Promise<Record<string, { minified: number; gzipped: number }>> {
  const entries = {
    'pako (PakoDeflateCodec)': `export { PakoDeflateCodec } from ${JSON.stringify(join(ROOT, 'src/protocol/extensions/deflate-codec.ts'))};`,
    'fflate (Deflate + Inflate)': "export { Deflate, Inflate } from 'fflate';",
    'foras (DeflateEncoder + DeflateDecoder, WebAssembly inlined)':
      "export { initBundledOnce, DeflateEncoder, DeflateDecoder, Memory } from '@hazae41/foras';",
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
      // Rotate the order so that drift on a busy machine hits each.
      const impls: Impl[] = ['polysocket', 'ws', 'polysocket-pako'];
      const turn = (results.length / impls.length) % impls.length;
      const order = [...impls.slice(turn), ...impls.slice(0, turn)];
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
          `${impl.padEnd(15)} ${scenario.padEnd(7)} ${direction.padEnd(7)} ${result.cpuUsPerMessage.toFixed(1).padStart(8)} µs/msg  ratio ${result.ratio.toFixed(3)}  peak RSS ${result.peakRssMiB.toFixed(0)} MiB  heap ${result.peakHeapMiB.toFixed(0)} MiB`,
        );
      }
    }
  }
  const codecs = [...(await measureCodecs('json64k')), ...(await measureCodecs('small'))];
  for (const c of codecs)
    console.log(
      `codec ${c.codec.padEnd(17)} ${c.scenario.padEnd(7)} compress ${c.compressUs.toFixed(1)} µs  inflate ${c.inflateUs.toFixed(1)} µs  ratio ${c.ratio.toFixed(3)}  zlib inflates its stream: ${c.valid}`,
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
    'fast-zlib': (require('fast-zlib/package.json') as { version: string }).version,
    // Its package.json is not among its exports.
    foras: (
      JSON.parse(readFileSync(join(ROOT, 'node_modules/@hazae41/foras/package.json'), 'utf8')) as {
        version: string;
      }
    ).version,
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
  const us = (r: Result) => r.cpuUsPerMessage.toFixed(1);
  const lines = [
    '# permessage-deflate: polysocket vs ws',
    '',
    `Node ${environment.node}, ${environment.cpu} (${environment.cores} cores, load ${environment.loadavg.join(' ')}), ws ${environment.ws}, pako ${environment.pako}, fflate ${environment.fflate}, fast-zlib ${environment['fast-zlib']}, @hazae41/foras ${environment.foras}. ${MESSAGES} messages per run, median over batches of ${BATCH}. Window 15, memLevel 8, level 6, default strategy (zlib's defaults, which ws uses), context takeover, threshold 0. CPU counts every thread (ws inflates and deflates on libuv threads). polysocket: \`polysocket/node\`'s codec (native zlib, \`NodeDeflateCodec\`); pako: the core's default codec, which browsers get (\`PakoDeflateCodec\`). CPU ratio = polysocket / ws: at most 1.2 meets the target of issue 15.`,
    '',
    '| scenario | direction | polysocket µs/msg | ws µs/msg | CPU ratio | pako µs/msg (pako / ws) | compression ratio (poly / ws) | peak RSS MiB (poly / ws) | peak heap+buffers MiB (poly / ws) |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |',
  ];
  for (const scenario of ['json64k', 'small'] as const) {
    for (const direction of ['send', 'receive'] as const) {
      const p = find('polysocket', scenario, direction);
      const w = find('ws', scenario, direction);
      const k = find('polysocket-pako', scenario, direction);
      lines.push(
        `| ${scenario === 'json64k' ? '64 KiB JSON text' : '~200 B JSON'} | ${direction === 'send' ? 'send (compress)' : 'receive (inflate)'} | ${us(p)} | ${us(w)} | ${(p.cpuUsPerMessage / w.cpuUsPerMessage).toFixed(2)} | ${us(k)} (${(k.cpuUsPerMessage / w.cpuUsPerMessage).toFixed(2)}) | ${p.ratio.toFixed(3)} / ${w.ratio.toFixed(3)} | ${p.peakRssMiB.toFixed(0)} / ${w.peakRssMiB.toFixed(0)} | ${p.peakHeapMiB.toFixed(0)} / ${w.peakHeapMiB.toFixed(0)} |`,
      );
    }
  }
  lines.push(
    '',
    '## Codec candidates (same inputs, one context, in this process)',
    '',
    '| codec | what | lacks of what the core needs |',
    '| --- | --- | --- |',
    ...CANDIDATES.map((c) => `| ${c.name} | ${c.what} | ${c.lacks || 'nothing'} |`),
    '',
    'The core needs synchronous calls, a sync flush per message with context takeover (RFC 7692, 7.2.1),',
    'every window from 8 to 15 bits (7.1.2) and inflation bounded while it runs (the message size limit).',
    "Inflation times are of pako's stream (the same bytes for each), except for CompressionStream, which",
    'inflates its own one-stream-per-message output (it cannot inflate a stream with context takeover',
    'message by message). Ratio = compressed / original bytes, the 4-byte flush trailer not counted.',
    '',
    '| codec | scenario | compress µs/msg | inflate µs/msg | ratio | node:zlib inflates its output |',
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
    'Browsers: pako. fflate cannot limit its compressor window below 32 KiB (a negotiated',
    '`*_max_window_bits` < 15), inflates a pushed chunk without an output bound, and (0.8.3) its',
    '`Deflate.flush(true)` stream of many messages does not inflate with zlib; foras has neither windows',
    "nor a bound and is several times pako's size; CompressionStream is asynchronous and cannot flush.",
    "pako's z_stream honours windows, bounds output and interoperates.",
    '',
    "Node, Deno, Bun (`polysocket/node`): native zlib, through node:zlib's handle (`NodeDeflateCodec`),",
    'rather than through fast-zlib, which drives `_processChunk()`, the layer above: it closes the handle',
    'after every call unless its `close` is swapped for a no-op, copies every input that is not a Buffer',
    'and every output, and cannot stop inflating at the message size limit.',
    '',
  );
  writeFileSync(join(outDir, 'deflate.md'), lines.join('\n'));
  console.log(`wrote ${join(outDir, 'deflate.json')} and deflate.md`);
}

await main();
