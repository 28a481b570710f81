/**
 * web-platform-tests `websockets/` in headless Chromium (Debian's), in each
 * of the modes of modes.ts (the browser's own `WebSocket` as the reference,
 * and polysocket's over the browser transports), each a browser of its own.
 *
 * Running it
 * ----------
 *     npx playwright test e2e/browser/wpt.spec.ts                          # every mode (part of `npm test`)
 *     WPT_FILTER=Close-1000 npx playwright test e2e/browser/wpt.spec.ts    # the tests whose id contains a string
 *
 * WPT_FILTER, WPT_DIR and WPT_TIMEOUT_MULTIPLIER work as for the Node run
 * (e2e/wpt/runner.ts); WPT_BROWSER_JOBS sets how many pages are open at
 * once over all modes (default 6: most pages wait on the network or a
 * timer, and the machine has two cores).
 *
 * What it does
 * ------------
 * 1. Prepares each mode (e.g. bundles its install script).
 * 2. Makes the CA and starts pywebsocket3 and the static servers (the Node
 *    run's servers.ts), one pair of http/https ports per mode, each with its
 *    responder (pages.ts): wpt serve's wrappers, the runner's
 *    testharnessreport.js and, for polysocket, the install script.
 * 3. Starts the gateway (a certificate of its own, trusted by hash),
 *    allowed to reach pywebsocket3 and the sites of the modes that use it,
 *    and given the run's CA (`--ca`) for its TLS to them (wss:).
 * 4. Launches one Chromium per mode (modes.ts): the WPT host names map to
 *    127.0.0.1 in its resolver, every other name still fails; the run's
 *    leaf certificate is trusted by its SPKI hash (TCP TLS: wss:, https:
 *    pages).
 * 5. Runs each test page (manifest.ts, target `browser`), a few at a time
 *    (lanes.ts: a lane of each mode per unit of concurrency),
 *    and takes testharness's results from the runner's testharnessreport.js;
 *    a page that reports nothing within its WPT timeout (times the
 *    multiplier) and a grace period counts as a harness TIMEOUT. A page
 *    whose `WebSocket` global is not the mode's counts as a harness ERROR.
 * 6. Compares each mode with its expectations file.
 * Everything started is stopped at the end, on failure too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningGateway, startGatewayProcess } from '../../browser/support/gateway.js';
import {
  compare,
  type Expectations,
  loadExpectations,
  type ModeComparison,
  problems,
  unknownIds,
} from '../expectations.js';
import { buildManifest, type Manifest, matchesFilter, type WptJob } from '../manifest.js';
import type { JobResult } from '../messages.js';
import { wptDirFromEnv } from '../runner.js';
import { makeCertificates, startServers, type WptServers } from '../servers.js';
import type { ModeHost, ModeLane } from './lanes.js';
import { ADDRESS, CHROMIUM_MODES, type ChromiumMode, modeDefinitions, spkiHash } from './modes.js';

export { CHROMIUM_MODES, type ChromiumMode, MODE_LABELS } from './modes.js';

const SUITE = 'websockets';

export function expectationsFile(mode: ChromiumMode): string {
  return fileURLToPath(new URL(`../expectations/${mode}.json`, import.meta.url));
}

/**
 * Default of {@link ChromiumRunOptions.boundMs}: two modes took 2 to 3
 * minutes on two idle cores; four modes (two of them in apps whose windows
 * share one renderer) take about twice as long.
 */
export const RUN_BOUND_MS = 900_000;

export interface ChromiumRunOptions {
  readonly wptDir?: string;
  readonly filter?: string | undefined;
  readonly concurrency?: number | undefined;
  readonly timeoutMultiplier?: number | undefined;
  /**
   * No page is loaded after this long from the start (the rest count as not
   * run); the pages loaded by then still get their own timeouts.
   * @defaultValue {@link RUN_BOUND_MS}
   */
  readonly boundMs?: number | undefined;
}

export interface ChromiumWptRun {
  readonly wptDir: string;
  readonly filter: string | undefined;
  readonly manifests: Readonly<Record<ChromiumMode, Manifest>>;
  readonly results: readonly JobResult<ChromiumMode>[];
  readonly comparisons: Readonly<Record<ChromiumMode, ModeComparison>>;
  /** Expected failures naming a test that is not run at all, per mode. */
  readonly unknownIds: Readonly<Record<ChromiumMode, readonly string[]>>;
  readonly expectations: Readonly<Record<ChromiumMode, Expectations>>;
  readonly chromiumVersion: string;
  readonly durationMs: number;
  /** The servers' and the gateway's recent log lines, for failure messages. */
  readonly serverLog: string;
  /**
   * The tests that ran a second time because their first result was not
   * what the expectations say, each with that first result's problems
   * (see {@link RETRY_LIMIT}). `results` holds the second result.
   */
  readonly retried: readonly {
    readonly mode: ChromiumMode;
    readonly id: string;
    readonly first: readonly string[];
  }[];
}

