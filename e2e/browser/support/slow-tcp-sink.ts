/**
 * A slow, checking TCP sink (slow-tcp-sink.py, Debian's Python) for the Direct
 * Sockets tests: a 2 KiB receive buffer and an optional pause before it
 * reads, so that the client's writes back up into Chromium's pipe; it checks
 * every byte against the pattern `i % 251`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PYTHON } from './servers.js';

/** What the sink got on one connection. */
export interface SinkResult {
  readonly received: number;
  /** Offset of the first wrong byte, or -1. */
  readonly badAt: number;
}

/** A running sink. */
export interface SlowTcpSink {
  readonly port: number;
  /**
   * Arm the sink for the next connection: it reads nothing for `pauseMs`,
   * then up to `total` bytes, and gives up (closing the connection, which
   * resets it if data is still coming) once nothing came for `idleMs`.
   * Resolves with what it got.
   */
  next(total: number, pauseMs?: number, idleMs?: number): Promise<SinkResult>;
  stop(): Promise<void>;
}

/** Start the sink. */
export async function startSlowTcpSink(): Promise<SlowTcpSink> {
  const script = fileURLToPath(new URL('./slow-tcp-sink.py', import.meta.url));
  const child: ChildProcess = spawn(PYTHON, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = async (): Promise<string> => {
    const next = await lines.next();
    if (next.done === true) throw new Error('the TCP sink exited');
    return next.value;
  };
  const { port } = JSON.parse(await line()) as { port: number };
  return {
    port,
    next: async (total, pauseMs = 0, idleMs = 3000) => {
      child.stdin!.write(`${pauseMs} ${total} ${idleMs}\n`);
      return JSON.parse(await line()) as SinkResult;
    },
    stop: async () => {
      child.stdin!.end(); // the sink exits when stdin closes
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
