/**
 * `npm run demo` (scripts/demo.ts) as a person runs it: `--smoke` starts
 * everything, checks the page, the server and the gateway, and exits 0; a
 * normal run prints the URL to open and stops all its children on SIGINT
 * (Ctrl-C) or SIGTERM. Each run is started in a process group of its own,
 * so that "no process left behind" is checked for the whole group (the
 * Deno gateway included).
 *
 * The script runs as `node --import tsx scripts/demo.ts`, not through the
 * `tsx` command, whose wrapper process kills the script with SIGKILL if it
 * is slow to acknowledge a relayed SIGTERM (see scripts/demo.ts).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TIME_SCALE = inject('timeScale');
/** Bound on the demo's start-up (compiling the script, the Deno gateway, Vite): about 5 s on an idle machine. */
const START_MS = 20_000 * TIME_SCALE;
/** Bound on the --smoke checks: page, echo, and a gateway probe that starts a Deno process. */
const CHECK_MS = 20_000 * TIME_SCALE;
/** Bound on stopping everything. */
const STOP_MS = 10_000 * TIME_SCALE;
/** More than the bounds above, so that they fail first, with the demo's output. */
const MARGIN_MS = 10_000 * TIME_SCALE;

interface Run {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves on the first output that matches, rejects if the run exits first or after `ms`. */
  readonly waitForOutput: (pattern: RegExp, ms: number) => Promise<RegExpExecArray>;
  /** Resolves with the exit code once the run exited; rejects after `ms`. */
  readonly exit: (ms: number) => Promise<number | null>;
}

function runDemo(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], {
    cwd: ROOT,
    detached: true, // its own process group: see groupMembers()
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exited = false;
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const listener of listeners) listener();
  };
  // Decoded as text streams: a chunk may end inside a multi-byte character.
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: string) => {
      output += chunk;
      changed();
    });
  }
  child.once('exit', () => {
    exited = true;
    changed();
  });
  // Until `settle` returns a value or throws (checked now and on every output or exit), or `ms` passed.
  const until = <T>(what: string, ms: number, settle: () => T | undefined): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      const check = () => {
        try {
          const value = settle();
          if (value === undefined) return;
          done();
          resolve(value);
        } catch (error) {
          done();
          reject(error);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${what} after ${ms} ms; output:\n${output}`));
      }, ms);
      listeners.add(check);
      check();
    });
  return {
    child,
    output: () => output,
    waitForOutput: (pattern, ms) =>
      // The whole output is matched each time: a line may come in several chunks.
      until(`output matching ${pattern}`, ms, () => {
        const match = pattern.exec(output);
        if (match !== null) return match;
        if (exited)
          throw new Error(`exited (${child.exitCode ?? child.signalCode}) first; output:\n${output}`);
        return undefined;
      }),
    exit: (ms) =>
      until('exit', ms, () => (exited ? { code: child.exitCode } : undefined)).then((e) => e.code),
  };
}

/** The processes of the run's group still alive (zombies included), as `ps` lines. */
function groupMembers(pid: number): string[] {
  try {
    process.kill(-pid, 0);
  } catch {
    return [];
  }
  try {
    // The group is also a session (detached: setsid()).
    return execFileSync('ps', ['-o', 'pid=,stat=,args=', '-s', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.trim() !== '');
  } catch {
    return ['(alive, ps failed)'];
  }
}

/**
 * Resolves once no process of the run's group is left. Polled: they are not
 * this process's children, so no event tells of their exit. Once the demo
 * exited, only processes that end with their parent may remain, for
 * moments (tsx's esbuild service, when its cache is cold); the demo's own
 * children must be gone already, since it waits for them.
 */
async function groupGone(pid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (let left = groupMembers(pid); left.length > 0; left = groupMembers(pid)) {
    if (Date.now() > deadline) throw new Error(`still running after ${ms} ms:\n${left.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whatever happens, leave nothing behind. */
function killGroup(run: Run): void {
  if (run.child.pid === undefined) return;
  try {
    process.kill(-run.child.pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
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
    timeout: START_MS + CHECK_MS + 2 * STOP_MS + MARGIN_MS,
  }, async () => {
    const run = runDemo(['--smoke']);
    try {
      const code = await run.exit(START_MS + CHECK_MS + STOP_MS);
      expect(run.output()).toMatch(
        /smoke: page http:\/\/127\.0\.0\.1:\d+\/ ok; server echo ok; gateway 200 connected, HTTP\/1\.1 101/,
      );
      expect(code).toBe(0);
      await groupGone(run.child.pid!, STOP_MS);
    } finally {
      killGroup(run);
    }
  });

  // Ctrl-C in a terminal signals the whole foreground group; `kill PID` signals the script alone.
  for (const [signal, to] of [
    ['SIGINT', 'group'],
    ['SIGTERM', 'script'],
  ] as const) {
    it(`prints the URL to open, and ${signal} to the ${to} stops everything`, {
      timeout: START_MS + 2 * STOP_MS + MARGIN_MS,
    }, async () => {
      // Port 0: the OS picks a free port as the page server binds it.
      const run = runDemo(['--port', '0']);
      try {
        const url = await run.waitForOutput(/polysocket demo: open http:\/\/127\.0\.0\.1:(\d+)\//, START_MS);
        const port = Number(url[1]);
        expect(port).toBeGreaterThan(0);
        // Printed before the URL, in the same write.
        const server = /demo server\s+ws:\/\/127\.0\.0\.1:(\d+)\/echo/.exec(run.output());
        expect(server).not.toBeNull();
        const page = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(START_MS) });
        expect(page.status).toBe(200);
        process.kill(to === 'group' ? -run.child.pid! : run.child.pid!, signal);
        expect(await run.exit(STOP_MS)).toBe(0);
        await groupGone(run.child.pid!, STOP_MS);
        expect(await refused(port)).toBe(true);
        expect(await refused(Number(server![1]))).toBe(true);
      } finally {
        killGroup(run);
      }
    });
  }
});
