/**
 * Child processes for the end-to-end tests: spawned, watched for a "ready"
 * line on stdout, logged to a file, and always stopped (SIGTERM, then
 * SIGKILL after a grace period).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

/** A running child process. */
export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** The match of the ready pattern. */
  readonly ready: RegExpExecArray;
  /** Every stdout and stderr line so far. */
  readonly lines: string[];
  /** Stop it (idempotent); resolves once it exited. */
  stop(): Promise<void>;
}

/** Options of {@link startService}. */
export interface ServiceOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** The stdout line that says the service is ready. */
  readonly ready: RegExp;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Also append every line to this file. */
  readonly logFile?: string;
  /** Give up waiting for `ready` after this long. @defaultValue `30000` */
  readonly timeoutMs?: number;
  /** Keep stdin open as a pipe (some peers exit when it closes). @defaultValue `false` */
  readonly stdin?: boolean;
}

const running = new Set<Service>();

/** Start a process and wait for its ready line. Rejects (and kills it) on exit or timeout first. */
export function startService(options: ServiceOptions): Promise<Service> {
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let log: ReturnType<typeof createWriteStream> | undefined;
  if (options.logFile !== undefined) {
    mkdirSync(dirname(options.logFile), { recursive: true });
    log = createWriteStream(options.logFile, { flags: 'a' });
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => (log === undefined ? resolve() : log.end(resolve)));
    running.delete(service);
  };
  let onLine: (line: string) => void = () => {};
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      log?.write(`${line}\n`);
      onLine(line);
    });
  }
  const service: Service = {
    name: options.name,
    child,
    get ready(): RegExpExecArray {
      return readyMatch!;
    },
    lines,
    stop,
  };
  let readyMatch: RegExpExecArray | undefined;
  running.add(service);
  return new Promise<Service>((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const fail = (why: string) => {
      clearTimeout(timer);
      void stop();
      reject(new Error(`${options.name} ${why}; output:\n${lines.join('\n')}`));
    };
    const timer = setTimeout(() => fail(`was not ready after ${timeoutMs} ms`), timeoutMs);
    child.once('error', (error) => fail(`failed to start: ${error.message}`));
    child.once('exit', (code, signal) => {
      if (readyMatch === undefined) fail(`exited (${code ?? signal}) before it was ready`);
    });
    onLine = (line) => {
      const match = options.ready.exec(line);
      if (readyMatch !== undefined || match === null) return;
      readyMatch = match;
      clearTimeout(timer);
      resolve(service);
    };
  });
}

/** Stop every service still running (teardown's safety net). */
export async function stopAllServices(): Promise<void> {
  await Promise.allSettled([...running].map((service) => service.stop()));
}
