/**
 * The demo page (demo/), served the way `npm run demo` serves it
 * (demo/stack.ts: the `ws` echo/chat/flood server, the Deno gateway with a
 * fresh certificate, the Vite page server), driven through its UI in
 * headless Chromium like a person would: pick a transport and an API
 * (WebSocket or WebSocketStream), connect, send text, random binary and a
 * file, watch the log and the figures, disconnect with a code and a reason.
 * In the flood room, the backpressure view: with the slow reader on, a
 * WebSocketStream stops the server and a WebSocket cannot. Also what the log
 * says when a connection fails (the reason polysocket gives, and a hint only
 * where one applies), and that nothing overlaps or is cut off at phone,
 * tablet and desktop widths.
 */
import { expect, type Locator, type Page, test } from '@playwright/test';
import { type RunningDemo, startDemo } from '../../demo/stack.js';
import { launchIwa } from './support/iwa.js';

let demo: RunningDemo;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(150_000);
  try {
    demo = await startDemo({ port: 0, strictPort: true });
  } catch (error) {
    // A busy machine: say why, then try once more (a new gateway).
    console.error(`demo stack did not start, retrying: ${error instanceof Error ? error.message : error}`);
    demo = await startDemo({ port: 0, strictPort: true });
  }
});

test.afterAll(async () => {
  await demo?.stop();
});

