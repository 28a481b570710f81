/**
 * Helpers every benchmark uses: size names, random inputs, the machine's
 * description in a results file, and waiting for a child process's IPC
 * message. Node-only (benchmarks run under Node).
 */
import type { ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import os from 'node:os';

/** `1 KiB`, `1 MiB`, `64 B`. */
export function sizeName(size: number): string {
  if (size >= 2 ** 20) return `${size / 2 ** 20} MiB`;
  if (size >= 1024) return `${size / 1024} KiB`;
  return `${size} B`;
}

/** `size` random bytes, filled 64 KiB at a time. */
export function randomBuffer(size: number): Buffer {
  const buffer = Buffer.allocUnsafeSlow(size);
  for (let offset = 0; offset < size; offset += 65536) {
    randomFillSync(buffer, offset, Math.min(65536, size - offset));
  }
  return buffer;
}

/** What a results file says of the machine and the runtime. */
export interface NodeEnvironment {
  date: string;
  node: string;
  v8: string;
  platform: string;
  cpu: string;
  cpus: number;
}

/** The {@link NodeEnvironment} of this process, now. */
export function nodeEnvironment(): NodeEnvironment {
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
  };
}

/** The next IPC message of `type` from `child`; rejects if the child has exited or exits first. */
export function nextMessage<T extends { type: string }>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      reject(new Error(`child had exited with ${child.exitCode ?? child.signalCode} before '${type}'`));
      return;
    }
    const onMessage = (m: T): void => {
      if (m.type !== type) return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`child exited (${code}) before '${type}'`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
