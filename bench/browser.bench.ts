/**
 * What a WebSocket tunnelled by polysocket costs in the browser (issue 15,
 * "In the browser"): Chromium's native `WebSocket` beside polysocket over
 * WebTransport through the repository's gateway and polysocket over Direct
 * Sockets in an Isolated Web App, against the same `ws` server in the same
 * run, with ratios to the native `WebSocket` and the issue's targets.
 *
 * Run with `npm run bench:browser` (`tsx bench/browser.bench.ts`); results go
 * to bench/results/browser.{json,md}. `--quick` runs one short round and
 * writes nothing (it prints the table). `--cpu-prof` profiles every
 * polysocket scenario, not only those whose target is missed, and saves the
 * raw profiles in build/cpu-prof/browser/ (open them in DevTools'
 * Performance panel).
 *
 * Method
 * ------
 * - Everything on loopback (127.0.0.1). One server process: a `ws`
 *   WebSocketServer over HTTP, no compression, obeying the commands of
 *   bench/support/ws-bench-server.ts. This process only orchestrates.
 * - One Chromium (Debian's /usr/bin/chromium, headless, a fresh user-data
 *   directory), launched here and driven over a bare CDP connection
 *   (bench/support/chromium-cdp.ts: `Runtime.evaluate`, and `Profiler` for
 *   the profiles): no Network domain, which would copy every native
 *   WebSocket frame to the driver. Launched with the switches that install
 *   a dev-mode Isolated Web App (e2e/browser/support/iwa.ts) whose script is
 *   bench/browser-page.ts, bundled by Vite.
 * - Two tabs of that one Chromium show the same page: the app
 *   (`isolated-app://…`, where Direct Sockets exist) for polysocket over
 *   Direct Sockets, and the app's dev server as an ordinary site
 *   (`http://127.0.0.1:…`) for the native `WebSocket` and polysocket over
 *   WebTransport (an app's Content-Security-Policy allows no `ws:`). The
 *   dev server sends COOP and COEP, so the ordinary tab is cross-origin
 *   isolated as the app is: both have the same `performance.now()`
 *   resolution, which the round trips need.
 * - WebTransport goes to the repository's gateway (gateway/, Deno; its
 *   certificate pinned by hash), which connects to the same server.
 * - Scenarios: receive and send binary messages of 1 KiB, 64 KiB and 1 MiB
 *   (receive: the server sends N messages as fast as its socket drains and
 *   the page counts the bytes; send: a loop of N `send()` calls, timed
 *   until the server says it had them all; MB/s = 10^6 payload bytes per
 *   second), each on a fresh connection after a warm-up of a quarter of the
 *   messages on it; 1 MiB messages sent paced (see scenarios()); and
 *   round trips of a 64 B binary message, one at a
 *   time, after a warm-up (p50 and p99 in µs, from `performance.now()` in
 *   the page).
 * - CPU per MiB, per process, from /proc/<pid>/stat (utime + stime, 10 ms
 *   ticks): Chromium's processes by type (browser, renderer, network
 *   service, others: the renderers of both tabs count, the idle one costs
 *   next to nothing), the gateway and the server, read before and after
 *   each timed transfer.
 * - Medians over ROUNDS rounds; the paths alternate within a round and
 *   their order rotates from round to round. Every wait is bounded, every
 *   loop counted; every child process is killed at the end, also on error.
 * - Then the issue's targets are checked, and each polysocket scenario that
 *   misses one is run once more under the CDP `Profiler` of its page (and,
 *   over WebTransport, of a second gateway started with `--inspect`): the
 *   results say where the time goes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import type * as net from 'node:net';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PageTarget, PageTransfer } from './browser-page.js';
import {
  BENCH_GATEWAY_ARGS,
  boundRun,
  type CdpConnection,
  type CdpPage,
  CPU_GROUPS,
  type CpuGroup,
  type CpuRoot,
  connectCdp,
  cpuBetween,
  cpuSnapshot,
  type Direction,
  denoVersion,
  fmt,
  killChildren,
  launchChromium,
  type MeasuredTransfer,
  mbps,
  median,
  nextMessage,
  now,
  quantile,
  ratio,
  rotate,
  type Scenario,
  type ScenarioKey,
  spawnRole,
  summarizeTransfers,
  type TransferSummary,
  threadCpuBetween,
  threadCpuSnapshot,
  track,
  transferScenarios,
  writeResults,
} from './support/chromium-cdp.js';
import { serveBenchCommands } from './support/ws-bench-server.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const SELF = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------
// Configuration

const QUICK = process.argv.includes('--quick');
const CPU_PROF = process.argv.includes('--cpu-prof');
/** Rounds: each path is measured once per round; figures are medians over rounds. */
const ROUNDS = QUICK ? 1 : 5;
const SIZES = [1024, 64 * 1024, 2 ** 20] as const;
/**
 * Messages per transfer: 8 MiB of 1 KiB messages, 32 MiB of 64 KiB ones, 64 MiB of 1 MiB ones; about
 * a second at the native `WebSocket`'s pace, long enough for the 10 ms ticks of the CPU figures.
 */
