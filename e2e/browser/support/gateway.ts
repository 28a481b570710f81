/**
 * Run the repository's WebTransport → TCP gateway (gateway/main.ts) with the
 * Deno binary from npm, for the end-to-end tests. Without cert/key it makes
 * a fresh certificate each run (it expires: ≤ 14 days) and reports its hash.
 * Also a TCP echo target and log-watching helpers for the tests of the
 * gateway itself (gateway-clients.spec.ts, e2e/gateway/).
 */
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Service, startService } from './processes.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The `deno` binary of the `deno` npm package (pinned in package.json). */
export const DENO = `${ROOT}node_modules/.bin/deno`;

/** A running gateway. */
export interface RunningGateway {
  /** `https://127.0.0.1:<port>/` */
  readonly url: string;
  readonly port: number;
  /** SHA-256 of its certificate, base64, for `serverCertificateHashes`. */
  readonly certificateHash: string;
  readonly service: Service;
  stop(): Promise<void>;
}

/** Options of {@link startGatewayProcess}. */
export interface GatewayProcessOptions {
  /** Allowed targets, `host:port`. */
  readonly allow: readonly string[];
  /** Also write its log here. */
  readonly logFile?: string;
  /** More command-line options. */
  readonly args?: readonly string[];
  /** PEM files of extra roots for its TLS to targets (`--ca`; it may read them). */
  readonly ca?: readonly string[];
  /** More options of `deno run` (before the script), e.g. `--inspect=127.0.0.1:PORT` to profile it. */
  readonly denoArgs?: readonly string[];
}

/** Start gateway/main.ts on 127.0.0.1 and a free UDP port. */
export async function startGatewayProcess(options: GatewayProcessOptions): Promise<RunningGateway> {
  const ca = options.ca ?? [];
  const service = await startService({
    name: 'gateway',
    command: DENO,
    // --allow-net, and reading the --ca files: the certificate is generated in memory.
    args: [
      'run',
      '--unstable-net',
      '--allow-net',
      ...(ca.length === 0 ? [] : [`--allow-read=${ca.join(',')}`]),
      ...(options.denoArgs ?? []),
      `${ROOT}gateway/main.ts`,
      '--listen',
      '127.0.0.1:0',
      '--allow',
      options.allow.join(','),
      ...ca.flatMap((file) => ['--ca', file]),
      ...(options.args ?? []),
    ],
    cwd: ROOT,
    // No update check or colours in the log.
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    ready: /^ready (\{.*\})$/,
    ...(options.logFile === undefined ? {} : { logFile: options.logFile }),
  });
  const ready = JSON.parse(service.ready[1]!) as { port: number; certificateHash: string };
  return {
    url: `https://127.0.0.1:${ready.port}/`,
    port: ready.port,
    certificateHash: ready.certificateHash,
    service,
    stop: () => service.stop(),
  };
}

/** A TCP echo server: a target for the gateway whose connections can be watched. */
export interface TcpEchoServer {
  readonly port: number;
  /** Every connection accepted so far, in order, and whether it is closed. */
  readonly connections: ReadonlyArray<{ readonly closed: boolean }>;
  /** Connections open now. */
  readonly open: number;
  stop(): Promise<void>;
}

/** Start a TCP echo server on 127.0.0.1. */
export async function startTcpEchoServer(): Promise<TcpEchoServer> {
  const sockets = new Set<net.Socket>();
  const connections: Array<{ closed: boolean }> = [];
  const server = net.createServer((socket) => {
    const connection = { closed: false };
    connections.push(connection);
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      connection.closed = true;
      sockets.delete(socket);
    });
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    get open() {
      return sockets.size;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Poll `check` every 25 ms until it is true; throws after `ms`, saying what it waited for. */
export async function until(check: () => boolean, what: string | (() => string), ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The first line of `service` (from line `from` on) that matches `pattern`;
 * throws after `ms`, or at once if the process exited without it.
 */
export async function waitForLine(
  service: Service,
  pattern: RegExp,
  from = 0,
  ms = 30_000,
): Promise<RegExpExecArray> {
  let match: RegExpExecArray | null = null;
  const output = () => service.lines.slice(from).join('\n');
  await until(
    () => {
      if (service.lines.slice(from).some((line) => (match = pattern.exec(line)) !== null)) return true;
      const { exitCode, signalCode } = service.child;
      if (exitCode !== null || signalCode !== null) {
        throw new Error(
          `${service.name} exited (${exitCode ?? signalCode}) before a line matching ${pattern}:\n${output()}`,
        );
      }
      return false;
    },
    () => `a ${service.name} line matching ${pattern}; its output:\n${output()}`,
    ms,
  );
  return match!;
}

/** Lines that say a promise went unhandled: Deno's own, and main.ts's last-defence ones. */
export function unhandledErrorLines(service: Service): string[] {
  return service.lines.filter((line) => /Uncaught|unhandled rejection|uncaught exception/.test(line));
}
