/**
 * The results files of a complete (unfiltered) run: results/wpt.{json,md}
 * for Node (runner.ts), results/wpt-chromium.{json,md} for Chromium
 * (chromium/runner.ts): the totals per mode, every failure with its cause,
 * and what is not run and why.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Expectations, ModeComparison } from './expectations.js';
import type { Manifest } from './manifest.js';
import { type JobResult, MODES, type Mode } from './messages.js';
import type { WptRun } from './runner.js';

const RESULTS_DIR = fileURLToPath(new URL('../../results/', import.meta.url));
const UNLISTED = '(not in the expectations file)';

/** One mode of a run, as the report needs it. */
export interface ReportMode {
  readonly mode: string;
  /** What the mode runs, for the table. */
  readonly label: string;
  readonly comparison: ModeComparison;
  /** The tests of the mode, and those not run. */
  readonly manifest: Manifest;
  readonly expectations: Expectations;
}

/** What a report is written from. */
export interface ReportInput {
  /** The files' base name in results/: `wpt` writes wpt.json and wpt.md. */
  readonly name: string;
  readonly title: string;
  /** Where it runs, for the JSON and the first line: e.g. `{ node: 'v20.20.2' }`. */
  readonly environment: Readonly<Record<string, string>>;
  /** The first paragraph: what wrote it, on what. */
  readonly intro: string;
  readonly durationMs: number;
  readonly modes: readonly ReportMode[];
  readonly results: readonly JobResult<string>[];
  /** Tests run a second time because their first result was unexpected, with that result's problems. */
  readonly retried?: readonly {
    readonly mode: string;
    readonly id: string;
    readonly first: readonly string[];
  }[];
}

const MODE_LABELS: Readonly<Record<Mode, string>> = {
  node: "`polysocket/node`'s `WebSocket` as the global",
  polyfill: '`polysocket/polyfill` (global installed by the polyfill)',
  bound: 'a `bindOptions(WebSocket, { transport })` class as the global',
};

