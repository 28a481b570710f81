/**
 * polysocket's WebSocket over Direct Sockets (`TCPSocket`) in a dev-mode
 * Isolated Web App (support/iwa.ts), straight to real WebSocket servers on
 * 127.0.0.1 (no gateway): the `ws` server of the global setup and the
 * parity server (permessage-deflate). The app runs in a Chromium of its own
 * (a persistent context with a fresh profile), launched once for this file.
 * The callbacks of `page.evaluate()` run in the app.
 */
import { test as base, expect, type Page } from '@playwright/test';
import { type E2eEnv, e2eEnv } from './support/env.js';
import {
  bundleIwaPage,
  type IwaDevServer,
  launchIwa,
  type RunningIwa,
  startIwaDevServer,
} from './support/iwa.js';

// The app's Chromium runs for this file only: launched before its first
// test, closed after its last (also after a failure restarted the worker).
let iwa: RunningIwa | undefined;
let dev: IwaDevServer | undefined;

base.beforeAll(async () => {
  base.setTimeout(240_000);
  dev = await startIwaDevServer(await bundleIwaPage());
  iwa = await launchIwa(dev.url);
});

base.afterAll(async () => {
  await iwa?.close();
  await dev?.close();
  iwa = dev = undefined;
});

const test = base.extend<{ env: E2eEnv; page: Page }>({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  env: async ({}, use) => {
    await use(e2eEnv());
  },
  // A tab of the app (not the other specs' browser).
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  page: async ({}, use) => {
    if (iwa === undefined) throw new Error('the Isolated Web App is not running');
    const app = iwa;
    const page = await app.context.newPage();
    page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
    // Right after the install the first navigation may still fail: retried.
    for (let attempt = 1; ; attempt++) {
      try {
        await page.goto(`${app.origin}/`, { timeout: 20_000 });
        await page.waitForFunction(() => window.iwaReady === true, undefined, { timeout: 20_000 });
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        await page.waitForTimeout(1000);
      }
    }
    expect(
      await page.evaluate(() => ({
        isolated: crossOriginIsolated,
        tcp: typeof (globalThis as { TCPSocket?: unknown }).TCPSocket,
      })),
    ).toEqual({ isolated: true, tcp: 'function' });
    await use(page);
    await page.close();
  },
});

