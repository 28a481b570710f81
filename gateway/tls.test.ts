/**
 * TLS from the gateway to its targets (protocol version 2's `tls` request,
 * tls.ts): a gateway on loopback, Deno's WebTransport client, and TLS echo
 * servers whose certificates `openssl` made for the test (testing.ts): a
 * good one, an expired one, one not valid yet, one for another name, one
 * from a CA the gateway does not trust.
 *
 *     npm run test:gateway
 */
import { GatewayTlsFailure } from '../src/transports/gateway-wire.ts';
import {
  assertNoUnhandledRejections,
  echo,
  makeTestCertificates,
  openSession,
  openStream,
  startEchoServer,
  startTestGateway,
  startTlsEchoServer,
  type TestCertificates,
  type TestGateway,
  watchUnhandledRejections,
} from './testing.ts';
import { classifyTlsError, verificationProblem } from './tls.ts';

watchUnhandledRejections();

function assertEquals(actual: unknown, expected: unknown, what = ''): void {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) throw new Error(`${what ? `${what}: ` : ''}expected ${b}, got ${a}`);
}

function assertMatch(actual: string, pattern: RegExp): void {
  if (!pattern.test(actual)) throw new Error(`expected ${JSON.stringify(actual)} to match ${pattern}`);
}

/** Where the certificates are made (the permissions of `npm run test:gateway` allow this directory). */
const CERT_DIR = new URL('../build/gateway-tests/', import.meta.url).pathname;

// See vanishing-clients.test.ts: Deno's WebTransport client leaves its QUIC
// endpoint open; what matters is checked by hand.
const network = { sanitizeResources: false, sanitizeOps: false } as const;

type ServerName = keyof TestCertificates['servers'];

/**
 * Run `fn` with a TLS echo server for each test certificate, a plain TCP
 * echo server, and a gateway that allows them all and trusts the test CA
 * (unless `trustTestCa` is false); checks that nothing is left behind.
 */
async function withTlsTargets(
  options: { trustTestCa?: boolean; connectTimeoutMs?: number; allowAll?: boolean },
  fn: (test: TestGateway, targets: Record<ServerName | 'plain', string>) => Promise<void>,
): Promise<void> {
  const certificates = await makeTestCertificates(CERT_DIR);
  const names = Object.keys(certificates.servers) as ServerName[];
  const servers = names.map((name) => startTlsEchoServer(certificates.servers[name]));
  const plain = startEchoServer();
  const targets = Object.fromEntries([
    ...names.map((name, i) => [name, `127.0.0.1:${servers[i]!.port}`]),
    ['plain', `127.0.0.1:${plain.port}`],
  ]) as Record<ServerName | 'plain', string>;
  const test = await startTestGateway({
    allow: options.allowAll === false ? [targets.good] : Object.values(targets),
    ...(options.trustTestCa === false ? {} : { caCerts: [certificates.ca] }),
    ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
  });
  try {
    await fn(test, targets);
    await assertNoUnhandledRejections();
  } finally {
    await test.close();
    await Promise.all([...servers, plain].map((server) => server.close()));
    await certificates.remove();
  }
  assertEquals(test.gateway.stats(), { sessions: 0, connections: 0, addresses: 0 }, 'after close()');
  await assertNoUnhandledRejections();
}

const tls = (target: string, serverName = 'localhost') =>
  `CONNECT ${target} tls server-name=${serverName} alpn=http/1.1\r\n`;

Deno.test({
  ...network,
  name: 'tls: a verified connection says so, carries bytes both ways, and half-closes',
  fn: () =>
    withTlsTargets({}, async (test, targets) => {
      const wt = await openSession(test.url, test.certificateHash);
      const stream = await openStream(wt, tls(targets.good));
      assertEquals(stream.status, '200 connected tls verified server-name=localhost alpn=http/1.1');
      assertEquals(await echo(stream, 'hello over TLS ✓'), 'hello over TLS ✓');
      await test.waitForLine(
        new RegExp(`^connect s1\\.1 ${targets.good} tls=localhost verified alpn=http/1\\.1$`),
        5000,
      );
      // Our FIN becomes the TLS close (close_notify, FIN); the echo server
      // then closes, and its end comes back as ours.
      await stream.end();
      const rest = await stream.reader.read();
      assertEquals(rest.done, true, 'the target ended too');
      await test.waitForLine(
        new RegExp(`^close s1\\.1 ${targets.good} tls=localhost up=\\d+ down=\\d+ `),
        5000,
      );
      // An IP address as the server name: the certificate names 127.0.0.1 too.
      const byAddress = await openStream(wt, tls(targets.good, '127.0.0.1'));
      assertEquals(byAddress.status, '200 connected tls verified server-name=127.0.0.1 alpn=http/1.1');
      assertEquals(await echo(byAddress, 'by address'), 'by address');
      // Without server-name, the target's host is the name.
      const implicit = await openStream(wt, `CONNECT ${targets.good} tls\r\n`);
      assertEquals(implicit.status, '200 connected tls verified server-name=127.0.0.1');
      // The same session still makes plain connections.
      assertEquals((await openStream(wt, `CONNECT ${targets.plain}\r\n`)).status, '200 connected');
      wt.close();
    }),
});

