/**
 * The fuzzing harness shared by `src/protocol/fuzz*.test.ts`: one budget and
 * one seed for every target (FUZZ_RUNS, FUZZ_SEED), each property run with
 * `fc.check()` so that the cases actually tried are counted, and, when
 * FUZZ_REPORT names a file, one JSON line per target appended to it (cases
 * tried, failures, seed, duration) for `scripts/fuzz.mjs` to collect.
 */
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';

/** Cases per target: small in `npm test`, large under `npm run fuzz`. */
export const FUZZ_RUNS = Math.max(1, Number(process.env['FUZZ_RUNS'] ?? 300));
/** One seed for every target; a failure prints it with the counterexample's path. */
export const FUZZ_SEED = Number(process.env['FUZZ_SEED'] ?? 20261126);

/** One target's figures, as written to FUZZ_REPORT. */
export interface FuzzRecord {
  readonly target: string;
  readonly runs: number;
  readonly failures: number;
  readonly seed: number;
  readonly durationMs: number;
}

/**
 * Run `property` for `runs` cases (default {@link FUZZ_RUNS}) with
 * {@link FUZZ_SEED}, record the figures, and throw fast-check's report
 * (seed, path, counterexample) if a case failed.
 */
export function fuzz<Ts>(target: string, property: fc.IProperty<Ts>, runs = FUZZ_RUNS): void {
  const started = performance.now();
  const details: fc.RunDetails<Ts> = fc.check(property, { numRuns: runs, seed: FUZZ_SEED });
  const record: FuzzRecord = {
    target,
    runs: details.numRuns,
    failures: details.failed ? 1 : 0,
    seed: FUZZ_SEED,
    durationMs: Math.round(performance.now() - started),
  };
  const report = process.env['FUZZ_REPORT'];
  if (report !== undefined && report !== '') appendFileSync(report, `${JSON.stringify(record)}\n`);
  if (details.failed) {
    const cause = details.errorInstance;
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    throw new Error(`${fc.defaultReportMessage(details) ?? `fuzz target failed: ${target}`}\n${reason}`, {
      cause,
    });
  }
}