/**
 * How many tests may run a second time when their result was unexpected,
 * as wpt's own runner does with `--retry-unexpected`: the suite runs six
 * pages at once in four browsers on two cores, and a few tests measure time
 * (backpressure, a write still in flight at close), so under load one of
 * them now and then does what it does not do alone. The second run has one
 * lane to itself; a test that fails twice fails the mode. More unexpected
 * results than this are not load, and are reported as they are.
 */
export const RETRY_LIMIT = 24;

/** No retried test starts later than this after the retries began. */
export const RETRY_BOUND_MS = 180_000;

/** One lane of each mode: the runner's unit of concurrency. */
type Lanes = Readonly<Record<ChromiumMode, ModeLane>>;

/**
 * Run `tasks` in `lanes`, each taking the next task when free, none started
 * after `deadline` (a `performance.now()` time): those are reported as not
 * run. Results in completion order.
 */
async function runAll(
  tasks: readonly { readonly mode: ChromiumMode; readonly job: WptJob }[],
  lanes: readonly Lanes[],
  deadline: number,
): Promise<JobResult<ChromiumMode>[]> {
  const results: JobResult<ChromiumMode>[] = [];
  let next = 0;
  await Promise.all(
    lanes.map(async (lane) => {
      while (next < tasks.length && performance.now() < deadline) {
        const { mode, job } = tasks[next++]!;
        results.push({ ...(await lane[mode].run(job)), mode });
      }
    }),
  );
  for (const { mode, job } of tasks.slice(next)) {
    results.push({
      mode,
      id: job.id,
      tests: [],
      harness: { status: 'ERROR', message: "not run: the run's time bound passed before it started" },
      durationMs: 0,
      output: '',
    });
  }
  return results;
}

