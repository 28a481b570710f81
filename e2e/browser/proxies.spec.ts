/**
 * Issue 14: proxies stack over the browser's transports. polysocket's
 * `WebSocket` in headless Chromium, with `transport: proxyTransport({ proxy,
 * connect })` (src/transports/proxy.ts, `window.e2eProxy` in the pages),
 * through real proxies from Debian (e2e/proxies/daemons.ts):
 *
 * - SOCKS5 (microsocks, user name and password, `socks5h:`) over Direct
 *   Sockets `TCPSocket`, in the Isolated Web App of direct-sockets.spec.ts
 *   (support/iwa.ts; a Chromium of its own, launched for that block only);
 * - HTTP CONNECT (tinyproxy, Basic auth) over the WebTransport gateway
 *   (support/gateway.ts): a gateway of this spec's own, which allows the
 *   proxy (and the relay below) as targets, and not the WebSocket server.
 *
 * Each proxy connects out from its own loopback address (127.0.0.2 for
 * microsocks, 127.0.0.4 for tinyproxy): the `ws` echo server here notes each
 * connection's peer, so a test that sees that address knows the connection
 * went through the proxy, not around it.
 *
 * A page has no TLS layer to put on the tunnel, so `wss:` through a proxy
 * must fail at once with `ProxyError` `unsupported`, before connecting: the
 * proxy address there is a counting TCP relay in front of the real proxy,
 * and a `ws:` connection through the same relay afterwards is the control
 * that shows it would have counted.
 *
 * The callbacks of `page.evaluate()` run in the page.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { test as base, expect, type Page } from '@playwright/test';
import { WebSocketServer } from 'ws';
import type { TransportFactory, WebSocketErrorEvent } from '../../src/index.js';
import { type Daemon, OUTGOING, startMicrosocks, startTinyproxy } from '../proxies/daemons.js';
import { test as pageTest } from './support/fixtures.js';
import { type RunningGateway, startGatewayProcess, waitForLine } from './support/gateway.js';
import {
  bundleIwaPage,
  type IwaDevServer,
  launchIwa,
  type RunningIwa,
  startIwaDevServer,
} from './support/iwa.js';

const START_MS = 20_000;
const USER = 'polysocket';
const PASSWORD = 'Secret42'; // tinyproxy's configuration syntax takes no punctuation here
const CREDENTIALS = `${USER}:${PASSWORD}`;
const BYE = 'bye through the proxy';

/** The `ws` echo server: what it saw of each connection, by request path. */
interface Target {
  readonly port: number;
  readonly seen: Map<string, { peer: string; close?: { code: number; reason: string } }>;
  close(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  const seen: Target['seen'] = new Map();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (socket, request) => {
    const record: { peer: string; close?: { code: number; reason: string } } = {
      peer: request.socket.remoteAddress ?? '',
    };
    seen.set(request.url ?? '', record);
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on('close', (code, reason) => {
      record.close = { code, reason: reason.toString() };
    });
  });
  await once(wss, 'listening');
  return {
    port: (wss.address() as net.AddressInfo).port,
    seen,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** A TCP relay on 127.0.0.1 to a proxy's port, counting the connections it accepted. */
interface Relay {
  readonly port: number;
  readonly accepted: number;
  stop(): Promise<void>;
}

async function startRelay(to: number): Promise<Relay> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: '127.0.0.1', port: to });
    for (const [socket, peer] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        sockets.delete(socket);
        peer.destroy();
      });
      socket.pipe(peer);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** How the page reaches the proxy: Direct Sockets (in the app), or the WebTransport gateway. */
type Via =
  | { readonly kind: 'direct-sockets' }
  | { readonly kind: 'webtransport'; readonly gateway: string; readonly hash: string };

interface Attempt {
  readonly url: string;
  readonly proxy: string;
  readonly via: Via;
}

/** Why the connection failed: the error event's `error`, and its `cause`. */
interface Failure {
  readonly name: string;
  readonly kind: string;
  readonly cause: {
    readonly proxyError: boolean;
    readonly name: string;
    readonly message: string;
    readonly code: string | null;
    readonly status: number | null;
    readonly authenticate: string[];
  };
}

