/**
 * polysocket's WebSocket over chrome.sockets.tcp in a real Chrome App
 * (support/chrome-app.ts), straight to real WebSocket servers on 127.0.0.1:
 * the `ws` server and the Python `websockets` server of the global setup.
 * The app runs in a Chromium of its own, launched once for this file; the
 * callbacks of `app.evaluate()` run in the app's background page.
 */
import { test as base, expect } from '@playwright/test';
import { bundleChromeAppScript, launchChromeApp, type RunningChromeApp } from './support/chrome-app.js';
import { type E2eEnv, e2eEnv } from './support/env.js';
import './support/page-api-chrome-app.js';

// The app's Chromium runs for this file only: launched before its first
// test, closed after its last (also after a failure restarted the worker).
let running: RunningChromeApp | undefined;

base.beforeAll(async () => {
  base.setTimeout(240_000);
  running = await launchChromeApp(await bundleChromeAppScript());
});

base.afterAll(async () => {
  await running?.close();
  running = undefined;
});

const test = base.extend<{ env: E2eEnv; app: RunningChromeApp }>({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  env: async ({}, use) => {
    await use(e2eEnv());
  },
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  app: async ({}, use) => {
    if (running === undefined) throw new Error('the Chrome App is not running');
    await use(running);
  },
});

