#!/usr/bin/env node
// Prints the plain closing line 'N passed, N failed, N skipped' from
// Vitest's JSON report, so that CI logs state the test count in a form any
// reader recognises (Vitest's own summary is decorated).
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2] ?? 'build/test-results.json', 'utf8'));
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
process.exit(report.numFailedTests > 0 ? 1 : 0);