const COUNTS: Readonly<Record<number, number>> = QUICK
  ? { 1024: 1024, [64 * 1024]: 32, [2 ** 20]: 4 }
  : { 1024: 8192, [64 * 1024]: 512, [2 ** 20]: 64 };
const ECHO_SIZE = 64;
const ECHO_COUNT = QUICK ? 200 : 1000;
const ECHO_WARMUP = QUICK ? 50 : 200;
/** Bounds: one open or close, one transfer, the whole run. */
const OPEN_TIMEOUT_MS = 15_000;
const TRANSFER_TIMEOUT_MS = 60_000;
const RUN_TIMEOUT_MS = 30 * 60_000;
/** The server pauses a receive transfer while this much waits in its socket. */
const SERVER_QUEUE_LIMIT = 1024 * 1024;
/** The profiler's sampling interval, µs. */
const PROFILE_INTERVAL_US = 100;

/** The issue's targets. */
const TARGETS = {
  /** polysocket's renderer CPU per MiB, at most this times the native `WebSocket`'s. */
  rendererRatio: 1.3,
  /** Throughput over Direct Sockets, at least this times native, at every size. */
  directSocketsThroughput: 0.8,
  /** The gateway's CPU per MiB, ms, each way. */
  gatewayMsPerMiB: 4,
  /** Round-trip p50 over Direct Sockets, at most this times native. */
  directSocketsEchoP50: 1.2,
} as const;

type PathName = 'native' | 'webtransport' | 'direct-sockets';
const PATHS: ReadonlyArray<{ readonly path: PathName; readonly label: string }> = [
  { path: 'native', label: "Chromium's `WebSocket`" },
  { path: 'webtransport', label: 'polysocket over WebTransport (gateway)' },
  { path: 'direct-sockets', label: 'polysocket over Direct Sockets (IWA)' },
];
const POLYSOCKET_PATHS: readonly PathName[] = ['webtransport', 'direct-sockets'];

const ECHO_KEY = `echo ${ECHO_SIZE} B`;

/**
 * The transfers, and 1 MiB messages sent paced: before each `send()` the
 * page waits while more than 4 MiB are buffered, as an upload loop does.
 * Unpaced, every frame of the transfer is made in one task before any is
 * written; paced, frames are made while earlier ones are being written.
 * Not among the issue's targets (which are the unpaced transfers).
 */
function scenarios(): Scenario[] {
  return [
    ...transferScenarios(SIZES, COUNTS),
    { key: 'send 1 MiB paced', direction: 'send', size: 2 ** 20, count: COUNTS[2 ** 20]!, paced: true },
  ];
}

// ---------------------------------------------------------------------------
// Server role: ws over HTTP

async function runServer(): Promise<void> {
  const { WebSocketServer } = await import('ws');
  const payloads = new Map(SIZES.map((size) => [size, Buffer.alloc(size, 0x61)]));
  const payload = (size: number): Buffer => payloads.get(size) ?? Buffer.alloc(size, 0x61);
  const server = http.createServer((_, response) => response.end('browser benchmark server\n'));
  new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 2 ** 20 }).on(
    'connection',
    (socket) => serveBenchCommands(socket, payload, SERVER_QUEUE_LIMIT),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const exit = (): never => process.exit(0);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'exit') exit();
  });
  // The orchestrator gone (killed, crashed): go too.
  process.on('disconnect', exit);
  process.send?.({ type: 'listening', port: (server.address() as net.AddressInfo).port });
}

// ---------------------------------------------------------------------------
// Measuring

/** One measured transfer, with the CPU ms by process group over it. */
type Transfer = MeasuredTransfer<CpuGroup>;

interface PathResult {
  readonly path: PathName;
  readonly transfers: Partial<Record<ScenarioKey, Transfer[]>>;
  /** Per round: p50 and p99 of the round trips, µs. */
  readonly echo: Array<{ p50: number; p99: number }>;
  readonly errors: string[];
}

/** The page's calls, on the tab a path runs in. */
class PageDriver {
  readonly page: CdpPage;

  constructor(page: CdpPage) {
    this.page = page;
  }

  open(target: PageTarget): Promise<number> {
    return this.page.evaluate<number>(`window.benchPage.open(${JSON.stringify(target)}, ${OPEN_TIMEOUT_MS})`);
  }

