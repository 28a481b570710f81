/**
 * Measures which TCPSocket write patterns lose data in this Chromium:
 *
 *     npx tsx e2e/browser/probes/direct-sockets-stall.ts [PLAN...]
 *
 * Each plan writes to a TCP sink from the Isolated Web App, over a raw
 * TCPSocket or (`X`) polysocket's Direct Sockets transport, and the sink
 * checks every byte (byte i is i % 251). A plan is comma-separated steps:
 * `N` writes N bytes, `NxK` K times; without a mode the writes are issued
 * at once. `A` awaits each write, `Y` also waits a MessageChannel task and
 * `T` a setTimeout(0) before the next; `C` awaits each and writes again a
 * write larger than 64 KiB that resolved within its task; `a` awaits the
 * writes so far, `sN` then sleeps N ms; `PN` makes the sink read nothing
 * for N ms. SLOW_SINK=1 uses the tests' slow sink (2 KiB receive buffer);
 * TCP_OPTIONS='{"sendBufferSize":4096}' passes TCPSocket options.
 */

import type { AddressInfo } from 'node:net';
import * as net from 'node:net';
import { bundleIwaPage, launchIwa, startIwaDevServer } from '../support/iwa.js';
import '../support/page-api-iwa.js';
import { startSlowTcpSink } from '../support/slow-tcp-sink.js';

/**
 * A plan: comma-separated steps. `N` writes N bytes (not awaited), `NxK`
 * writes N bytes K times, `a` awaits the pending writes, `sN` awaits them
 * and then sleeps N ms (the network service drains the pipe meanwhile),
 * `A` awaits each following write before the next.
 */
const DEFAULT_PLANS = [
  '65536x64',
  '65537x64',
  '60000x70',
  '4096x1024',
  '60000,5536,60000x70',
  '60000,s200,5536,60000x70',
  '32768,s200,32768,s200,60000x70',
  '1000,s200,65536,s200,60000x70',
  '65536,s200,1000,60000x70',
];

function expand(plan: string): { tokens: string[]; total: number } {
  const tokens: string[] = [];
  let total = 0;
  for (const step of plan.split(',')) {
    const m = /^(\d+)(?:x(\d+))?$/.exec(step);
    if (m === null) {
      tokens.push(step);
      continue;
    }
    const size = Number(m[1]);
    const times = m[2] === undefined ? 1 : Number(m[2]);
    for (let i = 0; i < times; i++) tokens.push(String(size));
    total += size * times;
  }
  return { tokens, total };
}

interface Sink {
  readonly port: number;
  /** Resolves once `total` bytes arrived on the next connection, or delivery stopped. */
  expect(
    total: number,
    quietMs: number,
    maxMs: number,
    pauseMs?: number,
  ): Promise<{ received: number; ok: boolean; badAt: number }>;
  close(): void;
}