/** What happened in the page. */
interface Outcome {
  readonly opened: boolean;
  /** The targets `connect` was asked for: the connections the tunnel opened to the proxy. */
  readonly connects: string[];
  readonly events: string[];
  readonly close: { code: number; reason: string; wasClean: boolean };
  readonly failure: Failure | null;
  /** Once open: the echoes of a text, a small binary and a 256 KiB binary message. */
  readonly text?: unknown;
  readonly binary?: number[];
  readonly sameLarge?: boolean;
}

/**
 * In the page: `new WebSocket(url, [], { transport: proxyTransport({ proxy,
 * connect }) })`, with `connect` the page's transport to the proxy, counted.
 * Once open: echo text, binary and 256 KiB of binary, then close with 4000.
 * Self-contained: Playwright sends its source to the page.
 */
async function throughProxy({ url, proxy, via }: Attempt): Promise<Outcome> {
  const inner: TransportFactory =
    via.kind === 'direct-sockets'
      ? window.e2eDirectSockets.transport()
      : window.e2e.transport(via.gateway, via.hash);
  const connects: string[] = [];
  const connect: TransportFactory = (target) => {
    connects.push(`${target.host}:${target.port}${target.secure ? ' secure' : ''}`);
    return inner(target);
  };
  const { proxyTransport, ProxyError } = window.e2eProxy;
  const ws = new window.polysocket.WebSocket(url, [], { transport: proxyTransport({ proxy, connect }) });
  const seen: { failure: Failure | null } = { failure: null };
  ws.addEventListener('error', (event) => {
    const { error } = event as WebSocketErrorEvent;
    const cause = error.cause;
    seen.failure = {
      name: error.name,
      kind: error.kind,
      cause:
        cause instanceof ProxyError
          ? {
              proxyError: true,
              name: cause.name,
              message: cause.message,
              code: cause.code,
              status: cause.status ?? null,
              authenticate: [...cause.authenticate],
            }
          : {
              proxyError: false,
              name: cause instanceof Error ? cause.name : typeof cause,
              message: cause instanceof Error ? cause.message : String(cause),
              code: null,
              status: null,
              authenticate: [],
            },
    };
  });
  const socket = window.e2e.record(ws);
  ws.binaryType = 'arraybuffer';
  await socket.opened();
  if (ws.readyState !== 1) {
    const close = await socket.closed;
    return { opened: false, connects, events: socket.events, close, failure: seen.failure };
  }
  ws.send('héllo through the proxy ✓');
  ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
  const large = window.e2e.randomBytes(256 * 1024 + 7);
  ws.send(large);
  const text = await socket.message(0);
  const binary = [...new Uint8Array((await socket.message(1)) as ArrayBuffer)];
  const sameLarge = window.e2e.sameBytes(large, (await socket.message(2)) as ArrayBuffer);
  ws.close(4000, 'bye through the proxy');
  const close = await socket.closed;
  return {
    opened: true,
    connects,
    events: socket.events,
    close,
    failure: seen.failure,
    text,
    binary,
    sameLarge,
  };
}

/** {@link throughProxy} in `page`. */
const attempt = (page: Page, args: Attempt): Promise<Outcome> => page.evaluate(throughProxy, args);

/** An echo through the proxy at `proxyPort` that went as it should, and what the target saw. */
async function expectEchoed(outcome: Outcome, proxyPort: number, target: Target, path: string, peer: string) {
  expect(outcome).toEqual({
    opened: true,
    connects: [`127.0.0.1:${proxyPort}`],
    events: ['open:1', 'message', 'message', 'message', 'close:3'],
    close: { code: 4000, reason: BYE, wasClean: true },
    failure: null,
    text: 'héllo through the proxy ✓',
    binary: [0, 1, 2, 253, 254, 255],
    sameLarge: true,
  });
  // The server's side of the same connection: the proxy's address, and the close frame.
  await expect.poll(() => target.seen.get(path)).toEqual({ peer, close: { code: 4000, reason: BYE } });
}

