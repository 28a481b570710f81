/**
 * What the benchmarks that measure Chromium share (bench/tls.bench.ts,
 * bench/browser.bench.ts): Debian's Chromium launched here and driven over
 * a bare CDP connection, the CPU time of processes read from /proc, child
 * processes that are always killed, and the small numeric helpers of their
 * reports.
 *
 * Why a bare CDP connection and not Playwright's page: Playwright enables
 * the DevTools Network domain on every page it drives, and Chromium then
 * copies every native WebSocket frame to the driver, which slowed the
 * native `WebSocket` 2–5× in these measurements. Here only the domains a
 * benchmark asks for are used (`Runtime.evaluate`; `Profiler` when it
 * profiles; `Page.navigate` to retry a first navigation).
 */
import { type ChildProcess, spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nextMessage as nextChildMessage, sizeName } from './common.js';

export { sizeName };

// ---------------------------------------------------------------------------
// Numbers

/** Milliseconds from a monotonic clock. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** `promise`, or a rejection saying `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** The `q` quantile (0..1) of `values`, interpolated between neighbours; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

export function fmt(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `value / ref` as `0.85×`, or a dash when either is missing. */
export function ratio(value: number, ref: number): string {
  return Number.isFinite(value) && Number.isFinite(ref) && ref > 0 ? `${fmt(value / ref, 2)}×` : '—';
}

export function rotate<T>(items: readonly T[], by: number): T[] {
  const n = by % items.length;
  return [...items.slice(n), ...items.slice(0, n)];
}

/** Which way a transfer goes: `recv`, server to client; `send`, client to server. */
export type Direction = 'recv' | 'send';
export const DIRECTIONS: readonly Direction[] = ['recv', 'send'];

/** A transfer scenario's key: `recv 1 KiB`, `send 64 KiB`. */
export type ScenarioKey = `${Direction} ${string}`;

/** A transfer scenario: `count` messages of `size` bytes one way. */
export interface Scenario {
  readonly key: ScenarioKey;
  readonly direction: Direction;
  readonly size: number;
  readonly count: number;
  /** Sending only: wait while the page's `bufferedAmount` is high before each `send()` (see bench/browser-page.ts). */
  readonly paced?: boolean;
}

/** Both directions at each size, `counts[size]` messages each. */
export function transferScenarios(
  sizes: readonly number[],
  counts: Readonly<Record<number, number>>,
): Scenario[] {
  return sizes.flatMap((size) =>
    DIRECTIONS.map((direction) => ({
      key: `${direction} ${sizeName(size)}` as ScenarioKey,
      direction,
      size,
      count: counts[size]!,
    })),
  );
}

/** One timed transfer: payload bytes, wall time, CPU ms by process group. */
export interface MeasuredTransfer<G extends string> {
  readonly ms: number;
  readonly bytes: number;
  readonly cpuMs: Partial<Record<G, number>>;
}

/** MB/s: 10^6 payload bytes per second. */
export function mbps(transfer: { readonly ms: number; readonly bytes: number }): number {
  return transfer.bytes / 1e6 / (transfer.ms / 1000);
}

/** The runs of one scenario, summarized. */
export interface TransferSummary<G extends string> {
  readonly runs: number;
  /** Median MB/s over the runs. */
  readonly mbps: number;
  /** Median CPU ms per MiB moved, by process group, and of their total. */
  readonly cpuMsPerMiB: Partial<Record<G | 'total', number>>;
}

export function summarizeTransfers<G extends string>(
  transfers: ReadonlyArray<MeasuredTransfer<G>>,
): TransferSummary<G> {
  const perMiB = (transfer: MeasuredTransfer<G>, ms: number): number => ms / (transfer.bytes / 2 ** 20);
  const groups = new Set(transfers.flatMap((t) => Object.keys(t.cpuMs))) as Set<G>;
  const cpuMsPerMiB: Partial<Record<G | 'total', number>> = {};
  for (const group of groups)
    cpuMsPerMiB[group] = median(transfers.map((t) => perMiB(t, t.cpuMs[group] ?? 0)));
  const total = (t: MeasuredTransfer<G>): number =>
    (Object.values(t.cpuMs) as Array<number | undefined>).reduce<number>((a, b) => a + (b ?? 0), 0);
  cpuMsPerMiB.total = median(transfers.map((t) => perMiB(t, total(t))));
  return { runs: transfers.length, mbps: median(transfers.map(mbps)), cpuMsPerMiB };
}