Deno.test({
  ...network,
  name: 'tls: wrong name, expired, not yet valid, unknown CA and a target that is not TLS are refused, each with its reason',
  fn: () =>
    withTlsTargets({}, async (test, targets) => {
      const wt = await openSession(test.url, test.certificateHash);
      const cases: Array<[string, GatewayTlsFailure, RegExp]> = [
        [
          tls(targets.good, 'wrong.test'),
          GatewayTlsFailure.HOST_MISMATCH,
          /not valid for name "wrong\.test"/,
        ],
        [tls(targets.otherName), GatewayTlsFailure.HOST_MISMATCH, /not valid for name "localhost"/],
        [tls(targets.expired), GatewayTlsFailure.EXPIRED, /certificate expired/],
        [tls(targets.notYetValid), GatewayTlsFailure.NOT_YET_VALID, /not valid yet/],
        [tls(targets.unknownCa), GatewayTlsFailure.UNKNOWN_ISSUER, /UnknownIssuer/],
        [tls(targets.plain), GatewayTlsFailure.HANDSHAKE_FAILED, /./],
      ];
      for (const [request, failure, detail] of cases) {
        const { status } = await openStream(wt, request);
        assertMatch(status, new RegExp(`^502 ${failure}: `));
        assertMatch(status, detail);
      }
      await test.waitForLine(
        new RegExp(`^refuse s1\\.1 ${targets.good} tls=wrong\\.test 502 certificate-host-mismatch: `),
        5000,
      );
      wt.close();
    }),
});

Deno.test({
  ...network,
  name: 'tls: without the operator CA the test certificate has an unknown issuer (the CA is not in the default roots)',
  fn: () =>
    withTlsTargets({ trustTestCa: false }, async (test, targets) => {
      const wt = await openSession(test.url, test.certificateHash);
      assertMatch((await openStream(wt, tls(targets.good))).status, /^502 certificate-unknown-issuer: /);
      wt.close();
    }),
});

Deno.test({
  ...network,
  name: 'tls: the allow-list still applies, and a target that never answers the handshake times out (504)',
  fn: () =>
    withTlsTargets({ allowAll: false, connectTimeoutMs: 1000 }, async (test, targets) => {
      const wt = await openSession(test.url, test.certificateHash);
      assertEquals((await openStream(wt, tls(targets.expired))).status, '403 target not allowed');
      assertEquals(
        (await openStream(wt, tls(targets.good, 'anything.test'))).status.startsWith(
          '502 certificate-host-mismatch',
        ),
        true,
      );
      await test.waitForLine(new RegExp(`^refuse s1\\.1 ${targets.expired} tls=localhost 403 `), 5000);
      // A TCP server that accepts and never speaks.
      const silent = Deno.listen({ hostname: '127.0.0.1', port: 0 });
      const held: Deno.Conn[] = [];
      const accepting = (async () => {
        try {
          for await (const conn of silent) held.push(conn);
        } catch {
          // Closed.
        }
      })();
      const other = await startTestGateway({
        allow: [`127.0.0.1:${silent.addr.port}`],
        connectTimeoutMs: 1000,
      });
      try {
        const session = await openSession(other.url, other.certificateHash);
        assertEquals(
          (await openStream(session, tls(`127.0.0.1:${silent.addr.port}`))).status,
          '504 tls-handshake-timeout: no TLS handshake within 1000 ms',
        );
        session.close();
      } finally {
        await other.close();
        silent.close();
        for (const conn of held) conn.close();
        await accepting;
      }
      wt.close();
    }),
});