async function openDemo(page: Page, url = demo.url): Promise<void> {
  page.on('pageerror', (error) => console.error(`[demo page error] ${error.message}`));
  await page.goto(url);
  await expect(page.locator('html')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
}

/** The log's entries of one kind (open, message, sent, error, close, info). */
const entries = (page: Page, kind: string): Locator => page.locator(`#log .entry[data-kind="${kind}"]`);

const transports = [
  { name: 'WebTransport', testId: 'transport-webtransport', status: 'polysocket over WebTransport' },
  { name: 'the native WebSocket', testId: 'transport-native', status: 'native WebSocket' },
] as const;

for (const transport of transports) {
  test(`over ${transport.name}: connect, echo text, binary and a file, RTT, close with a code and a reason`, async ({
    page,
  }) => {
    await openDemo(page);
    await page.getByTestId(transport.testId).click();
    await expect(page.getByTestId('url')).toHaveValue(`${demo.config.server}/echo`);
    await page.getByTestId('connect').click();

    await expect(page.getByTestId('status')).toHaveText(`Open · ${transport.status}`, { timeout: 30_000 });
    await expect(page.getByTestId('fig-ready-state')).toContainText('1 OPEN');
    await expect(entries(page, 'open')).toHaveCount(1);
    await expect(page.getByTestId('fig-protocol')).toHaveText('demo.v1');
    await expect(page.getByTestId('fig-extensions')).toContainText('permessage-deflate');
    await expect(page.getByTestId('fig-handshake')).toHaveText(/^\d+(\.\d+)? ms$/);

    // Text, with Enter and with the button.
    await page.getByTestId('text').fill('héllo from the demo ✓');
    await page.getByTestId('text').press('Enter');
    await expect(entries(page, 'message').filter({ hasText: 'héllo from the demo ✓' })).toHaveCount(1);
    await page.getByTestId('text').fill('second message');
    await page.getByTestId('send-text').click();
    await expect(entries(page, 'message').filter({ hasText: 'second message' })).toHaveCount(1);

    // Random binary: its echo shows the same size and the same first bytes.
    await page.getByTestId('size').fill('5000');
    await page.getByTestId('send-binary').click();
    const sent = entries(page, 'sent').filter({ hasText: '5000 random bytes' });
    await expect(sent).toHaveCount(1);
    const echoed = entries(page, 'message').filter({ hasText: '5000 bytes' });
    await expect(echoed).toHaveCount(1);
    await expect(echoed.locator('.size')).toHaveText('4.88 KiB');
    expect(await echoed.locator('.preview').textContent()).toBe(await sent.locator('.preview').textContent());

    // A file, sent as a Blob.
    await page.getByTestId('file').setInputFiles({
      name: 'demo.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(1234, 7),
    });
    await expect(entries(page, 'sent').filter({ hasText: 'demo.bin' })).toHaveCount(1);
    await expect(entries(page, 'message').filter({ hasText: '1234 bytes' })).toHaveCount(1);

    // Round trips: automatic pings every second, and the Ping button.
    await page.getByTestId('ping').click();
    await expect(page.getByTestId('fig-rtt')).toHaveText(/^\d+(\.\d+)? ms$/);
    await expect(page.getByTestId('fig-rtt-stats')).toHaveText(/min .* avg .* max .* · ([3-9]|\d\d+) pings/, {
      timeout: 20_000,
    });
    // 4 messages echoed, plus the pings (counted too).
    expect(Number(await page.getByTestId('fig-messages-in').textContent())).toBeGreaterThanOrEqual(7);
    expect(Number(await page.getByTestId('fig-messages-out').textContent())).toBeGreaterThanOrEqual(7);
    await expect(page.getByTestId('fig-bytes-in')).toHaveText(/KiB$/);

    // An invalid close code throws the standard's InvalidAccessError and changes nothing.
    await page.getByTestId('close-code').fill('1001');
    await page.getByTestId('disconnect').click();
    await expect(entries(page, 'error').filter({ hasText: 'InvalidAccessError' })).toHaveCount(1);
    await expect(page.getByTestId('fig-ready-state')).toContainText('1 OPEN');

    await page.getByTestId('close-code').fill('4321');
    await page.getByTestId('close-reason').fill('see you later');
    await page.getByTestId('disconnect').click();
    const close = entries(page, 'close');
    await expect(close).toHaveCount(1, { timeout: 20_000 });
    await expect(close).toContainText('code 4321 · reason “see you later” · wasClean true');
    await expect(page.getByTestId('status')).toHaveText('Closed');
    await expect(page.getByTestId('fig-ready-state')).toContainText('3 CLOSED');
    await expect(page.getByTestId('connect')).toBeEnabled();
    await expect(page.getByTestId('send-text')).toBeDisabled();
    await expect(entries(page, 'error').filter({ hasText: 'error event' })).toHaveCount(0);
  });
}

const streamTransports = [
  {
    name: 'WebTransport',
    testId: 'transport-webtransport',
    status: 'polysocket WebSocketStream over WebTransport',
  },
  { name: 'the native WebSocketStream', testId: 'transport-native', status: 'native WebSocketStream' },
] as const;

for (const transport of streamTransports) {
  test(`WebSocketStream over ${transport.name}: connect, echo text, binary and a file through the writer, close with a code and a reason`, async ({
    page,
  }) => {
    await openDemo(page);
    await page.getByTestId(transport.testId).click();
    await page.getByTestId('api-stream').click();
    await expect(page.getByTestId('api-note')).toBeHidden();
    await page.getByTestId('connect').click();

    await expect(page.getByTestId('status')).toHaveText(`Open · ${transport.status}`, { timeout: 30_000 });
    // No readyState: the state its promises are in.
    await expect(page.getByTestId('fig-ready-state')).toHaveText('OPEN');
    await expect(entries(page, 'open')).toHaveCount(1);
    await expect(page.getByTestId('fig-protocol')).toHaveText('demo.v1');
    await expect(page.getByTestId('fig-extensions')).toContainText('permessage-deflate');
    await expect(page.locator('#fig-buffered-label')).toHaveText('write() pending');

    await page.getByTestId('text').fill('héllo from a WebSocketStream ✓');
    await page.getByTestId('text').press('Enter');
    await expect(entries(page, 'message').filter({ hasText: 'héllo from a WebSocketStream ✓' })).toHaveCount(
      1,
    );

    await page.getByTestId('size').fill('70000');
    await page.getByTestId('send-binary').click();
    const sent = entries(page, 'sent').filter({ hasText: '70000 random bytes' });
    await expect(sent).toHaveCount(1);
    const echoed = entries(page, 'message').filter({ hasText: '70000 bytes' });
    await expect(echoed).toHaveCount(1);
    expect(await echoed.locator('.preview').textContent()).toBe(await sent.locator('.preview').textContent());
    // Every write resolved: the transport took the bytes.
    await expect(page.getByTestId('fig-buffered')).toHaveText('0 B');

    // The writable takes no Blob: the file's bytes are written.
    await page.getByTestId('file').setInputFiles({
      name: 'demo.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(1234, 7),
    });
    await expect(entries(page, 'sent').filter({ hasText: 'demo.bin' })).toHaveCount(1);
    await expect(entries(page, 'message').filter({ hasText: '1234 bytes' })).toHaveCount(1);
    await expect(page.getByTestId('fig-rtt')).toHaveText(/^\d+(\.\d+)? ms$/, { timeout: 20_000 });

    await page.getByTestId('close-code').fill('1001');
    await page.getByTestId('disconnect').click();
    await expect(entries(page, 'error').filter({ hasText: 'InvalidAccessError' })).toHaveCount(1);
    await expect(page.getByTestId('fig-ready-state')).toHaveText('OPEN');

    await page.getByTestId('close-code').fill('4321');
    await page.getByTestId('close-reason').fill('see you later');
    await page.getByTestId('disconnect').click();
    await expect(
      entries(page, 'info').filter({ hasText: 'close({ closeCode: 4321, reason: "see you later" })' }),
    ).toHaveCount(1);
    const close = entries(page, 'close');
    await expect(close).toHaveCount(1, { timeout: 20_000 });
    await expect(close).toContainText('code 4321 · reason “see you later” · closed resolved');
    await expect(page.getByTestId('status')).toHaveText('Closed');
    await expect(page.getByTestId('fig-ready-state')).toHaveText('CLOSED');
    await expect(page.getByTestId('connect')).toBeEnabled();
    await expect(page.getByTestId('send-text')).toBeDisabled();
    await expect(entries(page, 'error').filter({ hasNotText: 'InvalidAccessError' })).toHaveCount(0);
  });
}

/**
 * A figure of the backpressure view, as a number (the view keeps them in
 * data attributes). A page busy with a flood on a loaded machine may take a
 * while to answer: more than the default action timeout.
 */
async function flood(page: Page, name: string): Promise<number> {
  return Number(await page.getByTestId('flood').getAttribute(`data-${name}`, { timeout: 60_000 }));
}

/** Open the flood room with a cap of `mib` MiB, the slow reader on, and connect (the page is open). */
async function startFlood(page: Page, transportId: string, api: 'api-stream' | 'api-websocket', mib: number) {
  await page.getByTestId(transportId).click();
  await page.getByTestId(api).click();
  await page.getByTestId('room-flood').click();
  await expect(page.getByTestId('flood')).toBeVisible();
  await page.getByTestId('url').fill(`${demo.config.server}/flood?bytes=${mib * 2 ** 20}`);
  await page.getByTestId('slow-reader').check();
  await page.getByTestId('connect').click();
  await expect(page.getByTestId('status')).toContainText('Open', { timeout: 30_000 });
}

/** Turn the slow reader off; then every message of the flood arrives, in order. */
async function drainFlood(page: Page, messages: number, mib: number): Promise<void> {
  await page.getByTestId('slow-reader').uncheck();
  await expect(page.getByTestId('flood')).toHaveAttribute('data-end-messages', String(messages), {
    timeout: 120_000,
  });
  expect(await flood(page, 'handled')).toBe(messages);
  await expect(page.getByTestId('flood')).toHaveAttribute('data-in-order', 'true');
  await expect(page.getByTestId('flood-order')).toHaveText('✓ in order');
  await expect(
    entries(page, 'message').filter({ hasText: `All ${messages} messages arrived, in order (${mib}.0 MiB)` }),
  ).toHaveCount(1);
  await expect(entries(page, 'error').filter({ hasText: /Out of order|The server sent/ })).toHaveCount(0);
  await expect(page.getByTestId('flood')).toHaveAttribute('data-server-state', 'done');
}

/** 16 KiB a message. */
const FLOOD_MESSAGES_PER_MIB = 64;
/**
 * The most a WebSocketStream's slow reader lets the server send: what the
 * buffers along the route hold is well below it (about 5 MiB with the
 * browser's own, 11 MiB through the gateway, in Chromium 150).
 */
const STALL_BOUND = 32 * 2 ** 20;

/**
 * WebSocketStream mode, the flood running with the slow reader on: the
 * server stalls, far from the cap; then, reading again, every message
 * arrives in order, and the connection closes cleanly.
 */
async function slowReaderStopsTheServer(page: Page, mib: number): Promise<void> {
  await expect(page.getByTestId('flood-reading')).toHaveText('paused');
  // The server's own figure: its socket has taken nothing for a while.
  await expect.poll(() => flood(page, 'server-stalled-ms'), { timeout: 30_000 }).toBeGreaterThanOrEqual(1500);
  await expect(page.getByTestId('flood-server-state')).toHaveText('stalled');
  const stalledAt = await flood(page, 'server-sent-bytes');
  // What the buffers along the route hold (TCP, the gateway, QUIC, the connection's 1 MiB): far from the cap.
  expect(stalledAt).toBeGreaterThan(0);
  expect(stalledAt).toBeLessThan(STALL_BOUND);
  expect(await flood(page, 'handled')).toBe(0);
  // Four more reports (a second): the sent count stands still.
  const reports = await flood(page, 'reports');
  await expect.poll(() => flood(page, 'reports')).toBeGreaterThanOrEqual(reports + 4);
  expect(await flood(page, 'server-sent-bytes')).toBe(stalledAt);
  expect(await clipped(page.locator('.flood-grid .value, .flood-grid .sub, .flood-head > *'))).toEqual([]);

  await drainFlood(page, mib * FLOOD_MESSAGES_PER_MIB, mib);
  await page.getByTestId('disconnect').click();
  await expect(entries(page, 'close').last()).toContainText('code 1000 · reason “bye” · closed resolved', {
    timeout: 20_000,
  });
}

for (const transport of streamTransports) {
  test(`WebSocketStream over ${transport.name}, flood room: a slow reader stops the server; reading again, every message arrives in order`, async ({
    page,
  }) => {
    test.setTimeout(180_000);
    await openDemo(page);
    await startFlood(page, transport.testId, 'api-stream', 48);
    await slowReaderStopsTheServer(page, 48);
  });
}

for (const transport of transports) {
  test(`WebSocket over ${transport.name}, flood room: a slow reader cannot stop the server: every message arrives and piles up in the page`, async ({
    page,
  }) => {
    test.setTimeout(180_000);
    // The bound a WebSocketStream's slow reader keeps the server under: here it sends all of it.
    const mib = STALL_BOUND / 2 ** 20;
    const messages = mib * FLOOD_MESSAGES_PER_MIB;
    await openDemo(page);
    await startFlood(page, transport.testId, 'api-websocket', mib);
    // The server sends everything, as fast as the messages are received: none of them handled.
    await expect(page.getByTestId('flood')).toHaveAttribute('data-server-state', 'done', { timeout: 60_000 });
    expect(await flood(page, 'server-sent')).toBe(messages);
    // Held: every flood message and the last one, the flood's end (and the pings' answers).
    await expect.poll(() => flood(page, 'backlog'), { timeout: 60_000 }).toBeGreaterThan(messages);
    expect(await flood(page, 'handled')).toBe(0);
    await expect(page.getByTestId('flood-reading')).toHaveText('piling up');
    await expect(page.locator('#flood-reading-sub')).toContainText(`${mib}.0 MiB held in page memory`);

    await drainFlood(page, messages, mib);
    expect(await flood(page, 'backlog')).toBe(0);
    await page.getByTestId('disconnect').click();
    await expect(entries(page, 'close')).toContainText('code 1000 · reason “bye” · wasClean true', {
      timeout: 20_000,
    });
  });
}

test('Direct Sockets shows as unavailable in a normal page', async ({ page }) => {
  await openDemo(page);
  const choice = page.getByTestId('transport-direct-sockets');
  await expect(choice.locator('input')).toBeDisabled();
  await expect(choice).toHaveClass(/unavailable/);
  await expect(page.getByTestId('direct-sockets-note')).toBeVisible();
  await expect(page.getByTestId('direct-sockets-note')).toContainText('Isolated Web Apps');
  // Where the installed app is found.
  await expect(page.getByTestId('direct-sockets-note')).toContainText('chrome://apps');
  // The two others are available; WebTransport is the default.
  await expect(page.getByTestId('transport-webtransport').locator('input')).toBeChecked();
  await expect(page.getByTestId('transport-native').locator('input')).toBeEnabled();
  await expect(page.getByTestId('connect')).toBeEnabled();
});

/** The log's hints (what to do about a failure). */
const hints = (page: Page): Locator => page.locator('#log .entry .hint');

/**
 * Elements whose text does not fit their box (scrollWidth > clientWidth),
 * described; empty if every one fits.
 */
async function clipped(locator: Locator): Promise<string[]> {
  return locator.evaluateAll((elements) =>
    elements
      .filter((element) => element.scrollWidth > element.clientWidth + 1)
      .map(
        (element) =>
          `${element.className}: “${element.textContent?.trim()}” ${element.scrollWidth} > ${element.clientWidth}`,
      ),
  );
}

test('a target the gateway does not allow: the gateway’s 403 as the reason, and the allow-list hint in full', async ({
  page,
}) => {
  // The width where the hint used to be cut off.
  await page.setViewportSize({ width: 1400, height: 900 });
  await openDemo(page);
  await page.getByTestId('url').fill('ws://127.0.0.1:8/echo');
  await page.getByTestId('connect').click();
  const error = entries(page, 'error');
  await expect(error).toHaveCount(1, { timeout: 30_000 });
  await expect(error.locator('.detail')).toContainText(
    `WebSocket connection to 'ws://127.0.0.1:8/echo' failed: gateway ${demo.config.gateway} refused 127.0.0.1:8: 403 target not allowed`,
  );
  await expect(error.locator('.preview')).toHaveText(
    /kind transport · close code 1006 · cause .*GatewayError/,
  );
  const hint = error.locator('.hint');
  await expect(hint).toHaveText(
    `The demo’s gateway allow-lists only ${new URL(demo.config.server).host} (the demo server). ` +
      'Use that server’s URL, or pick the native WebSocket to reach another server.',
  );
  await expect(hint).toBeInViewport({ ratio: 1 });
  expect(await clipped(page.locator('#log .entry').locator('.detail, .preview, .hint'))).toEqual([]);
  const close = entries(page, 'close');
  await expect(close).toContainText('code 1006 · wasClean false');
  await expect(close.locator('.hint')).toHaveCount(0);
  await expect(hints(page)).toHaveCount(1);
  await expect(page.getByTestId('status')).toHaveText('Closed');
  await expect(entries(page, 'open')).toHaveCount(0);
});

test('a wss: URL over WebTransport to a server without TLS: polysocket’s own reason, and no allow-list hint', async ({
  page,
}) => {
  await openDemo(page);
  // The plain server's address: the gateway's TLS handshake with it fails.
  const url = `wss://${new URL(demo.config.server).host}/echo`;
  await page.getByTestId('url').fill(url);
  await page.getByTestId('connect').click();
  const error = entries(page, 'error');
  await expect(error).toHaveCount(1, { timeout: 30_000 });
  await expect(error.locator('.detail')).toContainText(`WebSocket connection to '${url}' failed:`);
  await expect(error.locator('.detail')).toContainText(
    'the TLS handshake with the server failed: 502 tls-handshake-failed',
  );
  await expect(error.locator('.preview')).toContainText('kind transport · close code 1006');
  await expect(entries(page, 'close')).toContainText('code 1006 · wasClean false');
  await expect(hints(page)).toHaveCount(0);
  await expect(page.locator('#log')).not.toContainText('allow-lists');
});

test('a relative URL: the log shows the URL it resolved to', async ({ page }) => {
  await openDemo(page);
  await page.getByTestId('url').fill('echo');
  const resolved = `ws://${new URL(demo.url).host}/echo`;
  // The route resolves it the same way before connecting.
  await expect(page.getByTestId('route')).toContainText(new URL(demo.url).host);
  await page.getByTestId('connect').click();
  const connecting = entries(page, 'info').filter({ hasText: 'Connecting to' });
  await expect(connecting).toContainText(`Connecting to ${resolved} (resolved from “echo”) with the`);
  // The page's own server is not the demo server: the gateway refuses it.
  await expect(entries(page, 'error')).toContainText(`WebSocket connection to '${resolved}' failed`, {
    timeout: 30_000,
  });
});

for (const width of [390, 768, 1400]) {
  test(`at ${width} px: the route, the round-trip figure and the composer neither overlap nor clip`, async ({
    page,
  }) => {
    await page.setViewportSize({ width, height: 844 });
    await openDemo(page);
    await page.getByTestId('connect').click();
    await expect(page.getByTestId('status')).toContainText('Open', { timeout: 30_000 });
    // Two round trips draw the sparkline.
    await expect(page.getByTestId('fig-rtt-stats')).toHaveText(/· ([2-9]|\d\d+) pings/, { timeout: 20_000 });
    await expect(page.locator('#spark-line')).not.toHaveAttribute('points', '');

    const layout = await page.evaluate(() => {
      type Box = { name: string; rect: DOMRect };
      const box = (name: string, target: Element | Range): Box => ({
        name,
        rect: target.getBoundingClientRect(),
      });
      const text = (element: Element): Range => {
        const range = document.createRange();
        range.selectNodeContents(element);
        return range;
      };
      const overlaps = (boxes: Box[]): string[] => {
        const found: string[] = [];
        for (const [i, a] of boxes.entries()) {
          for (const b of boxes.slice(i + 1)) {
            const x = Math.min(a.rect.right, b.rect.right) - Math.max(a.rect.left, b.rect.left);
            const y = Math.min(a.rect.bottom, b.rect.bottom) - Math.max(a.rect.top, b.rect.top);
            if (x > 0.5 && y > 0.5) found.push(`${a.name} overlaps ${b.name}`);
          }
        }
        return found;
      };
      const route = document.getElementById('route')!;
      const hops = Array.from(route.querySelectorAll('.hop')).map((hop, i) =>
        box(`hop ${i} (${hop.textContent})`, hop),
      );
      // The labels' text, not their list items: a label wider than its item overflows it.
      const labels = Array.from(route.querySelectorAll('.link')).map((link) =>
        box(`label “${link.textContent}”`, text(link)),
      );
      const rtt = document.querySelector('.figure.rtt')!;
      const figure = [
        box('sparkline', document.getElementById('spark')!),
        ...Array.from(rtt.children)
          .filter((child) => child.id !== 'spark')
          .map((child) => box(`“${child.textContent}”`, text(child))),
      ];
      const composer = Array.from(document.querySelectorAll('.composer-row:first-child > *')).map((element) =>
        box(element.id || element.className, element),
      );
      const textarea = document.getElementById('text') as HTMLTextAreaElement;
      const style = getComputedStyle(textarea);
      const canvas = document.createElement('canvas').getContext('2d')!;
      canvas.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const room =
        textarea.clientWidth - Number.parseFloat(style.paddingLeft) - Number.parseFloat(style.paddingRight);
      return {
        overlaps: [...overlaps([...hops, ...labels]), ...overlaps(figure), ...overlaps(composer)],
        routeOverflow: route.scrollWidth - route.clientWidth,
        pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        placeholder: textarea.placeholder,
        placeholderFits: canvas.measureText(textarea.placeholder).width <= room,
      };
    });
    expect(layout.overlaps).toEqual([]);
    expect(layout.routeOverflow).toBeLessThanOrEqual(0);
    expect(layout.pageOverflow).toBeLessThanOrEqual(0);
    expect(layout.placeholder).toMatch(/message/i);
    expect(layout.placeholderFits).toBe(true);
    expect(
      await clipped(
        page.locator('#route li, .hop, .figure .label, .figure .value, .figure .sub, .pair, #text'),
      ),
    ).toEqual([]);

    // A failure's reason and hint wrap at this width too.
    await page.getByTestId('disconnect').click();
    await expect(page.getByTestId('status')).toHaveText('Closed');
    await page.getByTestId('url').fill('ws://127.0.0.1:8/echo');
    await page.getByTestId('connect').click();
    await expect(hints(page)).toHaveCount(1, { timeout: 30_000 });
    expect(await clipped(page.locator('#log .entry').locator('.detail, .preview, .hint'))).toEqual([]);

    // The API switch, the flood room and its backpressure view fit this width too.
    await page.getByTestId('api-stream').click();
    await page.getByTestId('room-flood').click();
    await expect(page.getByTestId('flood')).toBeVisible();
    expect(
      await clipped(page.locator('.segmented span, .flood-head > *, .flood-grid .label, .flood-grid .value')),
    ).toEqual([]);
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
    ).toBeLessThanOrEqual(0);
  });
}

