/**
 * Test helpers for the gateway's `deno test` suites (*.test.ts) and for
 * wt-client.ts: a gateway on loopback with its log captured, a TCP echo
 * target, Deno's own WebTransport client, and a UDP relay that makes a
 * client vanish without a word, as a closed laptop does.
 *
 * Everything listens on 127.0.0.1 (the relay also sends from 127.0.0.2, a
 * second client address) and every wait is bounded.
 */
import { generateCertificate } from './cert.ts';
import { finishSendStream } from './deno-wt-fin.ts';
import { type Gateway, type GatewayOptions, startGateway } from './gateway.ts';
import { AllowList } from './protocol.ts';

/** Rejects with `what` in the message if `promise` takes longer than `ms`. */
export async function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait until `check()` is true, polling; throws after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const unhandledRejections: unknown[] = [];
let watching = false;

/**
 * Record the rejections nobody handled in this process, from now on: each
 * test fails on its own (assertNoUnhandledRejections), rather than the
 * runner failing the file without saying which test it was.
 */
export function watchUnhandledRejections(): void {
  if (watching) return;
  watching = true;
  globalThis.addEventListener('unhandledrejection', (event) => {
    event.preventDefault();
    unhandledRejections.push(event.reason);
  });
}

/** Throws if a promise was rejected without a handler; waits a little first, as Deno reports them late. */
export async function assertNoUnhandledRejections(): Promise<void> {
  if (!watching) throw new Error('call watchUnhandledRejections() first');
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (unhandledRejections.length > 0) {
    const reasons = unhandledRejections.splice(0).map((reason) => String(reason));
    throw new Error(`unhandled rejections: ${reasons.join('; ')}`);
  }
}

/** A gateway on 127.0.0.1 for tests, with its log lines kept. */
export interface TestGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly certificateHash: string;
  readonly lines: string[];
  /** Resolves with the first log line (from `from` on) that matches. */
  waitForLine(pattern: RegExp, ms: number, from?: number): Promise<string>;
  close(): Promise<void>;
}

/** Start a gateway on 127.0.0.1 and a free port, allowing `allow`. */
export async function startTestGateway(
  options: Partial<Omit<GatewayOptions, 'allow' | 'cert' | 'key'>> & { readonly allow: readonly string[] },
): Promise<TestGateway> {
  const certificate = await generateCertificate({ days: 10 });
  const lines: string[] = [];
  const gateway = startGateway({
    hostname: '127.0.0.1',
    port: 0,
    ...options,
    allow: new AllowList(options.allow),
    cert: certificate.certPem,
    key: certificate.keyPem,
    log: (line) => lines.push(line),
  });
  return {
    gateway,
    url: `https://127.0.0.1:${gateway.port}/`,
    certificateHash: certificate.sha256,
    lines,
    async waitForLine(pattern, ms, from = 0) {
      let found: string | undefined;
      await until(
        () => (found = lines.slice(from).find((line) => pattern.test(line))) !== undefined,
        ms,
        `a log line matching ${pattern}; log:\n${lines.join('\n')}`,
      );
      return found!;
    },
    close: () => deadline(gateway.close(), 10_000, 'gateway.close()'),
  };
}

