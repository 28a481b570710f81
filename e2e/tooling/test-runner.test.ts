/**
 * `npm test`'s stage runner (scripts/test-stages.mjs): a failing stage does
 * not stop the ones after it, the closing line adds up every runner, and
 * the exit code says whether anything failed. Fake stages (small `node -e`
 * scripts writing reports in the runners' formats) stand in for Vitest,
 * Deno and Playwright, in a scratch directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';

const STAGES_MODULE = fileURLToPath(new URL('../../scripts/test-stages.mjs', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A stage running `script` with node, in the scratch directory. */
function stage(name: string, script: string, report?: 'vitest' | 'deno' | 'playwright') {
  const files = { vitest: 'build/v.json', deno: 'build/d.xml', playwright: 'build/p.json' };
  return { name, script, report: report === undefined ? undefined : files[report], kind: report };
}

function run(
  stages: ReturnType<typeof stage>[],
  dir = mkdtempSync(join(tmpdir(), 'polysocket-runner-')),
): { status: number | null; output: string; dir: string } {
  if (!dirs.includes(dir)) dirs.push(dir);
  const driver = `
    import { runStages, vitestCounts, denoCounts, playwrightCounts } from ${JSON.stringify(STAGES_MODULE)};
    const counts = { vitest: vitestCounts, deno: denoCounts, playwright: playwrightCounts };
    const stages = ${JSON.stringify(stages)}.map((s) => ({
      name: s.name,
      command: [process.execPath, '-e', s.script],
      ...(s.kind ? { report: s.report, counts: counts[s.kind] } : {}),
    }));
    process.exit(runStages(stages));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', driver], {
    cwd: dir,
    encoding: 'utf8',
  });
  return { status: result.status, output: result.stdout + result.stderr, dir };
}

const write = (file: string, text: string) =>
  `require('node:fs').writeFileSync(${JSON.stringify(file)}, ${JSON.stringify(text)});`;
const vitestReport = (passed: number, failed: number) =>
  JSON.stringify({
    numPassedTests: passed,
    numFailedTests: failed,
    numPendingTests: 0,
    numTodoTests: 0,
    testResults: [],
  });
const playwrightReport = (expected: number, unexpected: number) =>
  JSON.stringify({ stats: { expected, unexpected, flaky: 0, skipped: 1 }, errors: [] });
const denoReport = (tests: number, failures: number) =>
  `<?xml version="1.0"?>\n<testsuites name="deno test" tests="${tests}" failures="${failures}" errors="0"></testsuites>`;

test('a failing stage does not stop the next; the closing line adds up every runner; exit 1', () => {
  const { status, output, dir } = run([
    stage('lint', 'process.exit(0)'),
    stage('vitest', `${write('build/v.json', vitestReport(10, 2))} process.exit(1)`, 'vitest'),
    stage('gateway', `${write('build/d.xml', denoReport(4, 0))}`, 'deno'),
    stage('playwright', `${write('build/p.json', playwrightReport(3, 0))} ${write('ran', '')}`, 'playwright'),
  ]);
  expect(existsSync(join(dir, 'ran'))).toBe(true);
  expect(output).toMatch(/^tests: 17 passed, 2 failed, 1 skipped$/m);
  expect(status).toBe(1);
});

test('a stage failing without a test (lint, a crash, no report) counts as one failure', () => {
  const { status, output } = run([
    stage('lint', 'process.exit(1)'),
    stage('vitest', 'process.exit(0)', 'vitest'),
    stage('playwright', write('build/p.json', playwrightReport(5, 0)), 'playwright'),
  ]);
  expect(output).toMatch(/^tests: 5 passed, 2 failed, 1 skipped$/m);
  expect(output).toContain('no report (build/v.json)');
  expect(status).toBe(1);
});

test('a report left by an earlier run is not read as this run’s', () => {
  const first = run([stage('vitest', write('build/v.json', vitestReport(1, 0)), 'vitest')]);
  expect(first.status).toBe(0);
  // The same directory: the runner now writes no report.
  const second = run([stage('vitest', 'process.exit(0)', 'vitest')], first.dir);
  expect(second.output).toMatch(/^tests: 0 passed, 1 failed, 0 skipped$/m);
  expect(second.status).toBe(1);
});

test('all green: exit 0', () => {
  const { status, output } = run([
    stage('vitest', write('build/v.json', vitestReport(7, 0)), 'vitest'),
    stage('gateway', write('build/d.xml', denoReport(2, 0)), 'deno'),
  ]);
  expect(output).toMatch(/^tests: 9 passed, 0 failed, 0 skipped$/m);
  expect(status).toBe(0);
});
