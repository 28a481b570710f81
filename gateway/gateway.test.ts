/**
 * Unit tests of the gateway's pure parts, for `deno test` (no network, no
 * JSR: plain assertions). The gateway itself is tested on loopback by
 * limits.test.ts and vanishing-clients.test.ts, and end to end from
 * Chromium by e2e/browser/. The wire format the gateway shares with the
 * client (src/transports/gateway-wire.ts) is tested there, with vitest.
 *
 *     npx deno test --allow-net=127.0.0.1,127.0.0.2 --config gateway/deno.json gateway/
 */
import { certificateHash, certificateInfo, fromPem, generateCertificate, hashTrustProblem } from './cert.ts';
import { AllowList, printable } from './protocol.ts';

function assertEquals(actual: unknown, expected: unknown): void {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) throw new Error(`expected ${b}, got ${a}`);
}

Deno.test('the allow-list matches exact targets and host:* wildcards', () => {
  const allow = new AllowList(['127.0.0.1:8080', '[::1]:*', 'LOCALHOST:9000']);
  assertEquals(allow.allows({ host: '127.0.0.1', port: 8080 }), true);
  assertEquals(allow.allows({ host: '127.0.0.1', port: 8081 }), false);
  assertEquals(allow.allows({ host: '::1', port: 1 }), true);
  assertEquals(allow.allows({ host: 'localhost', port: 9000 }), true);
  assertEquals(allow.allows({ host: '10.0.0.1', port: 8080 }), false);
  assertEquals(String(allow), '127.0.0.1:8080,[::1]:*,localhost:9000');
  let threw = false;
  try {
    new AllowList(['no-port']);
  } catch {
    threw = true;
  }
  assertEquals(threw, true);
});

Deno.test('printable: control characters escaped, at most max characters kept', () => {
  assertEquals(printable('CONNECT a:1'), 'CONNECT a:1');
  assertEquals(
    printable('a\r\n\x00\x1b[0m\x7f\x85\u2028\\b'),
    'a\\x0d\\x0a\\x00\\x1b[0m\\x7f\\x85\\u2028\\\\b',
  );
  assertEquals(printable('é✓😀'), 'é✓😀');
  assertEquals(printable('x'.repeat(150)), `${'x'.repeat(100)}…(50 more)`);
  assertEquals(printable('abcdef', 3), 'abc…(3 more)');
  assertEquals(printable(new Uint8Array([0x43, 0xff, 0x0a])), 'C\ufffd\\x0a');
});

Deno.test('generated certificates are what Chromium accepts by hash: ECDSA P-256, at most 14 days', async () => {
  const generated = await generateCertificate({ days: 14 });
  const der = fromPem(generated.certPem);
  const info = certificateInfo(der);
  assertEquals(info.isEcdsaP256, true);
  assertEquals(info.notAfter.getTime() - info.notBefore.getTime(), 14 * 86_400_000);
  assertEquals(hashTrustProblem(info), null);
  assertEquals(await certificateHash(der), generated.sha256);
  // The key is a usable PKCS#8 ECDSA key.
  const key = await crypto.subtle.importKey(
    'pkcs8',
    fromPem(generated.keyPem, 'PRIVATE KEY'),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  assertEquals(key.type, 'private');
  assertEquals(
    hashTrustProblem({ ...info, notAfter: new Date(info.notBefore.getTime() + 15 * 86_400_000) }),
    'it is valid for 15.0 days, more than 14',
  );
  let threw = false;
  await generateCertificate({ days: 15 }).catch(() => (threw = true));
  assertEquals(threw, true);
});
