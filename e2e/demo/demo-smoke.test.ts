/**
 * `npm run demo` (scripts/demo.ts) as a person runs it: `--smoke` starts
 * everything, checks the page, the server and the gateway, and exits 0; a
 * normal run prints the URL to open and stops all its children on SIGINT
 * (Ctrl-C) or SIGTERM. Each run is started in a process group of its own,
 * so that "no process left behind" is checked for the whole group (the
 * Deno gateway included).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;

interface Run {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

function runDemo(args: string[]): Run {
  const child = spawn(TSX, ['scripts/demo.ts', ...args], {
    cwd: ROOT,
    detached: true, // its own process group: see groupAlive()
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** True while any process of the run's group is alive. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whatever happens, leave nothing behind. */
function killGroup(run: Run): void {
  if (run.child.pid !== undefined && groupAlive(run.child.pid)) process.kill(-run.child.pid, 'SIGKILL');
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('npm run demo (scripts/demo.ts)', () => {
  it('--smoke starts the page, the server and the gateway, checks them and exits 0', {
    timeout: 120_000,
  }, async () => {
    const run = runDemo(['--smoke']);
    try {
      const code = await run.exited;
      expect(run.output()).toMatch(
        /smoke: page http:\/\/127\.0\.0\.1:\d+\/ ok; server echo ok; gateway 200 connected, HTTP\/1\.1 101/,
      );
      expect(code).toBe(0);
      await waitFor('the demo process group to exit', () => !groupAlive(run.child.pid!), 15_000);
    } finally {
      killGroup(run);
    }
  });

  // Ctrl-C in a terminal signals the whole foreground group; `kill PID` signals tsx alone.
  for (const [signal, to] of [
    ['SIGINT', 'group'],
    ['SIGTERM', 'tsx'],
  ] as const) {
    it(`prints the URL to open, and ${signal} to the ${to} stops everything`, {
      timeout: 120_000,
    }, async () => {
      // Port 0: the OS picks a free port as the page server binds it.
      const run = runDemo(['--port', '0']);
      try {
        await waitFor(
          'the URL line',
          () => /polysocket demo: open http:\/\/127\.0\.0\.1:\d+\//.test(run.output()),
          90_000,
        );
        const port = Number(/open http:\/\/127\.0\.0\.1:(\d+)\//.exec(run.output())![1]);
        expect(port).toBeGreaterThan(0);
        const server = /echo\/chat server\s+ws:\/\/127\.0\.0\.1:(\d+)\/echo/.exec(run.output());
        expect(server).not.toBeNull();
        const page = await fetch(`http://127.0.0.1:${port}/`);
        expect(page.status).toBe(200);
        process.kill(to === 'group' ? -run.child.pid! : run.child.pid!, signal);
        await run.exited;
        await waitFor('the demo process group to exit', () => !groupAlive(run.child.pid!), 20_000);
        expect(await refused(port)).toBe(true);
        expect(await refused(Number(server![1]))).toBe(true);
      } finally {
        killGroup(run);
      }
    });
  }
});
