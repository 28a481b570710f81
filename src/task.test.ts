import { afterEach, describe, expect, test, vi } from 'vitest';
import { scheduleTask } from './task.js';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/**
 * Schedules three tasks, each of which queues a microtask, with microtasks
 * queued before and between the calls; resolves with the order of it all.
 */
function runTasks(): Promise<string[]> {
  const order: string[] = [];
  return new Promise((resolve) => {
    queueMicrotask(() => order.push('microtask before'));
    for (const name of ['a', 'b', 'c']) {
      scheduleTask(() => {
        order.push(`task ${name}`);
        queueMicrotask(() => order.push(`microtask ${name}`));
        void Promise.resolve()
          .then(() => undefined)
          .then(() => {
            order.push(`chained ${name}`);
            if (name === 'c') resolve(order);
          });
      });
    }
    order.push('sync');
  });
}

/** Replace `MessageChannel` with a subclass that records the channels opened and those whose port1 was closed. */
function recordChannels(): { opened: MessageChannel[]; closed: MessageChannel[] } {
  const opened: MessageChannel[] = [];
  const closed: MessageChannel[] = [];
  const Platform = MessageChannel;
  vi.stubGlobal(
    'MessageChannel',
    class extends Platform {
      constructor() {
        super();
        opened.push(this);
        const close = this.port1.close.bind(this.port1);
        this.port1.close = () => {
          closed.push(this);
          close();
        };
      }
    },
  );
  return { opened, closed };
}

const EXPECTED = [
  'sync',
  'microtask before',
  'task a',
  'microtask a',
  'chained a',
  'task b',
  'microtask b',
  'chained b',
  'task c',
  'microtask c',
  'chained c',
];

/** Tasks that schedule tasks: each runs after those already queued. */
function runNested(): Promise<string[]> {
  const order: string[] = [];
  return new Promise((resolve) => {
    scheduleTask(() => {
      order.push('a');
      scheduleTask(() => {
        order.push('c');
        scheduleTask(() => {
          order.push('d');
          resolve(order);
        });
      });
    });
    scheduleTask(() => order.push('b'));
  });
}

describe('scheduleTask', () => {
  test('with setImmediate (Node.js, Bun): one task per call, in order, microtasks between', async () => {
    const setImmediate = vi.spyOn(globalThis, 'setImmediate');
    expect(await runTasks()).toEqual(EXPECTED);
    expect(setImmediate).toHaveBeenCalledTimes(3);
    expect(await runNested()).toEqual(['a', 'b', 'c', 'd']);
  });

  test('with a MessageChannel (browsers, Deno): one task per call, in order, microtasks between', async () => {
    vi.stubGlobal('setImmediate', undefined);
    const setTimeout = vi.spyOn(globalThis, 'setTimeout');
    expect(await runTasks()).toEqual(EXPECTED);
    expect(await runNested()).toEqual(['a', 'b', 'c', 'd']);
    expect(setTimeout).not.toHaveBeenCalled();
  });

  test('with a MessageChannel in Deno: one channel while tasks are queued, closed once idle', async () => {
    vi.stubGlobal('setImmediate', undefined);
    vi.stubGlobal('Deno', {}); // an open port would keep the process alive
    // A channel an earlier test left open closes after its next task.
    await new Promise<void>((resolve) => scheduleTask(resolve));
    const { opened, closed } = recordChannels();
    expect(await runTasks()).toEqual(EXPECTED);
    expect(opened).toHaveLength(1);
    expect(closed).toEqual(opened);
    // The next task opens a new channel.
    await new Promise<void>((resolve) => scheduleTask(resolve));
    expect(opened).toHaveLength(2);
    expect(closed).toEqual(opened);
  });

  test('with a MessageChannel in a browser: one channel for every task, never closed', async () => {
    vi.stubGlobal('setImmediate', undefined);
    const { opened, closed } = recordChannels();
    expect(await runTasks()).toEqual(EXPECTED);
    await new Promise<void>((resolve) => scheduleTask(resolve));
    expect(await runNested()).toEqual(['a', 'b', 'c', 'd']);
    expect(opened).toHaveLength(1);
    expect(closed).toHaveLength(0);
  });

  test('with neither, setTimeout(0): one task per call, in order, microtasks between', async () => {
    vi.stubGlobal('setImmediate', undefined);
    vi.stubGlobal('MessageChannel', undefined);
    const setTimeout = vi.spyOn(globalThis, 'setTimeout');
    expect(await runTasks()).toEqual(EXPECTED);
    expect(setTimeout).toHaveBeenCalledTimes(3);
    expect(setTimeout.mock.calls.map((call) => call[1])).toEqual([0, 0, 0]);
    expect(await runNested()).toEqual(['a', 'b', 'c', 'd']);
  });
});
