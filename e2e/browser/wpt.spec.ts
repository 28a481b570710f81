/**
 * The web-platform-tests `websockets/` suite in headless Chromium, in each
 * mode (e2e/wpt/chromium/runner.ts: the browser's own WebSocket, and
 * polysocket's over WebTransport through the gateway, over Direct Sockets
 * in an Isolated Web App and over chrome.sockets.tcp in a Chrome App),
 * compared with
 * e2e/wpt/expectations/chromium-<mode>.json: any failure the file does not
 * list, any listed failure that passes, and any listed subtest that no
 * longer runs fails the mode's test. The run starts its own servers,
 * gateway and browsers (not the global setup's) and stops them all.
 *
 *     npx playwright test e2e/browser/wpt.spec.ts
 *     WPT_FILTER=Close-1000 npx playwright test e2e/browser/wpt.spec.ts
 *
 * A complete (unfiltered) run writes results/wpt-chromium.json and .md.
 */
import { expect, test } from '@playwright/test';
import { writeChromiumReport } from '../wpt/chromium/report.js';
import {
  CHROMIUM_MODES,
  type ChromiumWptRun,
  RETRY_BOUND_MS,
  RUN_BOUND_MS,
  runChromiumWpt,
} from '../wpt/chromium/runner.js';
import { problems } from '../wpt/expectations.js';
import { TIMEOUT_MS } from '../wpt/manifest.js';

const filter = process.env['WPT_FILTER'];
const number = (name: string): number | undefined => {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : Number(value);
};
const concurrency = number('WPT_BROWSER_JOBS');
const timeoutMultiplier = number('WPT_TIMEOUT_MULTIPLIER');
/**
 * The runner's own bound, then the longest page's timeout and grace (twice:
 * the retries of unexpected results have a bound of their own), and the
 * start (bundle, servers, gateway, browsers) and stop around them.
 */
const RUN_TIMEOUT_MS =
  RUN_BOUND_MS + RETRY_BOUND_MS + 2 * TIMEOUT_MS.long * (timeoutMultiplier ?? 2) + 120_000;

test.describe.configure({ mode: 'serial' });

let run: ChromiumWptRun | undefined;

test.beforeAll(async () => {
  test.setTimeout(RUN_TIMEOUT_MS);
  run = await runChromiumWpt({ filter, concurrency, timeoutMultiplier });
  if (filter === undefined || filter === '') writeChromiumReport(run);
  // Retried tests pass or fail on their second result; what the first was stays visible.
  for (const { mode, id, first } of run.retried) {
    console.log(`retried in ${mode}: ${id} (first run: ${first.join('; ').slice(0, 400)})`);
  }
});

test.afterAll(() => {
  run = undefined;
});

for (const mode of CHROMIUM_MODES) {
  test(`${mode}: every subtest passes or is listed in expectations/${mode}.json`, () => {
    expect(run, 'the run did not complete').toBeDefined();
    const comparison = run!.comparisons[mode];
    const filtered = filter !== undefined && filter !== '';
    test.skip(filtered && comparison.tests === 0, `WPT_FILTER matches no test of ${mode}`);
    expect(comparison.tests, 'no test ran').toBeGreaterThan(0);
    // The servers' and the gateway's logs help with pages that could not complete.
    const logs = comparison.harnessErrors > 0 ? run!.serverLog.slice(-4_000) : '';
    expect(problems(run!.results, comparison, 'page'), logs).toEqual([]);
  });
}

test('the Chromium expectations name only tests that exist and rules that apply', () => {
  expect(run, 'the run did not complete').toBeDefined();
  for (const mode of CHROMIUM_MODES) {
    expect(run!.unknownIds[mode], `${mode}: expected failures of tests that are not run`).toEqual([]);
    expect(run!.manifests[mode].unusedRules, `${mode}: not-applicable rules that match no file`).toEqual([]);
  }
});
