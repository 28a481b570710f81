/**
 * Issue 11: client processes that go away mid-transfer (Deno.exit(), or
 * SIGKILL) cost the gateway process their session and its TCP connections,
 * and nothing else: it stays up, logs the reaping, never reports an
 * unhandled rejection (Deno's "Uncaught", or main.ts's last-defence line),
 * and serves the next client.
 *
 * The gateway runs as in production (gateway/main.ts, its own process); the
 * clients are gateway/wt-client.ts, on Deno's WebTransport client; the
 * target is a TCP echo server in this process. All on 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  DENO,
  type RunningGateway,
  startGatewayProcess,
  startTcpEchoServer,
  type TcpEchoServer,
  unhandledErrorLines,
  until,
  waitForLine,
} from '../browser/support/gateway.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The gateway's QUIC idle timeout here: how soon a vanished client is reaped. */
const IDLE_MS = 3000;
let gateway: RunningGateway;
let echo: TcpEchoServer;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  echo = await startTcpEchoServer();
  gateway = await startGatewayProcess({
    allow: [`127.0.0.1:${echo.port}`],
    args: ['--idle-timeout', String(IDLE_MS)],
  });
}, 60_000);

afterAll(async () => {
  // Clients a failed test left behind.
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await gateway?.stop();
  await echo?.stop();
}, 30_000);

describe('the gateway outlives its clients', () => {
  for (const { how, mode, end } of [
    { how: 'exits (Deno.exit)', mode: 'exit', end: async (_: Client) => {} },
    { how: 'is killed (SIGKILL)', mode: 'hang', end: async (client: Client) => client.kill() },
  ] as const) {
    test(`a client process that ${how} mid-transfer is reaped, and the next client is served`, async () => {
      const mark = gateway.service.lines.length;
      const connection = echo.connections.length;
      const client = startClient(mode);
      await client.waitForLine(/^transferring$/);
      const session = await waitForLine(gateway.service, /^\S+ session (s\d+) open from /, mark);
      const id = session[1]!;
      await waitForLine(gateway.service, new RegExp(`^\\S+ connect ${id}\\.1 `), mark);
      await end(client);
      await client.exited;

      // Reaped: its session and its TCP connection are closed, and logged.
      const closed = await waitForLine(
        gateway.service,
        new RegExp(`^\\S+ session ${id} closed: (.*)$`),
        mark,
      );
      expect(closed[1]).toMatch(/timed out|closed|lost|reset/i);
      const tcp = new RegExp(`^\\S+ close ${id}\\.1 127\\.0\\.0\\.1:${echo.port} `);
      await waitForLine(gateway.service, tcp, mark);
      await until(
        () => echo.connections[connection]?.closed === true,
        'the TCP connection to the target to close',
      );

      // Still up, and nothing went unhandled.
      expect(gateway.service.child.exitCode).toBeNull();
      expect(gateway.service.child.signalCode).toBeNull();
      expect(unhandledErrorLines(gateway.service)).toEqual([]);

      // The next client is served.
      const next = startClient('echo');
      await next.waitForLine(/^echoed hello$/);
      expect(await next.exited).toBe(0);
    }, 90_000);
  }
});

/** A client process (gateway/wt-client.ts). */
interface Client {
  readonly lines: string[];
  /** Resolves with the exit code (null if killed). */
  readonly exited: Promise<number | null>;
  waitForLine(pattern: RegExp): Promise<void>;
  kill(): void;
}

function startClient(mode: 'echo' | 'exit' | 'hang'): Client {
  const child: ChildProcess = spawn(
    DENO,
    [
      'run',
      '--unstable-net',
      '--allow-net=127.0.0.1',
      `${ROOT}gateway/wt-client.ts`,
      '--gateway',
      gateway.url,
      '--hash',
      gateway.certificateHash,
      '--target',
      `127.0.0.1:${echo.port}`,
      '--mode',
      mode,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (stream !== null) createInterface({ input: stream }).on('line', (line) => lines.push(line));
  }
  // 'close', not 'exit': its output has been read by then.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  return {
    lines,
    exited,
    waitForLine: (pattern) =>
      until(() => {
        if (lines.some((line) => pattern.test(line))) return true;
        if (done) throw new Error(`the client exited without ${pattern}; output:\n${lines.join('\n')}`);
        return false;
      }, `client output ${pattern}`),
    kill: () => child.kill('SIGKILL'),
  };
}
