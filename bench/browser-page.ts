/**
 * The page side of the benchmarks that measure Chromium
 * (bench/browser.bench.ts, bench/tls.bench.ts): it puts `window.benchPage`
 * on the page: open one WebSocket (Chromium's own, or polysocket's over
 * WebTransport through the gateway, or over Direct Sockets in an Isolated
 * Web App), time its handshake, move bytes through it, time round trips,
 * close it. The orchestrator reads the CPU time of the processes between
 * these calls, so that a transfer's CPU excludes the handshake.
 *
 * bench:tls imports this module into the end-to-end test page (Vite, over
 * a bare CDP `Runtime.evaluate` of `import('/@fs/…/bench/browser-page.ts')`);
 * bench:browser bundles it (Vite) as the script of an Isolated Web App,
 * whose page it also opens in an ordinary tab.
 *
 * The server is the benchmark's `ws` server, which obeys the commands of
 * bench/support/ws-bench-server.ts.
 */
import { WebSocket as PolysocketWebSocket, webTransportTransport } from '../src/index.js';
import { directSocketsTransport } from '../src/transports/direct-sockets.js';

/** Which WebSocket the page opens. */
export interface PageTarget {
  /**
   * `native`: Chromium's `WebSocket`; `webtransport`: polysocket's, over
   * WebTransport through the gateway; `direct-sockets`: polysocket's over
   * `TCPSocket` (an Isolated Web App only).
   */
  readonly kind: 'native' | 'webtransport' | 'direct-sockets';
  readonly url: string;
  /** webtransport: the gateway's URL and its certificate's hash. */
  readonly gateway?: string;
  readonly certificateHash?: string;
  /** webtransport: `tls: 'gateway'` (for `wss:` URLs). */
  readonly tls?: boolean;
}

/** What a transfer measured in the page. */
export interface PageTransfer {
  readonly ms: number;
  readonly bytes: number;
}

/** `window.benchPage`. */
export interface BenchPage {
  /** Open a WebSocket to `target`, keep it, resolve with connect-to-`open` in ms. */
  open(target: PageTarget, timeoutMs: number): Promise<number>;
  /**
   * Move `count` binary messages of `size` bytes over the open WebSocket;
   * `recv`: server to page. `paced` (sending only): before each `send()`,
   * wait (1 ms timers) while more than PACED_LIMIT bytes are buffered.
   */
  transfer(
    direction: 'recv' | 'send',
    size: number,
    count: number,
    timeoutMs: number,
    paced?: boolean,
  ): Promise<PageTransfer>;
  /** `count` round trips of a `size`-byte binary message, one at a time: each one's time in µs. */
  echo(size: number, count: number, timeoutMs: number): Promise<number[]>;
  /** Close the open WebSocket and wait for its `close` event (bounded). */
  close(timeoutMs: number): Promise<void>;
}

/** Bytes a paced send loop lets `bufferedAmount` reach before it waits. */
const PACED_LIMIT = 4 * 1024 * 1024;

/**
 * Wait a little for the backlog to drain: a timer, as an upload loop would
 * use, and not a busy loop of tasks, whose cost would count as the page's
 * (over a slow path it spun thousands of times per MiB).
 */
function drainWait(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/** What the page uses of either `WebSocket`. */
interface BenchSocket {
  binaryType: string;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | ArrayBufferView<ArrayBuffer>): void;
  close(code?: number): void;
}

let socket: BenchSocket | null = null;

