/**
 * Everything the demo page talks to, started together (by scripts/demo.ts
 * and by the demo's browser tests), all on 127.0.0.1:
 *
 *     page (Vite, http://127.0.0.1:<port>/)
 *       ├─ native WebSocket ──────────────────────────────────▶ demo server (ws, TCP)
 *       └─ polysocket ── WebTransport ──▶ gateway (Deno, UDP) ──▶ demo server
 *                                                    └── TLS ──▶ TLS front ──▶ demo server (wss:)
 *
 * The gateway makes a fresh certificate each start and allow-lists only the
 * demo server and its TLS front. The TLS front (node:tls, in this process)
 * gives the demo server a wss: address, with a certificate from a CA made
 * for the run (e2e/browser/support/tls.ts) that only the gateway is told to
 * trust (--ca): wss:// URLs work through the gateway's TLS
 * (`tls: 'gateway'`), not with the browser's own WebSocket. The page reads
 * the addresses and the certificate hash from /config.json, served by a
 * Vite middleware.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createServer, type Plugin, type ViteDevServer } from 'vite';
import { DENO, startGatewayProcess } from '../e2e/browser/support/gateway.js';
import { makeTestCertificates, type ServerCertificate } from '../e2e/browser/support/tls.js';
import { type DemoServer, startDemoServer } from './server.js';

/** What the page gets from /config.json. */
export interface DemoConfig {
  /** The demo server as the browser and the gateway see it: `ws://127.0.0.1:<port>`. */
  readonly server: string;
  /**
   * The same server over TLS, `wss://127.0.0.1:<port>`: through the gateway
   * only (its certificate is from the run's CA, which the gateway trusts).
   */
  readonly secureServer: string;
  /** The WebTransport gateway: `https://127.0.0.1:<port>/`. */
  readonly gateway: string;
  /** SHA-256 of the gateway's certificate, base64, for `serverCertificateHashes`. */
  readonly certificateHash: string;
  /** When that certificate expires (ISO 8601). */
  readonly certificateNotAfter: string;
}

/** Options of {@link startDemo}. */
export interface DemoOptions {
  /** The page's port. @defaultValue `5173`, or the next free one */
  readonly port?: number;
  /** Fail instead of trying the next port. @defaultValue `false` */
  readonly strictPort?: boolean;
  /** One line per server event (connections, gateway log). @defaultValue none */
  readonly log?: (source: 'server' | 'gateway', line: string) => void;
}

/** The running demo. */
export interface RunningDemo {
  /** The page: `http://127.0.0.1:<port>/`. */
  readonly url: string;
  readonly config: DemoConfig;
  readonly server: DemoServer;
  /** Stop everything (idempotent). */
  stop(): Promise<void>;
}

const DEMO_CONFIG_FILE = fileURLToPath(new URL('./vite.config.ts', import.meta.url));

/** Serves the run's {@link DemoConfig} at /config.json, never cached. */
function configPlugin(config: DemoConfig): Plugin {
  const body = JSON.stringify(config);
  return {
    name: 'polysocket-demo-config',
    configureServer(server) {
      server.middlewares.use('/config.json', (_request, response) => {
        response.setHeader('content-type', 'application/json');
        response.setHeader('cache-control', 'no-store');
        response.end(body);
      });
    },
  };
}

