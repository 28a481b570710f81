/**
 * Regenerates the README's screenshots of the demo (demo/screenshots/*.png):
 * starts the demo (demo/stack.ts), drives the page in headless Chromium
 * (Debian's, as in the browser tests) and captures it in a few states.
 *
 *     npx tsx demo/screenshots.ts [outDir]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../e2e/browser/support/chromium.js';
import { launchIwa } from '../e2e/browser/support/iwa.js';
import { startDemo } from './stack.js';

const outDir = process.argv[2] ?? fileURLToPath(new URL('./screenshots/', import.meta.url));
mkdirSync(outDir, { recursive: true });

// Port 0: the OS picks a free port as the page server binds it.
const demo = await startDemo({ port: 0, strictPort: true });
const browser = await chromium.launch({
  executablePath: CHROMIUM_PATH,
  args: [...CHROMIUM_ARGS],
  headless: true,
});

async function open(colorScheme: 'light' | 'dark', width = 1440, height = 960): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width, height },
    colorScheme,
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  await page.goto(demo.url);
  await page.waitForSelector('html[data-ready="true"]');
  return page;
}

async function shoot(page: Page, name: string): Promise<void> {
  const path = join(outDir, `${name}.png`);
  // No focus ring or hover on the last button clicked.
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.mouse.move(0, 0);
  await page.waitForTimeout(400); // transitions
  await page.screenshot({ path });
  compress(path);
}

/** Shrink the PNG to a palette with pngquant if it is installed (apt-get install pngquant). */
function compress(path: string): void {
  const quantized = spawnSync('pngquant', [
    '--quality',
    '80-95',
    '--speed',
    '1',
    '--strip',
    '--force',
    '--output',
    path,
    path,
  ]);
  console.log(`${path}${quantized.status === 0 ? ' (pngquant)' : ''}`);
}

/** Connect (over WebTransport by default) and fill the log with a little of everything. */
async function session(page: Page, transport = 'transport-webtransport'): Promise<void> {
  await page.getByTestId(transport).click();
  await page.getByTestId('connect').click();
  await page.getByTestId('status').filter({ hasText: 'Open' }).waitFor();
  await page.getByTestId('text').fill('Hello from polysocket!');
  await page.getByTestId('send-text').click();
  await page.getByRole('button', { name: '64 KiB' }).click();
  await page.getByTestId('send-binary').click();
  await page.getByTestId('file').setInputFiles({
    name: 'notes.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('polysocket sends Blobs in order with everything else.\n'.repeat(40)),
  });
  await page.getByRole('button', { name: '1 MiB' }).click();
  await page.getByTestId('send-binary').click();
  // A few seconds of pings for the round-trip figures.
  await page.waitForTimeout(7000);
}

try {
  const light = await open('light');
  await shoot(light, 'idle');
  await session(light);
  await shoot(light, 'webtransport-open');
  await light.getByTestId('close-code').fill('4000');
  await light.getByTestId('close-reason').fill('see you later');
  await light.getByTestId('disconnect').click();
  await light.getByTestId('status').filter({ hasText: 'Closed' }).waitFor();
  await light.waitForTimeout(300);
  await shoot(light, 'closed');

  const dark = await open('dark');
  await session(dark);
  await shoot(dark, 'webtransport-open-dark');
  await dark.getByTestId('disconnect').click();

  const phone = await open('light', 390, 844);
  await phone.getByTestId('transport-native').click();
  await phone.getByTestId('connect').click();
  await phone.getByTestId('status').filter({ hasText: 'Open' }).waitFor();
  await phone.getByTestId('text').fill('Native WebSocket, same page');
  await phone.keyboard.press('Enter');
  await phone.waitForTimeout(2500);
  await phone.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await phone.screenshot({ path: join(outDir, 'mobile.png'), fullPage: true });
  compress(join(outDir, 'mobile.png'));

  // The same page installed as a dev-mode Isolated Web App: Direct Sockets.
  const iwa = await launchIwa(demo.url);
  try {
    const app = await iwa.context.newPage();
    await app.setViewportSize({ width: 1440, height: 960 });
    // Right after the install the first navigation may still fail: retried.
    for (let attempt = 1; ; attempt++) {
      try {
        await app.goto(`${iwa.origin}/`);
        await app.waitForSelector('html[data-ready="true"]');
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        await app.waitForTimeout(1000);
      }
    }
    await session(app, 'transport-direct-sockets');
    await shoot(app, 'direct-sockets-iwa');
  } finally {
    await iwa.close();
  }
} finally {
  await browser.close();
  await demo.stop();
}
