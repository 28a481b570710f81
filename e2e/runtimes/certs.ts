/**
 * A throwaway CA and a server certificate it signed, for `localhost` and
 * `127.0.0.1`, made with the system `openssl`. Not the self-signed
 * certificate of src/testing/certs.ts: Deno's TLS (rustls/webpki) refuses a
 * CA certificate as the server's own (`CaUsedAsEndEntity`), so the server
 * presents a leaf (CA:FALSE) and clients trust the CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM: the CA to trust, and the server's certificate and key. */
export interface CertificateChain {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Make a CA and a server certificate valid for 2 days. */
export function testCertificateChain(): CertificateChain {
  const dir = mkdtempSync(join(tmpdir(), 'polysocket-chain-'));
  const file = (name: string): string => join(dir, name);
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  try {
    openssl([
      'req',
      '-x509',
      ...EC,
      '-subj',
      '/CN=polysocket test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-days',
      '2',
      '-keyout',
      file('ca-key.pem'),
      '-out',
      file('ca.pem'),
    ]);
    openssl(['req', ...EC, '-subj', '/CN=localhost', '-keyout', file('key.pem'), '-out', file('server.csr')]);
    writeFileSync(
      file('server.ext'),
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '',
      ].join('\n'),
    );
    openssl([
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca-key.pem'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      file('server.ext'),
      '-out',
      file('cert.pem'),
    ]);
    return {
      ca: readFileSync(file('ca.pem'), 'utf8'),
      cert: readFileSync(file('cert.pem'), 'utf8'),
      key: readFileSync(file('key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
