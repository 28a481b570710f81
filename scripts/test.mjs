#!/usr/bin/env node
// `npm test`: every stage runs, whatever happened in the one before, and the
// run ends with one plain line over all the test runners:
//
//     tests: N passed, N failed, N skipped
//
// then exits non-zero if any stage failed. Chaining the stages with `&&`
// stopped at the first failure: a failing Vitest test meant Playwright never
// ran and no summary was printed, so one failure hid everything behind it.
//
// Stages, in order: set-up (Debian packages, Deno and Bun binaries), Biome
// and the boundary check, the type checks, Vitest, the gateway's Deno tests,
// Playwright. Lint and type-check stages count as one failed test each when
// they fail, so a run that only breaks them still exits non-zero and says so.
// A stage given by name (`npm test -- vitest playwright`) runs alone.
import { denoCounts, playwrightCounts, runStages, vitestCounts } from './test-stages.mjs';

const VITEST_JSON = `build/test-results.json`;
const DENO_JUNIT = `build/gateway-test-results.xml`;
const PLAYWRIGHT_JSON = `build/playwright-results.json`;

/** Each stage: a command, and where its counts come from (none: pass/fail only). */
const STAGES = [
  { name: 'setup', command: ['node', 'scripts/setup.mjs'] },
  { name: 'lint', command: ['npm', 'run', '--silent', 'lint'] },
  { name: 'typecheck', command: ['npm', 'run', '--silent', 'typecheck'] },
  {
    name: 'vitest',
    command: [
      'npx',
      'vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${VITEST_JSON}`,
    ],
    report: VITEST_JSON,
    counts: vitestCounts,
  },
  {
    name: 'gateway',
    // The permissions live in package.json's test:gateway: one definition.
    command: ['npm', 'run', '--silent', 'test:gateway', '--', `--junit-path=${DENO_JUNIT}`],
    report: DENO_JUNIT,
    counts: denoCounts,
  },
  {
    name: 'playwright',
    command: ['npx', 'playwright', 'test'],
    report: PLAYWRIGHT_JSON,
    counts: playwrightCounts,
  },
];

const only = process.argv.slice(2);
for (const name of only) {
  if (!STAGES.some((stage) => stage.name === name)) {
    console.error(`test: no stage ${name} (stages: ${STAGES.map((stage) => stage.name).join(', ')})`);
    process.exit(2);
  }
}
process.exit(runStages(only.length === 0 ? STAGES : STAGES.filter((stage) => only.includes(stage.name))));
