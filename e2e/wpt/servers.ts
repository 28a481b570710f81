/**
 * The servers `wpt serve` would run for the `websockets/` suite, on
 * 127.0.0.1 with ports the OS picks:
 *
 * - pywebsocket3 (`vendor/pywebsocket3` in the snapshot,
 *   `tools/third_party/pywebsocket3` in a WPT checkout) for `ws:` and, with
 *   `--tls`, for `wss:`, running the `websockets/handlers/*_wsh.py`
 *   handlers, with Debian's Python 3.11 (pywebsocket3 needs
 *   `ssl.wrap_socket`, which Python 3.12 removed) and `six`;
 * - a static server for `http:` and `https:` (resources.ts: the checkout's
 *   files, substituted), which also answers WebSocket upgrade requests with
 *   the same response, since a few tests open a WebSocket to the page's own
 *   origin and expect the handshake to fail; one per "site" asked for (a
 *   browser run serves each mode's pages from its own pair of ports, each
 *   with its own `{{ports[http][0]}}`, so that what is served can depend on
 *   the mode);
 * - a certificate for the WPT host names, signed by a CA made for the run
 *   with the system `openssl`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { ALT_HOST, BROWSER_HOST, readResource, type WptConfig, type WptResource } from './resources.js';

/** Debian's interpreter: Python 3.11 with ssl.wrap_socket, and python3-six. */
export const PYTHON = '/usr/bin/python3';