async function startSink(): Promise<Sink> {
  let onConnection: ((socket: net.Socket) => void) | null = null;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (onConnection !== null) onConnection(socket);
    else socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    expect: (total, quietMs, maxMs, pauseMs = 0) =>
      new Promise((resolve) => {
        onConnection = (socket) => {
          onConnection = null;
          let received = 0;
          let badAt = -1;
          let quiet: ReturnType<typeof setTimeout>;
          const done = () => {
            clearTimeout(quiet);
            clearTimeout(max);
            socket.destroy();
            resolve({ received, ok: received === total && badAt < 0, badAt });
          };
          const max = setTimeout(done, maxMs + pauseMs);
          quiet = setTimeout(done, quietMs + pauseMs);
          if (pauseMs > 0) {
            // Not reading: the kernel's buffers fill, then Chromium's pipe.
            socket.pause();
            setTimeout(() => socket.resume(), pauseMs);
          }
          socket.on('data', (chunk: Buffer) => {
            for (let i = 0; i < chunk.length; i++) {
              if (badAt < 0 && chunk[i] !== (received + i) % 251) badAt = received + i;
            }
            received += chunk.length;
            clearTimeout(quiet);
            if (received >= total) done();
            else quiet = setTimeout(done, quietMs);
          });
        };
      }),
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** The slow sink of the tests (2 KiB receive buffer); the pause is spent before reading. */
async function startSlowSink(): Promise<Sink> {
  const slow = await startSlowTcpSink();
  return {
    port: slow.port,
    expect: async (total, _quiet, _max, pauseMs = 0) => {
      const result = await slow.next(total, pauseMs);
      return { ...result, ok: result.received === total && result.badAt < 0 };
    },
    close: () => void slow.stop(),
  };
}

const plans = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_PLANS;
const sink = process.env['SLOW_SINK'] === '1' ? await startSlowSink() : await startSink();
const dev = await startIwaDevServer(await bundleIwaPage());
const iwa = await launchIwa(dev.url);
try {
  const page = await iwa.context.newPage();
  page.on('crash', () => console.log('PAGE CRASHED'));
  page.on('console', (m) => console.log('[console]', m.text()));
  await page.goto(`${iwa.origin}/`);
  await page.waitForFunction(() => (window as unknown as { iwaReady?: boolean }).iwaReady === true);
  // tsx keeps function names with a helper the page doesn't have.
  await page.evaluate('globalThis.__name = (f) => f');
  console.log('chromium', await page.evaluate(() => navigator.userAgent));
  for (const plan of plans) {
    const { tokens, total } = expand(plan);
    const pause = tokens.find((t) => t.startsWith('P'));
    const delivered = sink.expect(total, 1500, 60_000, pause === undefined ? 0 : Number(pause.slice(1)));
    const written = await page.evaluate(
      async ({ port, tokens, options }) => {
        const { TCPSocket } = globalThis as unknown as {
          TCPSocket: new (
            host: string,
            port: number,
            options: object,
          ) => { opened: Promise<{ writable: WritableStream<Uint8Array> }> };
        };
        type ProbeTransport = {
          rewrites: number;
          once(event: string, listener: () => void): void;
          destroy(): void;
          write(chunk: Uint8Array): Promise<void>;
        };
        let writer: { write(chunk: Uint8Array): Promise<void> };
        let transport: ProbeTransport | null = null;
        if (tokens.includes('X')) {
          // polysocket's transport instead of the raw writer.
          const factory = window.e2eDirectSockets.transport(options) as unknown as (
            target: object,
          ) => ProbeTransport;
          const t = factory({ url: `ws://127.0.0.1:${port}/`, host: '127.0.0.1', port, secure: false });
          await new Promise<void>((r) => t.once('open', r));
          transport = t;
          (globalThis as unknown as { keep: unknown }).keep = { close: async () => t.destroy() };
          writer = t;
        } else {
          const socket = new TCPSocket('127.0.0.1', port, { noDelay: true, ...options });
          (globalThis as unknown as { keep: unknown }).keep = socket;
          const { writable } = await socket.opened;
          writer = writable.getWriter();
        }
        let offset = 0;
        let pending: Promise<void>[] = [];
        let awaitEach = false;
        let checked = false;
        let yieldMode = '';
        let sync = 0;
        let drops = 0;
        let resolved = 0;
        let writes = 0;
        // Every chunk is made before the first write: the writes of a burst
        // then follow each other without a pause.
        let bytes = 0;
        for (const token of tokens) if (/^\d+$/.test(token)) bytes += Number(token);
        const all = new Uint8Array(bytes);
        for (let i = 0; i < bytes; i++) all[i] = i % 251;
        const chunks = new Map<number, Uint8Array>();
        for (const [index, token] of tokens.entries()) {
          if (!/^\d+$/.test(token)) continue;
          const size = Number(token);
          chunks.set(index, all.subarray(offset, offset + size));
          offset += size;
        }
        const t0 = performance.now();
        let lastResolved = t0;
        let maxGap = 0;
        for (const [index, token] of tokens.entries()) {
          if (token === 'a' || token.startsWith('s')) {
            await Promise.all(pending);
            pending = [];
            if (token.startsWith('s')) await new Promise((r) => setTimeout(r, Number(token.slice(1))));
            continue;
          }
          if (token.startsWith('P') || token === 'X') continue;
          if (token === 'Y' || token === 'T') {
            yieldMode = token;
            awaitEach = true;
            continue;
          }
          if (token === 'C') {
            checked = true;
            continue;
          }
          if (token === 'A') {
            awaitEach = true;
            continue;
          }
          writes++;
          if (checked) {
            // Each write awaited; one that resolves within the same task
            // although it is larger than the pipe was dropped: written again.
            await Promise.all(pending);
            pending = [];
            const chunk = chunks.get(index)!;
            for (let attempt = 0; ; attempt++) {
              let settled = false;
              const w = writer.write(chunk).then(() => {
                settled = true;
              });
              for (let i = 0; i < 64; i++) await Promise.resolve();
              if (settled) sync++;
              if (settled && chunk.byteLength > 65_536) {
                drops++;
                if (attempt > 2000) throw new Error('still dropped');
                await new Promise((r) => setTimeout(r, Math.min(attempt, 20)));
                continue;
              }
              await w;
              resolved++;
              break;
            }
            continue;
          }
          if (yieldMode === 'Y') {
            const channel = new MessageChannel();
            await new Promise((r) => {
              channel.port1.onmessage = r;
              channel.port2.postMessage(null);
            });
          } else if (yieldMode === 'T') {
            await new Promise((r) => setTimeout(r, 0));
          }
          const p = writer.write(chunks.get(index)!).then(() => {
            resolved++;
            const now = performance.now();
            maxGap = Math.max(maxGap, now - lastResolved);
            lastResolved = now;
          });
          if (awaitEach) await p;
          else pending.push(p);
        }
        const timeout = new Promise<string>((r) => setTimeout(() => r('timeout'), 60_000));
        const outcome = await Promise.race([Promise.all(pending).then(() => 'resolved'), timeout]);
        return {
          outcome,
          resolved,
          writes,
          ms: Math.round(performance.now() - t0),
          maxGap: Math.round(maxGap),
          sync,
          drops: transport === null ? drops : transport.rewrites,
        };
      },
      { port: sink.port, tokens, options: JSON.parse(process.env['TCP_OPTIONS'] ?? '{}') as object },
    );
    const result = await delivered;
    await page.evaluate(() => {
      const s = (globalThis as unknown as { keep: { close(): Promise<void> } }).keep;
      return Promise.resolve()
        .then(() => s.close())
        .catch(() => {});
    });
    console.log(
      JSON.stringify({
        plan,
        total,
        writes: `${written.resolved}/${written.writes} resolved (${written.outcome}, ${written.ms} ms, longest wait ${written.maxGap} ms, ${written.sync} sync, ${written.drops} dropped)`,
        received: result.received,
        ok: result.ok,
        ...(result.badAt >= 0 ? { badAt: result.badAt } : {}),
      }),
    );
  }
} finally {
  await iwa.close();
  await dev.close();
  sink.close();
}
