/**
 * A small soak in `npm test`: 50 connections for 5 s against a `ws` echo
 * server in a child process; nothing lost, nothing corrupted, every
 * connection opens and closes cleanly. The full run (1,000 connections,
 * 60 s, heap plateau) is `npm run soak`.
 */
import { expect, test } from 'vitest';
import { runSoak } from './soak.js';

test('50 connections × 5 s: every message echoed and verified, none lost', { timeout: 60_000 }, async () => {
  const result = await runSoak({ connections: 50, seconds: 5, maxSize: 16 * 1024, sampleMs: 500 });
  expect(result.errors).toEqual([]);
  expect(result.opened).toBe(50);
  expect(result.messagesDelivered).toBeGreaterThan(500);
  expect(result.messagesLost).toBe(0);
  expect(result.corrupt).toBe(0);
  expect(result.cleanCloses).toBe(50);
  expect(result.unexpectedCloses).toBe(0);
});