/** `promise`, or a rejection saying `what` after `ms`. */
function bounded<T>(
  ms: number,
  what: string,
  body: (resolve: (value: T) => void, reject: (error: Error) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    body(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function create(target: PageTarget): BenchSocket {
  switch (target.kind) {
    case 'native':
      return new WebSocket(target.url) as BenchSocket;
    case 'webtransport': {
      const transport = webTransportTransport({
        gateway: target.gateway ?? '',
        serverCertificateHashes: [{ algorithm: 'sha-256', value: target.certificateHash ?? '' }],
        ...(target.tls === true ? { tls: 'gateway' as const } : {}),
      });
      return new PolysocketWebSocket(target.url, [], { transport }) as unknown as BenchSocket;
    }
    case 'direct-sockets':
      return new PolysocketWebSocket(target.url, [], {
        transport: directSocketsTransport(),
      }) as unknown as BenchSocket;
  }
}

function current(): BenchSocket {
  if (socket === null) throw new Error('no WebSocket is open');
  return socket;
}

const bench: BenchPage = {
  open: (target, timeoutMs) =>
    bounded<number>(timeoutMs, `open ${target.kind} ${target.url}`, (resolve, reject) => {
      if (socket !== null) throw new Error('a WebSocket is already open');
      const start = performance.now();
      const ws = create(target);
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => {
        socket = ws;
        resolve(performance.now() - start);
      };
      // polysocket's error event says why (`error`); the native one says nothing.
      ws.onerror = (event) =>
        reject(
          new Error(
            `WebSocket to ${target.url} failed${(event as { error?: Error }).error === undefined ? '' : `: ${(event as { error?: Error }).error?.message}`}`,
          ),
        );
      ws.onclose = (event) => reject(new Error(`WebSocket to ${target.url} closed: ${event.code}`));
    }),

  transfer: (direction, size, count, timeoutMs, paced = false) =>
    bounded<PageTransfer>(timeoutMs, `${direction} ${count} × ${size} B`, (resolve, reject) => {
      const ws = current();
      const total = size * count;
      ws.onclose = (event) => reject(new Error(`closed during the transfer: ${event.code}`));
      const start = performance.now();
      if (direction === 'recv') {
        let received = 0;
        ws.onmessage = (event) => {
          received += (event.data as ArrayBuffer).byteLength;
          if (received >= total) resolve({ ms: performance.now() - start, bytes: received });
        };
        ws.send(`recv ${size} ${count}`);
      } else {
        ws.onmessage = (event) => {
          if (event.data === 'done') resolve({ ms: performance.now() - start, bytes: total });
        };
        ws.send(`send ${size} ${count}`);
        // One payload sent `count` times: both WebSockets copy it at send().
        const payload = new Uint8Array(size);
        if (!paced) {
          for (let i = 0; i < count; i++) ws.send(payload);
          return;
        }
        // As an upload loop does: frames are made while earlier ones are
        // being written. Bounded by `count` and the transfer's timeout.
        void (async () => {
          for (let i = 0; i < count; i++) {
            while (ws.bufferedAmount > PACED_LIMIT) await drainWait();
            ws.send(payload);
          }
        })().catch(reject);
      }
    }),

  echo: (size, count, timeoutMs) =>
    bounded<number[]>(timeoutMs, `echo ${count} × ${size} B`, (resolve, reject) => {
      const ws = current();
      ws.onclose = (event) => reject(new Error(`closed during the echo: ${event.code}`));
      const payload = new Uint8Array(size);
      const times: number[] = [];
      let sentAt = 0;
      const next = (): void => {
        sentAt = performance.now();
        ws.send(payload);
      };
      ws.onmessage = (event) => {
        if (typeof event.data === 'string') return;
        times.push((performance.now() - sentAt) * 1000);
        if (times.length >= count) resolve(times);
        else next();
      };
      ws.send('echo');
      next();
    }),

  close: (timeoutMs) =>
    bounded<void>(timeoutMs, 'close', (resolve) => {
      const ws = socket;
      socket = null;
      if (ws === null || ws.readyState === 3) {
        resolve();
        return;
      }
      ws.onmessage = null;
      ws.onclose = () => resolve();
      ws.close(1000);
    }),
};

(window as unknown as { benchPage: BenchPage }).benchPage = bench;
(window as unknown as { benchPageReady: boolean }).benchPageReady = true;