function totals(input: ReportInput, mode: ReportMode) {
  const { comparison } = mode;
  const ran = new Set(input.results.filter((result) => result.mode === mode.mode).map((result) => result.id));
  return {
    files: new Set(mode.manifest.jobs.filter((job) => ran.has(job.id)).map((job) => job.file)).size,
    tests: comparison.tests,
    notRun: mode.manifest.skipped.length,
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

/** Write results/<name>.json and results/<name>.md. */
export function writeWptReport(input: ReportInput): void {
  const all = input.modes.map((mode) => mode.mode);
  // Tests not run, by reason, with the modes that do not run them.
  const notRun = new Map<string, Map<string, string[]>>();
  for (const mode of input.modes) {
    for (const skipped of mode.manifest.skipped) {
      const ids = notRun.get(skipped.reason) ?? new Map<string, string[]>();
      notRun.set(skipped.reason, ids);
      ids.set(skipped.id, [...(ids.get(skipped.id) ?? []), mode.mode]);
    }
  }
  const json = {
    date: new Date().toISOString(),
    ...input.environment,
    durationMs: input.durationMs,
    modes: Object.fromEntries(input.modes.map((mode) => [mode.mode, totals(input, mode)])),
    failures: Object.fromEntries(
      input.modes.map((mode) => [
        mode.mode,
        mode.comparison.failures.map(({ id, name, status, message, cause }) => ({
          id,
          name,
          status,
          message,
          cause,
        })),
      ]),
    ),
    notRun: [...notRun].map(([reason, ids]) => {
      const modes = [...new Set([...ids.values()].flat())];
      return { reason, modes, ids: [...ids.keys()] };
    }),
    retried: input.retried ?? [],
  };
  writeFileSync(`${RESULTS_DIR}${input.name}.json`, `${JSON.stringify(json, null, 2)}\n`);

  const lines = [
    `# ${input.title}`,
    '',
    input.intro,
    '',
    '| mode | files | tests | not run | subtests | passed | failed | expected failures | unexpected failures | unexpected passes | timeouts | harness errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...input.modes.map((mode) => {
      const t = totals(input, mode);
      return `| ${mode.mode}: ${mode.label} | ${t.files} | ${t.tests} | ${t.notRun} | ${t.subtests} | ${t.passed} | ${t.failed} | ${t.expectedFailures} | ${t.unexpectedFailures} | ${t.unexpectedPasses} | ${t.timeouts} | ${t.harnessErrors} |`;
    }),
    '',
    'A test is a page in one variant (`?default`, `?wss`). "failed" counts subtests that did not pass,',
    'plus one `(harness)` entry per test whose harness ended in ERROR or TIMEOUT; "subtests" counts',
    'real subtests only. "timeouts" and "harness errors" count tests.',
    '',
    '## Failures by cause',
    '',
    `Every failure of the run, once, with the modes it failed in${all.length > 1 ? ' when not all' : ''}.`,
    '',
  ];
  // What failed in this run, by cause and test, with the modes it failed in.
  const observed = new Map<string, Map<string, Map<string, string[]>>>();
  for (const mode of input.modes) {
    for (const failure of mode.comparison.failures) {
      const cause = failure.cause ?? UNLISTED;
      const tests = observed.get(cause) ?? new Map<string, Map<string, string[]>>();
      observed.set(cause, tests);
      const subtests = tests.get(failure.id) ?? new Map<string, string[]>();
      tests.set(failure.id, subtests);
      subtests.set(failure.name, [...(subtests.get(failure.name) ?? []), mode.mode]);
    }
  }
  const reasons = new Map<string, string>();
  for (const mode of input.modes) {
    for (const group of mode.expectations.expectedFailures) reasons.set(group.cause, group.reason);
  }
  for (const [cause, tests] of observed) {
    lines.push(
      `### ${cause}`,
      '',
      reasons.get(cause) ?? `Not in the expectations file: see ${input.name}.json for the messages.`,
      '',
    );
    for (const [id, subtests] of tests) {
      // Long lists of subtests (idlharness) are in the JSON only.
      const names = [...subtests].map(
        ([name, modes]) => `${name}${modes.length === all.length ? '' : ` (${modes.join(', ')})`}`,
      );
      lines.push(`- \`${id}\`: ${names.length > 4 ? `${names.length} subtests` : names.join('; ')}`);
    }
    lines.push('');
  }
  const passing = input.modes.flatMap((mode) =>
    mode.comparison.unexpectedPasses.map(
      (pass) => `- ${mode.mode}: \`${pass.id}\`: ${pass.name} (listed as ${pass.cause})`,
    ),
  );
  if (passing.length > 0) lines.push('### Listed as failing, but passed', '', ...passing, '');
  if (input.retried !== undefined) {
    lines.push(
      '## Retried',
      '',
      'Tests whose first result was not what the expectations say ran once more, alone; the tables count',
      'the second result. Their first results:',
      '',
      ...(input.retried.length === 0
        ? ['- none']
        : input.retried.map(
            ({ mode, id, first }) => `- ${mode}: \`${id}\`: ${first.join('; ').slice(0, 300)}`,
          )),
      '',
    );
  }
  lines.push('## Not run', '');
  for (const [reason, ids] of notRun) {
    const modes = [...new Set([...ids.values()].flat())];
    const where = modes.length === all.length ? '' : ` (${modes.join(', ')})`;
    // Long lists (the h2 variants) are in the JSON only.
    const list =
      ids.size > 12 ? `listed in ${input.name}.json` : [...ids.keys()].map((id) => `\`${id}\``).join(', ');
    lines.push(`- ${reason}${where} (${ids.size}): ${list}`);
  }
  lines.push('');
  writeFileSync(`${RESULTS_DIR}${input.name}.md`, lines.join('\n'));
}

/** Write results/wpt.json and results/wpt.md for a complete (unfiltered) Node run. */
export function writeReport(run: WptRun): void {
  writeWptReport({
    name: 'wpt',
    title: 'web-platform-tests `websockets/` in Node',
    environment: { node: process.version },
    intro: [
      `Written by \`npx vitest run e2e/wpt\` (e2e/wpt/runner.ts) on ${new Date().toISOString().slice(0, 10)}, Node ${process.version},`,
      `${run.manifest.jobs.length} tests (test files × variants) run in each mode, ${run.manifest.skipped.length} not run,`,
      `in ${(run.durationMs / 1000).toFixed(1)} s. Expected failures: e2e/wpt/expectations/node.json.`,
    ].join('\n'),
    durationMs: run.durationMs,
    modes: MODES.map((mode) => ({
      mode,
      label: MODE_LABELS[mode],
      comparison: run.comparisons[mode],
      manifest: run.manifest,
      expectations: run.expectations,
    })),
    results: run.results,
  });
}
