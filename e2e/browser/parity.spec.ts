/**
 * Parity with Chromium's native WebSocket: each scenario (pages/parity.ts)
 * runs twice in the same page, once with the native `WebSocket` straight to
 * the parity server (support/parity-server.ts) and once with polysocket's
 * over WebTransport through the gateway to the same server. The two traces
 * (calls, exceptions with their messages, readyState and bufferedAmount
 * after each call, events with their interface, data, codes, reasons,
 * protocol and extensions) must be equal.
 *
 * Nothing is normalized: both connect to the same URL (so `url` and the
 * message events' `origin` match), and polysocket offers permessage-deflate
 * by default as Chromium does, against a server that accepts it, so even
 * `extensions` match ("permessage-deflate"). Left out of the traces, as it
 * differs by design: `isTrusted` (events dispatched by script are never
 * trusted). Where Chromium departs from WebIDL or WPT, polysocket follows
 * the standard: one scenario shows each such difference, asserted below
 * (DOCUMENTED_DIFFERENCES).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test as base, expect } from '@playwright/test';
import { type E2eEnv, e2eEnv } from './support/env.js';
import {
  PARITY_SCENARIOS,
  type ParityConfig,
  type ParityImpl,
  type ParityScenario,
  type ParityTrace,
} from './support/parity-api.js';

const DUMP_DIR = fileURLToPath(new URL('../../build/parity/', import.meta.url));

const DOCUMENTED: ParityScenario = 'documented differences: where Chromium departs from WebIDL and WPT';

/** Per socket of the DOCUMENTED scenario: what its lines contain with each implementation. */
const DOCUMENTED_DIFFERENCES: ReadonlyArray<{
  readonly label: string;
  readonly why: string;
  readonly native: readonly string[];
  readonly polysocket: readonly string[];
}> = [
  {
    label: 'close(undefined, reason)',
    why: 'WebIDL: an optional argument passed as undefined is missing (the reason goes with 1000); Chromium converts it to 0',
    native: ["close(undefined, 'reason alone') threw InvalidAccessError", 'code=1005 reason=""'],
    polysocket: ["close(undefined, 'reason alone') ok; readyState=2", 'code=1000 reason="reason alone"'],
  },
  {
    label: 'close(2999.5)',
    why: 'WebIDL [Clamp] rounds ties to even (3000); Chromium truncates (2999)',
    native: ['close(2999.5) threw InvalidAccessError', 'code=1005'],
    polysocket: ['close(2999.5) ok; readyState=2', 'code=3000'],
  },
  {
    label: 'close(3000.7)',
    why: 'WebIDL [Clamp] rounds to the nearest integer (3001); Chromium truncates (3000)',
    native: ['close(3000.7) ok', 'code=3000'],
    polysocket: ['close(3000.7) ok', 'code=3001'],
  },
  {
    label: 'close code 999 from the server',
    why: 'RFC 6455 7.4: close codes below 1000 are invalid and fail the connection (1002); Chromium 156 reports a clean close with 999',
    native: ['code=999 reason="" wasClean=true'],
    polysocket: ['event error', 'code=1006 reason="" wasClean=false'],
  },
  {
    label: 'duplicate protocols, case differs',
    why: 'WPT websockets/Create-protocols-repeated-case-insensitive: a SyntaxError; Chromium 156 accepts them',
    native: ['readyState=0', 'event error', 'code=1006'],
    polysocket: ['threw SyntaxError'],
  },
];

const test = base.extend<{ env: E2eEnv }>({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  env: async ({}, use) => {
    await use(e2eEnv());
  },
  page: async ({ page, env }, use) => {
    page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
    await page.goto(`${env.pageUrl}parity.html`);
    await page.waitForFunction(() => window.parityReady === true, undefined, { timeout: 30_000 });
    await use(page);
  },
});

async function runScenario(
  page: import('@playwright/test').Page,
  scenario: ParityScenario,
  impl: ParityImpl,
  config: ParityConfig,
): Promise<ParityTrace> {
  return page.evaluate(({ scenario, impl, config }) => window.parity.run(scenario, impl, config), {
    scenario,
    impl,
    config,
  });
}

test.describe('parity with the native WebSocket', () => {
  for (const scenario of PARITY_SCENARIOS) {
    test(scenario, async ({ page, env }) => {
      if (scenario.startsWith('large')) test.slow();
      const config: ParityConfig = {
        server: `ws://127.0.0.1:${env.parityPort}`,
        gateway: env.gatewayUrl,
        certificateHash: env.certificateHash,
        timeoutMs: 20_000,
      };
      const native = await runScenario(page, scenario, 'native', config);
      const polysocket = await runScenario(page, scenario, 'polysocket', config);
      if (process.env['PARITY_DUMP'] !== undefined) {
        mkdirSync(DUMP_DIR, { recursive: true });
        writeFileSync(
          `${DUMP_DIR}${scenario.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.json`,
          JSON.stringify({ native, polysocket }, null, 2),
        );
      }
      if (scenario === DOCUMENTED) {
        for (const difference of DOCUMENTED_DIFFERENCES) {
          for (const [trace, fragments] of [
            [native, difference.native],
            [polysocket, difference.polysocket],
          ] as const) {
            const text = trace.lines.filter((line) => line.startsWith(`${difference.label}: `)).join('\n');
            for (const fragment of fragments) expect(text, difference.why).toContain(fragment);
          }
        }
        return;
      }
      expect(polysocket.lines).toEqual(native.lines);
      expect(polysocket.exceptions).toEqual(native.exceptions);
    });
  }
});
