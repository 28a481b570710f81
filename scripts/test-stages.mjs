// The stage runner of `npm test` (scripts/test.mjs): runs every stage
// whatever happened before, reads each runner's report, prints a table and
// the plain closing line `tests: N passed, N failed, N skipped`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

/** Counts from a Vitest JSON report. */
export function vitestCounts(file) {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  return {
    passed: report.numPassedTests,
    failed: report.numFailedTests,
    skipped: report.numPendingTests + report.numTodoTests,
    // A file that failed to load (syntax error, failed import) has no tests to count.
    errors: (report.testResults ?? []).filter((r) => r.status === 'failed' && r.assertionResults.length === 0)
      .length,
  };
}

/** Counts from a Deno JUnit report. */
export function denoCounts(file) {
  const xml = readFileSync(file, 'utf8');
  // JUnit: <testsuites name="deno test" tests="N" failures="F" errors="E" ...>
  const head = /<testsuites\b([^>]*)>/.exec(xml)?.[1] ?? '';
  const attribute = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(head)?.[1] ?? 0);
  const skipped = (xml.match(/<skipped\b/g) ?? []).length;
  const failed = attribute('failures');
  return {
    passed: attribute('tests') - failed - attribute('errors') - skipped,
    failed,
    skipped,
    errors: attribute('errors'),
  };
}

/** Counts from a Playwright JSON report. */
export function playwrightCounts(file) {
  // stats: expected (passed), unexpected (failed), flaky (passed on a
  // retry: counted as passed), skipped; errors outside tests (a failed
  // global setup, a crashed worker) count as failures.
  const { stats, errors = [] } = JSON.parse(readFileSync(file, 'utf8'));
  return {
    passed: stats.expected + stats.flaky,
    failed: stats.unexpected,
    skipped: stats.skipped,
    errors: errors.length,
  };
}

/**
 * Run `stages` in order, each whatever the one before did; return the exit
 * code (1 if any failed). A stage: `{ name, command: string[], report?, counts? }`.
 */
export function runStages(stages) {
  mkdirSync('build', { recursive: true });
  const totals = { passed: 0, failed: 0, skipped: 0 };
  const rows = [];
  for (const stage of stages) {
    // A report left by an earlier run must not stand in for this one's.
    if (stage.report) rmSync(stage.report, { force: true });
    const started = Date.now();
    console.log(`\n=== ${stage.name}: ${stage.command.join(' ')}`);
    const result = spawnSync(stage.command[0], stage.command.slice(1), { stdio: 'inherit' });
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    const exit = result.status ?? `signal ${result.signal}`;
    let counts = null;
    let note = '';
    if (stage.counts) {
      if (existsSync(stage.report)) {
        try {
          counts = stage.counts(stage.report);
        } catch (error) {
          note = `unreadable report ${stage.report}: ${error.message}`;
        }
      } else {
        note = `no report (${stage.report})`;
      }
    }
    let failed = counts === null ? 0 : counts.failed + counts.errors;
    // A runner that failed without a failed test to show for it (a crash, a
    // lint or type error), or a test runner that left no readable report,
    // counts as one failure.
    if ((result.status !== 0 || (stage.counts && counts === null)) && failed === 0) failed = 1;
    if (counts !== null) {
      totals.passed += counts.passed;
      totals.skipped += counts.skipped;
    }
    totals.failed += failed;
    const summary =
      counts === null
        ? result.status === 0
          ? 'ok'
          : 'FAILED'
        : `${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${counts.errors ? `, ${counts.errors} errors` : ''}`;
    rows.push(
      `  ${stage.name.padEnd(11)} exit ${String(exit).padEnd(9)} ${seconds.padStart(4)} s  ${summary}${note ? `  (${note})` : ''}`,
    );
  }

  console.log('\n=== summary');
  for (const row of rows) console.log(row);
  console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  return totals.failed > 0 ? 1 : 0;
}
