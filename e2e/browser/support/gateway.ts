/**
 * Run the repository's WebTransport → TCP gateway (gateway/main.ts) with the
 * Deno binary from npm, for the end-to-end tests. Without cert/key it makes
 * a fresh certificate each run (it expires: ≤ 14 days) and reports its hash.
 */
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
}

/** Start gateway/main.ts on 127.0.0.1 and a free UDP port. */
export async function startGatewayProcess(options: GatewayProcessOptions): Promise<RunningGateway> {
  const service = await startService({
    name: 'gateway',
    command: DENO,
    // --allow-net only: the certificate is generated in memory, nothing is read.
    args: [
      'run',
      '--unstable-net',
      '--allow-net',
      `${ROOT}gateway/main.ts`,
      '--listen',
      '127.0.0.1:0',
      '--allow',
      options.allow.join(','),
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
