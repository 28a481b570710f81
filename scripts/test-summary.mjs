#!/usr/bin/env node
// Prints the plain closing line 'N passed, N failed, N skipped' over both
// test runners, so that CI logs state the test count in a form any reader
// recognises (the runners' own summaries are decorated):
// - Vitest's JSON report (build/test-results.json, or the first argument);
// - Playwright's JSON report (build/playwright-results.json, or the second
//   argument), when it exists.
import { existsSync, readFileSync } from 'node:fs';

const vitest = JSON.parse(readFileSync(process.argv[2] ?? 'build/test-results.json', 'utf8'));
let passed = vitest.numPassedTests;
let failed = vitest.numFailedTests;
let skipped = vitest.numPendingTests + vitest.numTodoTests;

const playwrightFile = process.argv[3] ?? 'build/playwright-results.json';
if (existsSync(playwrightFile)) {
  // stats: expected (passed), unexpected (failed), flaky (passed on a
  // retry: counted as passed), skipped.
  const { stats, errors = [] } = JSON.parse(readFileSync(playwrightFile, 'utf8'));
  passed += stats.expected + stats.flaky;
  // Errors outside tests (a failed global setup, a crashed worker) count as failures.
  failed += stats.unexpected + errors.length;
  skipped += stats.skipped;
}

console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
