/**
 * The cross-runtime suite: the scenarios of scenarios.ts on Node (in this
 * process, `polysocket/node`'s WebSocket: the reference), on Deno
 * (run-deno.ts, over `denoTransport()`) and on Bun (run-bun.ts, over
 * `bunTransport()`), against real servers on 127.0.0.1 started here. Every
 * scenario must pass on every runtime, with the same events as on Node.
 *
 * Deno and Bun are the binaries of the `deno` and `bun` npm packages
 * (devDependencies); they run the TypeScript sources directly.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { bindOptions, WebSocket as NodeWebSocket, nodeTransport } from '../../src/node.js';
import {
  runnerArgs,
  runScenarios,
  SCENARIO_TIMEOUT_MS,
  SCENARIOS,
  type ScenarioResult,
  type ServerInfo,
} from './scenarios.js';
import { type RunningServers, startServers } from './servers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${ROOT}node_modules/.bin/`;
const TIME_SCALE = inject('timeScale');
/** Bound on a runtime's start-up (Deno and Bun compile the sources first). */
const START_MS = 20_000 * TIME_SCALE;
/**
 * Longest a run may go without a result before it counts as hung: each
 * scenario is bounded by the runner itself, so this is passed only if the
 * runtime itself hangs (or, for the first result, never starts).
 */
const SILENCE_MS = START_MS + SCENARIO_TIMEOUT_MS * TIME_SCALE;
/** Each test waits for one result (see Run.result); more than SILENCE_MS, so that the run's own verdict comes first. */
const TEST_TIMEOUT_MS = SILENCE_MS + 10_000 * TIME_SCALE;
const RUNTIMES = ['node', 'deno', 'bun'] as const;
type Runtime = (typeof RUNTIMES)[number];

/**
 * One runtime's run, as its results come in: tests wait for the result
 * they check, not for the whole run, so that each test's time bound is one
 * scenario's (and a slow run fails the test of the slow scenario).
 */
class Run {
  readonly results: ScenarioResult[] = [];
  /** Exit code of the child (0 when every scenario passed); null for Node's in-process run or a kill. */
  code: number | null = null;
  /** Output that was not a result line, for failure messages. */
  noise = '';
  #ended = false;
  #waiters: Array<() => void> = [];
  #silence: ReturnType<typeof setTimeout> | undefined;
  /** Ends the run before its time: kills the runtime, or gives up on Node's. */
  readonly stop: () => void;

  constructor(stop: (run: Run) => void) {
    this.stop = () => stop(this);
    this.#arm();
  }

  get ended(): boolean {
    return this.#ended;
  }

  add(result: ScenarioResult): void {
    this.results.push(result);
    this.#arm();
    this.#wake();
  }