  close(): Promise<void> {
    return this.page.evaluate<void>(`window.benchPage.close(${OPEN_TIMEOUT_MS})`);
  }

  transfer(direction: Direction, size: number, count: number, paced = false): Promise<PageTransfer> {
    return this.page.evaluate<PageTransfer>(
      `window.benchPage.transfer(${JSON.stringify(direction)}, ${size}, ${count}, ${TRANSFER_TIMEOUT_MS}, ${paced})`,
    );
  }

  echo(count: number): Promise<number[]> {
    return this.page.evaluate<number[]>(
      `window.benchPage.echo(${ECHO_SIZE}, ${count}, ${TRANSFER_TIMEOUT_MS})`,
    );
  }
}

/** A fresh connection, a warm-up, then the timed transfer with the CPU it used. */
async function measureTransfer(
  driver: PageDriver,
  target: PageTarget,
  scenario: Scenario,
  roots: readonly CpuRoot[],
): Promise<Transfer> {
  await driver.open(target);
  try {
    const paced = scenario.paced === true;
    await driver.transfer(scenario.direction, scenario.size, Math.max(1, scenario.count >> 2), paced);
    const before = cpuSnapshot(roots);
    const measured = await driver.transfer(scenario.direction, scenario.size, scenario.count, paced);
    return { ...measured, cpuMs: cpuBetween(before, cpuSnapshot(roots)) };
  } finally {
    await driver.close().catch(() => {});
  }
}

async function measureEcho(driver: PageDriver, target: PageTarget): Promise<{ p50: number; p99: number }> {
  await driver.open(target);
  try {
    await driver.echo(ECHO_WARMUP);
    const times = await driver.echo(ECHO_COUNT);
    return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
  } finally {
    await driver.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// Profiles

/** A CDP `Profiler.Profile`, as far as it is read here. */
interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number;
    readonly callFrame: {
      readonly functionName: string;
      readonly url: string;
      readonly lineNumber: number;
    };
  }>;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

/** Where a profile's time went: self time by function. */
interface ProfileSummary {
  /** What was profiled: `direct-sockets recv 1 MiB (page)`. */
  readonly what: string;
  /** Why: the targets it missed. */
  readonly why: string[];
  /** Sampled time that was not idle, ms. */
  readonly busyMs: number;
  readonly top: ReadonlyArray<{ readonly fn: string; readonly ms: number; readonly share: number }>;
  readonly file?: string;
  /**
   * CPU ms per MiB (echo: per round trip, µs) of each busy thread of all
   * the processes over the profiled run (profilers running): what the JS
   * profile cannot see, the network service's and Deno's own threads.
   */
  readonly threads?: ReadonlyArray<{ readonly thread: string; readonly perUnit: number }>;
}

/** Self time by function (name, file, line), idle left out; the largest `limit`. */
function summarizeProfile(profile: CpuProfile, limit = 12): Omit<ProfileSummary, 'what' | 'why'> {
  const names = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === '' ? '' : ` ${basename(url)}:${lineNumber + 1}`;
    names.set(node.id, `${functionName === '' ? '(anonymous)' : functionName}${where}`);
  }
  const self = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // A sample's time is the gap to the next one.
  for (let i = 0; i < samples.length; i++) {
    const name = names.get(samples[i]!) ?? '?';
    self.set(name, (self.get(name) ?? 0) + (deltas[i + 1] ?? 0) / 1000);
  }
  self.delete('(idle)');
  const busyMs = [...self.values()].reduce((a, b) => a + b, 0);
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([fn, ms]) => ({ fn, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
  return { busyMs, top };
}

async function startProfiler(send: CdpPage['send']): Promise<void> {
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US });
  await send('Profiler.start');
}

async function stopProfiler(send: CdpPage['send']): Promise<CpuProfile> {
  const { profile } = await send<{ profile: CpuProfile }>('Profiler.stop');
  await send('Profiler.disable');
  return profile;
}

// ---------------------------------------------------------------------------
// Targets

interface TargetCheck {
  readonly target: string;
  readonly path: PathName;
  readonly scenario: string;
  /** The measured figure, in the unit of `limit`. */
  readonly value: number;
  readonly limit: string;
  readonly met: boolean;
  /** What to profile when missed: the page, or also the gateway. */
  readonly profile: 'page' | 'gateway';
}

