/**
 * polysocket's Node entry through real proxies from Debian (daemons.ts):
 * tinyproxy (HTTP CONNECT, Basic auth), squid (CONNECT, and an HTTPS proxy
 * on its `https_port`) and microsocks (SOCKS5 with user name and password),
 * to `ws` servers over TCP and TLS. Each test that goes through a proxy
 * checks that the target saw the proxy's own source address (and, for the
 * HTTP proxies, that the proxy logged the CONNECT): the connection went
 * through the proxy, not around it.
 */
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, test, vi } from 'vitest';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import type { NodeTransportOptions } from '../../src/node/transport.js';
import { nodeTransport, ProxyError, type TransportFactory, WebSocket } from '../../src/node.js';
import { testCertificate } from '../../src/testing/certs.js';
import { type Daemon, OUTGOING, startMicrosocks, startSquid, startTinyproxy } from './daemons.js';

const timeScale = inject('timeScale');
const START_MS = 10_000 * timeScale;
const USER = 'polysocket';
const PASSWORD = 'Secret42'; // tinyproxy's configuration syntax takes no punctuation here
const CREDENTIALS = `${USER}:${encodeURIComponent(PASSWORD)}`;

interface Target {
  readonly port: number;
  /** The peer address of each connection the server accepted. */
  readonly peers: string[];
  close(): Promise<void>;
}

/** An echo server (`ws`) on 127.0.0.1 that notes each client's address; TLS with the test certificate if `secure`. */
async function echoServer(secure: boolean): Promise<Target> {
  const peers: string[] = [];
  const { cert, key } = testCertificate();
  const https = secure ? createHttpsServer({ cert, key }) : undefined;
  const wss =
    https === undefined
      ? new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024 })
      : new WebSocketServer({ server: https, maxPayload: 64 * 1024 * 1024 });
  wss.on('connection', (socket: WsSocket, request) => {
    peers.push(request.socket.remoteAddress ?? '');
    socket.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'close-4001') socket.close(4001, 'asked to');
      else socket.send(data, { binary: isBinary });
    });
  });
  let port: number;
  if (https !== undefined) {
    https.listen(0, '127.0.0.1');
    await once(https, 'listening');
    port = (https.address() as AddressInfo).port;
  } else {
    if (wss.address() === null) await once(wss, 'listening');
    port = (wss.address() as AddressInfo).port;
  }
  return {
    port,
    peers,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (https !== undefined) await new Promise<void>((resolve) => https.close(() => resolve()));
    },
  };
}

/** The TLS options that trust the test certificate. */
const trust = () => ({ ca: testCertificate().cert });

function open(url: string, transport: TransportFactory): Promise<WebSocket> {
  const ws = new WebSocket(url, [], { transport });
  ws.binaryType = 'arraybuffer';
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = (event) => reject((event as unknown as { error: Error }).error);
  });
}

/** Connect, expecting failure: the `ProxyError` the connection failed with. */
async function refusal(url: string, transport: TransportFactory): Promise<ProxyError> {
  const ws = new WebSocket(url, [], { transport });
  // Both listeners first: close follows error in the same task.
  const errored = once(ws, 'error') as Promise<[{ error: Error }]>;
  const closed = once(ws, 'close') as Promise<[CloseEvent]>;
  const [event] = await errored;
  expect((await closed)[0].code).toBe(1006);
  expect(event.error.name).toBe('WebSocketConnectionError');
  const cause = event.error.cause;
  expect(cause).toBeInstanceOf(ProxyError);
  return cause as ProxyError;
}

function nextMessage(ws: WebSocket): Promise<string | ArrayBuffer> {
  return new Promise((resolve) =>
    ws.addEventListener('message', (event) => resolve((event as MessageEvent).data), { once: true }),
  );
}