/** `wss:` through the proxy: ProxyError `unsupported` at once, and `connect` never called. */
function expectUnsupported(outcome: Outcome, proxy: string, targetPort: number) {
  expect(outcome).toEqual({
    opened: false,
    connects: [],
    events: ['error:3', 'close:3'],
    close: { code: 1006, reason: '', wasClean: false },
    failure: {
      name: 'WebSocketConnectionError',
      kind: 'transport',
      cause: {
        proxyError: true,
        name: 'ProxyError',
        code: 'unsupported',
        message: expect.stringContaining(
          `proxy ${proxy} (to localhost:${targetPort}): wss: through a proxy needs TLS`,
        ),
        status: null,
        authenticate: [],
      },
    },
  });
  expect(outcome.failure?.cause.message).not.toContain(PASSWORD);
}

let target: Target | undefined;
let tinyproxy: Daemon | undefined;
let socks: Daemon | undefined;
let socksRelay: Relay | undefined;
let httpRelay: Relay | undefined;

base.beforeAll(async () => {
  base.setTimeout(90_000);
  // Each one is kept as soon as it started, so that afterAll stops it even if another failed to start.
  const results = await Promise.allSettled([
    startTarget().then((server) => {
      target = server;
    }),
    startTinyproxy(USER, PASSWORD, START_MS).then(async (daemon) => {
      tinyproxy = daemon;
      httpRelay = await startRelay(daemon.ports[0]!);
    }),
    startMicrosocks(USER, PASSWORD, START_MS).then(async (daemon) => {
      socks = daemon;
      socksRelay = await startRelay(daemon.ports[0]!);
    }),
  ]);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
});

base.afterAll(async () => {
  await Promise.all([
    target?.close(),
    tinyproxy?.stop(),
    socks?.stop(),
    socksRelay?.stop(),
    httpRelay?.stop(),
  ]);
  target = tinyproxy = socks = socksRelay = httpRelay = undefined;
});

/** What beforeAll started (it threw if any of it did not start). */
function started() {
  if (!target || !tinyproxy || !socks || !socksRelay || !httpRelay) throw new Error('not started');
  return { target, tinyproxy, socks, socksRelay, httpRelay };
}

// ---------------------------------------------------------------------------
// SOCKS5 over Direct Sockets, in the Isolated Web App.

let iwa: RunningIwa | undefined;
let dev: IwaDevServer | undefined;

const iwaTest = base.extend<{ page: Page }>({
  // A tab of the app (not the other tests' browser).
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  page: async ({}, use) => {
    if (iwa === undefined) throw new Error('the Isolated Web App is not running');
    const app = iwa;
    const page = await app.context.newPage();
    page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
    // Right after the install the first navigation may still fail: retried.
    for (let attempt = 1; ; attempt++) {
      try {
        await page.goto(`${app.origin}/`, { timeout: 20_000 });
        await page.waitForFunction(() => window.iwaReady === true, undefined, { timeout: 20_000 });
        break;
      } catch (error) {
        if (attempt === 3) throw error;
        await page.waitForTimeout(1000);
      }
    }
    expect(
      await page.evaluate(() => ({
        tcp: typeof (globalThis as { TCPSocket?: unknown }).TCPSocket,
        proxy: typeof window.e2eProxy?.proxyTransport,
      })),
    ).toEqual({ tcp: 'function', proxy: 'function' });
    await use(page);
    await page.close();
  },
});