Deno.test({
  ...network,
  name: 'tls: malformed or unknown request parameters get 400 with the reason',
  fn: () =>
    withTlsTargets({}, async (test, targets) => {
      const wt = await openSession(test.url, test.certificateHash);
      const cases: Array<[string, string]> = [
        [
          `CONNECT ${targets.good} tls server-name=bad/name\r\n`,
          '400 malformed server-name (expected a DNS name or an IP address)',
        ],
        [`CONNECT ${targets.good} server-name=localhost\r\n`, '400 server-name= and alpn= need tls'],
        [`CONNECT ${targets.good} tls tls\r\n`, '400 request parameter tls given twice'],
        [
          `CONNECT ${targets.good} tls insecure\r\n`,
          '400 unknown request parameter "insecure" (protocol version 2 knows tls, server-name=, alpn=)',
        ],
      ];
      for (const [request, status] of cases) assertEquals((await openStream(wt, request)).status, status);
      wt.close();
    }),
});

Deno.test({
  ...network,
  name: 'tls: a target that ends TCP without close_notify ends the stream, and the log says so',
  fn: async () => {
    const certificates = await makeTestCertificates(CERT_DIR);
    // A TLS server that says bye and keeps its connection open, behind a
    // TCP relay that the test cuts: the gateway then sees the TCP FIN
    // without a TLS close_notify before it.
    const server = Deno.listenTls({
      hostname: '127.0.0.1',
      port: 0,
      cert: certificates.servers.good.cert,
      key: certificates.servers.good.key,
    });
    const held: Deno.Conn[] = [];
    const serving = (async () => {
      try {
        for await (const conn of server) {
          held.push(conn);
          await conn.write(new TextEncoder().encode('bye')).catch(() => 0);
        }
      } catch {
        // Closed.
      }
    })();
    const relay = Deno.listen({ hostname: '127.0.0.1', port: 0 });
    const relayed = (async () => {
      const front = await relay.accept();
      const back = await Deno.connect({ hostname: '127.0.0.1', port: server.addr.port });
      held.push(front, back);
      const stop = new AbortController();
      void front.readable.pipeTo(back.writable, { preventClose: true }).catch(() => {});
      const down = back.readable
        .pipeTo(front.writable, {
          preventClose: true,
          preventAbort: true,
          preventCancel: true,
          signal: stop.signal,
        })
        .catch(() => {});
      return async () => {
        stop.abort();
        await down;
        await front.closeWrite();
      };
    })();
    relayed.catch(() => {});
    const target = `127.0.0.1:${relay.addr.port}`;
    const test = await startTestGateway({ allow: [target], caCerts: [certificates.ca] });
    try {
      const wt = await openSession(test.url, test.certificateHash);
      const stream = await openStream(wt, tls(target));
      assertEquals(stream.status, '200 connected tls verified server-name=localhost');
      const first = await stream.reader.read();
      assertEquals(new TextDecoder().decode(first.value), 'bye');
      const cut = await relayed;
      await cut();
      assertEquals((await stream.reader.read()).done, true, 'the stream ended');
      await stream.end();
      await test.waitForLine(/^close s1\.1 .* target ended TCP without TLS close_notify$/, 5000);
      wt.close();
      await assertNoUnhandledRejections();
    } finally {
      await test.close();
      relay.close();
      server.close();
      for (const conn of held) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      await serving;
      await certificates.remove();
    }
  },
});

Deno.test('classifyTlsError: rustls messages as Deno 2.9.6 words them', () => {
  const cases: Array<[string, GatewayTlsFailure]> = [
    ['invalid peer certificate: UnknownIssuer', GatewayTlsFailure.UNKNOWN_ISSUER],
    [
      'invalid peer certificate: certificate expired: verification time 1796643150 (UNIX), but certificate is not valid after 1577923200 (218719950 seconds ago)',
      GatewayTlsFailure.EXPIRED,
    ],
    ['invalid peer certificate: Expired', GatewayTlsFailure.EXPIRED],
    ['invalid peer certificate: certificate not valid yet: …', GatewayTlsFailure.NOT_YET_VALID],
    [
      'invalid peer certificate: certificate not valid for name "wrong.test"; certificate is only valid for DnsName("localhost")',
      GatewayTlsFailure.HOST_MISMATCH,
    ],
    ['invalid peer certificate: BadSignature', GatewayTlsFailure.INVALID],
    ['received corrupt message of type InvalidContentType', GatewayTlsFailure.HANDSHAKE_FAILED],
    ['received fatal alert: HandshakeFailure', GatewayTlsFailure.HANDSHAKE_FAILED],
    ['Connection reset by peer (os error 104)', GatewayTlsFailure.HANDSHAKE_FAILED],
  ];
  for (const [message, failure] of cases)
    assertEquals(classifyTlsError(new Error(message)), failure, message);
});

Deno.test({
  ...network,
  name: 'verificationProblem: this Deno verifies certificates (null)',
  fn: async () => {
    assertEquals(await verificationProblem(), null);
  },
});
