/**
 * The gateway's command line (see gateway/README.md):
 *
 *     npx deno run --unstable-net --allow-net gateway/main.ts \
 *       --listen [::]:4433 --allow 127.0.0.1:8080 [--cert cert.pem --key key.pem] [--ca ca.pem]
 *
 * Without --cert/--key it generates an ECDSA P-256 certificate valid for
 * --cert-days (at most 14) and prints its SHA-256 for
 * `serverCertificateHashes`. The first line on stdout that starts with
 * `ready ` is JSON for programs: {"hostname","port","certificateHash","notAfter"}.
 */
import { parseTarget } from '../src/transports/gateway-wire.ts';
import { certificateHash, certificateInfo, fromPem, generateCertificate, hashTrustProblem } from './cert.ts';
import { startGateway } from './gateway.ts';
import { AllowList, printable } from './protocol.ts';

// The last line of defence: every promise of the gateway is handled where it
// is made, but should one be missed, log it (tests look for these lines)
// instead of ending the process, which would end every session.
globalThis.addEventListener('unhandledrejection', (event) => {
  event.preventDefault();
  console.error(
    `${new Date().toISOString()} ! unhandled rejection (a gateway bug): ${errorDetail(event.reason)}`,
  );
});
globalThis.addEventListener('error', (event) => {
  event.preventDefault();
  console.error(
    `${new Date().toISOString()} ! uncaught exception (a gateway bug): ${errorDetail(event.error)}`,
  );
});

function errorDetail(error: unknown): string {
  return printable(
    error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error),
    2000,
  );
}

const USAGE = `usage: deno run --unstable-net --allow-net [--allow-read=FILES] gateway/main.ts [options]

  --listen HOST:PORT     UDP address to listen on (default [::]:4433; [::] is dual-stack)
  --allow HOST:PORT      a target streams may connect to; repeat, or separate with commas;
                         HOST:* allows every port of HOST (required, at least one)
  --cert FILE            certificate chain, PEM (with --key)
  --key FILE             private key, PEM (with --cert)
  --cert-days N          validity of a generated certificate, at most 14 (default 10)
  --ca FILE              PEM root certificate(s) that targets' certificates may chain to
                         when a client asks for TLS (wss:), in addition to Deno's roots;
                         repeat for more files
  --max-connections N    concurrent TCP connections, in all (default 256)
  --max-sessions N       concurrent WebTransport sessions, in all (default 64)
  --max-connections-per-address N
                         concurrent TCP connections of one client address (default 64)
  --max-sessions-per-address N
                         concurrent sessions of one client address (default 16)
  --max-streams-per-session N
                         concurrent streams of one session (default 32)
  --connect-timeout MS   TCP connect timeout (default 10000)
  --request-timeout MS   time for a client's WebTransport CONNECT, and for a stream's
                         request line (default 10000)
  --idle-timeout MS      QUIC idle timeout: how soon a vanished client's session is
                         closed; keep-alives keep live ones open (default 30000)
  --session-idle-timeout MS
                         a session without an open stream for this long is closed
                         (default 60000)
  --help                 this text

An IPv6 client address counts by its /64 prefix (see gateway/README.md, "Limits").`;

function fail(message: string): never {
  console.error(`gateway: ${message}\n\n${USAGE}`);
  Deno.exit(2);
}

function parseArgs(args: readonly string[]): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      Deno.exit(0);
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (match === null) fail(`unexpected argument ${arg}`);
    const value = match[2] ?? args[++i];
    if (value === undefined) fail(`${arg} needs a value`);
    values.set(match[1]!, [...(values.get(match[1]!) ?? []), value]);
  }
  const known = [
    'listen',
    'allow',
    'cert',
    'key',
    'cert-days',
    'ca',
    'max-connections',
    'max-sessions',
    'max-connections-per-address',
    'max-sessions-per-address',
    'max-streams-per-session',
    'connect-timeout',
    'request-timeout',
    'idle-timeout',
    'session-idle-timeout',
  ];
  for (const name of values.keys()) if (!known.includes(name)) fail(`unknown option --${name}`);
  return values;
}

function single(values: Map<string, string[]>, name: string): string | undefined {
  const all = values.get(name);
  if (all !== undefined && all.length > 1) fail(`--${name} given twice`);
  return all?.[0];
}

function positive(values: Map<string, string[]>, name: string, fallback: number): number {
  const text = single(values, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(Number.isInteger(value) && value > 0)) fail(`--${name} must be a positive integer`);
  return value;
}

