/**
 * Client-side masking (RFC 6455, section 5.3): polysocket's JavaScript word
 * loop against its WebAssembly SIMD masker (src/protocol/mask-simd.ts), with
 * the payload passed through the module's memory in chunks of several sizes
 * and whole, and against `bufferutil`'s native `mask` (the add-on `ws` uses),
 * in the same process and run.
 *
 * Run with `npm run bench:mask` (i.e. `tsx bench/mask.bench.ts`); `--quick`
 * runs a short smoke test and writes nothing; `--only=TEXT` runs the
 * scenarios whose name contains TEXT and writes nothing. Results go to
 * bench/results/mask.{json,md}.
 *
 * Scenarios, at 128 B to 16 MiB:
 * - "mask while copying": source at offset 0, target after the header of a
 *   masked frame (8 bytes below 64 KiB, 14 from 64 KiB on), i.e. with the
 *   misalignment serialization has;
 * - "mask in place": what a server does to a received frame;
 * - "serialize a masked frame": allocation + header + masking, polysocket's
 *   `serializeFrame` (JS only, and with SIMD) against `ws`'s `Sender.frame`
 *   with `bufferutil` (the options `Sender#send` uses for a Buffer: the
 *   payload is copied, not mutated).
 *
 * Method: a full GC before each scenario; every implementation warmed up for
 * at least WARMUP_MS (so the WebAssembly function is tiered up from the
 * baseline compiler, as in a long-lived client); then SAMPLES samples with
 * the implementations alternating (A B C, then C B A); a sample repeats the
 * operation so that the fastest implementation's sample lasts about
 * TARGET_MS. Reported: median MB/s (10^6 payload bytes per second) and
 * median CPU time (`process.cpuUsage()`, user + system) per MiB of payload;
 * ratio = the implementation's throughput / `bufferutil`'s.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { frame, Opcode, serializeFrame } from '../src/protocol/frames.js';
import { maskIntoJs, SIMD_MIN_BYTES, setSimdMasker } from '../src/protocol/mask.js';
import { createSimdMasker, type Masker, SIMD_CHUNK } from '../src/protocol/mask-simd.js';
import { allocUninitialized } from '../src/protocol/platform.js';
import { nodeEnvironment, randomBuffer, sizeName } from './support/common.js';

const require = createRequire(import.meta.url);

interface BufferUtil {
  mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
  unmask(buffer: Buffer, mask: Buffer): void;
}
const bufferutil = require('bufferutil') as BufferUtil;
const bufferutilVersion = (require('bufferutil/package.json') as { version: string }).version;
if (!/native code/.test(String(bufferutil.mask)))
  throw new Error('bufferutil did not load its native add-on');
// ws loads bufferutil itself unless WS_NO_BUFFER_UTIL is set.
delete process.env['WS_NO_BUFFER_UTIL'];
const wsRoot = dirname(require.resolve('ws/package.json'));
const wsVersion = (require(join(wsRoot, 'package.json')) as { version: string }).version;
const Sender = require(join(wsRoot, 'lib/sender.js')) as {
  frame(
    data: Buffer,
    options: {
      fin: boolean;
      opcode: number;
      mask: boolean;
      readOnly: boolean;
      rsv1: boolean;
      maskBuffer: Buffer;
      generateMask: (mask: Buffer) => void;
    },
  ): Buffer[];
};

// ---------------------------------------------------------------------------
// Configuration

const QUICK = process.argv.includes('--quick');
const ONLY = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
const SAMPLES = QUICK ? 2 : 10;
const WARMUP_MS = QUICK ? 10 : 150;
const TARGET_MS = QUICK ? 5 : 25;
const KiB = 1024;
const MiB = 1024 * 1024;
const SIZES = [128, 512, 1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 16 * MiB] as const;

const gc = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

// ---------------------------------------------------------------------------
// Measurement

interface Impl {
  readonly name: string;
  /** One operation on `size` bytes of payload. */
  readonly run: () => void;
}

