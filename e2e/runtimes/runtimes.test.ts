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
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bindOptions, WebSocket as NodeWebSocket, nodeTransport } from '../../src/node.js';
import { runScenarios, SCENARIOS, type ScenarioResult, type ServerInfo } from './scenarios.js';
import { type RunningServers, startServers } from './servers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${ROOT}node_modules/.bin/`;
/** Bound on one runtime's whole run (each scenario is bounded at 20 s too). */
const RUN_TIMEOUT_MS = 50_000;
const RUNTIMES = ['node', 'deno', 'bun'] as const;
type Runtime = (typeof RUNTIMES)[number];

/** What one runtime's run produced. */
interface Run {
  readonly results: readonly ScenarioResult[];
  /** Exit code of the child (0 when every scenario passed); null for Node's in-process run. */
  readonly code: number | null;
  /** Output that was not a result line, for failure messages. */
  readonly noise: string;
}

const children = new Set<ChildProcess>();
let servers: RunningServers | undefined;
let runs: Record<Runtime, Promise<Run>>;

/** Run a runner script in a child process and collect its JSON lines. */
function spawnRunner(command: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', NO_COLOR: '1' },
    });
    children.add(child);
    const results: ScenarioResult[] = [];
    let noise = '';
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      pending += text;
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        try {
          results.push(JSON.parse(line) as ScenarioResult);
        } catch {
          noise += `${line}\n`;
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      noise += text;
    });
    const timer = setTimeout(() => {
      noise += `\n[killed after ${RUN_TIMEOUT_MS} ms]`;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.once('error', (error) => {
      noise += `\n[spawn failed: ${error.message}]`;
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ results, code, noise: noise + pending });
    });
  });
}

/**
 * The reference: the same runner in this process, over Node's TCP/TLS
 * transport. Bounded like the children: after RUN_TIMEOUT_MS it resolves
 * with the results so far.
 */
function runNode(server: ServerInfo): Promise<Run> {
  const results: ScenarioResult[] = [];
  const run = runScenarios(
    {
      runtime: `node ${process.version}`,
      WebSocket: bindOptions(NodeWebSocket, { transport: nodeTransport({ tls: { ca: server.ca } }) }),
      DefaultTrustWebSocket: NodeWebSocket,
      server,
    },
    (result) => results.push(result),
  );
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ results, code: null, noise: `[timed out after ${RUN_TIMEOUT_MS} ms]` }),
      RUN_TIMEOUT_MS,
    );
    run
      .then(
        () => resolve({ results, code: null, noise: '' }),
        (error: unknown) => resolve({ results, code: null, noise: String(error) }),
      )
      .finally(() => clearTimeout(timer));
  });
}

beforeAll(async () => {
  servers = await startServers();
  const info = JSON.stringify(servers.info);
  runs = {
    node: runNode(servers.info),
    deno: spawnRunner(`${BIN}deno`, [
      'run',
      // The sources import `./x.js` meaning `./x.ts` (NodeNext).
      '--sloppy-imports',
      '--no-lock',
      '--allow-net=127.0.0.1',
      'e2e/runtimes/run-deno.ts',
      info,
    ]),
    bun: spawnRunner(`${BIN}bun`, ['run', 'e2e/runtimes/run-bun.ts', info]),
  };
  // Awaited by the tests; this keeps an early failure from being unhandled.
  for (const run of Object.values(runs)) run.catch(() => {});
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await servers?.close();
});

function resultOf(run: Run, scenario: string): ScenarioResult | undefined {
  return run.results.find((result) => result.scenario === scenario);
}

describe.each(RUNTIMES)('%s', (runtime) => {
  test.each(SCENARIOS)('%s', { timeout: RUN_TIMEOUT_MS + 10_000 }, async (scenario) => {
    const run = await runs[runtime];
    const result = resultOf(run, scenario);
    if (result === undefined) {
      expect.fail(`no result for '${scenario}' (exit code ${run.code}):\n${run.noise.slice(-4000)}`);
    }
    expect(result.error, JSON.stringify(result.events)).toBeUndefined();
    expect(result.ok).toBe(true);
  });
});

describe('same events on every runtime', () => {
  test.each(SCENARIOS)('%s', { timeout: RUN_TIMEOUT_MS + 10_000 }, async (scenario) => {
    const [node, deno, bun] = await Promise.all(RUNTIMES.map((runtime) => runs[runtime]));
    const reference = node && resultOf(node, scenario);
    expect(reference?.ok).toBe(true);
    for (const run of [deno, bun]) {
      const result = run && resultOf(run, scenario);
      expect({ runtime: result?.runtime, events: result?.events }).toEqual({
        runtime: result?.runtime,
        events: reference?.events,
      });
    }
  });

  test('every runner exited cleanly', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
    const deno = await runs.deno;
    const bun = await runs.bun;
    expect(deno.code, deno.noise).toBe(0);
    expect(bun.code, bun.noise).toBe(0);
    // Nothing but result lines: no warnings from the runtimes.
    expect(deno.noise).toBe('');
    expect(bun.noise).toBe('');
  });
});