iwaTest.describe('SOCKS5 (microsocks, user and password) over Direct Sockets in an Isolated Web App', () => {
  iwaTest.beforeAll(async () => {
    iwaTest.setTimeout(240_000);
    dev = await startIwaDevServer(await bundleIwaPage());
    iwa = await launchIwa(dev.url);
  });

  iwaTest.afterAll(async () => {
    await iwa?.close();
    await dev?.close();
    iwa = dev = undefined;
  });

  iwaTest(
    'socks5h: echoes text and binary and closes with a code; the server saw microsocks’s address',
    async ({ page }) => {
      const { target, socks } = started();
      const path = '/socks5h-direct-sockets';
      // localhost: socks5h sends the name, and the proxy resolves it.
      const outcome = await attempt(page, {
        url: `ws://localhost:${target.port}${path}`,
        proxy: `socks5h://${CREDENTIALS}@127.0.0.1:${socks.ports[0]}`,
        via: { kind: 'direct-sockets' },
      });
      await expectEchoed(outcome, socks.ports[0]!, target, path, OUTGOING.socks);
    },
  );

  iwaTest('no credentials: the error event’s error.cause is a ProxyError auth-required', async ({ page }) => {
    const { target, socks } = started();
    const proxy = `socks5h://127.0.0.1:${socks.ports[0]}`;
    const outcome = await attempt(page, {
      url: `ws://localhost:${target.port}/socks5h-no-credentials`,
      proxy,
      via: { kind: 'direct-sockets' },
    });
    expect(outcome).toEqual({
      opened: false,
      connects: [`127.0.0.1:${socks.ports[0]}`],
      events: ['error:3', 'close:3'],
      close: { code: 1006, reason: '', wasClean: false },
      failure: {
        name: 'WebSocketConnectionError',
        kind: 'transport',
        cause: {
          proxyError: true,
          name: 'ProxyError',
          code: 'auth-required',
          message: expect.stringContaining(
            `proxy ${proxy} (to localhost:${target.port}): it accepts none of the offered methods`,
          ),
          status: null,
          authenticate: [],
        },
      },
    });
    expect(target.seen.has('/socks5h-no-credentials')).toBe(false);
  });

  iwaTest(
    'wss: through the proxy fails at once with ProxyError unsupported and opens no connection to it',
    async ({ page }) => {
      const { target, socksRelay } = started();
      const before = socksRelay.accepted;
      const refused = await attempt(page, {
        url: `wss://localhost:${target.port}/socks5h-wss`,
        proxy: `socks5h://${CREDENTIALS}@127.0.0.1:${socksRelay.port}`,
        via: { kind: 'direct-sockets' },
      });
      expectUnsupported(refused, `socks5h://127.0.0.1:${socksRelay.port}`, target.port);
      expect(target.seen.has('/socks5h-wss')).toBe(false);
      // The control: ws: through the same relay reaches it, exactly once.
      const path = '/socks5h-relay-control';
      const control = await attempt(page, {
        url: `ws://localhost:${target.port}${path}`,
        proxy: `socks5h://${CREDENTIALS}@127.0.0.1:${socksRelay.port}`,
        via: { kind: 'direct-sockets' },
      });
      await expectEchoed(control, socksRelay.port, target, path, OUTGOING.socks);
      expect(socksRelay.accepted).toBe(before + 1);
    },
  );
});

// ---------------------------------------------------------------------------
// HTTP CONNECT over the WebTransport gateway, in an ordinary page.

let gateway: RunningGateway | undefined;

