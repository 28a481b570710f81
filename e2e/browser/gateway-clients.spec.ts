/**
 * Issue 11: Chromium tabs that go away in the middle of a transfer (closed,
 * or reloaded) cost the gateway their session and its TCP connection, and
 * nothing else: the gateway stays up, logs the reaping, never reports an
 * unhandled rejection, and serves the next page.
 *
 * This spec starts its own gateway (not the global setup's), with a short
 * QUIC idle timeout, and a TCP echo server as the target: the pages speak
 * raw WebTransport streams, below any WebSocket.
 */
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures.js';
import {
  type RunningGateway,
  startGatewayProcess,
  startTcpEchoServer,
  type TcpEchoServer,
  unhandledErrorLines,
  until,
  waitForLine,
} from './support/gateway.js';

/** The gateway's QUIC idle timeout here: how soon a vanished tab's session is reaped. */
const IDLE_MS = 3000;
let gateway: RunningGateway;
let echo: TcpEchoServer;

test.beforeAll(async () => {
  echo = await startTcpEchoServer();
  gateway = await startGatewayProcess({
    allow: [`127.0.0.1:${echo.port}`],
    args: ['--idle-timeout', String(IDLE_MS)],
    logFile: fileURLToPath(new URL('../../build/e2e/gateway-clients.log', import.meta.url)),
  });
});

test.afterAll(async () => {
  await gateway?.stop();
  await echo?.stop();
});

test.describe('the gateway outlives the tabs that used it', () => {
  test('a tab closed mid-transfer: its session is reaped, and the next page is served', async ({
    page,
    context,
    env,
  }) => {
    test.slow();
    const mark = gateway.service.lines.length;
    const first = echo.connections.length;
    const tab = await context.newPage();
    await tab.goto(env.pageUrl);
    await tab.waitForFunction(() => window.e2eReady === true);
    expect(await startTransfer(tab)).toBe('200 connected');
    const id = await sessionOf(mark);

    await tab.close();
    await expectReaped(id, mark, first);
    expect(await echoOnce(page)).toBe('hello');
  });

  test('a tab reloaded mid-transfer: its old session is reaped, and the reloaded page is served', async ({
    page,
    env,
  }) => {
    test.slow();
    const mark = gateway.service.lines.length;
    const first = echo.connections.length;
    expect(await startTransfer(page)).toBe('200 connected');
    const id = await sessionOf(mark);

    await page.reload();
    await page.waitForFunction(() => window.e2eReady === true);
    expect(page.url()).toBe(env.pageUrl);
    // The reloaded page is served while (or after) the old session is reaped.
    expect(await echoOnce(page)).toBe('hello');
    await expectReaped(id, mark, first);
  });
});

/** The session that opened (first) after log line `mark`, once it connected its stream. */
async function sessionOf(mark: number): Promise<string> {
  const open = await waitForLine(gateway.service, /^\S+ session (s\d+) open from /, mark);
  await waitForLine(gateway.service, new RegExp(`^\\S+ connect ${open[1]}\\.1 `), mark);
  return open[1]!;
}

/**
 * Session `id` is closed and logged, and so is its TCP connection (number
 * `connection` of the echo server's); the gateway is up and nothing went
 * unhandled.
 */
async function expectReaped(id: string, mark: number, connection: number): Promise<void> {
  await waitForLine(gateway.service, new RegExp(`^\\S+ session ${id} closed: `), mark);
  await waitForLine(gateway.service, new RegExp(`^\\S+ close ${id}\\.1 127\\.0\\.0\\.1:${echo.port} `), mark);
  await until(() => echo.connections[connection]?.closed === true, 'the TCP connection to close');
  expect(gateway.service.child.exitCode).toBeNull();
  expect(gateway.service.child.signalCode).toBeNull();
  expect(unhandledErrorLines(gateway.service)).toEqual([]);
}

/** In the page: a session and a stream to the echo target, then bytes both ways without end. */
function startTransfer(page: Page): Promise<string> {
  return page.evaluate(
    async ({ url, hash, target }) => {
      const wt = new WebTransport(url, {
        serverCertificateHashes: [
          { algorithm: 'sha-256', value: Uint8Array.from(atob(hash), (c) => c.charCodeAt(0)) },
        ],
      });
      await wt.ready;
      const { readable, writable } = await wt.createBidirectionalStream();
      const writer = writable.getWriter();
      const reader = readable.getReader();
      await writer.write(new TextEncoder().encode(`CONNECT ${target}\r\n`));
      let head = '';
      while (!head.includes('\n')) {
        const { value, done } = await reader.read();
        if (done) break;
        head += new TextDecoder().decode(value);
      }
      const status = head.slice(0, head.indexOf('\r\n'));
      if (status !== '200 connected') return status;
      // Going on after evaluate() returns; kept reachable from window.
      let received = 0;
      const chunk = new Uint8Array(16 * 1024).fill(0x61);
      const reading = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          received += value.byteLength;
        }
      })();
      const writing = (async () => {
        for (;;) await writer.write(chunk);
      })();
      Object.assign(window, { transfer: { wt, reading, writing } });
      reading.catch(() => {});
      writing.catch(() => {});
      // Mid-transfer: some bytes came back already.
      while (received < 4 * chunk.byteLength) await new Promise((resolve) => setTimeout(resolve, 10));
      return status;
    },
    { url: gateway.url, hash: gateway.certificateHash, target: `127.0.0.1:${echo.port}` },
  );
}

/** In the page: a new session and stream; write "hello", read it back, close. */
function echoOnce(page: Page): Promise<string> {
  return page.evaluate(
    async ({ url, hash, target }) => {
      const wt = new WebTransport(url, {
        serverCertificateHashes: [
          { algorithm: 'sha-256', value: Uint8Array.from(atob(hash), (c) => c.charCodeAt(0)) },
        ],
      });
      await wt.ready;
      const { readable, writable } = await wt.createBidirectionalStream();
      const writer = writable.getWriter();
      const reader = readable.getReader();
      await writer.write(new TextEncoder().encode(`CONNECT ${target}\r\nhello`));
      let text = '';
      while (!text.endsWith('hello')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      wt.close();
      return text.slice(text.indexOf('\r\n') + 2);
    },
    { url: gateway.url, hash: gateway.certificateHash, target: `127.0.0.1:${echo.port}` },
  );
}