/** A TCP server that echoes what it gets, and counts its connections. */
export interface EchoServer {
  readonly port: number;
  /** Connections open now. */
  readonly open: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

/** Start an echo server on 127.0.0.1. */
export function startEchoServer(): EchoServer {
  return serveEcho(Deno.listen({ hostname: '127.0.0.1', port: 0 }));
}

function serveEcho(listener: Deno.Listener<Deno.Conn, Deno.NetAddr>): EchoServer {
  const conns = new Set<Deno.Conn>();
  let accepted = 0;
  const serving = (async () => {
    const handlers: Promise<void>[] = [];
    try {
      for await (const conn of listener) {
        accepted++;
        conns.add(conn);
        handlers.push(
          conn.readable
            .pipeTo(conn.writable)
            .catch(() => {})
            .finally(() => {
              conns.delete(conn);
              try {
                conn.close();
              } catch {
                // Closed by pipeTo already.
              }
            }),
        );
      }
    } catch {
      // The listener was closed.
    }
    await Promise.all(handlers);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get open() {
      return conns.size;
    },
    get accepted() {
      return accepted;
    },
    async close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      await deadline(serving, 5000, 'the echo server to stop');
    },
  };
}

/** A Deno WebTransport client session to a gateway. */
export async function openSession(url: string, certificateHash: string): Promise<WebTransport> {
  const wt = new WebTransport(url, {
    serverCertificateHashes: [
      { algorithm: 'sha-256', value: Uint8Array.from(atob(certificateHash), (c) => c.charCodeAt(0)) },
    ],
  });
  // The client's own: it rejects when the gateway closes the session, and
  // each test looks at it (or not) by itself.
  wt.closed.catch(() => {});
  await deadline(wt.ready, 10_000, `a session to ${url}`);
  return wt;
}

/** One stream through the gateway: the status line, and the stream to go on with. */
export interface GatewayStream {
  /** The status line, without CRLF. */
  readonly status: string;
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Half-close: send FIN. */
  end(): Promise<void>;
}

/** Open a stream and send `request` (CONNECT host:port unless it starts otherwise), then read the status line. */
export async function openStream(wt: WebTransport, request: string | Uint8Array): Promise<GatewayStream> {
  const bidi = await deadline(wt.createBidirectionalStream(), 10_000, 'a stream');
  const writable = bidi.writable as WritableStream<Uint8Array>;
  const writer = writable.getWriter();
  const reader = (bidi.readable as ReadableStream<Uint8Array>).getReader();
  const bytes = typeof request === 'string' ? new TextEncoder().encode(request) : request;
  if (bytes.byteLength > 0) await deadline(writer.write(bytes), 10_000, 'writing the request');
  const end = async () => {
    await writer.close();
    writer.releaseLock();
    // Deno's client has the gateway's FIN bug too (deno-wt-fin.ts).
    finishSendStream(writable);
  };
  return { status: await readStatus(reader), reader, writer, end };
}

/** Read the gateway's status line. */
export async function readStatus(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let text = '';
  while (!text.includes('\n')) {
    const { value, done } = await deadline(reader.read(), 15_000, 'the status line');
    if (done) throw new Error(`the stream ended before a status line (got ${JSON.stringify(text)})`);
    text += new TextDecoder().decode(value);
  }
  return text.slice(0, text.indexOf('\n')).replace(/\r$/, '');
}

/** Write `text` and read until it came back (from an echo target). */
export async function echo(stream: GatewayStream, text: string): Promise<string> {
  await deadline(stream.writer.write(new TextEncoder().encode(text)), 10_000, 'writing');
  let got = '';
  while (got.length < text.length) {
    const { value, done } = await deadline(stream.reader.read(), 10_000, 'the echo');
    if (done) break;
    got += new TextDecoder().decode(value);
  }
  return got;
}

/**
 * A UDP relay between QUIC clients and a gateway: clients talk to the
 * relay, which talks to the gateway from its own socket (and address), so
 * the gateway sees the relay as the client. `vanish()` drops every packet
 * from then on both ways: to the gateway, the client is gone without a word.
 */
export interface UdpRelay {
  readonly port: number;
  vanish(): void;
  close(): Promise<void>;
}

/** Start a relay on 127.0.0.1 to the gateway on 127.0.0.1:`gatewayPort`, sending from `fromAddress`. */
export function startUdpRelay(gatewayPort: number, fromAddress = '127.0.0.1'): UdpRelay {
  const front = Deno.listenDatagram({ transport: 'udp', hostname: '127.0.0.1', port: 0 });
  const back = Deno.listenDatagram({ transport: 'udp', hostname: fromAddress, port: 0 });
  const gateway: Deno.NetAddr = { transport: 'udp', hostname: '127.0.0.1', port: gatewayPort };
  let client: Deno.Addr | undefined;
  let dropping = false;
  const pump = async (
    from: Deno.DatagramConn,
    to: Deno.DatagramConn,
    target: () => Deno.Addr | undefined,
  ) => {
    try {
      for (;;) {
        const [packet, sender] = await from.receive();
        if (from === front) client = sender;
        const address = target();
        if (!dropping && address !== undefined) await to.send(packet, address).catch(() => 0);
      }
    } catch {
      // The socket was closed.
    }
  };
  const pumps = Promise.all([pump(front, back, () => gateway), pump(back, front, () => client)]);
  return {
    port: (front.addr as Deno.NetAddr).port,
    vanish() {
      dropping = true;
    },
    async close() {
      front.close();
      back.close();
      await deadline(pumps, 5000, 'the relay to stop');
    },
  };
}

/** PEM files made by `openssl` for the TLS tests, in a temporary directory. */
export interface TestCertificates {
  /** The CA the gateway is told to trust (`caCerts`, `--ca`). */
  readonly ca: string;
  readonly caFile: string;
  /**
   * Server certificates and keys, each for `localhost` and 127.0.0.1 unless
   * said otherwise: `good` (by `ca`, valid now), `expired`, `notYetValid`,
   * `otherName` (valid for other.test only), `unknownCa` (by a CA nobody trusts).
   */
  readonly servers: Readonly<
    Record<'good' | 'expired' | 'notYetValid' | 'otherName' | 'unknownCa', { cert: string; key: string }>
  >;
  remove(): Promise<void>;
}

/** `openssl`'s time format for `ca -startdate/-enddate`: YYYYMMDDHHMMSSZ. */
function opensslTime(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/**
 * A CA, a second CA nobody trusts, and server certificates signed by them
 * with `openssl ca` (which, unlike `openssl x509 -days`, takes any start
 * and end date: an expired certificate, one not valid yet). Needs
 * `--allow-run=openssl` and read and write access to `dir`.
 */
export async function makeTestCertificates(dir: string): Promise<TestCertificates> {
  await Deno.mkdir(dir, { recursive: true });
  const root = await Deno.makeTempDir({ dir, prefix: 'certs-' });
  const file = (name: string) => `${root}/${name}`;
  const openssl = async (args: string[]) => {
    const { code, stderr } = await new Deno.Command('openssl', {
      args,
      stdout: 'null',
      stderr: 'piped',
    }).output();
    if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
  };
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    for (const ca of ['ca', 'other-ca']) {
      await openssl([
        'req',
        '-x509',
        ...ecKey,
        '-subj',
        `/CN=polysocket gateway test ${ca}`,
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
    await Deno.mkdir(file('issued'));
    await Deno.writeTextFile(file('index.txt'), '');
    await Deno.writeTextFile(file('serial'), '1000\n');
    const server = (names: string) =>
      [
        '[server]',
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature',
        'extendedKeyUsage = serverAuth',
        `subjectAltName = ${names}`,
      ].join('\n');
    await Deno.writeTextFile(
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
        server('DNS:localhost,IP:127.0.0.1'),
        server('DNS:other.test').replace('[server]', '[other_name]'),
        '',
      ].join('\n'),
    );
    const now = Date.now();
    const hour = 3_600_000;
    const issue = async (
      name: string,
      ca: string,
      from: number,
      to: number,
      extensions = 'server',
    ): Promise<{ cert: string; key: string }> => {
      await openssl([
        'req',
        ...ecKey,
        '-subj',
        `/CN=${name}`,
        '-keyout',
        file(`${name}-key.pem`),
        '-out',
        file(`${name}.csr`),
      ]);
      await openssl([
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
        opensslTime(new Date(from)),
        '-enddate',
        opensslTime(new Date(to)),
        '-extensions',
        extensions,
      ]);
      return {
        cert: await Deno.readTextFile(file(`${name}.pem`)),
        key: await Deno.readTextFile(file(`${name}-key.pem`)),
      };
    };
    const servers = {
      good: await issue('good', 'ca', now - hour, now + 48 * hour),
      expired: await issue('expired', 'ca', now - 72 * hour, now - 24 * hour),
      notYetValid: await issue('not-yet-valid', 'ca', now + 24 * hour, now + 72 * hour),
      otherName: await issue('other-name', 'ca', now - hour, now + 48 * hour, 'other_name'),
      unknownCa: await issue('unknown-ca', 'other-ca', now - hour, now + 48 * hour),
    };
    return {
      ca: await Deno.readTextFile(file('ca.pem')),
      caFile: file('ca.pem'),
      servers,
      remove: () => Deno.remove(root, { recursive: true }),
    };
  } catch (error) {
    await Deno.remove(root, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** A TLS echo server on 127.0.0.1 (HTTP/1.1 by ALPN); connections whose handshake fails are dropped. */
export function startTlsEchoServer(certificate: { cert: string; key: string }): EchoServer {
  const listener = Deno.listenTls({
    hostname: '127.0.0.1',
    port: 0,
    cert: certificate.cert,
    key: certificate.key,
    alpnProtocols: ['http/1.1'],
  });
  return serveEcho(listener);
}