// ---------------------------------------------------------------------------
// Child processes: tracked, so that every one is killed at the end, also on error

const children = new Set<ChildProcess>();

/** Track `child` until it exits: {@link killChildren} kills it. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** SIGKILL every tracked child still running. */
export function killChildren(): void {
  for (const child of children) kill(child);
}

/**
 * Bound the whole run: after `ms`, or on SIGINT or SIGTERM, kill every
 * tracked child and exit. Returns what disarms the timer.
 */
export function boundRun(ms: number): () => void {
  const stop = (why: string): void => {
    console.error(`${why}: stopped`);
    killChildren();
    process.exit(1);
  };
  const timer = setTimeout(() => stop(`the run took more than ${ms / 60_000} min`), ms);
  timer.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop(signal));
  return () => clearTimeout(timer);
}

/**
 * Switches of a gateway that benchmarks open many WebTransport sessions
 * through. Deno misses the browser's WebTransport.close() (gateway/README.md,
 * "What Deno 2.9.6 gets wrong"): closed sessions linger until the QUIC idle
 * timeout. Every measured connection opens a session of its own, so reap
 * them soon and allow more than a run ever has.
 */
export const BENCH_GATEWAY_ARGS: readonly string[] = [
  '--idle-timeout',
  '3000',
  '--max-sessions',
  '256',
  '--max-sessions-per-address',
  '256',
];

/**
 * Print the report (`quick`: and write nothing), or write it to
 * bench/results/NAME.md, and `json` to bench/results/NAME.json.
 */
export function writeResults(name: string, quick: boolean, text: string, json: unknown): void {
  if (quick) {
    console.log(`\n${text}`);
    console.log('--quick: nothing written');
    return;
  }
  const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(resultsDir, `${name}.md`), text);
  console.log(`wrote ${join('bench', 'results', `${name}.{json,md}`)}`);
}

/** `deno --version`'s first line, of the `deno` npm package's binary under `root`. */
export function denoVersion(root: string): string {
  const result = spawnSync(join(root, 'node_modules', '.bin', 'deno'), ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? (result.stdout.split('\n')[0] ?? '?') : '?';
}

/**
 * Run `script` again in a child process (with this process's Node options,
 * so under tsx too), with an IPC channel; pinned to `cpu` with taskset if
 * given.
 */
export function spawnRole(script: string, args: readonly string[], cpu?: string): ChildProcess {
  const nodeArgs = [...process.execArgv, script, ...args];
  const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
  const child =
    cpu === undefined
      ? nodeSpawn(process.execPath, nodeArgs, { stdio })
      : nodeSpawn('taskset', ['-c', cpu, process.execPath, ...nodeArgs], { stdio });
  track(child);
  child.on('error', (error) => console.error(`child process: ${String(error)}`));
  return child;
}

/** The next IPC message of `type` from `child`; rejects if it exits first, or after `ms`. */
export function nextMessage<T extends { type: string }>(
  child: ChildProcess,
  type: string,
  ms: number,
): Promise<T> {
  return withTimeout(nextChildMessage<T>(child, type), ms, `waiting for '${type}'`);
}

// ---------------------------------------------------------------------------
// CPU time of processes, from /proc

const TICK_MS = 1000 / 100;

/** utime + stime of `pid` (or of the thread whose stat `file` is) in ms, and its parent; null if it is gone. */
function procStat(pid: number, file = `/proc/${pid}/stat`): { cpuMs: number; ppid: number } | null {
  try {
    const text = readFileSync(file, 'utf8');
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Fields 4 (ppid), 14 (utime) and 15 (stime) of proc(5), counted from field 3 here.
    return { ppid: Number(fields[1]), cpuMs: (Number(fields[11]) + Number(fields[12])) * TICK_MS };
  } catch {
    return null;
  }
}

/** `root` and every process below it. */
function processTree(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = procStat(pid);
    if (stat === null) continue;
    const siblings = parents.get(stat.ppid) ?? [];
    siblings.push(pid);
    parents.set(stat.ppid, siblings);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0 && tree.length < 1000) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(parents.get(pid) ?? []));
  }
  return tree;
}

/** Where CPU time is counted: Chromium's processes by type, and the benchmark's own. */
export type CpuGroup = 'renderer' | 'browser' | 'network service' | 'other Chromium' | 'gateway' | 'server';
export const CPU_GROUPS: readonly CpuGroup[] = [
  'renderer',
  'browser',
  'network service',
  'other Chromium',
  'gateway',
  'server',
];