/** The run's CA and the server certificate, as PEM strings and as files (for Python and NODE_EXTRA_CA_CERTS). */
export interface Certificates {
  readonly ca: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
  remove(): void;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * A CA and a leaf certificate for every WPT host name (wildcards cover the
 * subdomains, the IDN ones included), `localhost` and 127.0.0.1, valid for
 * two days.
 */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'polysocket-wpt-certs-'));
  const file = (name: string) => join(dir, name);
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  try {
    const ca = ['-subj', '/CN=polysocket WPT test CA', '-keyout', file('ca-key.pem'), '-out', file('ca.pem')];
    const caExtensions = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];
    openssl([
      'req',
      '-x509',
      ...EC_KEY,
      ...ca,
      '-days',
      '2',
      ...caExtensions.flatMap((ext) => ['-addext', ext]),
    ]);
    const request = ['-subj', `/CN=${BROWSER_HOST}`, '-keyout', file('key.pem'), '-out', file('cert.csr')];
    openssl(['req', ...EC_KEY, ...request]);
    const names = [BROWSER_HOST, ALT_HOST, 'localhost'].flatMap((host) =>
      host === 'localhost' ? [host] : [host, `www.${host}`, `*.${host}`],
    );
    const extensions = [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${names.map((name) => `DNS:${name}`).join(',')},IP:127.0.0.1`,
    ];
    writeFileSync(file('cert.ext'), `${extensions.join('\n')}\n`);
    const signing = ['-CA', file('ca.pem'), '-CAkey', file('ca-key.pem'), '-CAcreateserial', '-days', '2'];
    openssl([
      'x509',
      '-req',
      '-in',
      file('cert.csr'),
      ...signing,
      '-extfile',
      file('cert.ext'),
      '-out',
      file('cert.pem'),
    ]);
    const read = (name: string) => readFileSync(file(name), 'utf8');
    return {
      ca: read('ca.pem'),
      caFile: file('ca.pem'),
      cert: read('cert.pem'),
      certFile: file('cert.pem'),
      key: read('key.pem'),
      keyFile: file('key.pem'),
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A running pywebsocket3. */
interface PyWebSocket {
  readonly port: number;
  readonly child: ChildProcess;
  /** The last lines it logged, for failure messages. */
  log(): string;
}

/**
 * `python3 -m pywebsocket3.standalone`, after asking Linux to kill the
 * server when its parent dies (prctl PR_SET_PDEATHSIG): a runner killed
 * outright (a Vitest timeout, SIGKILL) leaves no server behind.
 */
const RUN_STANDALONE = [
  'import ctypes, runpy, signal, sys',
  'try: ctypes.CDLL(None).prctl(1, signal.SIGKILL)',
  'except (AttributeError, OSError): pass',
  "runpy.run_module('pywebsocket3.standalone', run_name='__main__')",
].join('\n');

/**
 * The directory holding the `pywebsocket3` package: `vendor/` in the
 * snapshot, `tools/third_party/pywebsocket3/` in a WPT checkout.
 */
function pywebsocketPath(wptDir: string): string {
  for (const dir of [join(wptDir, 'vendor'), join(wptDir, 'tools', 'third_party', 'pywebsocket3')]) {
    if (existsSync(join(dir, 'pywebsocket3', 'standalone.py'))) return dir;
  }
  throw new Error(`no pywebsocket3 under ${wptDir} (vendor/ or tools/third_party/pywebsocket3/)`);
}

/** Start pywebsocket3 on a port the OS picks (it logs "Port N is assigned" at level info). */
function startPyWebSocket(wptDir: string, tls: Certificates | null): Promise<PyWebSocket> {
  const handlers = join(wptDir, 'websockets', 'handlers');
  const args = ['-c', RUN_STANDALONE, '-H', '127.0.0.1', '-p', '0', '-d', handlers, '-w', handlers];
  if (tls !== null) args.push('--tls', '--certificate', tls.certFile, '--private-key', tls.keyFile);
  // Info logs a line per connection: the pipe is drained into a short tail.
  args.push('--log-level', 'info');
  const child = spawn(PYTHON, args, {
    env: { ...process.env, PYTHONPATH: pywebsocketPath(wptDir), PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const log = () => tail;
  return new Promise((resolve, reject) => {
    let port: number | undefined;
    const fail = (why: string) => {
      child.kill('SIGKILL');
      reject(new Error(`pywebsocket3 (${tls ? 'wss' : 'ws'}) ${why}\n${tail}`));
    };
    const timer = setTimeout(() => fail('did not start within 10 s'), 10_000);
    const onData = (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-8_000);
      const match = port === undefined ? /Port (\d+) is assigned/.exec(tail) : null;
      if (match === null) return;
      port = Number(match[1]);
      // The port is logged just before listen(): wait until it accepts.
      waitForListening(port).then(
        () => {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve({ port: port!, child, log });
        },
        (error: Error) => fail(error.message),
      );
    };
    const onExit = (code: number | null) => fail(`exited (${code})`);
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (error) => fail(`could not start: ${error.message}`));
  });
}

async function waitForListening(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`port ${port} never accepted a connection`);
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** A port where nothing listens: bound once, then released. */
async function refusedPort(): Promise<number> {
  const probe = net.createServer();
  const port = await listen(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 200: 'OK', 301: 'Moved Permanently' };

function rawResponse(resource: WptResource): Buffer {
  const head = [
    `HTTP/1.1 ${resource.status} ${STATUS_TEXT[resource.status] ?? http.STATUS_CODES[resource.status]}`,
  ];
  for (const [name, value] of Object.entries(resource.headers)) head.push(`${name}: ${value}`);
  head.push(`content-length: ${resource.body.byteLength}`, 'connection: close', '', '');
  return Buffer.concat([Buffer.from(head.join('\r\n'), 'latin1'), resource.body]);
}

/**
 * A pair of static servers (http and https) and what they serve: the
 * checkout's files, or what `respond` answers instead (undefined: the file).
 */
export interface StaticSite {
  readonly name: string;
  readonly respond?: (url: URL, config: WptConfig) => WptResource | undefined;
}

/**
 * wptserve's `?pipe=trickle(d2)`: the response waits that many seconds
 * (cookies/007.html keeps a synchronous XMLHttpRequest busy that way). Only
 * delays (`dN`) are supported, added up: the suite uses nothing else.
 */
function trickleDelay(url: URL): number {
  const match = /^trickle\(([^)]*)\)$/.exec(url.searchParams.get('pipe') ?? '');
  if (match === null) return 0;
  let seconds = 0;
  for (const token of match[1]!.split(':')) {
    const delay = /^d(\d+(?:\.\d+)?)$/.exec(token);
    if (delay !== null) seconds += Number(delay[1]);
  }
  return seconds * 1000;
}

/** The running servers and the configuration the tests see. */
export interface WptServers {
  /** The first site's configuration. */
  readonly config: WptConfig;
  /** Each site's configuration, by name: its own http and https ports, the shared ws, wss and h2. */
  readonly sites: ReadonlyMap<string, WptConfig>;
  /** Recent log lines of both pywebsocket3 processes. */
  log(): string;
  close(): Promise<void>;
}

/** Start pywebsocket3 (ws, wss) and the static servers (http, https) of each site. */
export async function startServers(
  wptDir: string,
  certificates: Certificates,
  sites: readonly StaticSite[] = [{ name: 'default' }],
): Promise<WptServers> {
  const pythons: PyWebSocket[] = [];
  const statics: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const close = async () => {
    for (const python of pythons) python.child.kill('SIGKILL');
    for (const socket of sockets) socket.destroy();
    await Promise.all(statics.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    await Promise.all(
      pythons.map(
        (python) =>
          new Promise<void>((resolve) => {
            if (python.child.exitCode !== null || python.child.signalCode !== null) resolve();
            else python.child.once('exit', () => resolve());
          }),
      ),
    );
  };
  try {
    // Both settle before going on, so that a failure of one still leaves
    // the other in `pythons` for close().
    const outcomes = await Promise.allSettled([
      startPyWebSocket(wptDir, null),
      startPyWebSocket(wptDir, certificates),
    ]);
    for (const outcome of outcomes) if (outcome.status === 'fulfilled') pythons.push(outcome.value);
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
    const [ws, wss] = pythons as [PyWebSocket, PyWebSocket];
    // No HTTP/2 server (RFC 8441) here: `?wpt_flags=h2` variants are not
    // run, but constants.sub.js substitutes the port in every variant.
    const h2 = await refusedPort();
    const configs = new Map<string, WptConfig>();
    const stash = new Map<string, string>();
    for (const site of sites) {
      // Filled in below, once the static ports are known; read per request.
      const ports = { http: [] as number[], https: [] as number[], ws: [ws.port], wss: [wss.port], h2: [h2] };
      const config: WptConfig = { wptDir, ports };
      const resource = (request: http.IncomingMessage) => {
        const url = new URL(request.url ?? '/', 'http://static/');
        return (
          stashResource(url, stash) ??
          site.respond?.(url, config) ??
          readResource(url, config, request.headers)
        );
      };
      const onRequest = (request: http.IncomingMessage, response: http.ServerResponse) => {
        const answer = resource(request);
        const send = () => response.writeHead(answer.status, answer.headers).end(answer.body);
        const delay = trickleDelay(new URL(request.url ?? '/', 'http://static/'));
        if (delay === 0) send();
        else setTimeout(send, delay);
      };
      const onUpgrade = (request: http.IncomingMessage, socket: Duplex) => {
        // The client may reset once it has read the refusal.
        socket.on('error', () => {});
        socket.end(rawResponse(resource(request)));
      };
      const plain = http.createServer(onRequest).on('upgrade', onUpgrade);
      const secure = https
        .createServer({ cert: certificates.cert, key: certificates.key }, onRequest)
        .on('upgrade', onUpgrade);
      for (const server of [plain, secure]) {
        statics.push(server);
        server.on('connection', (socket: net.Socket) => {
          sockets.add(socket);
          socket.once('close', () => sockets.delete(socket));
        });
      }
      ports.http.push(await listen(plain));
      ports.https.push(await listen(secure));
      configs.set(site.name, config);
    }
    return {
      config: configs.get(sites[0]!.name)!,
      sites: configs,
      log: () => `--- pywebsocket3 ws ---\n${ws.log()}\n--- pywebsocket3 wss ---\n${wss.log()}`,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * wptserve's stash, as fetch/api/resources/stash-put.py and stash-take.py
 * use it: `stash-put.py?key=K&value=V` stores V (answering "done"), and
 * `stash-take.py?key=K` answers the JSON of the value and removes it
 * ("null" when there is none). The stream abort test opens a WebSocket to
 * stash-put.py on this server to see whether a connection was made.
 */
function stashResource(url: URL, stash: Map<string, string>): WptResource | undefined {
  const key = url.searchParams.get('key') ?? '';
  const text = (body: string): WptResource => ({
    status: 200,
    headers: { 'content-type': 'text/plain' },
    body: new TextEncoder().encode(body),
  });
  switch (url.pathname) {
    case '/fetch/api/resources/stash-put.py':
      stash.set(key, url.searchParams.get('value') ?? '');
      return text('done');
    case '/fetch/api/resources/stash-take.py': {
      const value = stash.get(key);
      stash.delete(key);
      return text(JSON.stringify(value ?? null));
    }
    default:
      return undefined;
  }
}
