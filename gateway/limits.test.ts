/**
 * The gateway's limits (issue 11, item 2), each against a gateway on
 * loopback with Deno's WebTransport client; and the address keys they
 * count by (limits.ts).
 *
 *     npx deno test --allow-net=127.0.0.1,127.0.0.2 --config gateway/deno.json gateway/
 */
import { startGateway } from './gateway.ts';
import { AddressTable, addressKey } from './limits.ts';
import { AllowList } from './protocol.ts';
import {
  assertNoUnhandledRejections,
  deadline,
  echo,
  openSession,
  openStream,
  readStatus,
  startEchoServer,
  startTestGateway,
  startUdpRelay,
  type TestGateway,
  watchUnhandledRejections,
} from './testing.ts';

watchUnhandledRejections();

function assertEquals(actual: unknown, expected: unknown, what = ''): void {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) throw new Error(`${what ? `${what}: ` : ''}expected ${b}, got ${a}`);
}

function assertMatch(actual: string, pattern: RegExp): void {
  if (!pattern.test(actual)) throw new Error(`expected ${JSON.stringify(actual)} to match ${pattern}`);
}

Deno.test('addressKey: IPv4 as it is, IPv4-mapped as IPv4, IPv6 by its /64', () => {
  assertEquals(addressKey('203.0.113.7'), '203.0.113.7');
  assertEquals(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
  assertEquals(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assertEquals(addressKey('2001:DB8:0001:0002::9'), '2001:db8:1:2::/64');
  assertEquals(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assertEquals(addressKey('::1'), '0:0:0:0::/64');
  assertEquals(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assertEquals(addressKey('64:ff9b::192.0.2.33'), '64:ff9b:0:0::/64');
  // Not an address (Deno never gives one): counted as written.
  assertEquals(addressKey('1:2:3'), '1:2:3');
});

Deno.test('AddressTable counts per key and forgets keys that hold nothing', () => {
  const table = new AddressTable();
  table.add('a', 'sessions', 1);
  table.add('a', 'connections', 1);
  table.add('b', 'sessions', 1);
  assertEquals(table.use('a'), { sessions: 1, connections: 1 });
  assertEquals(table.size, 2);
  table.add('a', 'sessions', -1);
  table.add('a', 'connections', -1);
  table.add('b', 'sessions', -1);
  assertEquals(table.use('a'), { sessions: 0, connections: 0 });
  assertEquals(table.size, 0);
});

Deno.test('limits must be positive integers: a RangeError before anything is bound', () => {
  for (const limit of ['maxStreamsPerSession', 'maxSessionsPerAddress', 'sessionIdleTimeoutMs'] as const) {
    let error: unknown;
    try {
      startGateway({ allow: new AllowList([]), cert: '', key: '', port: 0, [limit]: 0 });
    } catch (thrown) {
      error = thrown;
    }
    assertEquals(error instanceof RangeError && error.message, `${limit} must be a positive integer, not 0`);
  }
});

const network = { sanitizeResources: false, sanitizeOps: false } as const;

/** Run `fn` with an echo server and a gateway allowing it; checks that nothing is left behind. */
async function withGateway(
  options: Parameters<typeof startTestGateway>[0] extends infer O ? Omit<O, 'allow'> : never,
  fn: (test: TestGateway, target: string) => Promise<void>,
): Promise<void> {
  const echoServer = startEchoServer();
  const target = `127.0.0.1:${echoServer.port}`;
  const test = await startTestGateway({ ...options, allow: [target] });
  try {
    await fn(test, target);
    await assertNoUnhandledRejections();
  } finally {
    await test.close();
    await echoServer.close();
  }
  assertEquals(test.gateway.stats(), { sessions: 0, connections: 0, addresses: 0 }, 'after close()');
  await assertNoUnhandledRejections();
}

Deno.test({
  ...network,
  name: '--max-streams-per-session: more streams in one session get 503; other sessions are not affected',
  fn: () =>
    withGateway({ maxStreamsPerSession: 2 }, async (test, target) => {
      const wt = await openSession(test.url, test.certificateHash);
      const first = await openStream(wt, `CONNECT ${target}\r\n`);
      const second = await openStream(wt, `CONNECT ${target}\r\n`);
      const third = await openStream(wt, `CONNECT ${target}\r\n`);
      assertEquals(
        [first.status, second.status, third.status],
        ['200 connected', '200 connected', '503 too many streams in this session (2)'],
      );
      await test.waitForLine(/^refuse s1\.3 - 503 too many streams in this session \(2\)$/, 5000);
      // Another session has its own streams.
      const other = await openSession(test.url, test.certificateHash);
      assertEquals((await openStream(other, `CONNECT ${target}\r\n`)).status, '200 connected');
      // A stream that ends makes room.
      await first.end();
      await test.waitForLine(/^close s1\.1 /, 5000);
      const fourth = await openStream(wt, `CONNECT ${target}\r\n`);
      assertEquals(fourth.status, '200 connected');
      assertEquals(await echo(fourth, 'room again'), 'room again');
    }),
});

Deno.test({
  ...network,
  name: '--max-sessions-per-address: one address over its cap is refused; another address is served',
  fn: () =>
    withGateway({ maxSessionsPerAddress: 2 }, async (test, target) => {
      await openSession(test.url, test.certificateHash);
      await openSession(test.url, test.certificateHash);
      const refused = await openSession(test.url, test.certificateHash).then(
        () => 'opened',
        (error: unknown) => String(error),
      );
      assertMatch(refused, /WebTransportError/);
      await test.waitForLine(
        /^refuse session s3 from 127\.0\.0\.1:\d+: 2 sessions from 127\.0\.0\.1 already \(--max-sessions-per-address\)$/,
        5000,
      );
      // A client at 127.0.0.2 (through a relay) has its own share.
      const relay = startUdpRelay(test.gateway.port, '127.0.0.2');
      try {
        const wt = await openSession(`https://127.0.0.1:${relay.port}/`, test.certificateHash);
        await test.waitForLine(/^session s4 open from 127\.0\.0\.2:/, 5000);
        assertEquals(await echo(await openStream(wt, `CONNECT ${target}\r\n`), 'hi'), 'hi');
        wt.close();
      } finally {
        await relay.close();
      }
    }),
});

Deno.test({
  ...network,
  name: '--max-connections-per-address: connections over all sessions of one address are capped (503)',
  fn: () =>
    withGateway({ maxConnectionsPerAddress: 2 }, async (test, target) => {
      const a = await openSession(test.url, test.certificateHash);
      const b = await openSession(test.url, test.certificateHash);
      assertEquals((await openStream(a, `CONNECT ${target}\r\n`)).status, '200 connected');
      assertEquals((await openStream(b, `CONNECT ${target}\r\n`)).status, '200 connected');
      assertEquals(
        (await openStream(b, `CONNECT ${target}\r\n`)).status,
        '503 too many connections from your address (2)',
      );
      await test.waitForLine(
        /^refuse s2\.2 127\.0\.0\.1:\d+ 503 too many connections from your address \(2\)$/,
        5000,
      );
      const relay = startUdpRelay(test.gateway.port, '127.0.0.2');
      try {
        const wt = await openSession(`https://127.0.0.1:${relay.port}/`, test.certificateHash);
        assertEquals((await openStream(wt, `CONNECT ${target}\r\n`)).status, '200 connected');
        wt.close();
      } finally {
        await relay.close();
      }
    }),
});

Deno.test({
  ...network,
  name: '--max-connections and --max-sessions: the caps over all clients',
  fn: () =>
    withGateway({ maxConnections: 1, maxSessions: 2 }, async (test, target) => {
      const a = await openSession(test.url, test.certificateHash);
      assertEquals((await openStream(a, `CONNECT ${target}\r\n`)).status, '200 connected');
      assertEquals((await openStream(a, `CONNECT ${target}\r\n`)).status, '503 too many connections (1)');
      await test.waitForLine(/^refuse s1\.2 127\.0\.0\.1:\d+ 503 too many connections \(1\)$/, 5000);
      await openSession(test.url, test.certificateHash);
      const refused = await openSession(test.url, test.certificateHash).then(
        () => 'opened',
        (error: unknown) => String(error),
      );
      assertMatch(refused, /WebTransportError/);
      await test.waitForLine(/^refuse a session: 2 sessions already \(--max-sessions\)$/, 5000);
    }),
});

Deno.test({
  ...network,
  name: '--session-idle-timeout: a session without streams is closed; one with an open stream is not',
  fn: () =>
    withGateway({ sessionIdleTimeoutMs: 1000 }, async (test, target) => {
      const idle = await openSession(test.url, test.certificateHash);
      const busy = await openSession(test.url, test.certificateHash);
      const stream = await openStream(busy, `CONNECT ${target}\r\n`);
      assertEquals(stream.status, '200 connected');
      const started = Date.now();
      await test.waitForLine(
        /^session s1 idle: no stream for 1000 ms \(--session-idle-timeout\); closing it$/,
        5000,
      );
      await test.waitForLine(/^session s1 closed: /, 5000);
      assertEquals(Date.now() - started >= 900, true, 'not closed before its time');
      // The client sees its session end.
      await deadline(
        idle.closed.catch(() => {}),
        5000,
        'the idle session to close on the client',
      );
      // Three idle timeouts later, the session with a stream is still there.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assertEquals(
        test.lines.filter((line) => line.startsWith('session s2 idle')),
        [],
      );
      assertEquals(await echo(stream, 'still open'), 'still open');
      // Once its last stream ended, it is idle too.
      await stream.end();
      await test.waitForLine(/^session s2 idle: /, 5000);
      await test.waitForLine(/^session s2 closed: /, 5000);
    }),
});

Deno.test({
  ...network,
  name: 'request lines: over 1024 bytes in one chunk or in several is 400, logged as a bounded, escaped prefix',
  fn: () =>
    withGateway({}, async (test, target) => {
      const wt = await openSession(test.url, test.certificateHash);
      const long = `CONNECT ${'a'.repeat(1990)}:80\r\n`;
      assertEquals((await openStream(wt, long)).status, '400 request line longer than 1024 bytes');
      const line = await test.waitForLine(/^refuse s1\.1 /, 5000);
      assertEquals(
        line,
        `refuse s1.1 "CONNECT ${'a'.repeat(92)}…(924 more)" 400 request line longer than 1024 bytes`,
      );

      // In many small writes, with control characters in it.
      const bidi = await wt.createBidirectionalStream();
      const writer = bidi.writable.getWriter();
      const reader = (bidi.readable as ReadableStream<Uint8Array>).getReader();
      const chunk = new TextEncoder().encode('\x1b[31m\x00'.repeat(20));
      for (let sent = 0; sent < 1100; sent += chunk.byteLength) await writer.write(chunk);
      assertEquals(await readStatus(reader), '400 request line longer than 1024 bytes');
      const escaped = await test.waitForLine(/^refuse s1\.2 /, 5000);
      const shown = `${'\\x1b[31m\\x00'.repeat(16)}\\x1b[31`; // 16 × 6 + 4 = 100 characters
      assertEquals(escaped, `refuse s1.2 "${shown}…(924 more)" 400 request line longer than 1024 bytes`);

      // 1024 bytes, CRLF included, is not too long (only malformed); 1025 is.
      const atLimit = `CONNECT ${'b'.repeat(1024 - 10)}\r\n`;
      assertEquals(
        (await openStream(wt, atLimit)).status,
        '400 malformed request line (expected CONNECT host:port)',
      );
      const overLimit = `CONNECT ${'b'.repeat(1024 - 9)}\r\n`;
      assertEquals((await openStream(wt, overLimit)).status, '400 request line longer than 1024 bytes');
      assertEquals((await openStream(wt, `CONNECT ${target}\r\n`)).status, '200 connected');
      // A malformed line is logged escaped too.
      assertEquals(
        (await openStream(wt, 'GET /\x07 HTTP/1.1\r\n')).status,
        '400 malformed request line (expected CONNECT host:port)',
      );
      await test.waitForLine(/^refuse s1\.6 "GET \/\\x07 HTTP\/1\.1" 400 /, 5000);
    }),
});

Deno.test({
  ...network,
  name: 'a stream that sends no request line in time gets 400',
  fn: () =>
    withGateway({ requestTimeoutMs: 500 }, async (test) => {
      const wt = await openSession(test.url, test.certificateHash);
      const stream = await openStream(wt, '');
      assertEquals(stream.status, '400 no request line within 500 ms');
      await test.waitForLine(/^refuse s1\.1 - 400 no request line within 500 ms$/, 5000);
    }),
});