function checkTargets(summaries: ReadonlyMap<PathName, PathSummary>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const native = summaries.get('native');
  for (const path of POLYSOCKET_PATHS) {
    const summary = summaries.get(path);
    for (const { key, paced } of scenarios()) {
      if (paced === true) continue; // not one of the issue's scenarios
      const mine = summary?.scenarios[key];
      const theirs = native?.scenarios[key];
      if (mine === undefined || theirs === undefined) continue;
      const rendererRatio =
        (mine.cpuMsPerMiB.renderer ?? Number.NaN) / (theirs.cpuMsPerMiB.renderer ?? Number.NaN);
      checks.push({
        target: `renderer CPU per MiB ≤ ${TARGETS.rendererRatio}× native`,
        path,
        scenario: key,
        value: rendererRatio,
        limit: `≤ ${TARGETS.rendererRatio}×`,
        met: rendererRatio <= TARGETS.rendererRatio,
        profile: 'page',
      });
      if (path === 'direct-sockets') {
        const throughput = mine.mbps / theirs.mbps;
        checks.push({
          target: `throughput ≥ ${TARGETS.directSocketsThroughput}× native over Direct Sockets`,
          path,
          scenario: key,
          value: throughput,
          limit: `≥ ${TARGETS.directSocketsThroughput}×`,
          met: throughput >= TARGETS.directSocketsThroughput,
          profile: 'page',
        });
      } else {
        const gateway = mine.cpuMsPerMiB.gateway ?? Number.NaN;
        checks.push({
          target: `gateway CPU ≤ ${TARGETS.gatewayMsPerMiB} ms per MiB`,
          path,
          scenario: key,
          value: gateway,
          limit: `≤ ${TARGETS.gatewayMsPerMiB} ms`,
          met: gateway <= TARGETS.gatewayMsPerMiB,
          profile: 'gateway',
        });
      }
    }
  }
  const ds = summaries.get('direct-sockets')?.echo.p50 ?? Number.NaN;
  const echoRatio = ds / (native?.echo.p50 ?? Number.NaN);
  checks.push({
    target: `echo p50 ≤ ${TARGETS.directSocketsEchoP50}× native over Direct Sockets`,
    path: 'direct-sockets',
    scenario: ECHO_KEY,
    value: echoRatio,
    limit: `≤ ${TARGETS.directSocketsEchoP50}×`,
    met: echoRatio <= TARGETS.directSocketsEchoP50,
    profile: 'page',
  });
  return checks;
}

// ---------------------------------------------------------------------------
// Orchestration

interface BrowserRun {
  readonly results: PathResult[];
  readonly profiles: ProfileSummary[];
  readonly chromium: string;
  readonly pages: Record<string, unknown>;
  readonly error?: string;
}

