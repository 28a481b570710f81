/**
 * The browser side of bench/tls.bench.ts: loaded into the end-to-end test
 * page (e2e/browser/pages, served by Vite from the repository, which puts
 * polysocket's browser entry on `window.polysocket`) by a bare CDP
 * `Runtime.evaluate` of `import('/@fs/…/bench/tls-page.ts')`. It puts
 * `window.tlsBench` on the page: open one WebSocket (Chromium's own, or
 * polysocket's over WebTransport through the gateway), time its handshake,
 * move bytes through it, close it. The orchestrator reads the CPU time of
 * the processes between these calls, so that a transfer's CPU excludes the
 * handshake.
 *
 * The server is the benchmark's `ws` server (tls.bench.ts, server role): the
 * text message `recv <size> <count>` makes it send `count` binary messages
 * of `size` bytes; `send <size> <count>` makes it count what follows and
 * answer `done` once `size * count` bytes arrived.
 */
import type * as Polysocket from '../src/index.js';

/** Which WebSocket the page opens. */
export interface PageTarget {
  /** `native`: Chromium's `WebSocket`; `polysocket`: polysocket's, over WebTransport through the gateway. */
  readonly kind: 'native' | 'polysocket';
  readonly url: string;
  /** polysocket: the gateway's URL and its certificate's hash. */
  readonly gateway?: string;
  readonly certificateHash?: string;
  /** polysocket: `tls: 'gateway'` (for `wss:` URLs). */
  readonly tls?: boolean;
}

/** What a transfer measured in the page. */
export interface PageTransfer {
  readonly ms: number;
  readonly bytes: number;
}

/** `window.tlsBench`. */
export interface TlsBenchPage {
  /** Open a WebSocket to `target`, keep it, resolve with connect-to-`open` in ms. */
  open(target: PageTarget, timeoutMs: number): Promise<number>;
  /** Move `count` binary messages of `size` bytes over the open WebSocket; `recv`: server to page. */
  transfer(direction: 'recv' | 'send', size: number, count: number, timeoutMs: number): Promise<PageTransfer>;
  /** Close the open WebSocket and wait for its `close` event (bounded). */
  close(timeoutMs: number): Promise<void>;
}

/** What the page uses of either `WebSocket`. */
interface BenchSocket {
  binaryType: string;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  readonly readyState: number;
  send(data: string | ArrayBufferView<ArrayBuffer>): void;
  close(code?: number): void;
}

const polysocket = (window as unknown as { polysocket: typeof Polysocket }).polysocket;
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
  if (target.kind === 'native') return new WebSocket(target.url) as BenchSocket;
  const transport = polysocket.webTransportTransport({
    gateway: target.gateway ?? '',
    serverCertificateHashes: [{ algorithm: 'sha-256', value: target.certificateHash ?? '' }],
    ...(target.tls === true ? { tls: 'gateway' as const } : {}),
  });
  return new polysocket.WebSocket(target.url, [], { transport }) as unknown as BenchSocket;
}

const bench: TlsBenchPage = {
  open: (target, timeoutMs) =>
    bounded<number>(timeoutMs, `open ${target.url}`, (resolve, reject) => {
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

  transfer: (direction, size, count, timeoutMs) =>
    bounded<PageTransfer>(timeoutMs, `${direction} ${count} × ${size} B`, (resolve, reject) => {
      const ws = socket;
      if (ws === null) throw new Error('no WebSocket is open');
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
        for (let i = 0; i < count; i++) ws.send(payload);
      }
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

(window as unknown as { tlsBench: TlsBenchPage }).tlsBench = bench;
