/**
 * Test certificates for `wss:` servers reached through the gateway's TLS
 * (gateway/tls.ts), made with the system `openssl` in a temporary
 * directory: a CA for the gateway's `--ca`, and server certificates signed
 * by it (or not), valid now (or not). `openssl ca` rather than
 * `openssl x509 -days`, because only it takes any start and end date.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A server certificate and its key: PEM text and files. */
export interface ServerCertificate {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** What {@link makeTestCertificates} made. */
export interface TestCertificates {
  /** The CA to give the gateway (`--ca`). */
  readonly caFile: string;
  readonly ca: string;
  /**
   * Server certificates for `localhost` and 127.0.0.1 unless said otherwise:
   * `good` (by the CA, valid now), `expired` (by the CA, ended yesterday),
   * `otherName` (by the CA, valid now, for `other.test` only),
   * `unknownCa` (valid now, by a CA nobody trusts).
   */
  readonly servers: Readonly<Record<'good' | 'expired' | 'otherName' | 'unknownCa', ServerCertificate>>;
  remove(): void;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** `openssl ca`'s time format: YYYYMMDDHHMMSSZ. */
function opensslTime(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/** Make the CAs and server certificates (see {@link TestCertificates}); `names` are the good ones' names. */
export function makeTestCertificates(
  names: readonly string[] = ['DNS:localhost', 'IP:127.0.0.1'],
): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'polysocket-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  try {
    for (const ca of ['ca', 'other-ca']) {
      openssl([
        'req',
        '-x509',
        ...EC_KEY,
        '-subj',
        `/CN=polysocket test ${ca}`,
        '-keyout',
        file(`${ca}-key.pem`),
        '-out',
        file(`${ca}.pem`),
        '-days',
        '2',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]);
    }
    mkdirSync(file('issued'));
    writeFileSync(file('index.txt'), '');
    writeFileSync(file('serial'), '1000\n');
    const section = (name: string, altNames: string) =>
      [
        `[${name}]`,
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature',
        'extendedKeyUsage = serverAuth',
        `subjectAltName = ${altNames}`,
      ].join('\n');
    writeFileSync(
      file('ca.cnf'),
      [
        '[ca]',
        'default_ca = test_ca',
        '[test_ca]',
        `database = ${file('index.txt')}`,
        `serial = ${file('serial')}`,
        `new_certs_dir = ${file('issued')}`,
        'default_md = sha256',
        'policy = any_name',
        'unique_subject = no',
        '[any_name]',
        'commonName = supplied',
        section('server', names.join(',')),
        section('other_name', 'DNS:other.test'),
        '',
      ].join('\n'),
    );
    const now = Date.now();
    const hour = 3_600_000;
    const issue = (name: string, ca: string, from: number, to: number, extensions = 'server') => {
      openssl([
        'req',
        ...EC_KEY,
        '-subj',
        `/CN=${name}`,
        '-keyout',
        file(`${name}-key.pem`),
        '-out',
        file(`${name}.csr`),
      ]);
      openssl([
        'ca',
        '-batch',
        '-notext',
        '-config',
        file('ca.cnf'),
        '-cert',
        file(`${ca}.pem`),
        '-keyfile',
        file(`${ca}-key.pem`),
        '-in',
        file(`${name}.csr`),
        '-out',
        file(`${name}.pem`),
        '-startdate',
        opensslTime(from),
        '-enddate',
        opensslTime(to),
        '-extensions',
        extensions,
      ]);
      return {
        cert: readFileSync(file(`${name}.pem`), 'utf8'),
        key: readFileSync(file(`${name}-key.pem`), 'utf8'),
        certFile: file(`${name}.pem`),
        keyFile: file(`${name}-key.pem`),
      };
    };
    return {
      caFile: file('ca.pem'),
      ca: readFileSync(file('ca.pem'), 'utf8'),
      servers: {
        good: issue('good', 'ca', now - hour, now + 48 * hour),
        expired: issue('expired', 'ca', now - 72 * hour, now - 24 * hour),
        otherName: issue('other-name', 'ca', now - hour, now + 48 * hour, 'other_name'),
        unknownCa: issue('unknown-ca', 'other-ca', now - hour, now + 48 * hour),
      },
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