async function runBrowser(port: number, serverPid: number): Promise<BrowserRun> {
  const results = new Map<PathName, PathResult>(
    PATHS.map(({ path }) => [path, { path, transfers: {}, echo: [], errors: [] }]),
  );
  const profiles: ProfileSummary[] = [];
  const pages: Record<string, unknown> = {};
  const { bundleIwaPage, startIwaDevServer, IWA_INTERNALS_TEXT, IWA_ORIGIN_PATTERN } = await import(
    '../e2e/browser/support/iwa.js'
  );
  const { startGatewayProcess, waitForLine } = await import('../e2e/browser/support/gateway.js');
  const stops: Array<() => Promise<void>> = [];
  let chromiumVersion = '?';
  const gatewayArgs = BENCH_GATEWAY_ARGS;
  try {
    const dev = await startIwaDevServer(await bundleIwaPage(join(HERE, 'browser-page.ts')), {
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
    stops.push(() => dev.close());
    const gateway = await startGatewayProcess({ allow: [`127.0.0.1:${port}`], args: gatewayArgs });
    // Tracked too, so that a signal or the run's bound kills it with the rest.
    track(gateway.service.child);
    stops.push(() => gateway.stop());
    const chromium = await launchChromium({
      args: [
        `--enable-features=IsolatedWebApps,IsolatedWebAppDevMode`,
        `--install-isolated-web-app-from-url=${dev.url}`,
      ],
      profilePrefix: 'polysocket-browser-bench-',
      commandTimeoutMs: TRANSFER_TIMEOUT_MS + 10_000,
    });
    stops.push(() => chromium.stop());
    chromiumVersion = chromium.product;
    const origin = await findIwaOrigin(
      chromium.cdp,
      chromium.openPage,
      IWA_INTERNALS_TEXT,
      IWA_ORIGIN_PATTERN,
    );
    // Without an origin: isolated-app:// origins are refused as opaque. The
    // three names are what local network access is called across versions.
    await chromium.cdp
      .send('Browser.grantPermissions', {
        permissions: ['localNetworkAccess', 'localNetwork', 'loopbackNetwork'],
      })
      .catch(() => chromium.cdp.send('Browser.grantPermissions', { permissions: ['localNetworkAccess'] }));
    const ready = 'window.benchPageReady === true';
    const site = new PageDriver(await chromium.openPage(dev.url, ready, 30_000));
    const app = new PageDriver(await chromium.openPage(`${origin}/`, ready, 60_000));
    const probe =
      '({ isolated: crossOriginIsolated, tcp: typeof TCPSocket, visibility: document.visibilityState })';
    pages['site'] = await site.page.evaluate(probe);
    pages['app'] = await app.page.evaluate(probe);
    console.log(`pages: ${JSON.stringify(pages)}`);
    const driverOf = (path: PathName): PageDriver => (path === 'direct-sockets' ? app : site);
    const wsUrl = `ws://127.0.0.1:${port}/`;
    const targetOf = (path: PathName, via = gateway): PageTarget =>
      path === 'webtransport'
        ? { kind: path, url: wsUrl, gateway: via.url, certificateHash: via.certificateHash }
        : { kind: path, url: wsUrl };
    /** The process trees whose CPU counts: Chromium's, the server's, the gateway's. */
    const rootsWith = (gatewayPid: number | undefined): CpuRoot[] => [
      { pid: chromium.pid, group: 'chromium' },
      { pid: serverPid, group: 'server' },
      ...(gatewayPid === undefined ? [] : [{ pid: gatewayPid, group: 'gateway' as const }]),
    ];
    const roots = rootsWith(gateway.service.child.pid);

    for (let round = 0; round < ROUNDS; round++) {
      for (const { path } of rotate(PATHS, round)) {
        const result = results.get(path)!;
        const driver = driverOf(path);
        for (const scenario of scenarios()) {
          try {
            const transfer = await measureTransfer(driver, targetOf(path), scenario, roots);
            (result.transfers[scenario.key] ??= []).push(transfer);
          } catch (error) {
            result.errors.push(`round ${round + 1}: ${scenario.key}: ${String(error)}`);
          }
        }
        try {
          result.echo.push(await measureEcho(driver, targetOf(path)));
        } catch (error) {
          result.errors.push(`round ${round + 1}: ${ECHO_KEY}: ${String(error)}`);
        }
        console.log(`round ${round + 1}/${ROUNDS}: ${path}: ${progress(result)}`);
      }
    }

    // Profiles of what missed a target (everything polysocket runs, with --cpu-prof).
    const summaries = new Map(
      [...results.values()].map((result) => [result.path, summarize(result)] as [PathName, PathSummary]),
    );
    const wanted = new Map<string, { path: PathName; scenario: string; gateway: boolean; why: string[] }>();
    for (const check of checkTargets(summaries)) {
      if (check.met && !CPU_PROF) continue;
      const id = `${check.path} ${check.scenario}`;
      const entry = wanted.get(id) ?? { path: check.path, scenario: check.scenario, gateway: false, why: [] };
      entry.gateway ||= check.profile === 'gateway' || check.path === 'webtransport';
      if (!check.met) entry.why.push(`${check.target}: ${fmtCheck(check)}`);
      wanted.set(id, entry);
    }
    if (wanted.size > 0) {
      const { freeTcpPort } = await import('../e2e/browser/support/page-server.js');
      const inspectPort = await freeTcpPort();
      const profiled = await startGatewayProcess({
        allow: [`127.0.0.1:${port}`],
        args: gatewayArgs,
        denoArgs: [`--inspect=127.0.0.1:${inspectPort}`],
      });
      track(profiled.service.child);
      stops.push(() => profiled.stop());
      const [, inspector] = await waitForLine(
        profiled.service,
        /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/,
        0,
        30_000,
      );
      const gatewayCdp = await connectCdp(inspector!, TRANSFER_TIMEOUT_MS + 10_000);
      stops.push(async () => gatewayCdp.close());
      const gatewaySend: CdpPage['send'] = (method, params) => gatewayCdp.send(method, params);
      const directory = join(ROOT, 'build', 'cpu-prof', 'browser');
      const threadRoots = rootsWith(profiled.service.child.pid);
      for (const { path, scenario: key, gateway: withGateway, why } of wanted.values()) {
        const driver = driverOf(path);
        const target = targetOf(path, profiled);
        const scenario = scenarios().find((s) => s.key === key);
        const profileGateway = withGateway && path === 'webtransport';
        try {
          await driver.open(target);
          try {
            if (scenario === undefined) await driver.echo(ECHO_WARMUP);
            else await driver.transfer(scenario.direction, scenario.size, Math.max(1, scenario.count >> 2));
            await startProfiler(driver.page.send);
            if (profileGateway) await startProfiler(gatewaySend);
            const threadsBefore = threadCpuSnapshot(threadRoots);
            if (scenario === undefined) await driver.echo(ECHO_COUNT);
            else await driver.transfer(scenario.direction, scenario.size, scenario.count);
            const threadsUsed = threadCpuBetween(threadsBefore, threadCpuSnapshot(threadRoots));
            const pageProfile = await stopProfiler(driver.page.send);
            const gatewayProfile = profileGateway ? await stopProfiler(gatewaySend) : null;
            for (const [who, profile] of [
              ['page', pageProfile],
              ['gateway', gatewayProfile],
            ] as const) {
              if (profile === null) continue;
              const what = `${path} ${key} (${who})`;
              let file: string | undefined;
              if (CPU_PROF) {
                mkdirSync(directory, { recursive: true });
                file = join(directory, `${path}-${key.replaceAll(' ', '-')}-${who}.cpuprofile`);
                writeFileSync(file, JSON.stringify(profile));
              }
              // Per MiB moved, or µs per round trip.
              const units =
                scenario === undefined ? ECHO_COUNT / 1000 : (scenario.size * scenario.count) / 2 ** 20;
              profiles.push({
                what,
                why,
                ...summarizeProfile(profile),
                ...(file === undefined ? {} : { file }),
                ...(who === 'page'
                  ? {
                      threads: threadsUsed
                        .slice(0, 12)
                        .map(({ thread, cpuMs }) => ({ thread, perUnit: cpuMs / units })),
                    }
                  : {}),
              });
              console.log(`profiled ${what}`);
            }
          } finally {
            await driver.close().catch(() => {});
          }
        } catch (error) {
          results.get(path)!.errors.push(`profile of ${key}: ${String(error)}`);
        }
      }
    }
    return { results: [...results.values()], profiles, chromium: chromiumVersion, pages };
  } catch (error) {
    return {
      results: [...results.values()],
      profiles,
      chromium: chromiumVersion,
      pages,
      error: String(error),
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

/** The app's origin, from chrome://web-app-internals (random per install), in a tab closed after. */
async function findIwaOrigin(
  cdp: CdpConnection,
  openPage: (url: string, ready: string, timeoutMs: number) => Promise<CdpPage>,
  internalsText: string,
  originPattern: RegExp,
): Promise<string> {
  const url = 'chrome://web-app-internals/';
  const page = await openPage(url, 'document.readyState === "complete"', 30_000);
  try {
    // 0.7 s after the launch in the lab; up to 60 polls of 500 ms, reloading now and then.
    for (let poll = 1; poll <= 60; poll++) {
      const text = await page.evaluate<string>(internalsText).catch(() => '');
      const match = originPattern.exec(text);
      if (match !== null) return match[0];
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (poll % 10 === 0) await page.send('Page.navigate', { url }).catch(() => {});
    }
    throw new Error('the app did not show up in chrome://web-app-internals within 30 s');
  } finally {
    // Its renderer would otherwise count in the CPU figures.
    const { targetInfos } = await cdp.send<{ targetInfos: Array<{ targetId: string; url: string }> }>(
      'Target.getTargets',
    );
    for (const info of targetInfos.filter((t) => t.url.startsWith(url))) {
      await cdp.send('Target.closeTarget', { targetId: info.targetId }).catch(() => {});
    }
  }
}

function progress(result: PathResult): string {
  const parts: string[] = [];
  for (const [key, transfers] of Object.entries(result.transfers)) {
    const last = transfers?.at(-1);
    if (last !== undefined) parts.push(`${key} ${fmt(mbps(last), 0)} MB/s`);
  }
  const echo = result.echo.at(-1);
  if (echo !== undefined) parts.push(`echo p50 ${fmt(echo.p50, 0)} µs`);
  if (result.errors.length > 0) parts.push(`${result.errors.length} error(s): ${result.errors.at(-1)}`);
  return parts.join(', ');
}

async function orchestrate(): Promise<void> {
  const disarm = boundRun(RUN_TIMEOUT_MS);
  const started = now();
  const loadStart = os.loadavg()[0] ?? 0;
  try {
    const server = spawnRole(SELF, ['--role=server']);
    const { port } = await nextMessage<{ type: string; port: number }>(server, 'listening', 30_000);
    console.log(`server: ws://127.0.0.1:${port}/`);
    const browser = await runBrowser(port, server.pid!);
    if (browser.error !== undefined) console.error(`chromium: ${browser.error}`);
    server.send({ type: 'exit' });
    const environment = {
      date: new Date().toISOString(),
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      cpu: os.cpus()[0]?.model.trim() ?? '?',
      cpus: os.cpus().length,
      chromium: browser.chromium,
      pages: browser.pages,
      deno: denoVersion(ROOT),
      versions: {
        polysocket: (require('../package.json') as { version: string }).version,
        ws: (require('ws/package.json') as { version: string }).version,
      },
      seconds: (now() - started) / 1000,
      loadAverage: { start: loadStart, end: os.loadavg()[0] ?? 0 },
    };
    const config = {
      quick: QUICK,
      rounds: ROUNDS,
      counts: COUNTS,
      echo: { size: ECHO_SIZE, count: ECHO_COUNT, warmup: ECHO_WARMUP },
      serverQueueLimit: SERVER_QUEUE_LIMIT,
      targets: TARGETS,
      profileIntervalUs: PROFILE_INTERVAL_US,
    };
    const summaries = new Map(browser.results.map((result) => [result.path, summarize(result)] as const));
    const targets = checkTargets(summaries);
    const text = markdown(environment, summaries, targets, browser.profiles, browser.error);
    writeResults('browser', QUICK, text, {
      environment,
      config,
      summary: [...summaries.values()],
      targets,
      profiles: browser.profiles,
      raw: browser.results,
    });
  } finally {
    const { stopAllServices } = await import('../e2e/browser/support/processes.js');
    await stopAllServices();
    killChildren();
    disarm();
  }
}

// ---------------------------------------------------------------------------
// Summary and output

type ScenarioSummary = TransferSummary<CpuGroup>;

interface PathSummary {
  readonly path: PathName;
  readonly scenarios: Partial<Record<ScenarioKey, ScenarioSummary>>;
  /** Medians over the rounds of each round's p50 and p99, µs. */
  readonly echo: { readonly runs: number; readonly p50: number; readonly p99: number };
  readonly errors: string[];
}

function summarize(result: PathResult): PathSummary {
  const summaries: PathSummary['scenarios'] = {};
  for (const [key, transfers] of Object.entries(result.transfers) as Array<[ScenarioKey, Transfer[]]>) {
    summaries[key] = summarizeTransfers(transfers);
  }
  return {
    path: result.path,
    scenarios: summaries,
    echo: {
      runs: result.echo.length,
      p50: median(result.echo.map((e) => e.p50)),
      p99: median(result.echo.map((e) => e.p99)),
    },
    errors: result.errors,
  };
}

function fmtCheck(check: TargetCheck): string {
  return check.limit.includes('ms') ? `${fmt(check.value, 2)} ms` : `${fmt(check.value, 2)}×`;
}

function markdown(
  environment: {
    date: string;
    node: string;
    cpu: string;
    cpus: number;
    chromium: string;
    pages: Record<string, unknown>;
    deno: string;
    versions: Record<string, string>;
    seconds: number;
    loadAverage: { start: number; end: number };
  },
  summaries: ReadonlyMap<PathName, PathSummary>,
  targets: readonly TargetCheck[],
  profiles: readonly ProfileSummary[],
  browserError: string | undefined,
): string {
  const keys = scenarios().map((s) => s.key);
  const native = summaries.get('native');
  const label = (path: PathName): string => PATHS.find((p) => p.path === path)?.label ?? path;
  const lines = [
    '# Browser benchmark: what a tunnelled WebSocket costs in Chromium',
    '',
    `Generated by \`npm run bench:browser\` (\`tsx bench/browser.bench.ts\`) on ${environment.date}.`,
    '',
    `- ${environment.chromium}, headless, driven over a bare CDP connection (\`Runtime.evaluate\`; no Network domain); gateway on ${environment.deno}; Node ${environment.node} for the server and this driver; ${environment.cpu} ×${environment.cpus}, shared. Loopback only. Total run time ${fmt(environment.seconds, 0)} s; 1-minute load average ${fmt(environment.loadAverage.start, 2)} at the start, ${fmt(environment.loadAverage.end, 2)} at the end.`,
    `- polysocket ${environment.versions['polysocket']} (src/, bundled by Vite into the page), server \`ws\` ${environment.versions['ws']} without compression, in a process of its own. Pages: ${JSON.stringify(environment.pages)} (\`site\`: the ordinary tab of the native \`WebSocket\` and WebTransport; \`app\`: the Isolated Web App's tab, Direct Sockets).`,
    `- Medians of ${ROUNDS} rounds, the paths in turn, their order rotating. Transfers: ${COUNTS[1024]} messages of 1 KiB, ${COUNTS[64 * 1024]} of 64 KiB, ${COUNTS[2 ** 20]} of 1 MiB, each on a fresh connection after a warm-up of a quarter of that; \`send 1 MiB paced\`: the same 1 MiB messages, each sent once at most 4 MiB are buffered, as an upload loop does (not one of the issue's targets); MB/s = 10^6 payload bytes per second. Echo: ${ECHO_COUNT} round trips of a ${ECHO_SIZE} B binary message one at a time, after ${ECHO_WARMUP}; p50 and p99 per round, medians over rounds. In parentheses: the ratio to the native \`WebSocket\`.`,
    '',
    '## Throughput (MB/s) and round trips (µs)',
    '',
    `| path | ${keys.join(' | ')} | echo p50 | echo p99 |`,
    `| --- | ${keys.map(() => '---:').join(' | ')} | ---: | ---: |`,
  ];
  for (const { path } of PATHS) {
    const summary = summaries.get(path);
    if (summary === undefined) continue;
    const isNative = path === 'native';
    const cell = (value: number, ref: number, digits: number): string =>
      isNative ? fmt(value, digits) : `${fmt(value, digits)} (${ratio(value, ref)})`;
    lines.push(
      `| ${label(path)} | ${keys
        .map((k) =>
          cell(summary.scenarios[k]?.mbps ?? Number.NaN, native?.scenarios[k]?.mbps ?? Number.NaN, 0),
        )
        .join(
          ' | ',
        )} | ${cell(summary.echo.p50, native?.echo.p50 ?? Number.NaN, 0)} | ${cell(summary.echo.p99, native?.echo.p99 ?? Number.NaN, 0)} |`,
    );
  }
  lines.push(
    '',
    '## CPU per MiB, by process',
    '',
    'ms of CPU per MiB moved (/proc/<pid>/stat, 10 ms ticks, over the timed transfer). "network service" is where Chromium runs sockets and QUIC; the renderer is the page. In parentheses: the ratio to the native `WebSocket` in the same scenario.',
    '',
    `| path | scenario | ${CPU_GROUPS.join(' | ')} | total |`,
    `| --- | --- | ${CPU_GROUPS.map(() => '---:').join(' | ')} | ---: |`,
  );
  for (const key of keys) {
    for (const { path } of PATHS) {
      const cpu = summaries.get(path)?.scenarios[key]?.cpuMsPerMiB;
      if (cpu === undefined) continue;
      const ref = native?.scenarios[key]?.cpuMsPerMiB;
      const show = (group: CpuGroup | 'total'): string => {
        const value = cpu[group] ?? Number.NaN;
        const withRatio = path !== 'native' && (group === 'renderer' || group === 'total');
        return withRatio ? `${fmt(value, 2)} (${ratio(value, ref?.[group] ?? Number.NaN)})` : fmt(value, 2);
      };
      lines.push(`| ${label(path)} | ${key} | ${CPU_GROUPS.map(show).join(' | ')} | ${show('total')} |`);
    }
  }
  const met = targets.filter((t) => t.met).length;
  lines.push(
    '',
    `## The issue's targets: ${met} of ${targets.length} checks met`,
    '',
    '| target | path | scenario | measured | limit | met |',
    '| --- | --- | --- | ---: | ---: | :---: |',
    ...targets.map(
      (t) =>
        `| ${t.target} | ${label(t.path)} | ${t.scenario} | ${fmtCheck(t)} | ${t.limit} | ${t.met ? 'yes' : '**no**'} |`,
    ),
  );
  if (profiles.length > 0) {
    lines.push(
      '',
      '## Where the time goes (CPU profiles)',
      '',
      `One more run of each scenario that missed a target, under the CDP \`Profiler\` (sampling every ${PROFILE_INTERVAL_US} µs) of its page, and over WebTransport also of a second gateway started with \`--inspect\`. Self time by function, idle left out; "busy" is the sampled time that was not idle. The page's script is one Vite bundle (iwa.js), so its line numbers are the bundle's; the function names are polysocket's.`,
    );
    for (const profile of profiles) {
      lines.push(
        '',
        `### ${profile.what}: busy ${fmt(profile.busyMs, 0)} ms`,
        '',
        ...(profile.why.length > 0 ? [`Missed: ${profile.why.join('; ')}.`, ''] : []),
        '| function | self (ms) | share |',
        '| --- | ---: | ---: |',
        ...profile.top.map((f) => `| \`${f.fn}\` | ${fmt(f.ms, 1)} | ${fmt(f.share * 100, 1)}% |`),
      );
      if (profile.threads !== undefined) {
        const unit = profile.what.includes(ECHO_KEY) ? 'µs per round trip' : 'ms per MiB';
        lines.push(
          '',
          `CPU by thread over the same run (${unit}, /proc/<pid>/task, 10 ms ticks; profilers running): ${profile.threads.map((t) => `${t.thread} ${fmt(t.perUnit, 2)}`).join(', ')}.`,
        );
      }
    }
  }
  if (browserError !== undefined) lines.push('', `The run failed: ${browserError}`);
  const errors = [...summaries.values()].flatMap((s) => s.errors.map((e) => `- ${s.path}: ${e}`));
  if (errors.length > 0) lines.push('', '## Errors', '', ...errors);
  lines.push('');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------

const main = process.argv.includes('--role=server') ? runServer() : orchestrate();
main.catch((error: unknown) => {
  console.error(error);
  killChildren();
  process.exit(1);
});
