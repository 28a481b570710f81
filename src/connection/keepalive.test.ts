import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { Keepalive } from './keepalive.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function keepalive(intervalMs: number | null, timeoutMs: number | null, canPing = () => true) {
  const pings: Uint8Array[] = [];
  const timeouts: number[] = [];
  const k = new Keepalive(intervalMs, timeoutMs, {
    ping: (payload) => {
      if (!canPing()) return false;
      pings.push(payload);
      return true;
    },
    timedOut: (ms) => timeouts.push(ms),
  });
  return { k, pings, timeouts };
}

describe('Keepalive', () => {
  test('pings every interval once answered; latency is the last round trip', () => {
    const { k, pings } = keepalive(1000, 500);
    expect(k.latencyMs).toBeNull();
    k.start();
    vi.advanceTimersByTime(999);
    expect(pings).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(pings).toHaveLength(1);
    expect(pings[0]).toHaveLength(4);
    vi.advanceTimersByTime(40);
    k.pong(pings[0]!.slice());
    expect(k.latencyMs).toBeCloseTo(40, 0);
    vi.advanceTimersByTime(1000);
    expect(pings).toHaveLength(2);
    k.stop();
  });

  test('a pong with other data does not answer; no answer in time fails', () => {
    const { k, pings, timeouts } = keepalive(100, 300);
    k.start();
    vi.advanceTimersByTime(100);
    k.pong(Uint8Array.of(1, 2, 3, 4));
    k.pong(new Uint8Array(0));
    vi.advanceTimersByTime(299);
    expect(timeouts).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(timeouts).toEqual([300]);
    expect(pings).toHaveLength(1);
    expect(k.latencyMs).toBeNull();
  });

  test('off without an interval; no pong timeout without a timeout; stop() clears every timer', () => {
    const off = keepalive(null, 100);
    off.k.start();
    vi.advanceTimersByTime(10_000);
    expect(off.pings).toHaveLength(0);

    const patient = keepalive(100, null);
    patient.k.start();
    vi.advanceTimersByTime(10_000);
    expect(patient.pings).toHaveLength(1);
    expect(patient.timeouts).toEqual([]);

    const stopped = keepalive(100, 50);
    stopped.k.start();
    vi.advanceTimersByTime(100);
    stopped.k.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(stopped.timeouts).toEqual([]);
  });

  test('a connection that can no longer send gets no ping and no pong timer', () => {
    const { k, pings } = keepalive(100, 50, () => false);
    k.start();
    vi.advanceTimersByTime(100);
    expect(pings).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
