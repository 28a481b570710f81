/**
 * The web-platform-tests `websockets/` suite in Node, in each mode
 * (messages.ts `MODES`), compared with expectations/node.json: any failure
 * it does not list, any listed failure that passes, and any listed subtest
 * that no longer runs fails the mode's test. How to run one file, or
 * against another WPT checkout: runner.ts.
 */
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { problems } from './expectations.js';
import { MODES } from './messages.js';
import { writeReport } from './report.js';
import { runWpt, type WptRun } from './runner.js';

/** Above the pool's own bound (runner.ts), so that a slow run still reports what finished. */
const RUN_TIMEOUT_MS = 500_000;
const filter = process.env['WPT_FILTER'];
const number = (name: string): number | undefined => {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : Number(value);
};
const concurrency = number('WPT_JOBS');
// The WPT timeouts scale with the other time bounds of the tests
// (TEST_TIME_SCALE, default 3): a busy machine makes the many handshakes
// of one file (TLS ones especially) several times slower.
const timeoutMultiplier = number('WPT_TIMEOUT_MULTIPLIER') ?? inject('timeScale');

let run: WptRun | undefined;

beforeAll(async () => {
  run = await runWpt({ filter, concurrency, timeoutMultiplier });
  if (filter === undefined || filter === '') writeReport(run);
}, RUN_TIMEOUT_MS);

afterAll(() => {
  run = undefined;
});

test.each(MODES)('%s: every subtest passes or is listed in expectations/node.json', (mode) => {
  expect(run, 'the run did not complete').toBeDefined();
  const comparison = run!.comparisons[mode];
  expect(comparison.tests, 'no test ran (WPT_FILTER?)').toBeGreaterThan(0);
  // The servers' log helps with tests that could not complete.
  const logs = comparison.harnessErrors > 0 ? `${run!.poolLog}\n${run!.serverLog}` : run!.poolLog;
  expect(problems(run!.results, comparison, 'worker'), logs.slice(-4_000)).toEqual([]);
});

test('expectations/node.json names only tests that exist and rules that apply', () => {
  expect(run, 'the run did not complete').toBeDefined();
  expect(run!.unknownIds, 'expected failures of tests that are not run').toEqual([]);
  expect(run!.manifest.unusedRules, 'not-applicable rules that match no file').toEqual([]);
});
