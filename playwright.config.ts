import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/browser/support/chromium.js';

// Browser end-to-end tests (e2e/browser/*.spec.ts; Vitest runs the
// *.test.ts files). Debian's Chromium is launched through executablePath:
// browsers are never downloaded (never run `npx playwright install`). The
// global setup starts the page server, the Deno gateway and the WebSocket
// servers, and stops them after the run.
export default defineConfig({
  testDir: './e2e/browser',
  testMatch: '**/*.spec.ts',
  globalSetup: './e2e/browser/support/global-setup.ts',
  outputDir: './build/playwright',
  // Two cores shared with other test runs: one worker, generous but bounded timeouts.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 60_000,
  // The web-platform-tests run (wpt.spec.ts) takes a few minutes and bounds itself to about 12.
  globalTimeout: 25 * 60_000,
  expect: { timeout: 15_000 },
  forbidOnly: !!process.env['CI'],
  reporter: [['list'], ['json', { outputFile: './build/playwright-results.json' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    // Each launch gets a fresh temporary profile (user-data dir) from Playwright.
    launchOptions: { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] },
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    trace: 'off',
  },
});