test('installed as an Isolated Web App: without the permission, the page says how to grant it; with it, Direct Sockets echoes with either API, and a slow reader stops the flood', async () => {
  test.setTimeout(180_000);
  // The same page, served by the same server, installed as a dev-mode IWA (a browser of its own).
  const iwa = await launchIwa(demo.url);
  try {
    const page = await iwa.context.newPage();
    // Right after the install the first navigation may still fail (as in direct-sockets.spec.ts): retried.
    for (let attempt = 1; ; attempt++) {
      try {
        await openDemo(page, `${iwa.origin}/`);
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        await page.waitForTimeout(1000);
      }
    }
    const choice = page.getByTestId('transport-direct-sockets');
    await expect(choice.locator('input')).toBeEnabled();
    await expect(page.getByTestId('direct-sockets-note')).toBeHidden();
    await choice.click();

    // Without the permission (headless Chromium cannot ask), Chromium blocks the connection.
    await iwa.context.clearPermissions();
    await page.getByTestId('connect').click();
    const error = entries(page, 'error');
    await expect(error).toHaveCount(1, { timeout: 30_000 });
    await expect(error.locator('.detail')).toContainText('Access to local network is blocked');
    await expect(error.locator('.hint')).toContainText('“Apps on device” permission');
    await expect(error.locator('.hint')).toContainText(
      `chrome://settings/content/siteDetails?site=${encodeURIComponent(iwa.origin)}`,
    );
    await expect(entries(page, 'close')).toContainText('code 1006 · wasClean false');

    await iwa.context.grantPermissions(['local-network-access']);
    await page.getByTestId('connect').click();
    await expect(page.getByTestId('status')).toHaveText('Open · polysocket over Direct Sockets', {
      timeout: 30_000,
    });
    await page.getByTestId('text').fill('straight over TCP');
    await page.getByTestId('text').press('Enter');
    await expect(entries(page, 'message').filter({ hasText: 'straight over TCP' })).toHaveCount(1);
    await page.getByTestId('size').fill('70000');
    await page.getByTestId('send-binary').click();
    await expect(entries(page, 'message').filter({ hasText: '70000 bytes' })).toHaveCount(1);
    await page.getByTestId('close-code').fill('4000');
    await page.getByTestId('disconnect').click();
    await expect(entries(page, 'close').nth(1)).toContainText('code 4000 · reason “bye” · wasClean true', {
      timeout: 20_000,
    });

    // polysocket's WebSocketStream over the same transport.
    await page.getByTestId('api-stream').click();
    await page.getByTestId('connect').click();
    await expect(page.getByTestId('status')).toHaveText(
      'Open · polysocket WebSocketStream over Direct Sockets',
      { timeout: 30_000 },
    );
    await page.getByTestId('text').fill('a stream over TCP');
    await page.getByTestId('text').press('Enter');
    await expect(entries(page, 'message').filter({ hasText: 'a stream over TCP' })).toHaveCount(1);
    await page.getByTestId('send-binary').click();
    await expect(entries(page, 'message').filter({ hasText: '70000 bytes' })).toHaveCount(2);
    await page.getByTestId('disconnect').click();
    await expect(entries(page, 'close').nth(2)).toContainText('code 4000 · reason “bye” · closed resolved', {
      timeout: 20_000,
    });

    // Backpressure over Direct Sockets: the slow reader stops the server through TCP's flow control.
    await page.getByTestId('close-code').fill('1000');
    await startFlood(page, 'transport-direct-sockets', 'api-stream', 48);
    await slowReaderStopsTheServer(page, 48);
  } finally {
    await iwa.close();
  }
});