/** A Chromium process's group, from its command line. */
function chromiumGroup(pid: number): CpuGroup {
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return 'other Chromium';
  }
  if (cmdline.includes('--type=renderer')) return 'renderer';
  if (cmdline.includes('network.mojom.NetworkService')) return 'network service';
  if (cmdline.includes('--type=')) return 'other Chromium';
  return 'browser';
}

/** A process tree to watch: Chromium's (grouped by process type) or one group's. */
export interface CpuRoot {
  readonly pid: number;
  readonly group: CpuGroup | 'chromium';
}

/** CPU ms per process of the watched trees, at one moment. */
export type CpuSnapshot = Map<number, { group: CpuGroup; cpuMs: number }>;

export function cpuSnapshot(roots: readonly CpuRoot[]): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  for (const root of roots) {
    for (const pid of processTree(root.pid)) {
      const stat = procStat(pid);
      if (stat === null) continue;
      snapshot.set(pid, {
        group: root.group === 'chromium' ? chromiumGroup(pid) : root.group,
        cpuMs: stat.cpuMs,
      });
    }
  }
  return snapshot;
}

/** CPU ms used per group between two snapshots (a process born in between counts from 0). */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): Record<CpuGroup, number> {
  const used = Object.fromEntries(CPU_GROUPS.map((group) => [group, 0])) as Record<CpuGroup, number>;
  for (const [pid, end] of after) {
    used[end.group] += end.cpuMs - (before.get(pid)?.cpuMs ?? 0);
  }
  return used;
}

/**
 * CPU ms per thread of the watched trees, keyed `group: thread name` with
 * digits dropped from the name (thread pools number their threads), e.g.
 * `gateway: tokio-runtime-worker`, `renderer: CrRendererMain`.
 */
export function threadCpuSnapshot(roots: readonly CpuRoot[]): Map<string, number> {
  const snapshot = new Map<string, number>();
  for (const root of roots) {
    for (const pid of processTree(root.pid)) {
      const group = root.group === 'chromium' ? chromiumGroup(pid) : root.group;
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue;
      }
      for (const tid of tids) {
        let name = '?';
        try {
          name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/\d+$/, '');
        } catch {
          continue;
        }
        const stat = procStat(Number(tid), `/proc/${pid}/task/${tid}/stat`);
        if (stat === null) continue;
        // Per thread, not per process: a thread's key is unique by its id, summed by name below.
        snapshot.set(`${group}: ${name}\u0000${pid}/${tid}`, stat.cpuMs);
      }
    }
  }
  return snapshot;
}

/** CPU ms used by thread name (see {@link threadCpuSnapshot}) between two snapshots, largest first. */
export function threadCpuBetween(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Array<{ readonly thread: string; readonly cpuMs: number }> {
  const used = new Map<string, number>();
  for (const [key, end] of after) {
    const thread = key.slice(0, key.indexOf('\u0000'));
    used.set(thread, (used.get(thread) ?? 0) + end - (before.get(key) ?? 0));
  }
  return [...used.entries()]
    .filter(([, cpuMs]) => cpuMs > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([thread, cpuMs]) => ({ thread, cpuMs }));
}

// ---------------------------------------------------------------------------
// A bare CDP connection

export interface CdpConnection {
  /** Send a command (to a page's session if given); rejects after the connection's command timeout. */
  send<T>(method: string, params?: object, sessionId?: string): Promise<T>;
  close(): void;
}

/** Connect to a DevTools WebSocket endpoint (Chromium's, or Deno's `--inspect`); events are ignored. */
export async function connectCdp(url: string, commandTimeoutMs: number): Promise<CdpConnection> {
  const { default: WsWebSocket } = await import('ws');
  const socket = new WsWebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 2 ** 20 });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    }),
    commandTimeoutMs,
    `CDP connection to ${url}`,
  );
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
    };
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    if (waiter === undefined) return;
    pending.delete(message.id);
    if (message.error !== undefined) waiter.reject(new Error(`CDP: ${message.error.message}`));
    else waiter.resolve(message.result);
  });
  socket.on('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('CDP connection closed'));
    pending.clear();
  });
  return {
    send: <T>(method: string, params: object = {}, sessionId?: string): Promise<T> => {
      const id = nextId++;
      socket.send(JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }));
      return withTimeout(
        new Promise<T>((resolve, reject) => {
          pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        }),
        commandTimeoutMs,
        `CDP ${method}`,
      ).finally(() => pending.delete(id));
    },
    close: () => socket.close(),
  };
}