interface Measured {
  readonly name: string;
  readonly reps: number;
  readonly mbPerSec: number;
  readonly cpuMsPerMiB: number;
  readonly samplesMs: number[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Wall and CPU milliseconds per operation over `reps` operations. */
function sample(impl: Impl, reps: number): { ms: number; cpu: number } {
  const cpu = cpuMs();
  const start = process.hrtime.bigint();
  for (let r = 0; r < reps; r++) impl.run();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms: ms / reps, cpu: (cpuMs() - cpu) / reps };
}

function measure(impls: readonly Impl[], size: number): Measured[] {
  gc();
  let fastest = Number.POSITIVE_INFINITY;
  for (const impl of impls) {
    const until = performance.now() + WARMUP_MS;
    // Bounded: at most 100,000 operations, however fast.
    for (let n = 0; n < 100_000 && performance.now() < until; n++) {
      fastest = Math.min(fastest, sample(impl, 1).ms);
    }
  }
  const reps = Math.max(1, Math.min(100_000, Math.ceil(TARGET_MS / Math.max(fastest, 1e-4))));
  const wall = impls.map(() => [] as number[]);
  const cpu = impls.map(() => [] as number[]);
  for (let s = 0; s < SAMPLES; s++) {
    for (let k = 0; k < impls.length; k++) {
      const index = s % 2 === 0 ? k : impls.length - 1 - k;
      const result = sample(impls[index]!, reps);
      wall[index]!.push(result.ms);
      cpu[index]!.push(result.cpu);
    }
  }
  return impls.map((impl, i) => ({
    name: impl.name,
    reps,
    mbPerSec: size / 1e6 / (median(wall[i]!) / 1e3),
    cpuMsPerMiB: median(cpu[i]!) / (size / MiB),
    samplesMs: wall[i]!,
  }));
}

// ---------------------------------------------------------------------------
// Scenarios

interface Row {
  readonly scenario: string;
  readonly size: number;
  readonly results: Measured[];
}
const rows: Row[] = [];

function simd(chunk: number): Masker {
  const masker = createSimdMasker(chunk);
  if (masker === null) throw new Error('this Node has no WebAssembly SIMD');
  return masker;
}

/** The SIMD variants worth comparing at `size`: chunks smaller than the payload, and the whole payload. */
function simdVariants(size: number): [string, Masker][] {
  const variants: [string, Masker][] = [
    [`SIMD, ${sizeName(SIMD_CHUNK)} chunks (polysocket)`, simd(SIMD_CHUNK)],
  ];
  if (size > 16 * KiB) variants.push(['SIMD, 16 KiB chunks', simd(16 * KiB)]);
  if (size > 256 * KiB) variants.push(['SIMD, 256 KiB chunks', simd(256 * KiB)]);
  if (size > SIMD_CHUNK) {
    variants.push(['SIMD, whole payload (memory grown to fit)', simd(Math.ceil(size / 4096) * 4096)]);
  }
  return variants;
}

function run(scenario: string, size: number, impls: Impl[], check: () => void): void {
  if (ONLY !== undefined && !scenario.includes(ONLY)) return;
  check();
  const results = measure(impls, size);
  rows.push({ scenario, size, results });
  const base = results.find((r) => r.name.startsWith('bufferutil') || r.name.startsWith('ws'))!;
  for (const r of results) {
    console.log(
      `${scenario.padEnd(34)} ${r.name.padEnd(46)} ${fmt(r.mbPerSec, 0).padStart(7)} MB/s ${fmt(r.cpuMsPerMiB, 3).padStart(7)} ms CPU/MiB  ×${fmt(r.mbPerSec / base.mbPerSec, 2)}`,
    );
  }
}

function expectMasked(source: Uint8Array, target: Uint8Array, key: Uint8Array, what: string): void {
  for (let i = 0; i < source.length; i++) {
    if (target[i] !== (source[i]! ^ key[i & 3]!)) throw new Error(`${what}: wrong at byte ${i}`);
  }
}

function benchSize(size: number): void {
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const data = randomBuffer(size);
  const header = (size < 65536 ? 4 : 10) + 4;
  const frameBuffer = Buffer.alloc(header + size);
  const target = frameBuffer.subarray(header);
  const variants = simdVariants(size);

  // Mask while copying.
  const copying: Impl[] = [
    { name: 'JS word loop', run: () => maskIntoJs(data, target, key) },
    ...variants.map(([name, masker]): Impl => ({ name, run: () => masker(data, target, key) })),
    {
      name: `bufferutil ${bufferutilVersion} mask (native)`,
      run: () => bufferutil.mask(data, key, frameBuffer, header, size),
    },
  ];
  run(`mask while copying ${sizeName(size)}`, size, copying, () => {
    for (const impl of copying) {
      target.fill(0);
      impl.run();
      expectMasked(data, target, key, impl.name);
    }
  });

  // Mask in place: masking twice restores the data, so every run leaves it masked or not.
  const [, polysocketSimd] = variants[0]!;
  const inPlace: Impl[] = [
    { name: 'JS word loop', run: () => maskIntoJs(data, data, key) },
    { name: variants[0]![0], run: () => polysocketSimd(data, data, key) },
    { name: `bufferutil ${bufferutilVersion} unmask (native)`, run: () => bufferutil.unmask(data, key) },
  ];
  run(`mask in place ${sizeName(size)}`, size, inPlace, () => {
    for (const impl of inPlace) {
      const before = Buffer.from(data);
      impl.run();
      expectMasked(before, data, key, impl.name);
      data.set(before);
    }
  });

  // Serialize a masked frame: allocation, header and masking.
  const message = frame(Opcode.BINARY, data);
  const maskBuffer = Buffer.alloc(4);
  const generateMask = (mask: Buffer): void => {
    mask.set(key);
  };
  /** `ws`'s Sender building the same masked binary frame (bufferutil masks it). */
  const wsFrame = (): Buffer[] =>
    Sender.frame(data, {
      fin: true,
      opcode: 2,
      mask: true,
      readOnly: true,
      rsv1: false,
      maskBuffer,
      generateMask,
    });
  const serialize: Impl[] = [
    {
      name: 'serializeFrame, JS',
      run: () => {
        setSimdMasker(null);
        serializeFrame(message, key);
      },
    },
    {
      name: `serializeFrame, SIMD from ${sizeName(SIMD_MIN_BYTES)}`,
      run: () => {
        setSimdMasker(polysocketSimd);
        serializeFrame(message, key);
      },
    },
    {
      // What serializeFrame would cost with an output array that is not
      // zero-filled first (as `ws` allocates it): header bytes and mask only.
      name: 'allocUninitialized + SIMD (experiment)',
      run: () => {
        const out = allocUninitialized(header + size);
        out[0] = 0x82;
        out.set(key, header - 4);
        polysocketSimd(data, out.subarray(header), key);
      },
    },
    {
      name: `ws ${wsVersion} Sender.frame + bufferutil`,
      run: () => {
        wsFrame();
      },
    },
  ];
  run(`serialize a masked frame ${sizeName(size)}`, size, serialize, () => {
    setSimdMasker(null);
    expectMasked(data, serializeFrame(message, key).subarray(header), key, 'serializeFrame, JS');
    setSimdMasker(polysocketSimd);
    expectMasked(data, serializeFrame(message, key).subarray(header), key, 'serializeFrame, SIMD');
    const [built] = wsFrame();
    expectMasked(data, built!.subarray(header), key, 'ws Sender.frame');
  });
  setSimdMasker(undefined);
}

// ---------------------------------------------------------------------------
// Output

function fmt(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function markdown(environment: Record<string, unknown>): string {
  const lines = [
    '# Masking benchmark: JavaScript, WebAssembly SIMD and bufferutil',
    '',
    `Generated by \`npm run bench:mask\` (\`tsx bench/mask.bench.ts\`) on ${environment['date']}.`,
    '',
    `- Node ${environment['node']} (V8 ${environment['v8']}), ${environment['platform']}, ${environment['cpu']} ×${environment['cpus']}; bufferutil ${bufferutilVersion} (native), ws ${wsVersion}.`,
    `- ${SAMPLES} samples per scenario after at least ${WARMUP_MS} ms of warm-up per implementation; medians. Implementations alternate within each round; full GC before each scenario; a sample lasts about ${TARGET_MS} ms for the fastest.`,
    '- MB/s = 10^6 payload bytes per second; CPU/MiB = process CPU time (user + system) per MiB of payload; ratio = throughput / the native (bufferutil or ws + bufferutil) row of the scenario.',
    '- "mask while copying": source at offset 0, target after a masked frame header (8 or 14 bytes), as in serialization. "SIMD, N chunks": the payload goes through the module\'s memory N bytes at a time (copy in, `v128.xor`, copy out); "whole payload": the memory is grown to hold it and it goes through once.',
    `- polysocket masks in SIMD from ${sizeName(SIMD_MIN_BYTES)} on (SIMD_MIN_BYTES) and in JavaScript below.`,
    `- The machine is shared and noisy: read ratios. Run time ${fmt(environment['seconds'] as number)} s; 1-minute load average ${fmt((environment['loadAverage'] as { start: number }).start, 2)} → ${fmt((environment['loadAverage'] as { end: number }).end, 2)}.`,
    '',
    '| scenario | implementation | MB/s | CPU ms/MiB | ratio to native |',
    '| --- | --- | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const base = row.results.find((r) => r.name.startsWith('bufferutil') || r.name.startsWith('ws'))!;
    for (const r of row.results) {
      lines.push(
        `| ${row.scenario} | ${r.name} | ${fmt(r.mbPerSec, 0)} | ${fmt(r.cpuMsPerMiB, 3)} | ${fmt(r.mbPerSec / base.mbPerSec, 2)} |`,
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}

function main(): void {
  const started = Date.now();
  const loadStart = os.loadavg()[0] ?? 0;
  console.log(
    `masking on Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown'} ×${os.cpus().length}; ${SAMPLES} samples${QUICK ? ', --quick' : ''}${ONLY === undefined ? '' : `, --only=${ONLY}`}`,
  );
  for (const size of SIZES) benchSize(size);
  const seconds = (Date.now() - started) / 1000;
  const environment = {
    ...nodeEnvironment(),
    bufferutil: bufferutilVersion,
    ws: wsVersion,
    simdMinBytes: SIMD_MIN_BYTES,
    simdChunk: SIMD_CHUNK,
    samples: SAMPLES,
    warmupMs: WARMUP_MS,
    targetMs: TARGET_MS,
    seconds,
    loadAverage: { start: loadStart, end: os.loadavg()[0] ?? 0 },
  };
  console.log(`\n${rows.length} scenarios in ${fmt(seconds)} s`);
  if (QUICK || ONLY !== undefined) return;
  const results = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'mask.json'), `${JSON.stringify({ environment, rows }, null, 2)}\n`);
  writeFileSync(join(results, 'mask.md'), markdown(environment));
  console.log(`wrote ${join('bench', 'results', 'mask.{json,md}')}`);
}

main();
