/**
 * Unit tests of the gateway's pure parts, for `deno test` (no network, no
 * JSR: plain assertions). The whole gateway is tested end to end from
 * Chromium by e2e/browser/.
 *
 *     npx deno test --config gateway/deno.json gateway/
 */
import { certificateHash, certificateInfo, fromPem, generateCertificate, hashTrustProblem } from './cert.ts';
import {
  AllowList,
  formatTarget,
  parseRequest,
  parseTarget,
  readRequestLine,
  statusLine,
} from './protocol.ts';

function assertEquals(actual: unknown, expected: unknown): void {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) throw new Error(`expected ${b}, got ${a}`);
}

Deno.test('request lines: CONNECT host:port, IPv6 in brackets, anything else is malformed', () => {
  assertEquals(parseRequest('CONNECT 127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assertEquals(parseRequest('CONNECT [::1]:443'), { host: '::1', port: 443 });
  assertEquals(parseRequest('CONNECT Example.COM:80'), { host: 'example.com', port: 80 });
  for (const bad of [
    'CONNECT ::1:80',
    'CONNECT host',
    'CONNECT host:0',
    'CONNECT host:65536',
    'GET / HTTP/1.1',
    '',
  ]) {
    assertEquals(parseRequest(bad), null);
  }
  assertEquals(parseTarget('[::]:0', true), { host: '::', port: 0 });
  assertEquals(formatTarget({ host: '::1', port: 8080 }), '[::1]:8080');
});

Deno.test('status lines stay on one line', () => {
  assertEquals(new TextDecoder().decode(statusLine(502, 'a\r\nb')), '502 a b\r\n');
});

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

Deno.test('readRequestLine: split across chunks, with the bytes after it; too long or ended is null', async () => {
  const reader = (chunks: string[]) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
        controller.close();
      },
    }).getReader();
  const line = await readRequestLine(reader(['CONN', 'ECT a:1\r', '\nGET']));
  assertEquals([line?.line, new TextDecoder().decode(line?.rest)], ['CONNECT a:1', 'GET']);
  assertEquals(await readRequestLine(reader(['CONNECT a:1'])), null);
  assertEquals(await readRequestLine(reader(['x'.repeat(1100)])), null);
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
