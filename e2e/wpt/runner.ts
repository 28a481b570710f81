/**
 * web-platform-tests `websockets/` in Node, against the real WPT files and
 * handlers, once per way of getting polysocket's WebSocket into a global
 * scope (messages.ts `MODES`: `polysocket/node`'s class as the global, the
 * polyfill, a `bindOptions` class).
 *
 * Running it
 * ----------
 *     npx vitest run e2e/wpt                          # everything (part of `npm test`)
 *     WPT_FILTER=Close-1000 npx vitest run e2e/wpt    # the tests whose id contains a string
 *     WPT_FILTER=/websockets/constructor/004.html?wss,binaryType npx vitest run e2e/wpt
 *     WPT_DIR=~/src/wpt npx vitest run e2e/wpt        # another WPT checkout
 *
 * A test id is the URL path a browser would load, with the variant:
 * `/websockets/Close-1000.any.worker.html?wss` (for `Close-1000.any.js`),
 * `/websockets/constructor/004.html?default`. WPT_FILTER takes
 * comma-separated substrings of it. A filtered run compares only those
 * tests with the expectations and leaves results/ alone.
 *
 * WPT_DIR (default `../shared/wpt`, from the repository root) is a WPT
 * checkout or a snapshot holding at least `websockets/`, `resources/`,
 * `common/`, `interfaces/` and `tools/third_party/pywebsocket3` or
 * `vendor/pywebsocket3` (the directory that holds the `pywebsocket3`
 * package goes on PYTHONPATH). WPT_JOBS sets how many test files run at
 * once (default 12: many of them spend most of their time waiting on the
 * network or a timer). WPT_TIMEOUT_MULTIPLIER multiplies the WPT timeouts
 * (as wptrunner's --timeout-multiplier for slow set-ups; default:
 * TEST_TIME_SCALE, itself 3 by default: this machine is small and shared;
 * only a test that does not finish waits that long).
 *
 * What it does
 * ------------
 * 1. Bundles the working tree's library as the package is built (Vite,
 *    vite.config.ts's entries, into a temporary directory; CommonJS, so
 *    that each worker gets V8's code cache, messages.ts `ClassicScript`)
 *    and the runner's pool and worker.
 * 2. Makes a CA and a certificate for the WPT host names (servers.ts),
 *    starts pywebsocket3 for ws: and wss: and a static server for http:
 *    and https: on 127.0.0.1, with ports the OS picks, and fills
 *    `{{ports[...]}}` substitutions with them.
 * 3. Lists the tests (manifest.ts) and runs each in each mode in a worker
 *    thread of a child process (pool.ts, worker.ts), with the test's WPT
 *    timeout (10 s, 60 s for `timeout=long`, times the multiplier).
 * 4. Compares with expectations/node.json (expectations.ts) and writes
 *    results/wpt.json and results/wpt.md.
 * Everything started is stopped at the end, on failure too.
 *
 * Host names: wpt serve's `web-platform.test` names resolve to 127.0.0.1
 * in the worker's resolver (`dns.lookup`, for the modes that use the
 * library's default transport as it is) or in the bound transport's
 * `lookup` option (`bound` mode); the URL's host stays the Host header and
 * the TLS server name. The CA reaches the default transport through
 * NODE_EXTRA_CA_CERTS, the bound one through `tls.ca`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import packageConfig from '../../vite.config.js';
import {
  compare,
  type Expectations,
  loadExpectations,
  type ModeComparison,
  unknownIds,
} from './expectations.js';
import { buildManifest, type Manifest, matchesFilter } from './manifest.js';
import { type Bundle, type JobResult, MODES, type Mode, type PoolInput } from './messages.js';
import { makeCertificates, startServers } from './servers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXPECTATIONS_FILE = fileURLToPath(new URL('./expectations/node.json', import.meta.url));
/** The directory of the suite inside the checkout. */
const SUITE = 'websockets';
/** Bound on the whole pool run, past which it is killed. */
const POOL_TIMEOUT_MS = 480_000;

export interface RunOptions {
  readonly wptDir?: string;
  readonly filter?: string | undefined;
  readonly concurrency?: number | undefined;
  readonly timeoutMultiplier?: number | undefined;
}

export interface WptRun {
  readonly wptDir: string;
  readonly filter: string | undefined;
  readonly manifest: Manifest;
  readonly results: readonly JobResult[];
  readonly comparisons: Readonly<Record<Mode, ModeComparison>>;
  /** Expected failures naming a test that is not run at all. */
  readonly unknownIds: readonly string[];
  readonly expectations: Expectations;
  readonly durationMs: number;
  /** The pool's stderr (a crash, a kill), for failure messages. */
  readonly poolLog: string;
  /** The servers' recent log lines, for failure messages. */
  readonly serverLog: string;
}

export function wptDirFromEnv(): string {
  return resolve(ROOT, process.env['WPT_DIR'] ?? '../shared/wpt');
}

/**
 * Bundle the runner's pool and worker (ES modules) into `dir`, and the
 * library into `dir/lib` with the package's own entries (vite.config.ts),
 * so that its modules are split into the same chunks as in `dist/`, in
 * CommonJS (messages.ts `ClassicScript` says why) with its dependencies
 * inlined.
 */