test.describe('WebSocket over chrome.sockets.tcp in a Chrome App', () => {
  test('the app is a Chrome App with chrome.sockets.tcp', async ({ app }) => {
    expect(app.origin).toMatch(/^chrome-extension:\/\/[a-p]{32}$/);
    const api = await app.evaluate(
      () => ({
        tcp: typeof (globalThis as { chrome?: { sockets?: { tcp?: unknown } } }).chrome?.sockets?.tcp,
        websocket: typeof window.polysocket.WebSocket,
      }),
      null,
    );
    expect(api).toEqual({ tcp: 'object', websocket: 'function' });
  });

  for (const server of ['ws', 'python'] as const) {
    const port = (env: E2eEnv) => (server === 'ws' ? env.wsPort : env.pythonPort);

    test(`${server}: echoes text and binary messages, one of them over 1 MiB; events in order`, async ({
      app,
      env,
    }) => {
      test.slow();
      const url = `ws://127.0.0.1:${port(env)}/echo`;
      const result = await app.evaluate(async (url) => {
        const socket = window.e2eChromeSockets.connect(url);
        const { ws } = socket;
        const states = [ws.readyState];
        await socket.opened();
        states.push(ws.readyState);
        ws.binaryType = 'arraybuffer';
        // Odd sizes: no read or write boundary lines up by chance.
        const large = window.e2e.randomBytes(1.5 * 2 ** 20 + 3);
        const text = 'héllo, wörld ✓ '.repeat(80_000); // 1.4 MB of UTF-8
        ws.send('héllo, wörld ✓');
        ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
        ws.send(large);
        const bufferedWhileSending = ws.bufferedAmount;
        ws.send(text);
        ws.send(new Uint8Array([]).buffer);
        const small = await socket.message(0);
        const binary = [...new Uint8Array((await socket.message(1)) as ArrayBuffer)];
        const sameLarge = window.e2e.sameBytes(large, (await socket.message(2)) as ArrayBuffer);
        const sameText = (await socket.message(3)) === text;
        const empty = ((await socket.message(4)) as ArrayBuffer).byteLength;
        ws.close(1000, 'done');
        const close = await socket.closed;
        return {
          states,
          small,
          binary,
          sameLarge,
          sameText,
          empty,
          bufferedWhileSending,
          bufferedAfter: ws.bufferedAmount,
          close,
          events: socket.events,
          url: ws.url,
        };
      }, url);
      expect(result.states).toEqual([0, 1]);
      expect(result.small).toBe('héllo, wörld ✓');
      expect(result.binary).toEqual([0, 1, 2, 253, 254, 255]);
      expect(result.sameLarge).toBe(true);
      expect(result.sameText).toBe(true);
      expect(result.empty).toBe(0);
      expect(result.bufferedWhileSending).toBeGreaterThan(2 ** 20);
      expect(result.bufferedAfter).toBe(0);
      expect(result.close).toEqual({ code: 1000, reason: 'done', wasClean: true });
      expect(result.events).toEqual(['open:1', ...Array(5).fill('message'), 'close:3']);
      expect(result.url).toBe(url);
    });

    test(`${server}: the server closes with a code and reason`, async ({ app, env }) => {
      const result = await app.evaluate(
        async (url) => {
          const socket = window.e2eChromeSockets.connect(url);
          return { close: await socket.closed, events: socket.events };
        },
        `ws://127.0.0.1:${port(env)}/close?code=4001&reason=server+says+bye`,
      );
      expect(result.close).toEqual({ code: 4001, reason: 'server says bye', wasClean: true });
      expect(result.events).toEqual(['open:1', 'close:3']);
    });

    test(`${server}: the client closes with a code and reason`, async ({ app, env }) => {
      const result = await app.evaluate(
        async (url) => {
          const socket = window.e2eChromeSockets.connect(url);
          await socket.opened();
          socket.ws.close(4000, 'client says bye ✓');
          const closing = socket.ws.readyState;
          return { closing, close: await socket.closed, events: socket.events };
        },
        `ws://127.0.0.1:${port(env)}/echo`,
      );
      expect(result.closing).toBe(2);
      expect(result.close).toEqual({ code: 4000, reason: 'client says bye ✓', wasClean: true });
      expect(result.events).toEqual(['open:1', 'close:3']);
    });
  }

  test('the target refuses the connection: error, then close 1006', async ({ app, env }) => {
    const result = await app.evaluate(async (url) => {
      const socket = window.e2eChromeSockets.connect(url);
      return { close: await socket.closed, events: socket.events };
    }, `ws://127.0.0.1:${env.refusedPort}/`);
    expect(result.events).toEqual(['error:3', 'close:3']);
    expect(result.close).toEqual({ code: 1006, reason: '', wasClean: false });
  });

  test('closed while connecting: close 1006, and the socket is let go', async ({ app, env }) => {
    const result = await app.evaluate(async (url) => {
      const socket = window.e2eChromeSockets.connect(url);
      socket.ws.close();
      return { close: await socket.closed, events: socket.events };
    }, `ws://127.0.0.1:${env.wsPort}/echo`);
    expect(result.close).toEqual({ code: 1006, reason: '', wasClean: false });
    expect(result.events).toEqual(['error:3', 'close:3']);
  });

  test('a busy page while 6 MiB arrive: reading pauses and resumes, nothing is lost', async ({
    app,
    env,
  }) => {
    test.slow();
    const result = await app.evaluate(async (url) => {
      // Record the transport's setPaused() calls.
      const tcp = (
        globalThis as unknown as {
          chrome: {
            sockets: { tcp: { setPaused(id: number, paused: boolean, callback?: () => void): void } };
          };
        }
      ).chrome.sockets.tcp;
      const setPaused = tcp.setPaused;
      const pauses: boolean[] = [];
      tcp.setPaused = (id, paused, callback) => {
        pauses.push(paused);
        setPaused.call(tcp, id, paused, callback);
      };
      const socket = window.e2eChromeSockets.connect(url);
      const { ws } = socket;
      ws.binaryType = 'arraybuffer';
      await socket.opened();
      const large = window.e2e.randomBytes(6 * 2 ** 20 + 1);
      ws.send(large);
      // Keep the event loop busy while the echo streams in: Chrome queues
      // onReceive events, and the transport pauses the socket.
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // busy
      }
      const same = window.e2e.sameBytes(large, (await socket.message(0)) as ArrayBuffer);
      ws.close();
      const close = await socket.closed;
      tcp.setPaused = setPaused;
      return { same, close, pauses };
    }, `ws://127.0.0.1:${env.wsPort}/echo`);
    expect(result.same).toBe(true);
    expect(result.close.wasClean).toBe(true);
    expect(result.pauses).toContain(true);
    expect(result.pauses.at(-1)).toBe(false); // resumed
  });

  test('every socket of the app is closed once its WebSocket closed', async ({ app, env }) => {
    const result = await app.evaluate(async (url) => {
      const sockets = [1, 2, 3].map(() => window.e2eChromeSockets.connect(url));
      await Promise.all(sockets.map((socket) => socket.opened()));
      for (const socket of sockets) socket.ws.close();
      await Promise.all(sockets.map((socket) => socket.closed));
      // Every socket of the app: closed ones are gone from getSockets().
      const tcp = (
        globalThis as unknown as {
          chrome: { sockets: { tcp: { getSockets(callback: (infos: unknown[]) => void): void } } };
        }
      ).chrome.sockets.tcp;
      const open = await new Promise<unknown[]>((resolve) => tcp.getSockets(resolve));
      return { open: open.length };
    }, `ws://127.0.0.1:${env.wsPort}/echo`);
    expect(result.open).toBe(0);
  });

  // Last: what the tests above made the app log.
  test('nothing was logged: no unchecked chrome.runtime.lastError, no uncaught error', async ({ app }) => {
    expect(app.messages).toEqual([]);
  });
});
