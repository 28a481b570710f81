/**
 * Memory measurements for tests that feed hostile input in bounded loops:
 * a full garbage collection first (exposed at run time, whatever flags the
 * test runner started Node with), then the heap in use plus the memory of
 * ArrayBuffers, which is where received bytes live.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

/** Run a full garbage collection. */
export function gc(): void {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

/** Bytes in use after a full collection: `heapUsed + arrayBuffers`. */
export function memoryInUse(): number {
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

export const MiB = 2 ** 20;