const values = parseArgs(Deno.args);
const listen = parseTarget(single(values, 'listen') ?? '[::]:4433', true);
if (listen === null) fail('--listen must be HOST:PORT');
const allowSpecs = (values.get('allow') ?? []).flatMap((value) => value.split(',')).filter((s) => s !== '');
if (allowSpecs.length === 0) fail('give at least one --allow HOST:PORT');
let allow: AllowList;
try {
  allow = new AllowList(allowSpecs);
} catch (error) {
  fail((error as Error).message);
}

const certFile = single(values, 'cert');
const keyFile = single(values, 'key');
if ((certFile === undefined) !== (keyFile === undefined)) fail('--cert and --key go together');
let cert: string;
let key: string;
let hash: string;
let notAfter: Date;
if (certFile !== undefined && keyFile !== undefined) {
  cert = await Deno.readTextFile(certFile);
  key = await Deno.readTextFile(keyFile);
  const der = fromPem(cert);
  hash = await certificateHash(der);
  const info = certificateInfo(der);
  notAfter = info.notAfter;
  const problem = hashTrustProblem(info);
  if (problem !== null) {
    // Fine for a certificate from a trusted CA; not with serverCertificateHashes.
    console.log(`note: serverCertificateHashes will not accept this certificate: ${problem}`);
  }
} else {
  const generated = await generateCertificate({ days: positive(values, 'cert-days', 10) });
  cert = generated.certPem;
  key = generated.keyPem;
  hash = generated.sha256;
  notAfter = generated.notAfter;
}

// Extra roots for TLS to targets. Each file must hold certificates only:
// a typo'd path or a key file is an error now, not a failed handshake later.
const caCerts: string[] = [];
for (const file of values.get('ca') ?? []) {
  let pem: string;
  try {
    pem = await Deno.readTextFile(file);
  } catch (error) {
    fail(`--ca ${file}: ${(error as Error).message}`);
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) fail(`--ca ${file}: no PEM certificate in it`);
  for (const block of blocks) {
    let notAfter: Date;
    try {
      notAfter = certificateInfo(fromPem(block)).notAfter;
    } catch (error) {
      fail(`--ca ${file}: a certificate that cannot be read: ${(error as Error).message}`);
    }
    if (notAfter < new Date())
      console.log(`note: --ca ${file} holds a certificate that expired ${notAfter.toISOString()}`);
  }
  caCerts.push(...blocks);
  console.log(
    `extra roots for tls requests: ${file} (${blocks.length} certificate${blocks.length === 1 ? '' : 's'})`,
  );
}

const gateway = startGateway({
  hostname: listen.host,
  port: listen.port,
  allow,
  cert,
  key,
  maxConnections: positive(values, 'max-connections', 256),
  maxSessions: positive(values, 'max-sessions', 64),
  maxConnectionsPerAddress: positive(values, 'max-connections-per-address', 64),
  maxSessionsPerAddress: positive(values, 'max-sessions-per-address', 16),
  maxStreamsPerSession: positive(values, 'max-streams-per-session', 32),
  connectTimeoutMs: positive(values, 'connect-timeout', 10_000),
  requestTimeoutMs: positive(values, 'request-timeout', 10_000),
  idleTimeoutMs: positive(values, 'idle-timeout', 30_000),
  sessionIdleTimeoutMs: positive(values, 'session-idle-timeout', 60_000),
  caCerts,
});
console.log(
  `ready ${JSON.stringify({ hostname: gateway.hostname, port: gateway.port, certificateHash: hash, notAfter })}`,
);
console.log(`listening on udp ${gateway.hostname} port ${gateway.port}; allowed targets: ${allow}`);
console.log(
  `certificate sha-256 (base64, for serverCertificateHashes): ${hash}; valid until ${notAfter.toISOString()}`,
);

let stopping = false;
const stop = () => {
  if (stopping) Deno.exit(1); // a second signal: don't wait
  stopping = true;
  console.log('stopping');
  // Bounded: sessions close with the endpoint, but don't wait on a stuck one.
  const grace = new Promise((resolve) => setTimeout(resolve, 3000));
  Promise.race([gateway.close(), grace]).then(() => Deno.exit(0));
};
Deno.addSignalListener('SIGINT', stop);
Deno.addSignalListener('SIGTERM', stop);
// A listener that fails leaves a process that serves nobody: exit, so that
// a supervisor restarts it.
void gateway.stopped.then(() => {
  if (stopping) return;
  console.error(`${new Date().toISOString()} ! the listener stopped; exiting`);
  Deno.exit(1);
});