/** A page (or any target with a JavaScript context) to evaluate expressions in. */
export interface CdpPage {
  /** Evaluate `expression`, await its promise, return its value (JSON). */
  evaluate<T>(expression: string): Promise<T>;
  /** Any other command, in this page's session. */
  send<T>(method: string, params?: object): Promise<T>;
}

export function pageOf(cdp: CdpConnection, sessionId?: string): CdpPage {
  const send = <T>(method: string, params: object = {}): Promise<T> => cdp.send<T>(method, params, sessionId);
  return {
    send,
    evaluate: async <T>(expression: string): Promise<T> => {
      const reply = await send<{
        result: { value?: unknown };
        exceptionDetails?: { text: string; exception?: { description?: string } };
      }>('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
      if (reply.exceptionDetails !== undefined) {
        const { text, exception } = reply.exceptionDetails;
        throw new Error(`in the page: ${exception?.description ?? text}`);
      }
      return reply.result.value as T;
    },
  };
}

// ---------------------------------------------------------------------------
// Chromium

/** A Chromium launched by {@link launchChromium}. */
export interface RunningChromium {
  readonly pid: number;
  /** `Browser.getVersion`'s product, e.g. `Chrome/150.0.7871.100`. */
  readonly product: string;
  readonly cdp: CdpConnection;
  /** Open a tab at `url`, attach to it, and wait until `ready` (an expression) is true. */
  openPage(url: string, ready: string, timeoutMs: number): Promise<CdpPage>;
  stop(): Promise<void>;
}

/** Options of {@link launchChromium}. */
export interface LaunchChromiumOptions {
  /** Switches besides e2e/browser/support/chromium.ts's and the benchmark's own. */
  readonly args: readonly string[];
  /** Prefix of the fresh user-data directory's name. */
  readonly profilePrefix: string;
  /** Bound of every CDP command. */
  readonly commandTimeoutMs: number;
}

/**
 * Launch Debian's Chromium headless with a fresh user-data directory
 * (deleted by `stop()`), the end-to-end tests' switches, and a DevTools
 * endpoint on a free port, and connect to it.
 */
export async function launchChromium(options: LaunchChromiumOptions): Promise<RunningChromium> {
  const { CHROMIUM_ARGS, CHROMIUM_PATH } = await import('../../e2e/browser/support/chromium.js');
  const profile = mkdtempSync(join(os.tmpdir(), options.profilePrefix));
  const child = track(
    nodeSpawn(
      CHROMIUM_PATH,
      [
        ...CHROMIUM_ARGS,
        '--headless',
        `--user-data-dir=${profile}`,
        '--remote-debugging-port=0',
        ...options.args,
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => kill(child), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
  };
  try {
    const endpoint = await withTimeout(
      new Promise<string>((resolve, reject) => {
        let text = '';
        child.stderr?.on('data', (chunk: Buffer) => {
          // Only the start is needed; later output is let through and dropped.
          if (text.length > 1e6) return;
          text += chunk.toString();
          const match = /DevTools listening on (ws:\/\/\S+)/.exec(text);
          if (match !== null) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`Chromium exited (${code}):\n${text}`)));
      }),
      30_000,
      'Chromium start',
    );
    const cdp = await connectCdp(endpoint, options.commandTimeoutMs);
    const { product } = await cdp.send<{ product: string }>('Browser.getVersion');
    if (child.pid === undefined) throw new Error('Chromium has no pid');
    return {
      pid: child.pid,
      product,
      cdp,
      openPage: async (url, ready, timeoutMs) => {
        const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', { url });
        const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', {
          targetId,
          flatten: true,
        });
        const page = pageOf(cdp, sessionId);
        const end = now() + timeoutMs;
        let polls = 0;
        while ((await page.evaluate<boolean>(ready).catch(() => false)) !== true) {
          if (now() > end) throw new Error(`${url} was not ready (${ready}) within ${timeoutMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, 100));
          // A first navigation right after an app's install may fail: navigate again now and then.
          if (++polls % 50 === 0) await page.send('Page.navigate', { url }).catch(() => {});
        }
        return page;
      },
      stop: async () => {
        cdp.close();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
