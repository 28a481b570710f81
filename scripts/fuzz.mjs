#!/usr/bin/env node
// The large-budget fuzzing campaign: `npm run fuzz [-- --runs N --seed S]`.
// Runs every src/protocol/fuzz*.test.ts with FUZZ_RUNS cases per target
// (default 20000) and one seed, and writes what each target tried (cases,
// failures, seed, duration) to results/fuzz.json and results/fuzz.md.
// Exits non-zero if any target failed; the failing case's seed and path are
// in the Vitest output (replay with FUZZ_SEED and the same FUZZ_RUNS).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.FUZZ_RUNS ?? '20000' },
    seed: { type: 'string', default: process.env.FUZZ_SEED ?? String(Date.now() % 2 ** 31) },
    out: { type: 'string', default: 'results' },
  },
});

const dir = mkdtempSync(join(tmpdir(), 'polysocket-fuzz-'));
const report = join(dir, 'report.jsonl');
writeFileSync(report, '');
const started = Date.now();
const run = spawnSync(
  process.execPath,
  [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'src/protocol/fuzz', '--testTimeout=3600000'],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FUZZ_RUNS: values.runs, FUZZ_SEED: values.seed, FUZZ_REPORT: report },
  },
);
const records = readFileSync(report, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line));
rmSync(dir, { recursive: true, force: true });

records.sort((a, b) => a.target.localeCompare(b.target));
const totals = {
  targetCount: records.length,
  cases: records.reduce((n, r) => n + r.runs, 0),
  failures: records.reduce((n, r) => n + r.failures, 0),
};
const result = {
  date: new Date().toISOString(),
  seed: Number(values.seed),
  runsPerTarget: Number(values.runs),
  durationMs: Date.now() - started,
  vitestExitCode: run.status,
  ...totals,
  targets: records,
};
const out = resolve(root, values.out);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'fuzz.json'), `${JSON.stringify(result, null, 2)}\n`);
const md = [
  '# Fuzzing campaign',
  '',
  `Seed ${result.seed}, ${result.runsPerTarget} cases per target, ${(result.durationMs / 1000).toFixed(0)} s;`,
  `${totals.cases} cases over ${totals.targetCount} targets, ${totals.failures} failures.`,
  `Replay: \`FUZZ_SEED=${result.seed} FUZZ_RUNS=${result.runsPerTarget} npx vitest run src/protocol/fuzz\`.`,
  '',
  '| target | cases | failures | duration |',
  '| --- | ---: | ---: | ---: |',
  ...records.map(
    (r) => `| ${r.target} | ${r.runs} | ${r.failures} | ${(r.durationMs / 1000).toFixed(1)} s |`,
  ),
  '',
];
writeFileSync(join(out, 'fuzz.md'), md.join('\n'));
console.log(md.join('\n'));
const ok = run.status === 0 && totals.failures === 0 && totals.targetCount > 0;
console.log(ok ? 'fuzz: OK' : 'fuzz: FAILED');
process.exit(ok ? 0 : 1);
