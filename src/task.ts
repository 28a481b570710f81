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

function viaMessageChannel(task: () => void): void {
  queue.push(task);
  if (channel === null) {
    const opened = new MessageChannel();
    opened.port1.onmessage = () => {
      const next = queue.shift();
      // Close the channel once idle: an open port keeps some runtimes alive.
      if (queue.length === 0) {
        opened.port1.close();
        if (channel === opened) channel = null;
      }
      next?.();
    };
    channel = opened;
  }
  channel.port2.postMessage(null);
}