async function bundle(dir: string): Promise<Bundle> {
  const packageLib = packageConfig.build?.lib;
  if (packageLib === undefined || packageLib === false || typeof packageLib.entry !== 'object') {
    throw new Error('vite.config.ts: build.lib.entry is not an object of entries');
  }
  const entries = Object.fromEntries(
    Object.entries(packageLib.entry as Record<string, string>).map(([name, file]) => [
      name,
      join(ROOT, file),
    ]),
  );
  const options = (outDir: string, entry: Record<string, string>, format: 'es' | 'cjs') => ({
    configFile: false as const,
    root: ROOT,
    logLevel: 'silent' as const,
    build: {
      outDir,
      emptyOutDir: false,
      minify: false,
      target: 'es2022',
      lib: {
        entry,
        formats: [format],
        fileName: (_: string, name: string) => `${name}.${format === 'es' ? 'mjs' : 'cjs'}`,
      },
      rollupOptions: { external: [/^node:/] },
    },
  });
  const libraryDir = join(dir, 'lib');
  await Promise.all([
    build(
      options(dir, { worker: join(ROOT, 'e2e/wpt/worker.ts'), pool: join(ROOT, 'e2e/wpt/pool.ts') }, 'es'),
    ),
    build(options(libraryDir, entries, 'cjs')),
  ]);
  return { pool: join(dir, 'pool.mjs'), worker: join(dir, 'worker.mjs'), libraryDir };
}

/** Run the pool process over `input`; resolve with its result lines. */
function runPool(
  poolFile: string,
  input: PoolInput,
  dir: string,
  caFile: string,
  children: Set<ChildProcess>,
): Promise<{ results: JobResult[]; stderr: string }> {
  const inputFile = join(dir, 'pool-input.json');
  writeFileSync(inputFile, JSON.stringify(input));
  return new Promise((resolvePool, reject) => {
    const child = spawn(process.execPath, [poolFile, inputFile], {
      cwd: ROOT,
      // stdin: the pool exits when it closes (pool.ts).
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
    });
    children.add(child);
    const results: JobResult[] = [];
    let pending = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      pending += text;
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        if (line.trim() !== '') results.push(JSON.parse(line) as JobResult);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      stderr = (stderr + text).slice(-20_000);
    });
    const timer = setTimeout(() => {
      stderr += `\n[pool killed after ${POOL_TIMEOUT_MS} ms]`;
      child.kill('SIGKILL');
    }, POOL_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      // A pool killed or crashed still hands on what finished: the jobs
      // without a result are reported as such by the runner.
      if (code !== 0) stderr += `\n[the pool exited with ${code ?? signal}]`;
      resolvePool({ results, stderr });
    });
  });
}

/** Run the suite in every mode and compare with the expectations; everything started is stopped. */
export async function runWpt(options: RunOptions = {}): Promise<WptRun> {
  const started = performance.now();
  const wptDir = options.wptDir ?? wptDirFromEnv();
  const filter = options.filter;
  const concurrency = options.concurrency ?? 12;
  const timeoutMultiplier = options.timeoutMultiplier ?? 2;
  const expectations = loadExpectations(EXPECTATIONS_FILE, MODES);
  const dir = mkdtempSync(join(tmpdir(), 'polysocket-wpt-'));
  const children = new Set<ChildProcess>();
  // A Vitest worker killed mid-run still takes the pool down with it.
  const killChildren = () => {
    for (const child of children) child.kill('SIGKILL');
  };
  process.once('exit', killChildren);
  const certificates = makeCertificates();
  let servers: Awaited<ReturnType<typeof startServers>> | undefined;
  try {
    // Both settle before going on, so that servers that started are closed
    // below even when the bundle failed.
    const [bundled, serving] = await Promise.allSettled([bundle(dir), startServers(wptDir, certificates)]);
    if (serving.status === 'fulfilled') servers = serving.value;
    if (bundled.status === 'rejected') throw bundled.reason;
    if (serving.status === 'rejected') throw serving.reason;
    const bundleFiles = bundled.value;
    const running = serving.value;
    const manifest = buildManifest(running.config, SUITE, expectations, timeoutMultiplier);
    const jobs = manifest.jobs.filter((job) => matchesFilter(job.id, filter));
    // Long tests first, so that they overlap with the many short ones.
    const tasks = jobs
      .flatMap((job) => MODES.map((mode) => ({ job, mode })))
      .sort((a, b) => b.job.timeoutMs - a.job.timeoutMs);
    const { results, stderr } = await runPool(
      bundleFiles.pool,
      { tasks, concurrency, config: running.config, bundle: bundleFiles, ca: certificates.ca },
      dir,
      certificates.caFile,
      children,
    );
    const reported = new Set(results.map((result) => `${result.mode} ${result.id}`));
    for (const { job, mode } of tasks) {
      if (reported.has(`${mode} ${job.id}`)) continue;
      results.push({
        mode,
        id: job.id,
        tests: [],
        harness: { status: 'ERROR', message: 'no result: the pool ended before this test completed' },
        durationMs: 0,
        output: '',
      });
    }
    const ranIds = new Set(jobs.map((job) => job.id));
    const comparisons = Object.fromEntries(
      MODES.map((mode) => [mode, compare(expectations, mode, results, ranIds)]),
    ) as Record<Mode, ModeComparison>;
    const order = new Map(manifest.jobs.map((job, index) => [job.id, index]));
    const sorted = [...results].sort(
      (a, b) =>
        (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0) || MODES.indexOf(a.mode) - MODES.indexOf(b.mode),
    );
    return {
      wptDir,
      filter,
      manifest,
      results: sorted,
      comparisons,
      unknownIds: unknownIds(expectations, new Set(manifest.jobs.map((job) => job.id))),
      expectations,
      durationMs: Math.round(performance.now() - started),
      poolLog: stderr,
      serverLog: running.log(),
    };
  } finally {
    killChildren();
    process.off('exit', killChildren);
    await servers?.close();
    certificates.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
