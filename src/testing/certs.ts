/**
 * A throwaway self-signed certificate for `localhost` and `127.0.0.1`,
 * made with the system `openssl` once per test process, for `wss:` tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM certificate and key. */
export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
}

let cached: TestCertificate | undefined;

/** A self-signed certificate valid for `localhost` and `127.0.0.1`. */
export function testCertificate(): TestCertificate {
  if (cached !== undefined) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'polysocket-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-days',
        '2',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cached = {
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
