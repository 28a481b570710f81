/**
 * What the runner's processes and threads tell each other: the modes, a
 * job's input to its worker thread (worker.ts), the worker's messages to
 * the pool (pool.ts), and the pool's result lines to the runner (runner.ts).
 */
import type { WptJob } from './manifest.js';
import type { WptConfig } from './resources.js';

/**
 * How `WebSocket` gets into the test's global scope:
 * - `node`: the `WebSocket` and `CloseEvent` of `polysocket/node`, installed as globals;
 * - `polyfill`: `import 'polysocket/polyfill'` in a scope without them;
 * - `bound`: a `bindOptions(WebSocket, { transport })` class as the global.
 */
export const MODES = ['node', 'polyfill', 'bound'] as const;
export type Mode = (typeof MODES)[number];

/** testharness.js's `Test` statuses, by their numeric value. */
export const TEST_STATUSES = ['PASS', 'FAIL', 'TIMEOUT', 'NOTRUN', 'PRECONDITION_FAILED'] as const;
export type TestStatus = (typeof TEST_STATUSES)[number];
/** testharness.js's harness (`TestsStatus`) statuses, by their numeric value. */
export const HARNESS_STATUSES = ['OK', 'ERROR', 'TIMEOUT', 'PRECONDITION_FAILED'] as const;
export type HarnessStatus = (typeof HARNESS_STATUSES)[number];

export interface SubtestResult {
  readonly name: string;
  readonly status: TestStatus;
  readonly message: string | null;
}

export interface HarnessResult {
  readonly status: HarnessStatus;
  readonly message: string | null;
}

/** The runner's bundled scripts (file paths). */
export interface Bundle {
  /** The pool process (pool.ts), an ES module. */
  readonly pool: string;
  /** The worker thread (worker.ts), an ES module. */
  readonly worker: string;
  /**
   * The library built as the package is (vite.config.ts's entries, so the
   * same chunks), in CommonJS (see {@link ClassicScript}): `node.cjs`,
   * `polyfill.cjs` and the chunks they require.
   */
  readonly libraryDir: string;
}

/**
 * A script compiled with V8's code cache. Every job boots a fresh worker
 * thread, so the big scripts (the library, testharness.js) would be parsed
 * and compiled a thousand times over: the pool compiles them once and hands
 * the cache to each worker. The library is bundled as CommonJS for that
 * (Node 20 has no code cache for ES modules); it is the same code.
 */
export interface ClassicScript {
  readonly source: string;
  readonly cachedData: Uint8Array;
}

/**
 * A CommonJS file's source as a function of `(exports, require, module)`,
 * as Node's loader wraps it; strict, as the ES modules it was built from.
 */
export function wrapCommonJs(source: string): string {
  return `(function (exports, require, module) {'use strict';${source}\n})`;
}

/** `workerData` of a worker thread: one job in one mode. */
export interface WorkerInput {
  readonly job: WptJob;
  readonly mode: Mode;
  readonly config: WptConfig;
  /** The library's CommonJS files (wrapped as functions), by file name: `node.cjs`, its chunks, ... */
  readonly library: Readonly<Record<string, ClassicScript>>;
  /** Scripts of the checkout (by URL path, e.g. `/resources/testharness.js`) with their code cache. */
  readonly scripts: Readonly<Record<string, ClassicScript>>;
  /** PEM of the test CA, for the `bound` mode's transport. */
  readonly ca: string;
}

/** A worker thread's messages to the pool. */
export type WorkerMessage =
  | { readonly type: 'result'; readonly test: SubtestResult }
  | { readonly type: 'complete'; readonly tests: readonly SubtestResult[]; readonly harness: HarnessResult };

/** The pool's input file. */
export interface PoolInput {
  readonly tasks: readonly { readonly job: WptJob; readonly mode: Mode }[];
  readonly concurrency: number;
  readonly config: WptConfig;
  readonly bundle: Bundle;
  readonly ca: string;
}

/** One job's outcome in one mode: a line of the pool's output (the browser runner's modes are its own). */
export interface JobResult<M extends string = Mode> {
  readonly mode: M;
  readonly id: string;
  readonly tests: readonly SubtestResult[];
  readonly harness: HarnessResult;
  readonly durationMs: number;
  /** What the worker wrote to stdout/stderr (truncated), for diagnosis. */
  readonly output: string;
}