test('chat between two tabs: one over WebTransport, one with the native WebSocket', async ({ context }) => {
  const [first, second] = [await context.newPage(), await context.newPage()];
  const join = async (page: Page, testId: string) => {
    await openDemo(page);
    await page.getByTestId(testId).click();
    await page.getByTestId('room-chat').click();
    await expect(page.getByTestId('url')).toHaveValue(`${demo.config.server}/chat`);
    await page.getByTestId('connect').click();
    await expect(page.getByTestId('status')).toContainText('Open', { timeout: 30_000 });
    await expect(entries(page, 'message').filter({ hasText: 'Joined the chat as guest-' })).toHaveCount(1);
  };
  await join(first, 'transport-webtransport');
  await join(second, 'transport-native');
  await expect(entries(first, 'message').filter({ hasText: /guest-\d+ joined · 2 in the room/ })).toHaveCount(
    1,
  );

  await first.getByTestId('text').fill('hi from WebTransport');
  await first.getByTestId('text').press('Enter');
  await expect(entries(second, 'message').filter({ hasText: 'hi from WebTransport' })).toHaveCount(1);
  await expect(entries(first, 'message').filter({ hasText: 'hi from WebTransport' })).toContainText('you');

  await second.getByTestId('text').fill('hi from the native WebSocket');
  await second.getByTestId('text').press('Enter');
  await expect(entries(first, 'message').filter({ hasText: 'hi from the native WebSocket' })).toHaveCount(1);

  await second.getByTestId('disconnect').click();
  await expect(entries(second, 'close')).toContainText('code 1000 · reason “bye” · wasClean true');
  await expect(entries(first, 'message').filter({ hasText: /guest-\d+ left · 1 in the room/ })).toHaveCount(
    1,
  );
  await first.getByTestId('disconnect').click();
  await expect(entries(first, 'close')).toContainText('wasClean true');
});

test('over WebTransport to a wss:// URL: the gateway makes the TLS connection, and the demo echoes', async ({
  page,
}) => {
  await openDemo(page);
  await page.getByTestId('transport-webtransport').click();
  await page.getByTestId('url').fill(`${demo.config.secureServer}/echo`);
  await page.getByTestId('connect').click();
  await expect(page.getByTestId('status')).toHaveText('Open · polysocket over WebTransport', {
    timeout: 30_000,
  });
  await page.getByTestId('text').fill('over the gateway’s TLS ✓');
  await page.getByTestId('text').press('Enter');
  await expect(entries(page, 'message').filter({ hasText: 'over the gateway’s TLS ✓' })).toHaveCount(1);
  await page.getByTestId('close-code').fill('4000');
  await page.getByTestId('close-reason').fill('bye');
  await page.getByTestId('disconnect').click();
  await expect(entries(page, 'close')).toContainText('code 4000 · reason “bye” · wasClean true', {
    timeout: 20_000,
  });
});