  end(code: number | null, note = ''): void {
    if (this.#ended) return;
    this.#ended = true;
    this.code = code;
    this.noise += note;
    clearTimeout(this.#silence);
    this.#wake();
  }

  /** Resolves once `scenario`'s result is in, or with undefined once the run ended without it. */
  async result(scenario: string): Promise<ScenarioResult | undefined> {
    for (;;) {
      const found = this.results.find((result) => result.scenario === scenario);
      if (found !== undefined || this.#ended) return found;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Resolves once the run ended. */
  async finished(): Promise<void> {
    while (!this.#ended) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #arm(): void {
    clearTimeout(this.#silence);
    this.#silence = setTimeout(() => {
      this.noise += `\n[neither a result nor an exit for ${SILENCE_MS} ms]`;
      this.stop();
    }, SILENCE_MS);
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

let servers: RunningServers | undefined;
let runs: Record<Runtime, Run>;

/** Run a runner script in a child process, collecting its JSON lines as they come. */
function spawnRunner(command: string, args: readonly string[]): Run {
  const child = spawn(command, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', NO_COLOR: '1' },
  });
  // Killed, its 'close' ends the run.
  const run = new Run(() => child.kill('SIGKILL'));
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    // A line may come in several chunks: only complete lines are parsed.
    pending += text;
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      let result: ScenarioResult | undefined;
      try {
        result = JSON.parse(line) as ScenarioResult;
      } catch {
        run.noise += `${line}\n`;
      }
      if (result !== undefined) run.add(result);
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    run.noise += text;
  });
  child.once('error', (error) => {
    run.noise += `\n[spawn failed: ${error.message}]`;
    // Never started: no 'close' comes.
    if (child.pid === undefined) run.end(null);
  });
  // 'close', not 'exit': the output is all in.
  child.once('close', (code, signal) => run.end(code, pending + (signal === null ? '' : `\n[${signal}]`)));
  return run;
}

/**
 * The reference: the same runner in this process, over Node's TCP/TLS
 * transport. A hang ends the run (its scenario still runs, unobserved).
 */
function runNode(server: ServerInfo): Run {
  const run = new Run((self) => self.end(null));
  runScenarios(
    {
      runtime: `node ${process.version}`,
      WebSocket: bindOptions(NodeWebSocket, { transport: nodeTransport({ tls: { ca: server.ca } }) }),
      DefaultTrustWebSocket: NodeWebSocket,
      server,
      timeScale: TIME_SCALE,
    },
    (result) => run.add(result),
  ).then(
    () => run.end(null),
    (error: unknown) => run.end(null, String(error)),
  );
  return run;
}

beforeAll(async () => {
  servers = await startServers();
  const args = runnerArgs(servers.info, TIME_SCALE);
  runs = {
    node: runNode(servers.info),
    deno: spawnRunner(`${BIN}deno`, [
      'run',
      // The sources import `./x.js` meaning `./x.ts` (NodeNext).
      '--sloppy-imports',
      '--no-lock',
      '--allow-net=127.0.0.1',
      'e2e/runtimes/run-deno.ts',
      ...args,
    ]),
    bun: spawnRunner(`${BIN}bun`, ['run', 'e2e/runtimes/run-bun.ts', ...args]),
  };
}, START_MS);

afterAll(async () => {
  // A run still going is hung or failing: end it, and leave no process behind.
  await Promise.all(
    Object.values(runs ?? {}).map(async (run) => {
      if (!run.ended) {
        run.noise += '\n[stopped at the end of the tests]';
        run.stop();
      }
      await run.finished();
    }),
  );
  await servers?.close();
}, START_MS);

describe.each(RUNTIMES)('%s', (runtime) => {
  test.each(SCENARIOS)('%s', { timeout: TEST_TIMEOUT_MS }, async (scenario) => {
    const run = runs[runtime];
    const result = await run.result(scenario);
    if (result === undefined) {
      expect.fail(`no result for '${scenario}' (exit code ${run.code}):\n${run.noise.slice(-4000)}`);
    }
    expect(result.error, JSON.stringify(result.events)).toBeUndefined();
    expect(result.ok).toBe(true);
  });
});

describe('same events on every runtime', () => {
  test.each(SCENARIOS)('%s', { timeout: TEST_TIMEOUT_MS }, async (scenario) => {
    const [reference, ...others] = await Promise.all(
      RUNTIMES.map((runtime) => runs[runtime].result(scenario)),
    );
    expect(reference?.ok).toBe(true);
    for (const result of others) {
      expect({ runtime: result?.runtime, events: result?.events }).toEqual({
        runtime: result?.runtime,
        events: reference?.events,
      });
    }
  });

  test('every runner exited cleanly', { timeout: TEST_TIMEOUT_MS }, async () => {
    await Promise.all([runs.deno.finished(), runs.bun.finished()]);
    expect(runs.deno.code, runs.deno.noise).toBe(0);
    expect(runs.bun.code, runs.bun.noise).toBe(0);
    // Nothing but result lines: no warnings from the runtimes.
    expect(runs.deno.noise).toBe('');
    expect(runs.bun.noise).toBe('');
  });
});