test.describe('WebSocket over Direct Sockets in an Isolated Web App', () => {
  test('echoes text and binary messages; events in order', async ({ page, env }) => {
    const url = `ws://127.0.0.1:${env.wsPort}/echo`;
    const result = await page.evaluate(async (url) => {
      const socket = window.e2eDirectSockets.connect(url);
      const { ws } = socket;
      const states = [ws.readyState];
      await socket.opened();
      states.push(ws.readyState);
      ws.binaryType = 'arraybuffer';
      ws.send('héllo, wörld ✓');
      ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
      ws.send(new Blob(['blob ', new Uint8Array([0x62, 0x79, 0x74, 0x65, 0x73])]));
      ws.send(new Uint8Array([]).buffer);
      ws.send('');
      const text = await socket.message(0);
      const binary = (await socket.message(1)) as ArrayBuffer;
      const blob = (await socket.message(2)) as ArrayBuffer;
      const empty = (await socket.message(3)) as ArrayBuffer;
      const emptyText = await socket.message(4);
      ws.close();
      const close = await socket.closed;
      return {
        states,
        text,
        binary: [...new Uint8Array(binary)],
        blob: new TextDecoder().decode(blob),
        emptyLength: empty.byteLength,
        emptyText,
        close,
        events: socket.events,
        bufferedAmount: ws.bufferedAmount,
        url: ws.url,
        extensions: ws.extensions,
      };
    }, url);
    expect(result.states).toEqual([0, 1]);
    expect(result.text).toBe('héllo, wörld ✓');
    expect(result.binary).toEqual([0, 1, 2, 253, 254, 255]);
    expect(result.blob).toBe('blob bytes');
    expect(result.emptyLength).toBe(0);
    expect(result.emptyText).toBe('');
    expect(result.close).toEqual({ code: 1005, reason: '', wasClean: true });
    expect(result.events).toEqual([
      'open:1',
      'message',
      'message',
      'message',
      'message',
      'message',
      'close:3',
    ]);
    expect(result.bufferedAmount).toBe(0);
    expect(result.url).toBe(url);
    expect(result.extensions).toBe(''); // this ws server has no permessage-deflate
  });

  test('large messages: 4 MiB binary and 3 MB text, cut by the transport into writes Chromium 156 delivers', async ({
    page,
    env,
  }) => {
    test.slow();
    const result = await page.evaluate(async (url) => {
      const socket = window.e2eDirectSockets.connect(url);
      const { ws } = socket;
      ws.binaryType = 'arraybuffer';
      await socket.opened();
      // An odd size: no chunk boundary lines up by chance. The transport
      // writes it in pieces of at most 60000 bytes (maxWriteSize).
      const large = window.e2e.randomBytes(4 * 2 ** 20 + 7);
      // A burst of frames just over 64 KiB each, written one after another.
      const burst = Array.from({ length: 16 }, (_, i) => window.e2e.randomBytes(65_529 + 997 * i));
      const text = 'ab€'.repeat(600_000); // 3 MB of UTF-8
      ws.send(large);
      const bufferedWhileSending = ws.bufferedAmount;
      for (const bytes of burst) ws.send(bytes);
      ws.send(text);
      const same = [window.e2e.sameBytes(large, (await socket.message(0)) as ArrayBuffer)];
      for (const [i, bytes] of burst.entries()) {
        same.push(window.e2e.sameBytes(bytes, (await socket.message(i + 1)) as ArrayBuffer));
      }
      const sameText = (await socket.message(burst.length + 1)) === text;
      const bufferedAfter = ws.bufferedAmount;
      ws.close(1000);
      return { bufferedWhileSending, same, sameText, bufferedAfter, close: await socket.closed };
    }, `ws://127.0.0.1:${env.wsPort}/echo`);
    expect(result.bufferedWhileSending).toBe(4 * 2 ** 20 + 7);
    expect(result.same).toEqual(Array(17).fill(true));
    expect(result.sameText).toBe(true);
    expect(result.bufferedAfter).toBe(0);
    expect(result.close).toEqual({ code: 1000, reason: '', wasClean: true });
  });

  test('permessage-deflate against a server that supports it: compressed messages round-trip', async ({
    page,
    env,
  }) => {
    const result = await page.evaluate(async (url) => {
      const socket = window.e2eDirectSockets.connect(url);
      const { ws } = socket;
      await socket.opened();
      const text = 'compress me '.repeat(20_000);
      ws.send(text);
      const echoed = await socket.message(0);
      ws.close(3000, 'done');
      return { extensions: ws.extensions, same: echoed === text, close: await socket.closed };
    }, `ws://127.0.0.1:${env.parityPort}/echo`);
    expect(result.extensions).toBe('permessage-deflate');
    expect(result.same).toBe(true);
    expect(result.close).toEqual({ code: 3000, reason: 'done', wasClean: true });
  });

  test('the client closes with a code and reason', async ({ page, env }) => {
    const result = await page.evaluate(async (url) => {
      const socket = window.e2eDirectSockets.connect(url);
      await socket.opened();
      socket.ws.close(4000, 'client says bye ✓');
      const closing = socket.ws.readyState;
      return { closing, close: await socket.closed, events: socket.events };
    }, `ws://127.0.0.1:${env.wsPort}/echo`);
    expect(result.closing).toBe(2);
    expect(result.close).toEqual({ code: 4000, reason: 'client says bye ✓', wasClean: true });
    expect(result.events).toEqual(['open:1', 'close:3']);
  });

  test('the server closes with a code and reason', async ({ page, env }) => {
    const result = await page.evaluate(async (url) => {
      const socket = window.e2eDirectSockets.connect(url);
      return { close: await socket.closed, events: socket.events };
    }, `ws://127.0.0.1:${env.wsPort}/close?code=4001&reason=server+says+bye`);
    expect(result.close).toEqual({ code: 4001, reason: 'server says bye', wasClean: true });
    expect(result.events).toEqual(['open:1', 'close:3']);
  });

  test('the target refuses the connection: error, then close 1006', async ({ page, env }) => {
    const result = await page.evaluate(async (url) => {
      const socket = window.e2eDirectSockets.connect(url);
      return { close: await socket.closed, events: socket.events };
    }, `ws://127.0.0.1:${env.refusedPort}/`);
    expect(result.events).toEqual(['error:3', 'close:3']);
    expect(result.close).toEqual({ code: 1006, reason: '', wasClean: false });
  });

  test('a wss: URL fails at once (Direct Sockets has no TLS): error, then close 1006', async ({
    page,
    env,
  }) => {
    const result = await page.evaluate(async (url) => {
      const socket = window.e2eDirectSockets.connect(url);
      return { close: await socket.closed, events: socket.events };
    }, `wss://127.0.0.1:${env.wsPort}/echo`);
    expect(result.events).toEqual(['error:3', 'close:3']);
    expect(result.close).toEqual({ code: 1006, reason: '', wasClean: false });
  });
});