/** Run the suite in every mode and compare with the expectations; everything started is stopped. */
export async function runChromiumWpt(options: ChromiumRunOptions = {}): Promise<ChromiumWptRun> {
  const started = performance.now();
  const wptDir = options.wptDir ?? wptDirFromEnv();
  const filter = options.filter;
  const concurrency = options.concurrency ?? 6;
  const timeoutMultiplier = options.timeoutMultiplier ?? 2;
  const definitions = modeDefinitions({ timeoutMultiplier });
  const expectations = Object.fromEntries(
    CHROMIUM_MODES.map((mode) => [mode, loadExpectations(expectationsFile(mode), [mode])]),
  ) as Record<ChromiumMode, Expectations>;
  const dir = mkdtempSync(join(tmpdir(), 'polysocket-wpt-chromium-'));
  const certificates = makeCertificates();
  let servers: WptServers | undefined;
  let gateway: RunningGateway | undefined;
  const hosts: ModeHost[] = [];
  // A test worker that exits mid-run (a Playwright timeout) still takes the
  // gateway with it; pywebsocket3 dies with its parent by itself, and
  // Playwright closes the browsers it launched.
  const killGateway = () => gateway?.service.child.kill('SIGKILL');
  process.once('exit', killGateway);
  try {
    const [prepared, serving] = await Promise.allSettled([
      Promise.all(CHROMIUM_MODES.map((mode) => definitions[mode].prepare(dir))),
      startServers(
        wptDir,
        certificates,
        CHROMIUM_MODES.map((mode) => ({ name: mode, respond: definitions[mode].respond })),
      ),
    ]);
    if (serving.status === 'fulfilled') servers = serving.value;
    if (prepared.status === 'rejected') throw prepared.reason;
    if (serving.status === 'rejected') throw serving.reason;
    const running = serving.value;
    const configs = Object.fromEntries(CHROMIUM_MODES.map((mode) => [mode, running.sites.get(mode)!]));
    const reached = CHROMIUM_MODES.filter((mode) => definitions[mode].viaGateway).flatMap((mode) => {
      const ports = configs[mode]!.ports;
      return [ports.ws[0]!, ports.wss[0]!, ports.http[0]!, ports.https[0]!];
    });
    gateway = await startGatewayProcess({
      allow: [...new Set(reached)].map((port) => `${ADDRESS}:${port}`),
      // Every page and worker opens a session of its own, and a few pages run at once.
      args: [
        '--max-sessions-per-address',
        '256',
        '--max-sessions',
        '256',
        '--max-connections-per-address',
        '512',
        '--max-connections',
        '512',
      ],
      // The run's CA, for the gateway's TLS to the wss: and https: servers.
      ca: [certificates.caFile],
    });
    const spki = spkiHash(certificates.cert);
    const hostOf = {} as Record<ChromiumMode, ModeHost>;
    for (const mode of CHROMIUM_MODES) {
      hostOf[mode] = await definitions[mode].launch({ config: configs[mode]!, spki, gateway, dir });
      hosts.push(hostOf[mode]);
    }
    const manifests = Object.fromEntries(
      CHROMIUM_MODES.map((mode) => [
        mode,
        buildManifest(configs[mode]!, SUITE, expectations[mode], timeoutMultiplier, 'browser'),
      ]),
    ) as Record<ChromiumMode, Manifest>;
    // Long tests first, so that they overlap with the many short ones; the
    // modes interleaved, so that every browser stays busy.
    const tasks = CHROMIUM_MODES.flatMap((mode) =>
      manifests[mode].jobs.filter((job) => matchesFilter(job.id, filter)).map((job) => ({ mode, job })),
    ).sort((a, b) => b.job.timeoutMs - a.job.timeoutMs || a.job.id.localeCompare(b.job.id));
    const lanes = Array.from(
      { length: Math.max(1, concurrency) },
      () => Object.fromEntries(CHROMIUM_MODES.map((mode) => [mode, hostOf[mode].lane()])) as Lanes,
    );
    const compareAll = (all: readonly JobResult<ChromiumMode>[]) =>
      Object.fromEntries(
        CHROMIUM_MODES.map((mode) => {
          const ranIds = new Set(
            manifests[mode].jobs.filter((job) => matchesFilter(job.id, filter)).map((job) => job.id),
          );
          return [mode, compare(expectations[mode], mode, all, ranIds)];
        }),
      ) as Record<ChromiumMode, ModeComparison>;
    let results: JobResult<ChromiumMode>[];
    let comparisons: Record<ChromiumMode, ModeComparison>;
    const retried: { mode: ChromiumMode; id: string; first: string[] }[] = [];
    try {
      results = await runAll(tasks, lanes, started + (options.boundMs ?? RUN_BOUND_MS));
      comparisons = compareAll(results);
      const again = CHROMIUM_MODES.flatMap((mode) => {
        const lines = problems(results, comparisons[mode], 'page');
        const ids = new Set([
          ...comparisons[mode].unexpectedFailures.map((outcome) => outcome.id),
          ...comparisons[mode].unexpectedPasses.map((outcome) => outcome.id),
          ...comparisons[mode].stale.map((entry) => entry.id),
        ]);
        return [...ids].map((id) => ({
          mode,
          job: manifests[mode].jobs.find((job) => job.id === id)!,
          first: lines.filter((line) => line.includes(`${id} :: `)),
        }));
      }).filter((task) => task.job !== undefined && task.job.timeoutMs > 0);
      // Tests that were not run at all (the bound passed) are not retried:
      // that is no flake, and there is no time left.
      const notRun = results.some((result) => result.harness.message?.startsWith('not run:') === true);
      if (again.length > 0 && again.length <= RETRY_LIMIT && !notRun) {
        const second = await runAll(again, lanes.slice(0, 1), performance.now() + RETRY_BOUND_MS);
        for (const result of second) {
          const index = results.findIndex((first) => first.mode === result.mode && first.id === result.id);
          results[index] = result;
        }
        for (const task of again) retried.push({ mode: task.mode, id: task.job.id, first: task.first });
        comparisons = compareAll(results);
      }
    } finally {
      await Promise.all(lanes.flatMap((lane) => CHROMIUM_MODES.map((mode) => lane[mode].close())));
    }

    const order = new Map(manifests['chromium-native'].jobs.map((job, index) => [job.id, index]));
    const sorted = [...results].sort(
      (a, b) =>
        CHROMIUM_MODES.indexOf(a.mode) - CHROMIUM_MODES.indexOf(b.mode) ||
        (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0) ||
        a.id.localeCompare(b.id),
    );
    return {
      wptDir,
      filter,
      manifests,
      results: sorted,
      comparisons,
      unknownIds: Object.fromEntries(
        CHROMIUM_MODES.map((mode) => [
          mode,
          unknownIds(expectations[mode], new Set(manifests[mode].jobs.map((job) => job.id))),
        ]),
      ) as Record<ChromiumMode, string[]>,
      expectations,
      chromiumVersion: hostOf['chromium-native'].version,
      durationMs: Math.round(performance.now() - started),
      serverLog: `${running.log()}\n--- gateway ---\n${gateway.service.lines.slice(-60).join('\n')}`,
      retried,
    };
  } finally {
    await Promise.allSettled(hosts.map((host) => host.close()));
    await gateway?.stop();
    process.off('exit', killGateway);
    await servers?.close();
    certificates.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
