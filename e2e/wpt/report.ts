/**
 * results/wpt.json and results/wpt.md: the totals per mode, every failure
 * with its cause, and what is not run in Node and why.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ModeComparison } from './expectations.js';
import { MODES, type Mode } from './messages.js';
import type { WptRun } from './runner.js';

const RESULTS_DIR = fileURLToPath(new URL('../../results/', import.meta.url));
const UNLISTED = '(not in the expectations file)';

const MODE_LABELS: Readonly<Record<Mode, string>> = {
  node: "`polysocket/node`'s `WebSocket` as the global",
  polyfill: '`polysocket/polyfill` (global installed by the polyfill)',
  bound: 'a `bindOptions(WebSocket, { transport })` class as the global',
};

function totals(run: WptRun, comparison: ModeComparison) {
  const ran = new Set(
    run.results.filter((result) => result.mode === comparison.mode).map((result) => result.id),
  );
  return {
    files: new Set(run.manifest.jobs.filter((job) => ran.has(job.id)).map((job) => job.file)).size,
    tests: comparison.tests,
    subtests: comparison.subtests,
    passed: comparison.passed,
    failed: comparison.failed,
    expectedFailures: comparison.expectedFailures,
    unexpectedFailures: comparison.unexpectedFailures.length,
    unexpectedPasses: comparison.unexpectedPasses.length,
    timeouts: comparison.timeouts,
    harnessErrors: comparison.harnessErrors,
  };
}

/** Write results/wpt.json and results/wpt.md for a complete (unfiltered) run. */
export function writeReport(run: WptRun): void {
  const skippedByReason = new Map<string, string[]>();
  for (const skipped of run.manifest.skipped) {
    skippedByReason.set(skipped.reason, [...(skippedByReason.get(skipped.reason) ?? []), skipped.id]);
  }
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    durationMs: run.durationMs,
    tests: run.manifest.jobs.length,
    skipped: run.manifest.skipped.length,
    modes: Object.fromEntries(MODES.map((mode) => [mode, totals(run, run.comparisons[mode])])),
    failures: Object.fromEntries(
      MODES.map((mode) => [
        mode,
        run.comparisons[mode].failures.map(({ id, name, status, message, cause }) => ({
          id,
          name,
          status,
          message,
          cause,
        })),
      ]),
    ),
    notRun: [...skippedByReason].map(([reason, ids]) => ({ reason, ids })),
  };
  writeFileSync(`${RESULTS_DIR}wpt.json`, `${JSON.stringify(json, null, 2)}\n`);

  const lines = [
    '# web-platform-tests `websockets/` in Node',
    '',
    `Written by \`npx vitest run e2e/wpt\` (e2e/wpt/runner.ts) on ${json.date.slice(0, 10)}, Node ${json.node},`,
    `${run.manifest.jobs.length} tests (test files × variants) run in each mode, ${run.manifest.skipped.length} not run,`,
    `in ${(run.durationMs / 1000).toFixed(1)} s. Expected failures: e2e/wpt/expectations/node.json.`,
    '',
    '| mode | files | tests | subtests | passed | failed | expected failures | unexpected failures | unexpected passes | timeouts | harness errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...MODES.map((mode) => {
      const t = totals(run, run.comparisons[mode]);
      return `| ${mode}: ${MODE_LABELS[mode]} | ${t.files} | ${t.tests} | ${t.subtests} | ${t.passed} | ${t.failed} | ${t.expectedFailures} | ${t.unexpectedFailures} | ${t.unexpectedPasses} | ${t.timeouts} | ${t.harnessErrors} |`;
    }),
    '',
    'A test is a file in one variant (`?default`, `?wss`). "failed" counts subtests that did not pass,',
    'plus one `(harness)` entry per test whose harness ended in ERROR or TIMEOUT; "subtests" counts',
    'real subtests only. "timeouts" and "harness errors" count tests.',
    '',
    '## Failures by cause',
    '',
    'Every failure of the run, once, with the modes it failed in when not all.',
    '',
  ];
  // What failed in this run, by cause and test, with the modes it failed in when not all.
  const observed = new Map<string, Map<string, Map<string, Mode[]>>>();
  for (const mode of MODES) {
    for (const failure of run.comparisons[mode].failures) {
      const cause = failure.cause ?? UNLISTED;
      const tests = observed.get(cause) ?? new Map<string, Map<string, Mode[]>>();
      observed.set(cause, tests);
      const subtests = tests.get(failure.id) ?? new Map<string, Mode[]>();
      tests.set(failure.id, subtests);
      subtests.set(failure.name, [...(subtests.get(failure.name) ?? []), mode]);
    }
  }
  const reasons = new Map(run.expectations.expectedFailures.map((group) => [group.cause, group.reason]));
  for (const [cause, tests] of observed) {
    lines.push(
      `### ${cause}`,
      '',
      reasons.get(cause) ?? 'Not in expectations/node.json: see wpt.json for the messages.',
      '',
    );
    for (const [id, subtests] of tests) {
      // Long lists of subtests (idlharness) are in wpt.json only.
      const names = [...subtests].map(
        ([name, modes]) => `${name}${modes.length === MODES.length ? '' : ` (${modes.join(', ')})`}`,
      );
      lines.push(`- \`${id}\`: ${names.length > 4 ? `${names.length} subtests` : names.join('; ')}`);
    }
    lines.push('');
  }
  const passing = MODES.flatMap((mode) =>
    run.comparisons[mode].unexpectedPasses.map(
      (pass) => `- ${mode}: \`${pass.id}\`: ${pass.name} (listed as ${pass.cause})`,
    ),
  );
  if (passing.length > 0) lines.push('### Listed as failing, but passed', '', ...passing, '');
  lines.push('## Not run in Node', '');
  for (const [reason, ids] of skippedByReason) {
    // Long lists (the h2 variants) are in wpt.json only.
    const list = ids.length > 12 ? 'listed in wpt.json' : ids.map((id) => `\`${id}\``).join(', ');
    lines.push(`- ${reason} (${ids.length}): ${list}`);
  }
  lines.push('');
  writeFileSync(`${RESULTS_DIR}wpt.md`, lines.join('\n'));
}
