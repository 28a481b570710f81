/**
 * The `test` of the browser specs: its `page` has the test page loaded
 * (polysocket ready on `window`), and `env` says where the servers are.
 */
import { test as base, expect } from '@playwright/test';
import { type E2eEnv, e2eEnv } from './env.js';

export { expect };

export const test = base.extend<{ env: E2eEnv }>({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  env: async ({}, use) => {
    await use(e2eEnv());
  },
  page: async ({ page, env }, use) => {
    page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
    await page.goto(env.pageUrl);
    await page.waitForFunction(() => window.e2eReady === true, undefined, { timeout: 30_000 });
    // WebTransport exists only in secure contexts: http://127.0.0.1 is one.
    expect(await page.evaluate(() => isSecureContext && typeof WebTransport === 'function')).toBe(true);
    await use(page);
  },
});
