/**
 * The child process that runs the jobs: each job (a test file in one
 * variant, in one mode) in a worker thread of its own (worker.ts), a few at
 * a time; one JSON line per finished job on stdout (messages.ts `JobResult`).
 *
 * A process of its own because the `node` and `polyfill` modes use the
 * library's default transport, which trusts the test CA only through
 * NODE_EXTRA_CA_CERTS, read when a process starts. Killing this process
 * ends every worker thread and every connection of the run at once.
 *
 * Usage (the runner does this): `node pool.mjs INPUT.json`, stdin a pipe
 * from the runner.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { Worker } from 'node:worker_threads';
import {
  type ClassicScript,
  type HarnessResult,
  type JobResult,
  type PoolInput,
  type SubtestResult,
  type WorkerInput,
  type WorkerMessage,
  wrapCommonJs,
} from './messages.js';
import { BROWSER_HOST, readResource } from './resources.js';

/** Time a worker gets after the test's own timeout fired before it is terminated. */
const GRACE_MS = 5_000;
/** Output kept per job, for diagnosis. */
const MAX_OUTPUT = 4_000;

const input = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as PoolInput;

/** Compile once for the code cache (compiling is enough: running is left to each worker). */
function classic(source: string): ClassicScript {
  return { source, cachedData: new Script(source).createCachedData() };
}

/** `node.cjs`, `polyfill.cjs` and the chunks they require. */
const library: Record<string, ClassicScript> = {};
const pending = ['node.cjs', 'polyfill.cjs'];
const files = new Set(readdirSync(input.bundle.libraryDir));
for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
  if (library[name] !== undefined) continue;
  if (!files.has(name)) throw new Error(`the library bundle has no ${name}`);
  const source = readFileSync(join(input.bundle.libraryDir, name), 'utf8');
  library[name] = classic(wrapCommonJs(source));
  for (const match of source.matchAll(/require\("\.\/([^"]+)"\)/g)) pending.push(match[1]!);
}
/** Every job loads testharness.js; the other scripts are small or loaded by few jobs. */
const scripts: Record<string, ClassicScript> = {};
for (const path of ['/resources/testharness.js']) {
  const resource = readResource(new URL(path, `http://${BROWSER_HOST}/`), input.config);
  scripts[path] = classic(new TextDecoder().decode(resource.body));
}

function runTask(task: PoolInput['tasks'][number]): Promise<JobResult> {
  const started = performance.now();
  const workerData: WorkerInput = {
    job: task.job,
    mode: task.mode,
    config: input.config,
    library,
    scripts,
    ca: input.ca,
  };
  const worker = new Worker(input.bundle.worker, { workerData, stdout: true, stderr: true });
  let output = '';
  const keep = (chunk: Buffer) => {
    if (output.length < MAX_OUTPUT) output = (output + chunk.toString('utf8')).slice(0, MAX_OUTPUT);
  };
  worker.stdout.on('data', keep);
  worker.stderr.on('data', keep);
  const partial: SubtestResult[] = [];
  return new Promise((resolve) => {
    let settled = false;
    const finish = (tests: readonly SubtestResult[], harness: HarnessResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Terminating ends the test's connections too; the next job starts
      // once the thread is gone, so that at most `concurrency` run.
      void worker.terminate().finally(() =>
        resolve({
          mode: task.mode,
          id: task.job.id,
          tests,
          harness,
          durationMs: Math.round(performance.now() - started),
          output,
        }),
      );
    };
    const timer = setTimeout(
      () =>
        finish(partial, {
          status: 'TIMEOUT',
          message: `no completion ${GRACE_MS} ms after the ${task.job.timeoutMs} ms timeout: worker terminated`,
        }),
      task.job.timeoutMs + GRACE_MS,
    );
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'result') partial.push(message.test);
      else finish(message.tests, message.harness);
    });
    worker.on('error', (error) =>
      finish(partial, { status: 'ERROR', message: `worker crashed: ${String(error)}` }),
    );
    worker.on('exit', (code) =>
      finish(partial, {
        status: 'ERROR',
        message: `worker exited (code ${code}) before the harness completed`,
      }),
    );
  });
}

async function main(): Promise<void> {
  // The runner holds the other end of stdin: when it dies, however it dies,
  // the pool (and every worker and connection with it) goes too.
  process.stdin.on('end', () => process.exit(2));
  process.stdin.resume();
  const queue = [...input.tasks];
  const lanes = Array.from({ length: Math.max(1, input.concurrency) }, async () => {
    for (let task = queue.shift(); task !== undefined; task = queue.shift()) {
      const result = await runTask(task);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  });
  await Promise.all(lanes);
}

await main();
// stdin would keep the process alive; exit once stdout is flushed.
process.stdout.write('', () => process.exit(0));
