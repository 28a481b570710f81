/** results/wpt-chromium.json and results/wpt-chromium.md, for a complete (unfiltered) Chromium run. */
import { writeWptReport } from '../report.js';
import { CHROMIUM_MODES, type ChromiumWptRun, MODE_LABELS } from './runner.js';

export function writeChromiumReport(run: ChromiumWptRun): void {
  const list = (items: readonly string[]) =>
    items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
  const tests = list(CHROMIUM_MODES.map((mode) => `${run.manifests[mode].jobs.length} in ${mode}`));
  const files = list(CHROMIUM_MODES.map((mode) => `${mode}.json`));
  writeWptReport({
    name: 'wpt-chromium',
    title: 'web-platform-tests `websockets/` in Chromium',
    environment: { chromium: run.chromiumVersion },
    intro: [
      `Written by \`npx playwright test e2e/browser/wpt.spec.ts\` (e2e/wpt/chromium/runner.ts) on ${new Date().toISOString().slice(0, 10)},`,
      `headless Chromium ${run.chromiumVersion} (Debian), tests (pages × variants) run: ${tests},`,
      `in ${(run.durationMs / 1000).toFixed(1)} s. Expected failures: ${files} in e2e/wpt/expectations/.`,
    ].join('\n'),
    durationMs: run.durationMs,
    modes: CHROMIUM_MODES.map((mode) => ({
      mode,
      label: MODE_LABELS[mode],
      comparison: run.comparisons[mode],
      manifest: run.manifests[mode],
      expectations: run.expectations[mode],
    })),
    results: run.results,
    retried: run.retried,
  });
}