/** Echo text, binary and a 5 MiB message, then close with 4001 at the server's hand. */
async function exercise(ws: WebSocket): Promise<void> {
  let reply = nextMessage(ws);
  ws.send('héllo');
  expect(await reply).toBe('héllo');
  reply = nextMessage(ws);
  ws.send(Uint8Array.from([0, 1, 2, 255]));
  expect([...new Uint8Array((await reply) as ArrayBuffer)]).toEqual([0, 1, 2, 255]);
  const big = new Uint8Array(5 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
  reply = nextMessage(ws);
  ws.send(big);
  const echoed = new Uint8Array((await reply) as ArrayBuffer);
  expect(echoed.length).toBe(big.length);
  expect(Buffer.compare(echoed, big)).toBe(0);
  const closed = once(ws, 'close') as Promise<[CloseEvent]>;
  ws.send('close-4001');
  const [event] = await closed;
  expect([event.code, event.reason, event.wasClean]).toEqual([4001, 'asked to', true]);
}

const via = (options: NodeTransportOptions) => nodeTransport(options);

let tinyproxy: Daemon;
let squid: Daemon;
let socks: Daemon;
let plain: Target;
let secure: Target;

beforeAll(async () => {
  const { cert, key } = testCertificate();
  // Each one is kept as soon as it started, so that afterAll stops it even if another failed to start.
  const started = await Promise.allSettled([
    startTinyproxy(USER, PASSWORD, START_MS).then((daemon) => {
      tinyproxy = daemon;
    }),
    startSquid(cert, key, START_MS).then((daemon) => {
      squid = daemon;
    }),
    startMicrosocks(USER, PASSWORD, START_MS).then((daemon) => {
      socks = daemon;
    }),
    echoServer(false).then((target) => {
      plain = target;
    }),
    echoServer(true).then((target) => {
      secure = target;
    }),
  ]);
  for (const result of started) if (result.status === 'rejected') throw result.reason;
});

afterAll(async () => {
  await Promise.all([tinyproxy?.stop(), squid?.stop(), socks?.stop(), plain?.close(), secure?.close()]);
});

const lastPeer = (target: Target) => target.peers.at(-1);

/** Wait until the proxy's log has a line (squid writes its access log when a tunnel ends). */
async function logged(daemon: Daemon, line: RegExp): Promise<void> {
  await vi.waitFor(() => expect(daemon.log()).toMatch(line), { timeout: START_MS, interval: 50 });
}

describe('HTTP CONNECT through tinyproxy, with Basic auth', () => {
  test('ws: and wss: echo every message type, 5 MiB, and the close code through the proxy', async () => {
    const proxy = `http://${CREDENTIALS}@127.0.0.1:${tinyproxy.ports[0]}`;
    await exercise(await open(`ws://127.0.0.1:${plain.port}/`, via({ proxy })));
    expect(lastPeer(plain)).toBe(OUTGOING.tinyproxy);
    await exercise(await open(`wss://localhost:${secure.port}/`, via({ proxy, tls: trust() })));
    expect(lastPeer(secure)).toBe(OUTGOING.tinyproxy);
    await logged(tinyproxy, new RegExp(`CONNECT localhost:${secure.port}`));
  });

  test('no credentials: auth-required, naming the Basic scheme the proxy asks for', async () => {
    const error = await refusal(
      `ws://127.0.0.1:${plain.port}/`,
      via({ proxy: `http://127.0.0.1:${tinyproxy.ports[0]}` }),
    );
    expect([error.code, error.status, error.authenticate]).toEqual(['auth-required', 407, ['Basic']]);
    expect(error.message).toContain(
      `proxy http://127.0.0.1:${tinyproxy.ports[0]} (to 127.0.0.1:${plain.port})`,
    );
    // For wss: the proxy's refusal comes through the TLS layer above the tunnel unchanged.
    const secureError = await refusal(
      `wss://localhost:${secure.port}/`,
      via({ proxy: `http://127.0.0.1:${tinyproxy.ports[0]}`, tls: trust() }),
    );
    expect([secureError.code, secureError.status]).toEqual(['auth-required', 407]);
  });

  test('a wrong password: auth-failed, and the password is in no message', async () => {
    const error = await refusal(
      `ws://127.0.0.1:${plain.port}/`,
      via({ proxy: `http://${USER}:wrong-secret@127.0.0.1:${tinyproxy.ports[0]}` }),
    );
    // tinyproxy 1.11 answers wrong credentials with 401, not 407.
    expect([error.code, error.status]).toEqual(['auth-failed', 401]);
    expect(error.authenticate).toContain('Basic');
    expect(error.message).not.toContain('wrong-secret');
  });
});

describe('squid: CONNECT, and an HTTPS proxy', () => {
  test('wss: through the http_port', async () => {
    const proxy = `http://127.0.0.1:${squid.ports[0]}`;
    await exercise(await open(`wss://localhost:${secure.port}/`, via({ proxy, tls: trust() })));
    expect(lastPeer(secure)).toBe(OUTGOING.squid);
    await logged(squid, new RegExp(`CONNECT localhost:${secure.port}`));
  });

  test('wss: through the https_port: TLS to the proxy, and the target’s TLS inside it', async () => {
    const proxy = `https://localhost:${squid.ports[1]}`;
    await exercise(
      await open(`wss://localhost:${secure.port}/`, via({ proxy, proxyTls: trust(), tls: trust() })),
    );
    expect(lastPeer(secure)).toBe(OUTGOING.squid);
    await exercise(await open(`ws://127.0.0.1:${plain.port}/`, via({ proxy, proxyTls: trust() })));
    expect(lastPeer(plain)).toBe(OUTGOING.squid);
  });

  test('an HTTPS proxy whose certificate is not trusted: proxy-unreachable, with the TLS error as the cause', async () => {
    const error = await refusal(
      `ws://127.0.0.1:${plain.port}/`,
      via({ proxy: `https://localhost:${squid.ports[1]}` }),
    );
    expect(error.code).toBe('proxy-unreachable');
    expect(String((error.cause as Error).message)).toMatch(/self[- ]signed/i);
  });

  test('the target refuses the proxy: target-unreachable with squid’s 503', async () => {
    const closed = await echoServer(false);
    await closed.close();
    const error = await refusal(
      `ws://127.0.0.1:${closed.port}/`,
      via({ proxy: `http://127.0.0.1:${squid.ports[0]}` }),
    );
    expect([error.code, error.status]).toEqual(['target-unreachable', 503]);
  });

  test('the target’s certificate is still checked inside the tunnel', async () => {
    const ws = new WebSocket(`wss://localhost:${secure.port}/`, [], {
      transport: via({ proxy: `http://127.0.0.1:${squid.ports[0]}` }),
    });
    const [event] = (await once(ws, 'error')) as [{ error: Error }];
    expect(String((event.error.cause as Error).message)).toMatch(/self[- ]signed/i);
  });
});

describe('SOCKS5 through microsocks, with user name and password', () => {
  test('socks5h: (the proxy resolves localhost) and socks5: (resolved here), ws: and wss:', async () => {
    for (const scheme of ['socks5h', 'socks5']) {
      const proxy = `${scheme}://${CREDENTIALS}@127.0.0.1:${socks.ports[0]}`;
      await exercise(await open(`ws://localhost:${plain.port}/`, via({ proxy })));
      expect(lastPeer(plain)).toBe(OUTGOING.socks);
      await exercise(await open(`wss://localhost:${secure.port}/`, via({ proxy, tls: trust() })));
      expect(lastPeer(secure)).toBe(OUTGOING.socks);
    }
  });

  test('no credentials: auth-required; wrong ones: auth-failed', async () => {
    const url = `ws://127.0.0.1:${plain.port}/`;
    expect((await refusal(url, via({ proxy: `socks5://127.0.0.1:${socks.ports[0]}` }))).code).toBe(
      'auth-required',
    );
    const wrong = await refusal(url, via({ proxy: `socks5://${USER}:nope@127.0.0.1:${socks.ports[0]}` }));
    expect(wrong.code).toBe('auth-failed');
  });

  test('a closed target port: the proxy’s SOCKS5 reply code, as target-unreachable', async () => {
    const closed = await echoServer(false);
    await closed.close();
    const error = await refusal(
      `ws://127.0.0.1:${closed.port}/`,
      via({ proxy: `socks5://${CREDENTIALS}@127.0.0.1:${socks.ports[0]}` }),
    );
    expect(error.code).toBe('target-unreachable');
    expect(error.socksReply).toBeGreaterThanOrEqual(3);
  });

  test('no proxy listening: proxy-unreachable, with ECONNREFUSED as the cause', async () => {
    const closed = await echoServer(false);
    await closed.close();
    const error = await refusal(
      `ws://127.0.0.1:${plain.port}/`,
      via({ proxy: `socks5h://127.0.0.1:${closed.port}` }),
    );
    expect(error.code).toBe('proxy-unreachable');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});

describe('the environment', () => {
  test('wss_proxy and ws_proxy are used, no_proxy bypasses, proxy: false ignores them', async () => {
    const env = {
      wss_proxy: `http://127.0.0.1:${squid.ports[0]}`,
      ws_proxy: `socks5h://${CREDENTIALS}@127.0.0.1:${socks.ports[0]}`,
      no_proxy: 'example.invalid',
    };
    (await open(`wss://localhost:${secure.port}/`, via({ env, tls: trust() }))).close();
    expect(lastPeer(secure)).toBe(OUTGOING.squid);
    (await open(`ws://localhost:${plain.port}/`, via({ env }))).close();
    expect(lastPeer(plain)).toBe(OUTGOING.socks);
    (await open(`ws://localhost:${plain.port}/`, via({ env: { ...env, no_proxy: 'localhost' } }))).close();
    expect(lastPeer(plain)).toBe('127.0.0.1');
    (await open(`ws://localhost:${plain.port}/`, via({ env, proxy: false }))).close();
    expect(lastPeer(plain)).toBe('127.0.0.1');
  });

  test('the entry’s default WebSocket reads process.env (HTTPS_PROXY)', async () => {
    // A port of its own, so that the log line can only come from this test.
    const target = await echoServer(true);
    process.env['HTTPS_PROXY'] = `http://127.0.0.1:${squid.ports[0]}`;
    try {
      // No `transport` option: the entry's default. The test certificate is
      // not trusted by default, so the target's TLS fails, inside the tunnel.
      const ws = new WebSocket(`wss://localhost:${target.port}/`);
      const [event] = (await once(ws, 'error')) as [{ error: Error }];
      expect(String((event.error.cause as Error).message)).toMatch(/self[- ]signed/i);
      await logged(squid, new RegExp(`CONNECT localhost:${target.port}`));
    } finally {
      delete process.env['HTTPS_PROXY'];
      await target.close();
    }
  });

  test('an environment that may not be read (Deno without --allow-env) names no proxy: a direct connection', async () => {
    const denied = new Proxy(
      {},
      {
        get: (_target, name) => {
          throw new Error(`Requires env access to "${String(name)}"`);
        },
      },
    );
    (await open(`ws://127.0.0.1:${plain.port}/`, via({ env: denied }))).close();
    expect(lastPeer(plain)).toBe('127.0.0.1');
  });

  test('a proxy URL in the environment that cannot be parsed fails the connection, not the constructor', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${plain.port}/`, [], {
      transport: via({ env: { ws_proxy: 'gopher://p:70' } }),
    });
    const [event] = (await once(ws, 'error')) as [{ error: Error }];
    expect(String((event.error.cause as Error).message)).toContain('unsupported proxy scheme "gopher:"');
  });
});
