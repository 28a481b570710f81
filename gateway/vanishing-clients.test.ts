/**
 * Issue 11, item 1: a client that vanishes (tab closed, process killed,
 * network gone) must cost the gateway its session and that session's TCP
 * connections, and nothing else. Before the fix, the QUIC idle timeout
 * rejected `wt.closed` with nobody listening, and Deno ended the process.
 *
 * The client vanishes behind a UDP relay that stops forwarding; the gateway
 * runs in this process, so that any unhandled rejection fails the test even
 * though main.ts would log it and go on. (e2e/gateway/ kills real client
 * processes next to a gateway process; e2e/browser/gateway-clients.spec.ts
 * closes and reloads Chromium tabs.)
 *
 *     npx deno test --allow-net=127.0.0.1,127.0.0.2 --config gateway/deno.json gateway/
 */
import {
  assertNoUnhandledRejections,
  deadline,
  echo,
  openSession,
  openStream,
  startEchoServer,
  startTestGateway,
  startUdpRelay,
  until,
  watchUnhandledRejections,
} from './testing.ts';

watchUnhandledRejections();

function assertEquals(actual: unknown, expected: unknown, what = ''): void {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) throw new Error(`${what ? `${what}: ` : ''}expected ${b}, got ${a}`);
}

// The client and the gateway in one process: Deno's WebTransport client
// keeps a QUIC endpoint open that it never closes, and timers of quinn's
// may outlive a test. What matters is checked by hand: no unhandled
// rejection, and the gateway holds nothing after the test.
const network = { sanitizeResources: false, sanitizeOps: false } as const;

/** QUIC idle timeout of these tests: short, yet well above a loaded machine's hiccups. */
const IDLE_MS = 3000;

Deno.test({
  ...network,
  name: 'issue 11: a client that vanishes mid-transfer is reaped; its TCP connections close; others are served',
  async fn() {
    const echoServer = startEchoServer();
    const test = await startTestGateway({ allow: [`127.0.0.1:${echoServer.port}`], idleTimeoutMs: IDLE_MS });
    const relay = startUdpRelay(test.gateway.port);
    try {
      // A client, through the relay, with two streams: one transferring,
      // one connected but quiet.
      const vanishing = await openSession(`https://127.0.0.1:${relay.port}/`, test.certificateHash);
      const busy = await openStream(vanishing, `CONNECT 127.0.0.1:${echoServer.port}\r\n`);
      const quiet = await openStream(vanishing, `CONNECT 127.0.0.1:${echoServer.port}\r\n`);
      assertEquals([busy.status, quiet.status], ['200 connected', '200 connected']);
      assertEquals(await echo(busy, 'before'), 'before');
      // Another client, direct, which must not notice anything.
      const other = await openSession(test.url, test.certificateHash);
      const otherStream = await openStream(other, `CONNECT 127.0.0.1:${echoServer.port}\r\n`);
      assertEquals(otherStream.status, '200 connected');
      assertEquals(echoServer.open, 3);

      // Mid-transfer: writes keep going (and fail once the client's side
      // gives up too), then the client is gone.
      const writing = (async () => {
        for (let i = 0; ; i++) await busy.writer.write(new Uint8Array(4096).fill(i));
      })().catch(() => {});
      const reading = (async () => {
        for (;;) if ((await busy.reader.read()).done) return;
      })().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 100));
      const mark = test.lines.length;
      relay.vanish();

      const closed = await test.waitForLine(/^session s1 closed: /, 6 * IDLE_MS, mark);
      assertEquals(/timed out/.test(closed), true, `how the session ended (${closed})`);
      await until(() => echoServer.open === 1, 5000, 'the vanished client’s TCP connections to close');
      assertEquals(test.lines.filter((line) => /^close s1\.[12] /.test(line)).length, 2, 'close lines');
      await deadline(Promise.all([writing, reading]), 3 * IDLE_MS, 'the vanished client to give up');

      // Everyone else is still served: the other client, and a new one.
      assertEquals(await echo(otherStream, 'still here'), 'still here');
      const next = await openSession(test.url, test.certificateHash);
      const nextStream = await openStream(next, `CONNECT 127.0.0.1:${echoServer.port}\r\n`);
      assertEquals(await echo(nextStream, 'new client'), 'new client');
      for (const wt of [other, next]) wt.close();
      await assertNoUnhandledRejections();
    } finally {
      await relay.close();
      await test.close();
      await echoServer.close();
    }
    assertEquals(test.gateway.stats(), { sessions: 0, connections: 0, addresses: 0 }, 'after close()');
    await assertNoUnhandledRejections();
  },
});

Deno.test({
  ...network,
  name: 'issue 11: clients that vanish with no stream, with a stream before its request line, or half-closed are reaped',
  async fn() {
    const echoServer = startEchoServer();
    const test = await startTestGateway({
      allow: [`127.0.0.1:${echoServer.port}`],
      idleTimeoutMs: IDLE_MS,
      requestTimeoutMs: 60_000,
    });
    const relays = [0, 1, 2].map(() => startUdpRelay(test.gateway.port));
    try {
      const url = (i: number) => `https://127.0.0.1:${relays[i]!.port}/`;
      // 1. A session with no stream.
      await openSession(url(0), test.certificateHash);
      // 2. A stream that has not sent its request line.
      const waiting = await openSession(url(1), test.certificateHash);
      const bidi = await waiting.createBidirectionalStream();
      const writer = bidi.writable.getWriter();
      await writer.write(new TextEncoder().encode('CONNECT 127.0.0.1:'));
      // 3. A stream half-way: connected, its client half-closed.
      const halfClosed = await openSession(url(2), test.certificateHash);
      const stream = await openStream(halfClosed, `CONNECT 127.0.0.1:${echoServer.port}\r\n`);
      assertEquals(stream.status, '200 connected');
      await stream.end();
      await until(() => test.lines.some((line) => line.startsWith('session s3 open')), 5000, 'session s3');
      const mark = test.lines.length;
      for (const relay of relays) relay.vanish();
      for (const id of ['s1', 's2', 's3']) {
        await test.waitForLine(new RegExp(`^session ${id} closed: `), 6 * IDLE_MS, mark);
      }
      await until(() => echoServer.open === 0, 5000, 'the TCP connections to close');
      assertEquals(test.gateway.stats(), { sessions: 0, connections: 0, addresses: 0 }, 'after the reaping');
      await assertNoUnhandledRejections();
    } finally {
      for (const relay of relays) await relay.close();
      await test.close();
      await echoServer.close();
    }
    await assertNoUnhandledRejections();
  },
});
