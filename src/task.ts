/**
 * Queue a task (a macrotask, as HTML's "queue a task"), so that all the
 * microtasks queued before it, and by it, run before the next one.
 *
 * Uses `setImmediate` where it exists (Node.js, Bun), else a
 * `MessageChannel` (browsers, Deno, workers), else `setTimeout(0)`. Tasks run
 * in the order they were queued.
 */
export function scheduleTask(task: () => void): void {
  const setImmediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  if (typeof setImmediate === 'function') {
    setImmediate(task);
  } else if (typeof MessageChannel === 'function') {
    viaMessageChannel(task);
  } else {
    setTimeout(task, 0);
  }
}

const queue: Array<() => void> = [];
let channel: MessageChannel | null = null;

/**
 * Whether an open port keeps the process alive, so that the channel must be
 * closed whenever no task is queued: in Deno. Elsewhere (browsers, their
 * workers) the one channel stays open: opening and closing one per task
 * when messages come one at a time (a round trip) cost a browser page more
 * than the task itself (bench:browser's echo profiles).
 */
function holdsProcessOpen(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno === 'object';
}

function viaMessageChannel(task: () => void): void {
  queue.push(task);
  if (channel === null) {
    const opened = new MessageChannel();
    opened.port1.onmessage = () => {
      const next = queue.shift();
      if (queue.length === 0 && holdsProcessOpen()) {
        opened.port1.close();
        if (channel === opened) channel = null;
      }
      next?.();
    };
    channel = opened;
  }
  channel.port2.postMessage(null);
}
