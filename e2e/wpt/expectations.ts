/**
 * An expectations file (expectations/node.json for Node's modes,
 * expectations/chromium-*.json for the browser's, one per mode): which
 * tests are not run and why, and every subtest allowed to fail, per mode,
 * grouped by cause with the reason. A run fails on a failure the file does not list,
 * on a listed failure that passes, and on a listed subtest that did not run
 * at all, so the file stays exact. A group marked `flaky` lists subtests
 * that fail in some runs and pass in others (seen to, and said why): they
 * may pass, or not be reported (a harness that timed out).
 *
 * A file whose harness did not complete normally (ERROR, TIMEOUT) or ran no
 * subtest counts as a failing subtest named `(harness)`.
 */
import { readFileSync } from 'node:fs';
import type { SkipRules } from './manifest.js';
import type { JobResult, TestStatus } from './messages.js';

/** The pseudo-subtest standing for a file's harness status. */
export const HARNESS_SUBTEST = '(harness)';

/** Failures that share one cause. */
export interface FailureGroup {
  /** A short name for the cause, e.g. `no-origin-header`. */
  readonly cause: string;
  /** Why these subtests fail, specific enough to act on. */
  readonly reason: string;
  readonly modes: readonly string[];
  /** Test id → the subtests of it that fail. */
  readonly tests: Readonly<Record<string, readonly string[]>>;
  /** The subtests fail in some runs only: passing is not unexpected. */
  readonly flaky?: boolean;
}

export interface Expectations extends SkipRules {
  readonly expectedFailures: readonly FailureGroup[];
}

/** Read an expectations file whose groups may name only `modes`. */
export function loadExpectations(file: string, modes: readonly string[]): Expectations {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Expectations;
  const seen = new Set<string>();
  for (const group of data.expectedFailures) {
    for (const mode of group.modes) {
      if (!modes.includes(mode)) throw new Error(`${file}: ${group.cause}: unknown mode ${mode}`);
      for (const [id, names] of Object.entries(group.tests)) {
        for (const name of names) {
          const key = `${mode} ${id} ${name}`;
          if (seen.has(key)) throw new Error(`${file}: listed twice: ${key}`);
          seen.add(key);
        }
      }
    }
  }
  return data;
}

/** One subtest's outcome, as reported. */
export interface Outcome {
  readonly id: string;
  readonly name: string;
  readonly status: TestStatus | 'ERROR';
  readonly message: string | null;
}

export interface ModeComparison {
  readonly mode: string;
  /** Tests (file and variant) that ran. */
  readonly tests: number;
  readonly subtests: number;
  readonly passed: number;
  /** Subtests that did not pass (`(harness)` entries included). */
  readonly failed: number;
  readonly expectedFailures: number;
  /** Tests whose harness timed out. */
  readonly timeouts: number;
  /** Tests whose harness ended in ERROR (or that ran no subtest). */
  readonly harnessErrors: number;
  readonly unexpectedFailures: readonly Outcome[];
  readonly unexpectedPasses: readonly (Outcome & { readonly cause: string })[];
  /** Listed failures of tests that ran, for subtests that were not reported. */
  readonly stale: readonly { readonly id: string; readonly name: string; readonly cause: string }[];
  /** Every failure, with its cause when listed. */
  readonly failures: readonly (Outcome & { readonly cause: string | null })[];
}

/** The subtests of a result, `(harness)` added when the harness did not complete normally. */
function outcomes(result: JobResult<string>): Outcome[] {
  const list: Outcome[] = result.tests.map((test) => ({ id: result.id, ...test }));
  if (result.harness.status !== 'OK') {
    list.push({
      id: result.id,
      name: HARNESS_SUBTEST,
      status: result.harness.status,
      message: result.harness.message,
    });
  } else if (result.tests.length === 0) {
    list.push({ id: result.id, name: HARNESS_SUBTEST, status: 'ERROR', message: 'no subtest ran' });
  }
  return list;
}

