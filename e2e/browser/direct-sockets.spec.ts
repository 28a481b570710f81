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
import { type SlowTcpSink, startSlowTcpSink } from './support/slow-tcp-sink.js';

// The app's Chromium runs for this file only: launched before its first
// test, closed after its last (also after a failure restarted the worker).
let iwa: RunningIwa | undefined;
let dev: IwaDevServer | undefined;
let sink: SlowTcpSink | undefined;

base.beforeAll(async () => {
  base.setTimeout(240_000);
  dev = await startIwaDevServer(await bundleIwaPage());
  iwa = await launchIwa(dev.url);
  sink = await startSlowTcpSink();
});

base.afterAll(async () => {
  await iwa?.close();
  await dev?.close();
  await sink?.stop();
  iwa = dev = sink = undefined;
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

  test('large messages: 4 MiB binary and 3 MB text, and a burst of frames just over 64 KiB', async ({
    page,
    env,
  }) => {
    test.slow();
    const result = await page.evaluate(async (url) => {
      const socket = window.e2eDirectSockets.connect(url);
      const { ws } = socket;
      ws.binaryType = 'arraybuffer';
      await socket.opened();
      // An odd size: no chunk boundary lines up by chance.
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

  test('large messages sent as an upload loop does (frame arrays reused once written) all arrive intact', async ({
    page,
    env,
  }) => {
    test.slow();
    const same = await page.evaluate(async (url) => {
      const socket = window.e2eDirectSockets.connect(url);
      const { ws } = socket;
      ws.binaryType = 'arraybuffer';
      await socket.opened();
      const sent: Uint8Array[] = [];
      // Bounded: 24 messages, each waiting for the backlog to drain below 2 MiB.
      for (let i = 0; i < 24; i++) {
        while (ws.bufferedAmount > 2 * 2 ** 20) await new Promise((resolve) => setTimeout(resolve, 0));
        const bytes = window.e2e.randomBytes([200_000, 2 ** 20, 500_000][i % 3]! + i);
        sent.push(bytes);
        ws.send(bytes);
      }
      const results: boolean[] = [];
      for (const [i, bytes] of sent.entries()) {
        results.push(window.e2e.sameBytes(bytes, (await socket.message(i)) as ArrayBuffer));
      }
      ws.close(1000);
      await socket.closed;
      return results;
    }, `ws://127.0.0.1:${env.wsPort}/echo`);
    expect(same).toEqual(Array(24).fill(true));
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

  // Chromium 150 drops a TCPSocket write that starts while the socket's
  // 64 KiB data pipe is full: it resolves, and its bytes are never sent.
  // This control shows the bug is still there (raw TCPSocket, no
  // polysocket): 1-byte writes to a peer that is not reading fill the pipe
  // to the byte, and every write after that is lost. If it fails, Chromium
  // changed: re-measure before touching the transport's workaround.
  test('control: raw TCPSocket writes into a full pipe resolve and are lost (Chromium 150)', async ({
    page,
  }) => {
    test.setTimeout(90_000);
    const total = 150_000;
    const delivered = sink!.next(total, 5000);
    const written = await page.evaluate(
      async ({ port, total }) => {
        const { TCPSocket } = globalThis as unknown as {
          TCPSocket: new (
            host: string,
            port: number,
            options: { sendBufferSize: number },
          ) => { opened: Promise<{ writable: WritableStream<Uint8Array> }>; close(): Promise<void> };
        };
        // A small kernel send buffer: the pipe fills after ~70 KB.
        const socket = new TCPSocket('127.0.0.1', port, { sendBufferSize: 4096 });
        (globalThis as unknown as { keepSocket: unknown }).keepSocket = socket;
        const { writable } = await socket.opened;
        const writer = writable.getWriter();
        const bytes = Uint8Array.from({ length: total }, (_, i) => i % 251);
        let resolved = 0;
        const writes: Promise<void>[] = [];
        for (let i = 0; i < total; i++) {
          writes.push(
            writer.write(bytes.subarray(i, i + 1)).then(() => {
              resolved++;
            }),
          );
        }
        await Promise.all(writes);
        return { resolved };
      },
      { port: sink!.port, total },
    );
    const result = await delivered;
    await page.evaluate(() => {
      const socket = (globalThis as unknown as { keepSocket?: { close(): Promise<void> } }).keepSocket;
      return socket?.close().catch(() => {});
    });
    // Every write resolved, yet bytes were lost for good: the sink reads
    // until nothing came for 3 s. (The pipe's 64 KiB at least arrived.)
    expect(written.resolved).toBe(total);
    expect(result.received).toBeGreaterThanOrEqual(65_536);
    expect(result.received).toBeLessThan(total);
  });

  test('bursts of frames that fill the 64 KiB pipe to the byte arrive whole and in order', async ({
    page,
    env,
  }) => {
    test.setTimeout(120_000);
    const result = await page.evaluate(async (url) => {
      const socket = window.e2eDirectSockets.connect(url);
      const { ws } = socket;
      ws.binaryType = 'arraybuffer';
      await socket.opened();
      // Payload sizes whose frames (8 bytes of header and mask) are 65536
      // bytes, or pairs that add up to 65536: 60000 + 5536, 32769 + 32767.
      const sizes: number[] = [];
      for (let i = 0; i < 8; i++) sizes.push(65_528, 65_528, 59_992, 5528, 32_761, 32_759);
      const frames = sizes.map((size) => window.e2e.randomBytes(size));
      const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
      // All at once, then one frame per task, then each frame sent once
      // the previous one left the buffer (bufferedAmount back to 0).
      for (const frame of frames) ws.send(frame);
      for (const frame of frames) {
        ws.send(frame);
        await tick();
      }
      for (const frame of frames) {
        ws.send(frame);
        const deadline = performance.now() + 20_000;
        while (ws.bufferedAmount > 0 && performance.now() < deadline) await tick();
      }
      const bad: number[] = [];
      for (let i = 0; i < 3 * frames.length; i++) {
        const echoed = (await Promise.race([
          socket.message(i),
          new Promise((resolve) => setTimeout(() => resolve(null), 30_000)),
        ])) as ArrayBuffer | null;
        if (echoed === null) {
          bad.push(-i - 1); // never came: stalled
          break;
        }
        if (!window.e2e.sameBytes(frames[i % frames.length]!, echoed)) bad.push(i);
      }
      ws.close(1000);
      return { bad, count: socket.messages.length, close: await socket.closed };
    }, `ws://127.0.0.1:${env.wsPort}/echo`);
    expect(result.bad).toEqual([]);
    expect(result.count).toBe(3 * 48);
    expect(result.close).toEqual({ code: 1000, reason: '', wasClean: true });
  });

  test('the transport to a peer that reads slowly, then not at all for a while: every byte arrives in order', async ({
    page,
  }) => {
    test.setTimeout(120_000);
    // Writes of every kind: bursts of sizes that divide 64 KiB, pairs that
    // add up to it, writes larger than the pipe, and writes one at a time.
    const plan: Array<number | 'tick'> = [];
    for (let k = 0; k < 64; k++) plan.push(2 ** (6 + (k % 11)));
    for (let k = 0; k < 16; k++) plan.push(60_000, 5536, 'tick', 32_769, 32_767);
    for (let k = 0; k < 8; k++) plan.push(131_072, 'tick', 65_536, 'tick');
    // 65536 bytes fill the pipe to the byte; a larger write right after
    // often finds it full: Chromium drops it and the transport writes it again.
    for (let k = 0; k < 8; k++) plan.push(65_536, 'tick', 100_000, 'tick');
    const total = plan.reduce<number>((sum, step) => sum + (step === 'tick' ? 0 : step), 0);
    for (const pauseMs of [0, 1500]) {
      // The transport may hold a write back for up to 1 s at a time while the
      // pipe drains, and a loaded machine stretches that: the sink waits 15 s
      // for more before it gives up (3 s reset the connection in one CI run).
      const delivered = sink!.next(total, pauseMs, 15_000);
      const written = await page.evaluate(
        async ({ port, plan, total }) => {
          const transport = window.e2eDirectSockets.transport()({
            url: `ws://127.0.0.1:${port}/`,
            host: '127.0.0.1',
            port,
            secure: false,
          });
          await new Promise<void>((resolve, reject) => {
            transport.once('open', resolve);
            transport.once('close', (error) => reject(error ?? new Error('closed before open')));
          });
          const bytes = Uint8Array.from({ length: total }, (_, i) => i % 251);
          const writes: Promise<void>[] = [];
          let offset = 0;
          for (const step of plan) {
            if (step === 'tick') {
              await Promise.all(writes.splice(0));
              continue;
            }
            writes.push(transport.write(bytes.subarray(offset, offset + step)));
            offset += step;
          }
          await Promise.all(writes);
          const rewrites = (transport as unknown as { rewrites: number }).rewrites;
          await transport.end();
          return { rewrites };
        },
        { port: sink!.port, plan, total },
      );
      const result = await delivered;
      expect({ pauseMs, ...result }).toEqual({ pauseMs, received: total, badAt: -1 });
      // How often Chromium dropped a write depends on timing: reported, not asserted.
      test
        .info()
        .annotations.push({ type: 'rewrites', description: `pause ${pauseMs} ms: ${written.rewrites}` });
    }
  });
});