pageTest.describe('HTTP CONNECT (tinyproxy, Basic auth) over the WebTransport gateway', () => {
  pageTest.beforeAll(async () => {
    pageTest.setTimeout(60_000);
    const { tinyproxy, httpRelay } = started();
    // The proxy and the relay in front of it, and not the WebSocket server:
    // the gateway cannot reach the target but through the proxy.
    gateway = await startGatewayProcess({
      allow: [`127.0.0.1:${tinyproxy.ports[0]}`, `127.0.0.1:${httpRelay.port}`],
      logFile: fileURLToPath(new URL('../../build/e2e/proxies-gateway.log', import.meta.url)),
    });
  });

  pageTest.afterAll(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  const via = (): Via => {
    if (gateway === undefined) throw new Error('the gateway is not running');
    return { kind: 'webtransport', gateway: gateway.url, hash: gateway.certificateHash };
  };

  /** The gateway's `connect` lines since log line `mark`: the targets it connected to. */
  const gatewayConnects = (mark: number) =>
    gateway!.service.lines
      .slice(mark)
      .flatMap((line) => /^\S+ connect s\d+\.\d+ (\S+)/.exec(line)?.[1] ?? []);

  pageTest(
    'echoes text and binary and closes with a code; the server saw tinyproxy’s address, tinyproxy logged the CONNECT',
    async ({ page }) => {
      const { target, tinyproxy } = started();
      const mark = gateway!.service.lines.length;
      const path = '/connect-webtransport';
      const outcome = await attempt(page, {
        url: `ws://127.0.0.1:${target.port}${path}`,
        proxy: `http://${CREDENTIALS}@127.0.0.1:${tinyproxy.ports[0]}`,
        via: via(),
      });
      await expectEchoed(outcome, tinyproxy.ports[0]!, target, path, OUTGOING.tinyproxy);
      await expect
        .poll(() => tinyproxy.log())
        .toMatch(new RegExp(`CONNECT 127\\.0\\.0\\.1:${target.port}\\b`));
      // The WebTransport leg went to the proxy, and only there.
      await waitForLine(gateway!.service, / connect s\d+\.\d+ /, mark);
      expect(gatewayConnects(mark)).toEqual([`127.0.0.1:${tinyproxy.ports[0]}`]);
    },
  );

  pageTest(
    'no credentials: the error event’s error.cause is a ProxyError auth-required (tinyproxy’s 407)',
    async ({ page }) => {
      const { target, tinyproxy } = started();
      const proxy = `http://127.0.0.1:${tinyproxy.ports[0]}`;
      const outcome = await attempt(page, {
        url: `ws://127.0.0.1:${target.port}/connect-no-credentials`,
        proxy,
        via: via(),
      });
      expect(outcome).toEqual({
        opened: false,
        connects: [`127.0.0.1:${tinyproxy.ports[0]}`],
        events: ['error:3', 'close:3'],
        close: { code: 1006, reason: '', wasClean: false },
        failure: {
          name: 'WebSocketConnectionError',
          kind: 'transport',
          cause: {
            proxyError: true,
            name: 'ProxyError',
            code: 'auth-required',
            message: expect.stringMatching(
              new RegExp(
                `^proxy ${proxy.replace(/\./g, '\\.')} \\(to 127\\.0\\.0\\.1:${target.port}\\): it requires authentication \\(407\\b.*Basic`,
              ),
            ),
            status: 407,
            authenticate: ['Basic'],
          },
        },
      });
      expect(target.seen.has('/connect-no-credentials')).toBe(false);
    },
  );

  pageTest(
    'wss: through the proxy fails at once with ProxyError unsupported and opens no connection to it',
    async ({ page }) => {
      const { target, httpRelay } = started();
      const before = httpRelay.accepted;
      const mark = gateway!.service.lines.length;
      const refused = await attempt(page, {
        url: `wss://localhost:${target.port}/connect-wss`,
        proxy: `http://${CREDENTIALS}@127.0.0.1:${httpRelay.port}`,
        via: via(),
      });
      expectUnsupported(refused, `http://127.0.0.1:${httpRelay.port}`, target.port);
      expect(target.seen.has('/connect-wss')).toBe(false);
      // The control: ws: through the same relay reaches it, exactly once,
      // and it is the gateway's only connection since the wss: attempt.
      const path = '/connect-relay-control';
      const control = await attempt(page, {
        url: `ws://127.0.0.1:${target.port}${path}`,
        proxy: `http://${CREDENTIALS}@127.0.0.1:${httpRelay.port}`,
        via: via(),
      });
      await expectEchoed(control, httpRelay.port, target, path, OUTGOING.tinyproxy);
      expect(httpRelay.accepted).toBe(before + 1);
      await waitForLine(gateway!.service, / connect s\d+\.\d+ /, mark);
      expect(gatewayConnects(mark)).toEqual([`127.0.0.1:${httpRelay.port}`]);
    },
  );
});