/**
 * Compare `results` of `mode` with the expectations. `ranIds`: the ids the
 * run covered (all jobs, or those matching WPT_FILTER); listed failures of
 * other tests are ignored, those of tests that ran but not reported stale.
 */
export function compare(
  expectations: Expectations,
  mode: string,
  results: readonly JobResult<string>[],
  ranIds: ReadonlySet<string>,
): ModeComparison {
  const expected = new Map<string, string>();
  const flaky = new Set<string>();
  for (const group of expectations.expectedFailures) {
    if (!group.modes.includes(mode)) continue;
    for (const [id, names] of Object.entries(group.tests)) {
      for (const name of names) {
        expected.set(`${id}\n${name}`, group.cause);
        if (group.flaky === true) flaky.add(`${id}\n${name}`);
      }
    }
  }
  const reported = new Set<string>();
  const unexpectedFailures: Outcome[] = [];
  const unexpectedPasses: (Outcome & { cause: string })[] = [];
  const failures: (Outcome & { cause: string | null })[] = [];
  let subtests = 0;
  let passed = 0;
  let expectedFailures = 0;
  let timeouts = 0;
  let harnessErrors = 0;
  const own = results.filter((result) => result.mode === mode);
  for (const result of own) {
    if (result.harness.status === 'TIMEOUT') timeouts++;
    else if (result.harness.status !== 'OK' || result.tests.length === 0) harnessErrors++;
    for (const outcome of outcomes(result)) {
      const key = `${outcome.id}\n${outcome.name}`;
      reported.add(key);
      const cause = expected.get(key);
      if (outcome.name !== HARNESS_SUBTEST) subtests++;
      if (outcome.status === 'PASS') {
        passed++;
        if (cause !== undefined && !flaky.has(key)) unexpectedPasses.push({ ...outcome, cause });
        continue;
      }
      failures.push({ ...outcome, cause: cause ?? null });
      if (cause === undefined) unexpectedFailures.push(outcome);
      else expectedFailures++;
    }
  }
  const stale: { id: string; name: string; cause: string }[] = [];
  for (const [key, cause] of expected) {
    const [id, name] = key.split('\n') as [string, string];
    if (ranIds.has(id) && !reported.has(key) && !flaky.has(key)) stale.push({ id, name, cause });
  }
  return {
    mode,
    tests: own.length,
    subtests,
    passed,
    failed: failures.length,
    expectedFailures,
    timeouts,
    harnessErrors,
    unexpectedFailures,
    unexpectedPasses,
    stale,
    failures,
  };
}

/** Listed failures whose test id names no job or skipped test at all (a typo, a renamed file). */
export function unknownIds(expectations: Expectations, knownIds: ReadonlySet<string>): string[] {
  const unknown = new Set<string>();
  for (const group of expectations.expectedFailures) {
    for (const id of Object.keys(group.tests)) if (!knownIds.has(id)) unknown.add(id);
  }
  return [...unknown];
}

/**
 * One line per discrepancy of `comparison`, for a failure message: the
 * unexpected failures (with the first 300 characters of what the test's
 * `label` — worker, page — printed), the unexpected passes and the stale
 * entries.
 */
export function problems(
  results: readonly JobResult<string>[],
  comparison: ModeComparison,
  label: string,
): string[] {
  const line = (id: string, name: string) => `${id} :: ${name}`;
  const output = (id: string) => {
    const result = results.find((candidate) => candidate.mode === comparison.mode && candidate.id === id);
    return result?.output ? ` [${label} output: ${result.output.slice(0, 300)}]` : '';
  };
  return [
    ...comparison.unexpectedFailures.map(
      (outcome) =>
        `unexpected ${outcome.status}: ${line(outcome.id, outcome.name)}: ${outcome.message ?? ''}${output(outcome.id)}`,
    ),
    ...comparison.unexpectedPasses.map(
      (outcome) => `unexpected PASS (listed as ${outcome.cause}): ${line(outcome.id, outcome.name)}`,
    ),
    ...comparison.stale.map(
      (entry) => `listed as ${entry.cause} but not reported: ${line(entry.id, entry.name)}`,
    ),
  ];
}
