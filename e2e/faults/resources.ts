/**
 * Nothing outlives a connection: the sockets and timers a test started with
 * must be all that is left once it is over.
 */
import { expect } from 'vitest';

/** Sockets and timers this process holds now. */
export interface Resources {
  readonly sockets: number;
  readonly timers: number;
}

export function resources(): Resources {
  const names = process.getActiveResourcesInfo();
  return {
    sockets: names.filter((name) => name === 'TCPSocketWrap').length,
    timers: names.filter((name) => name === 'Timeout').length,
  };
}

/** Wait (bounded, 10 s) for sockets and timers to drop back to `before`; return what is left. */
export async function settled(before: Resources): Promise<Resources> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const now = resources();
    if ((now.sockets <= before.sockets && now.timers <= before.timers) || Date.now() > deadline) return now;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Expect no socket or timer beyond those in `before` to remain (waiting for them to close, bounded). */
export async function expectNothingLeft(before: Resources): Promise<void> {
  const after = await settled(before);
  expect(after.sockets).toBeLessThanOrEqual(before.sockets);
  expect(after.timers).toBeLessThanOrEqual(before.timers);
}