/** Start the demo server, the gateway and the page server. */
export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const stops: Array<() => Promise<void>> = [];
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      for (const step of stops.reverse()) await step().catch(() => {});
    })());
  try {
    const log = options.log;
    const server = await startDemoServer(log === undefined ? {} : { log: (line) => log('server', line) });
    stops.push(() => server.stop());
    const certificates = makeTestCertificates();
    stops.push(async () => certificates.remove());
    const front = await startTlsFront(certificates.servers.good, server.port);
    stops.push(() => front.stop());
    const gateway = await startGatewayProcess({
      allow: [`127.0.0.1:${server.port}`, `127.0.0.1:${front.port}`],
      ca: [certificates.caFile],
    });
    stops.push(() => gateway.stop());
    if (log !== undefined) {
      const stdout = gateway.service.child.stdout;
      if (stdout !== null) createInterface({ input: stdout }).on('line', (line) => log('gateway', line));
    }
    const ready = JSON.parse(gateway.service.ready[1]!) as { notAfter: string };
    const config: DemoConfig = {
      server: server.url,
      secureServer: `wss://127.0.0.1:${front.port}`,
      gateway: gateway.url,
      certificateHash: gateway.certificateHash,
      certificateNotAfter: ready.notAfter,
    };
    const vite: ViteDevServer = await createServer({
      configFile: DEMO_CONFIG_FILE,
      server: { port: options.port ?? 5173, strictPort: options.strictPort ?? false },
      plugins: [configPlugin(config)],
    });
    stops.push(() => vite.close());
    await vite.listen();
    const address = vite.httpServer?.address();
    if (address === null || address === undefined || typeof address === 'string')
      throw new Error('the page server has no TCP address');
    return { url: `http://127.0.0.1:${address.port}/`, config, server, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A TLS front for the demo server: TLS on 127.0.0.1 with `certificate`,
 * each connection piped to the server's TCP port (as a TLS-terminating
 * proxy would), half-closes both ways. Stopping it closes its connections.
 */
async function startTlsFront(
  certificate: ServerCertificate,
  serverPort: number,
): Promise<{ readonly port: number; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  };
  const front = tls.createServer(
    { cert: certificate.cert, key: certificate.key, ALPNProtocols: ['http/1.1'], allowHalfOpen: true },
    (secure) => {
      const plain = net.connect({ host: '127.0.0.1', port: serverPort, allowHalfOpen: true });
      track(secure);
      track(plain);
      // Either end gone: the other goes too.
      secure.on('close', () => plain.destroy());
      plain.on('close', () => secure.destroy());
      secure.pipe(plain);
      plain.pipe(secure);
    },
  );
  // A handshake the gateway gives up on is not the demo's error.
  front.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (front.address() as net.AddressInfo).port,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}

/**
 * Check the gateway end to end without a browser: open a WebTransport
 * session with Deno's client (trusting the certificate by its hash), ask
 * for the demo server, and send a WebSocket opening handshake through the
 * stream. Resolves with the status line and the server's response line,
 * e.g. `200 connected` and `HTTP/1.1 101 Switching Protocols`. With
 * `secure`, through the gateway's TLS to the TLS front (`200 connected tls
 * verified …`).
 */
export async function probeGateway(
  config: DemoConfig,
  timeoutMs = 20_000,
  secure = false,
): Promise<{ status: string; response: string }> {
  const url = new URL(secure ? config.secureServer : config.server);
  const target = url.host;
  const request = secure
    ? `CONNECT ${target} tls server-name=${url.hostname} alpn=http/1.1`
    : `CONNECT ${target}`;
  const code = `
const hash = Uint8Array.from(atob(${JSON.stringify(config.certificateHash)}), (c) => c.charCodeAt(0));
const wt = new WebTransport(${JSON.stringify(new URL('probe', config.gateway).href)}, {
  serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }],
});
await wt.ready;
const { readable, writable } = await wt.createBidirectionalStream();
const writer = writable.getWriter();
await writer.write(new TextEncoder().encode(${JSON.stringify(
    `${request}\r\nGET /echo HTTP/1.1\r\nHost: ${target}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  )}));
const reader = readable.getReader();
const decoder = new TextDecoder();
let text = '';
while (!text.includes('\\r\\n\\r\\n')) {
  const { value, done } = await reader.read();
  if (done) break;
  text += decoder.decode(value, { stream: true });
}
console.log(JSON.stringify(text.split('\\r\\n').slice(0, 2)));
wt.close();
Deno.exit(0);
`;
  const child = spawn(DENO, ['eval', '--unstable-net', code], {
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  if (exitCode !== 0) throw new Error(`gateway probe failed (exit ${exitCode}): ${stderr.trim() || stdout}`);
  const [status = '', response = ''] = JSON.parse(stdout.trim()) as string[];
  return { status, response };
}
