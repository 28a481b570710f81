/**
 * What TLS costs on each path polysocket offers, in one run (issue 14):
 * Node's `tls` under polysocket and `ws`, the JavaScript TLS that was
 * evaluated and rejected (`@reclaimprotocol/tls`), and, in Chromium, the
 * native `wss:` beside polysocket over WebTransport with TLS made by the
 * gateway (`tls: 'gateway'`) and without TLS (`ws:`); plus the bundle size
 * each browser option adds.
 *
 * Run with `npm run bench:tls` (`tsx bench/tls.bench.ts`); `--quick` runs
 * fewer, smaller rounds and writes nothing (it prints the table). Results
 * go to bench/results/tls.{json,md}.
 *
 * Method
 * ------
 * - Everything on loopback (127.0.0.1). Certificates: an ECDSA P-256 test
 *   CA and a server certificate for localhost and 127.0.0.1
 *   (e2e/browser/support/tls.ts). This process only orchestrates: one
 *   server process serves a `ws` WebSocketServer over HTTP and over HTTPS
 *   (node:tls, the same certificate for everyone) and raw TCP and TLS
 *   servers (the wire floor: the same bytes without WebSocket framing).
 * - Node paths: each (round, path) pair runs in a fresh client process:
 *   HANDSHAKES connections opened one after the other (connect to `open`,
 *   or to `secureConnect` for raw TLS), then per scenario a connection,
 *   a warm-up transfer of a quarter of the messages, the timed transfer,
 *   and its CPU (`process.cpuUsage()` of the client process, user +
 *   system). Processes are pinned with taskset when available: the server
 *   on the last CPU, clients on the first.
 * - `@reclaimprotocol/tls` 0.1.5 (bench/tls-reclaim.ts) uses its WebCrypto
 *   implementation (Node's `crypto.webcrypto`: native AES-GCM and ECDHE, as
 *   a browser's `crypto.subtle` would give it) over a `node:net` socket, and
 *   verifies the server's certificate against the test CA. It runs raw
 *   (the TLS alone) and under polysocket's `WebSocket` through
 *   `streamsTransport()`, for TLS 1.3 and TLS 1.2.
 * - Chromium (Debian's /usr/bin/chromium, headless, a fresh profile) is
 *   launched here and driven over a bare CDP connection (`Runtime.evaluate`
 *   only): no Network domain is enabled, which would copy every native
 *   WebSocket frame to the driver. The page is the end-to-end test page
 *   (e2e/browser, Vite), with bench/browser-page.ts imported into it. Native
 *   `wss:` trusts the test server by its key
 *   (`--ignore-certificate-errors-spki-list`); polysocket goes over
 *   WebTransport to the repository's gateway (Deno, `--ca` the test CA),
 *   which makes the TLS connection to the same server. Every connection is
 *   a fresh one: polysocket's WebTransport session closes with its last
 *   WebSocket, so each handshake includes QUIC's. CPU per process from
 *   /proc/<pid>/stat (utime + stime, 10 ms ticks) of Chromium's processes
 *   by type (browser, renderer, network service, others), the gateway and
 *   the server, read before and after each timed transfer.
 * - Scenarios: receive and send binary messages of 1 KiB and 1 MiB.
 *   Receive: the client asks, the server sends N messages as fast as its
 *   socket drains, the client counts the bytes. Send: a loop of N `send()`
 *   calls, timed until the server says it had them all. MB/s = 10^6
 *   payload bytes per second.
 * - Medians over ROUNDS rounds (handshakes: over every connection of every
 *   round); paths alternate within a round and their order rotates from
 *   round to round. Every wait is bounded, every loop counted.
 */
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { PageTarget, PageTransfer } from './browser-page.js';
import {
  BENCH_GATEWAY_ARGS,
  boundRun,
  type CdpPage,
  CPU_GROUPS,
  type CpuGroup,
  type CpuRoot,
  cpuBetween,
  cpuSnapshot,
  type Direction,
  denoVersion,
  fmt,
  kill,
  killChildren,
  launchChromium,
  type MeasuredTransfer,
  mbps,
  median,
  nextMessage,
  now,
  ratio,
  rotate,
  type Scenario,
  type ScenarioKey,
  spawnRole,
  summarizeTransfers,
  type TransferSummary,
  track,
  transferScenarios,
  withTimeout,
  writeResults,
} from './support/chromium-cdp.js';
import { serveBenchCommands } from './support/ws-bench-server.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const SELF = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------
// Configuration

const QUICK = process.argv.includes('--quick');
/** Rounds: each path is measured once per round; figures are medians over rounds. */
const ROUNDS = QUICK ? 2 : 5;
/** Connections opened per path and round for the handshake time. */
const HANDSHAKES = QUICK ? 4 : 10;
/** Messages per transfer, by size: 8 MiB of 1 KiB messages, 32 MiB of 1 MiB messages. */
const SIZES = [1024, 2 ** 20] as const;
const COUNTS: Readonly<Record<number, number>> = QUICK
  ? { 1024: 2048, [2 ** 20]: 8 }
  : { 1024: 8192, [2 ** 20]: 32 };
/** Bounds: one handshake, one transfer, one client process, the whole run. */
const OPEN_TIMEOUT_MS = 15_000;
const TRANSFER_TIMEOUT_MS = 60_000;
const CLIENT_TIMEOUT_MS = 5 * 60_000;
const RUN_TIMEOUT_MS = 40 * 60_000;
/** The server pauses a receive transfer while this much waits in its socket. */
const SERVER_QUEUE_LIMIT = 1024 * 1024;
/** The certificate's names include localhost: `@reclaimprotocol/tls` verifies that name (it checks DNS names). */
const RECLAIM_SERVER_NAME = 'localhost';
/** The commit before gateway protocol version 2 and `tls: 'gateway'` (git log of src/transports/webtransport.ts). */
const BEFORE_GATEWAY_TLS = '341ce9f';

type NodePath =
  | 'node:tls raw'
  | 'polysocket wss: (node:tls)'
  | 'ws wss: (node:tls)'
  | 'reclaim TLS 1.3 raw'
  | 'polysocket wss: (reclaim TLS 1.3)'
  | 'reclaim TLS 1.2 raw'
  | 'polysocket wss: (reclaim TLS 1.2)'
  | 'node:net raw'
  | 'polysocket ws:'
  | 'ws ws:';

/** Each Node path and the path it is compared with (the same layer with node:tls, or the wire floor). */
const NODE_PATHS: ReadonlyArray<{
  readonly path: NodePath;
  readonly ref: NodePath | null;
  readonly label: string;
}> = [
  { path: 'node:tls raw', ref: null, label: '`node:tls` socket, no WebSocket (floor)' },
  { path: 'polysocket wss: (node:tls)', ref: 'node:tls raw', label: 'polysocket `wss:` over `node:tls`' },
  { path: 'ws wss: (node:tls)', ref: 'node:tls raw', label: '`ws` `wss:` over `node:tls`' },
  { path: 'reclaim TLS 1.3 raw', ref: 'node:tls raw', label: '`@reclaimprotocol/tls` TLS 1.3, no WebSocket' },
  {
    path: 'polysocket wss: (reclaim TLS 1.3)',
    ref: 'polysocket wss: (node:tls)',
    label: 'polysocket `wss:` over `@reclaimprotocol/tls` TLS 1.3',
  },
  { path: 'reclaim TLS 1.2 raw', ref: 'node:tls raw', label: '`@reclaimprotocol/tls` TLS 1.2, no WebSocket' },
  {
    path: 'polysocket wss: (reclaim TLS 1.2)',
    ref: 'polysocket wss: (node:tls)',
    label: 'polysocket `wss:` over `@reclaimprotocol/tls` TLS 1.2',
  },
  { path: 'node:net raw', ref: 'node:tls raw', label: '`node:net` socket, no TLS, no WebSocket' },
  { path: 'polysocket ws:', ref: 'polysocket wss: (node:tls)', label: 'polysocket `ws:` (no TLS)' },
  { path: 'ws ws:', ref: 'ws wss: (node:tls)', label: '`ws` `ws:` (no TLS)' },
];

type BrowserPath =
  | 'native wss:'
  | 'polysocket wss: (gateway TLS)'
  | 'polysocket ws: (WebTransport)'
  | 'native ws:';

const BROWSER_PATHS: ReadonlyArray<{ readonly path: BrowserPath; readonly label: string }> = [
  { path: 'native wss:', label: "Chromium's `WebSocket`, `wss:`" },
  {
    path: 'polysocket wss: (gateway TLS)',
    label: "polysocket over WebTransport, `tls: 'gateway'` (`wss:`)",
  },
  { path: 'polysocket ws: (WebTransport)', label: 'polysocket over WebTransport, `ws:` (no TLS)' },
  { path: 'native ws:', label: "Chromium's `WebSocket`, `ws:` (no TLS)" },
];

function scenarios(): Scenario[] {
  return transferScenarios(SIZES, COUNTS);
}

// ---------------------------------------------------------------------------
// Helpers

/** The raw servers' request: 'R' (server sends) or 'S' (client sends), size and count, big-endian. */
function rawHeader(direction: Direction, size: number, count: number): Buffer {
  const header = Buffer.alloc(9);
  header[0] = direction === 'recv' ? 0x52 : 0x53;
  header.writeUInt32BE(size, 1);
  header.writeUInt32BE(count, 5);
  return header;
}

// ---------------------------------------------------------------------------
// Server role: ws over HTTP and HTTPS, raw TCP and raw TLS

interface ServerPorts {
  readonly ws: number;
  readonly wss: number;
  readonly tcp: number;
  readonly tls: number;
}

async function runServer(certFile: string, keyFile: string): Promise<void> {
  const { WebSocketServer } = await import('ws');
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  const payloads = new Map(SIZES.map((size) => [size, Buffer.alloc(size, 0x61)]));
  const payload = (size: number): Buffer => payloads.get(size) ?? Buffer.alloc(size, 0x61);
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };

  const onWebSocket = (socket: unknown): void => serveBenchCommands(socket, payload, SERVER_QUEUE_LIMIT);
  const respond = (_: http.IncomingMessage, response: http.ServerResponse): void => {
    response.end('tls benchmark server\n');
  };
  const httpServer = http.createServer(respond);
  const httpsServer = https.createServer({ cert, key }, respond);
  for (const server of [httpServer, httpsServer]) {
    server.on('connection', track);
    server.on('tlsClientError', () => {});
    new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 2 ** 20 }).on(
      'connection',
      onWebSocket,
    );
  }

  const onRaw = (socket: net.Socket): void => {
    track(socket);
    socket.setNoDelay(true);
    let header = Buffer.alloc(0);
    let remaining = 0;
    socket.on('data', (chunk: Buffer) => {
      let data = chunk;
      while (data.byteLength > 0) {
        if (remaining > 0) {
          const take = Math.min(remaining, data.byteLength);
          remaining -= take;
          data = data.subarray(take);
          if (remaining === 0) socket.write(Buffer.from([1]));
          continue;
        }
        header = Buffer.concat([header, data]);
        data = Buffer.alloc(0);
        if (header.byteLength < 9) return;
        const size = header.readUInt32BE(1);
        const count = header.readUInt32BE(5);
        const kind = header[0];
        data = header.subarray(9);
        header = Buffer.alloc(0);
        if (kind === 0x53) {
          remaining = size * count;
        } else {
          const bytes = payload(size);
          let sent = 0;
          const pump = (): void => {
            while (!socket.destroyed && sent < count && socket.writableLength < SERVER_QUEUE_LIMIT) {
              socket.write(bytes);
              sent++;
            }
            if (!socket.destroyed && sent < count) socket.once('drain', pump);
          };
          pump();
        }
      }
    });
  };
  const tcpServer = net.createServer(onRaw);
  const tlsServer = tls.createServer({ cert, key }, onRaw);

  const listen = (server: net.Server): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
  const ports: ServerPorts = {
    ws: await listen(httpServer),
    wss: await listen(httpsServer),
    tcp: await listen(tcpServer),
    tls: await listen(tlsServer),
  };
  process.send?.({ type: 'listening', ports });
  const exit = (): void => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  };
  process.on('message', (m: { type: string }) => {
    if (m.type === 'exit') exit();
  });
  process.on('disconnect', exit);
}

// ---------------------------------------------------------------------------
// Client role (Node paths)

/** One open connection, as the scenarios use it. */
interface NodeConnection {
  transfer(direction: Direction, size: number, count: number): Promise<void>;
  close(): Promise<void>;
}

/** What a client process reports. */
interface ClientReport {
  readonly type: 'report';
  readonly path: NodePath;
  readonly handshakesMs: number[];
  readonly transfers: Partial<Record<ScenarioKey, { ms: number; bytes: number; cpuMs: number }>>;
  readonly errors: string[];
  readonly versions: Record<string, string>;
}

/** A WHATWG `WebSocket` (polysocket's), as the scenarios need it. */
interface WhatwgSocket {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number): void;
}

function openWhatwg(create: () => WhatwgSocket): Promise<NodeConnection> {
  return new Promise((resolve, reject) => {
    const ws = create();
    ws.binaryType = 'arraybuffer';
    ws.onerror = () => reject(new Error('WebSocket failed'));
    ws.onclose = (event) => reject(new Error(`WebSocket closed: ${event.code}`));
    ws.onopen = () =>
      resolve({
        transfer: (direction, size, count) =>
          new Promise<void>((done, fail) => {
            ws.onclose = (event) => fail(new Error(`WebSocket closed during the transfer: ${event.code}`));
            if (direction === 'recv') {
              const total = size * count;
              let received = 0;
              ws.onmessage = (event) => {
                received += (event.data as ArrayBuffer).byteLength;
                if (received >= total) done();
              };
              ws.send(`recv ${size} ${count}`);
            } else {
              ws.onmessage = (event) => {
                if (event.data === 'done') done();
              };
              ws.send(`send ${size} ${count}`);
              const payload = new Uint8Array(size);
              for (let i = 0; i < count; i++) ws.send(payload);
            }
          }),
        close: () =>
          new Promise<void>((done) => {
            ws.onmessage = null;
            ws.onerror = null;
            if (ws.readyState === 3) done();
            ws.onclose = () => done();
            ws.close(1000);
          }),
      });
  });
}

interface WsClient {
  on(event: 'open' | 'close', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  off(event: string, listener: (...args: never[]) => void): this;
  send(data: Buffer | string): void;
  close(code?: number): void;
  readonly readyState: number;
}

function openWs(create: () => WsClient): Promise<NodeConnection> {
  return new Promise((resolve, reject) => {
    const ws = create();
    ws.on('error', reject);
    let onMessage: (data: Buffer, isBinary: boolean) => void = () => {};
    ws.on('message', (data, isBinary) => onMessage(data, isBinary));
    ws.on('open', () =>
      resolve({
        transfer: (direction, size, count) =>
          new Promise<void>((done, fail) => {
            ws.on('close', () => fail(new Error('ws closed during the transfer')));
            if (direction === 'recv') {
              const total = size * count;
              let received = 0;
              onMessage = (data) => {
                received += data.byteLength;
                if (received >= total) done();
              };
              ws.send(`recv ${size} ${count}`);
            } else {
              onMessage = (data, isBinary) => {
                if (!isBinary && data.toString() === 'done') done();
              };
              ws.send(`send ${size} ${count}`);
              const payload = Buffer.alloc(size);
              for (let i = 0; i < count; i++) ws.send(payload);
            }
          }),
        close: () =>
          new Promise<void>((done) => {
            onMessage = () => {};
            if (ws.readyState === 3) done();
            ws.on('close', done);
            ws.close(1000);
          }),
      }),
    );
  });
}

/** A byte stream without WebSocket framing: a node:net or node:tls socket, or a reclaim TLS connection. */
interface RawPipe {
  /** Resolves at once unless the sender must wait (a full socket buffer, or an encryption in flight). */
  write(chunk: Uint8Array): Promise<void> | undefined;
  onData: (chunk: Uint8Array) => void;
  close(): Promise<void>;
}

function rawConnection(pipe: RawPipe): NodeConnection {
  return {
    transfer: async (direction, size, count) => {
      const total = direction === 'recv' ? size * count : 1;
      let received = 0;
      const done = new Promise<void>((resolve) => {
        pipe.onData = (chunk) => {
          received += chunk.byteLength;
          if (received >= total) resolve();
        };
      });
      const header = rawHeader(direction, size, count);
      await pipe.write(header);
      if (direction === 'send') {
        const payload = new Uint8Array(size);
        for (let i = 0; i < count; i++) {
          const wait = pipe.write(payload);
          if (wait !== undefined) await wait;
        }
      }
      await done;
    },
    close: () => pipe.close(),
  };
}

function socketPipe(socket: net.Socket): RawPipe {
  const pipe: RawPipe = {
    write: (chunk) =>
      socket.write(chunk) ? undefined : new Promise<void>((resolve) => socket.once('drain', resolve)),
    onData: () => {},
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) resolve();
        socket.once('close', () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 5_000).unref();
      }),
  };
  socket.on('data', (chunk: Buffer) => pipe.onData(chunk));
  return pipe;
}

async function runClient(path: NodePath, ports: ServerPorts, caFile: string): Promise<void> {
  const ca = readFileSync(caFile, 'utf8');
  const versions: Record<string, string> = {
    polysocket: (require('../package.json') as { version: string }).version,
    ws: (require('ws/package.json') as { version: string }).version,
    // Its exports map has no ./package.json.
    '@reclaimprotocol/tls': (
      JSON.parse(
        readFileSync(join(ROOT, 'node_modules', '@reclaimprotocol', 'tls', 'package.json'), 'utf8'),
      ) as { version: string }
    ).version,
    openssl: process.versions.openssl,
  };
  const { WebSocket, nodeTransport, streamsTransport } = await import('../src/node.js');
  const { default: WsWebSocket } = await import('ws');
  const reclaim = path.includes('reclaim') ? await import('./tls-reclaim.js') : null;
  const WsCtor = WsWebSocket as unknown as new (url: string, options: object) => WsClient;
  const nodeTls = nodeTransport({ tls: { ca }, proxy: false });
  const nodeTcp = nodeTransport({ proxy: false });
  const connect = (): Promise<NodeConnection> => {
    switch (path) {
      case 'node:tls raw':
        return new Promise((resolve, reject) => {
          const socket = tls.connect({ host: '127.0.0.1', port: ports.tls, ca }, () =>
            resolve(rawConnection(socketPipe(socket))),
          );
          socket.setNoDelay(true);
          socket.once('error', reject);
        });
      case 'node:net raw':
        return new Promise((resolve, reject) => {
          const socket = net.connect({ host: '127.0.0.1', port: ports.tcp }, () =>
            resolve(rawConnection(socketPipe(socket))),
          );
          socket.setNoDelay(true);
          socket.once('error', reject);
        });
      case 'polysocket wss: (node:tls)':
        return openWhatwg(
          () => new WebSocket(`wss://127.0.0.1:${ports.wss}/`, [], { transport: nodeTls }) as WhatwgSocket,
        );
      case 'polysocket ws:':
        return openWhatwg(
          () => new WebSocket(`ws://127.0.0.1:${ports.ws}/`, [], { transport: nodeTcp }) as WhatwgSocket,
        );
      case 'ws wss: (node:tls)':
        return openWs(() => new WsCtor(`wss://127.0.0.1:${ports.wss}/`, { ca, perMessageDeflate: false }));
      case 'ws ws:':
        return openWs(() => new WsCtor(`ws://127.0.0.1:${ports.ws}/`, { perMessageDeflate: false }));
      case 'reclaim TLS 1.3 raw':
      case 'reclaim TLS 1.2 raw': {
        const version = path === 'reclaim TLS 1.3 raw' ? 'TLS1_3' : 'TLS1_2';
        return reclaim!.connectReclaim(ports.tls, RECLAIM_SERVER_NAME, ca, version).then((connection) => {
          // Encryption is asynchronous (WebCrypto) and its records must go out in order: one write at a time.
          let last: Promise<void> = Promise.resolve();
          const pipe: RawPipe = {
            write: (chunk) => (last = last.then(() => connection.write(chunk))),
            onData: () => {},
            close: () => connection.close(),
          };
          connection.onData = (chunk) => pipe.onData(chunk);
          return rawConnection(pipe);
        });
      }
      case 'polysocket wss: (reclaim TLS 1.3)':
      case 'polysocket wss: (reclaim TLS 1.2)': {
        const version = path === 'polysocket wss: (reclaim TLS 1.3)' ? 'TLS1_3' : 'TLS1_2';
        const transport = streamsTransport(
          () => reclaim!.reclaimStreams(ports.wss, RECLAIM_SERVER_NAME, ca, version),
          { secure: true },
        );
        return openWhatwg(
          () =>
            new WebSocket(`wss://${RECLAIM_SERVER_NAME}:${ports.wss}/`, [], { transport }) as WhatwgSocket,
        );
      }
    }
  };

  const errors: string[] = [];
  const handshakesMs: number[] = [];
  for (let i = 0; i < HANDSHAKES; i++) {
    try {
      const start = now();
      const connection = await withTimeout(connect(), OPEN_TIMEOUT_MS, `${path}: connect`);
      handshakesMs.push(now() - start);
      await withTimeout(connection.close(), OPEN_TIMEOUT_MS, `${path}: close`);
    } catch (error) {
      errors.push(`handshake: ${String(error)}`);
      break;
    }
  }
  const transfers: ClientReport['transfers'] = {};
  for (const scenario of scenarios()) {
    let connection: NodeConnection | undefined;
    try {
      connection = await withTimeout(connect(), OPEN_TIMEOUT_MS, `${path}: connect`);
      const what = `${path}: ${scenario.key}`;
      await withTimeout(
        connection.transfer(scenario.direction, scenario.size, Math.max(1, scenario.count >> 2)),
        TRANSFER_TIMEOUT_MS,
        `${what} (warm-up)`,
      );
      const cpu = process.cpuUsage();
      const start = now();
      await withTimeout(
        connection.transfer(scenario.direction, scenario.size, scenario.count),
        TRANSFER_TIMEOUT_MS,
        what,
      );
      const ms = now() - start;
      const used = process.cpuUsage(cpu);
      transfers[scenario.key] = {
        ms,
        bytes: scenario.size * scenario.count,
        cpuMs: (used.user + used.system) / 1000,
      };
    } catch (error) {
      errors.push(`${scenario.key}: ${String(error)}`);
    }
    if (connection !== undefined)
      await withTimeout(connection.close(), OPEN_TIMEOUT_MS, 'close').catch(() => {});
  }
  const report: ClientReport = { type: 'report', path, handshakesMs, transfers, errors, versions };
  // Exit once the report is out, whatever a library left open.
  process.send?.(report, () => process.exit(0));
}

// ---------------------------------------------------------------------------
// Child processes

/** Server on the last CPU, clients on the first (when taskset exists and there are two CPUs). */
const PINNING: { readonly server: string; readonly client: string } | null = (() => {
  const cpus = os.cpus().length;
  if (cpus < 2 || spawnSync('taskset', ['-V']).status !== 0) return null;
  return { server: String(cpus - 1), client: '0' };
})();

interface TlsChromium {
  readonly pid: number;
  readonly version: string;
  readonly page: CdpPage;
  stop(): Promise<void>;
}

/** Chromium with the end-to-end test page open and bench/browser-page.ts imported into it. */
async function launchTlsChromium(pageUrl: string, spki: string): Promise<TlsChromium> {
  const chromium = await launchChromium({
    // Native wss: trusts the test server's key, and nothing else that is not trusted anyway.
    args: [`--ignore-certificate-errors-spki-list=${spki}`],
    profilePrefix: 'polysocket-tls-bench-',
    commandTimeoutMs: TRANSFER_TIMEOUT_MS + 10_000,
  });
  try {
    const page = await chromium.openPage(pageUrl, 'window.e2eReady === true', 30_000);
    await page.evaluate(
      `import(${JSON.stringify(`${pageUrl}@fs${join(HERE, 'browser-page.ts')}`)}).then(() => true)`,
    );
    // A hidden page could be throttled: say what it was.
    const visibility = await page.evaluate<string>('document.visibilityState');
    return {
      pid: chromium.pid,
      version: `${chromium.product} (page ${visibility})`,
      page,
      stop: chromium.stop,
    };
  } catch (error) {
    await chromium.stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Bundle sizes

interface BundleSize {
  readonly name: string;
  readonly minified: number | null;
  readonly gzipped: number | null;
  readonly error?: string;
}

async function bundleSizes(): Promise<BundleSize[]> {
  const { build } = await import('esbuild');
  const gzipSize = (bytes: Uint8Array): number => gzipSync(bytes, { level: 9 }).byteLength;
  /** As scripts/bundle-size.mjs bundles: esbuild, minified, ES2022, for the browser, gzip level 9. */
  const measure = async (
    name: string,
    contents: string,
    resolveDir: string,
    extra: { nodePaths?: string[]; plugins?: import('esbuild').Plugin[] } = {},
  ): Promise<BundleSize & { inputs?: string[] }> => {
    try {
      const result = await build({
        bundle: true,
        minify: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        write: false,
        metafile: true,
        legalComments: 'none',
        logLevel: 'silent',
        absWorkingDir: resolveDir,
        stdin: { contents, resolveDir, loader: 'ts', sourcefile: 'entry.ts' },
        ...extra,
      });
      const code = result.outputFiles[0]!.contents;
      return {
        name,
        minified: code.byteLength,
        gzipped: gzipSize(code),
        inputs: Object.keys(result.metafile.inputs),
      };
    } catch (error) {
      return { name, minified: null, gzipped: null, error: String(error).split('\n')[0]! };
    }
  };
  const sizes: BundleSize[] = [];
  const entry = "export { webTransportTransport } from './src/transports/webtransport.ts';";
  const current = await measure("`webTransportTransport` with `tls: 'gateway'` (this tree)", entry, ROOT);
  sizes.push(current);
  // The same entry in the tree before gateway TLS: the files it bundles, as they were then.
  const old = mkdtempSync(join(os.tmpdir(), 'polysocket-tls-size-'));
  try {
    for (const input of current.inputs ?? []) {
      if (!input.startsWith('src/')) continue;
      const shown = spawnSync('git', ['show', `${BEFORE_GATEWAY_TLS}:${input}`], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (shown.status !== 0)
        throw new Error(`git show ${BEFORE_GATEWAY_TLS}:${input}: ${shown.stderr.trim()}`);
      mkdirSync(dirname(join(old, input)), { recursive: true });
      writeFileSync(join(old, input), shown.stdout);
    }
    sizes.push(
      await measure(`\`webTransportTransport\` before gateway TLS (${BEFORE_GATEWAY_TLS})`, entry, old, {
        nodePaths: [join(ROOT, 'node_modules')],
      }),
    );
  } catch (error) {
    sizes.push({
      name: `before gateway TLS (${BEFORE_GATEWAY_TLS})`,
      minified: null,
      gzipped: null,
      error: String(error),
    });
  } finally {
    rmSync(old, { recursive: true, force: true });
  }
  // `@reclaimprotocol/tls` as a page would bundle it: the client, certificate loading, a crypto
  // implementation. Its WebCrypto implementation imports Node's `crypto` for `webcrypto`: the page's own.
  const nodeCrypto: import('esbuild').Plugin = {
    name: 'webcrypto-from-the-page',
    setup(plugin) {
      plugin.onResolve({ filter: /^(node:)?crypto$/ }, () => ({ path: 'crypto', namespace: 'page-crypto' }));
      plugin.onLoad({ filter: /.*/, namespace: 'page-crypto' }, () => ({
        contents: 'export const webcrypto = globalThis.crypto;',
        loader: 'js',
      }));
    },
  };
  sizes.push(
    await measure(
      '`@reclaimprotocol/tls`: `makeTLSClient`, `loadX509FromPem`, WebCrypto implementation',
      "export { makeTLSClient, loadX509FromPem, setCryptoImplementation } from '@reclaimprotocol/tls';\nexport { webcryptoCrypto } from '@reclaimprotocol/tls/webcrypto';",
      ROOT,
      { plugins: [nodeCrypto] },
    ),
  );
  sizes.push(
    await measure(
      '`@reclaimprotocol/tls`: the same with its pure-JS crypto implementation',
      "export { makeTLSClient, loadX509FromPem, setCryptoImplementation } from '@reclaimprotocol/tls';\nexport { pureJsCrypto } from '@reclaimprotocol/tls/purejs-crypto';",
      ROOT,
      { plugins: [nodeCrypto] },
    ),
  );
  return sizes.map(({ name, minified, gzipped, error }) => ({
    name,
    minified,
    gzipped,
    ...(error === undefined ? {} : { error }),
  }));
}

// ---------------------------------------------------------------------------
// Orchestration

/** One measured transfer. */
/** One measured transfer; CPU ms by process (Node: the client process only). */
type Transfer = MeasuredTransfer<CpuGroup | 'client'>;

interface PathResult<P extends string> {
  readonly path: P;
  readonly handshakesMs: number[];
  readonly transfers: Partial<Record<ScenarioKey, Transfer[]>>;
  readonly errors: string[];
}

function emptyResult<P extends string>(path: P): PathResult<P> {
  return { path, handshakesMs: [], transfers: {}, errors: [] };
}

async function runNode(
  ports: ServerPorts,
  caFile: string,
): Promise<{ results: Array<PathResult<NodePath>>; versions: Record<string, string> }> {
  const results = new Map(NODE_PATHS.map(({ path }) => [path, emptyResult(path)]));
  let versions: Record<string, string> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const { path } of rotate(NODE_PATHS, round)) {
      const result = results.get(path)!;
      const child = spawnRole(
        SELF,
        [`--role=client`, `--path=${path}`, `--ports=${JSON.stringify(ports)}`, `--ca=${caFile}`],
        PINNING?.client,
      );
      try {
        const report = await nextMessage<ClientReport>(child, 'report', CLIENT_TIMEOUT_MS);
        versions = report.versions;
        result.handshakesMs.push(...report.handshakesMs);
        for (const [key, transfer] of Object.entries(report.transfers) as Array<
          [ScenarioKey, { ms: number; bytes: number; cpuMs: number }]
        >) {
          (result.transfers[key] ??= []).push({
            ms: transfer.ms,
            bytes: transfer.bytes,
            cpuMs: { client: transfer.cpuMs },
          });
        }
        result.errors.push(...report.errors.map((error) => `round ${round + 1}: ${error}`));
      } catch (error) {
        result.errors.push(`round ${round + 1}: ${String(error)}`);
      }
      kill(child);
      console.log(`node, round ${round + 1}/${ROUNDS}: ${path}: ${progress(result)}`);
    }
  }
  return { results: [...results.values()], versions };
}

function progress(result: PathResult<string>): string {
  const parts = [`handshake ${fmt(median(result.handshakesMs), 1)} ms`];
  for (const [key, transfers] of Object.entries(result.transfers)) {
    const last = transfers?.at(-1);
    if (last !== undefined) parts.push(`${key} ${fmt(mbps(last), 0)} MB/s`);
  }
  if (result.errors.length > 0) parts.push(`${result.errors.length} error(s): ${result.errors.at(-1)}`);
  return parts.join(', ');
}

async function runBrowser(
  ports: ServerPorts,
  caFile: string,
  serverCert: string,
  serverPid: number,
): Promise<{ results: Array<PathResult<BrowserPath>>; chromium: string; error?: string }> {
  const results = new Map(BROWSER_PATHS.map(({ path }) => [path, emptyResult(path)]));
  const { startGatewayProcess } = await import('../e2e/browser/support/gateway.js');
  const { startPageServer } = await import('../e2e/browser/support/page-server.js');
  const spki = createHash('sha256')
    .update(new X509Certificate(serverCert).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  const stops: Array<() => Promise<void>> = [];
  let chromiumVersion = '?';
  try {
    const pageServer = await startPageServer();
    stops.push(() => pageServer.stop());
    const gateway = await startGatewayProcess({
      allow: [`127.0.0.1:${ports.ws}`, `127.0.0.1:${ports.wss}`],
      ca: [caFile],
      args: BENCH_GATEWAY_ARGS,
    });
    // Tracked too, so that a failure or the run's bound kills it with the rest.
    track(gateway.service.child);
    stops.push(() => gateway.stop());
    const chromium = await launchTlsChromium(pageServer.url, spki);
    stops.push(() => chromium.stop());
    chromiumVersion = chromium.version;
    const gatewayPid = gateway.service.child.pid;
    const roots: CpuRoot[] = [
      { pid: chromium.pid, group: 'chromium' },
      { pid: serverPid, group: 'server' },
      ...(gatewayPid === undefined ? [] : [{ pid: gatewayPid, group: 'gateway' as const }]),
    ];
    const targets: Record<BrowserPath, PageTarget> = {
      'native wss:': { kind: 'native', url: `wss://127.0.0.1:${ports.wss}/` },
      'native ws:': { kind: 'native', url: `ws://127.0.0.1:${ports.ws}/` },
      'polysocket wss: (gateway TLS)': {
        kind: 'webtransport',
        url: `wss://127.0.0.1:${ports.wss}/`,
        gateway: gateway.url,
        certificateHash: gateway.certificateHash,
        tls: true,
      },
      'polysocket ws: (WebTransport)': {
        kind: 'webtransport',
        url: `ws://127.0.0.1:${ports.ws}/`,
        gateway: gateway.url,
        certificateHash: gateway.certificateHash,
      },
    };
    const { page } = chromium;
    const open = (target: PageTarget): Promise<number> =>
      page.evaluate<number>(`window.benchPage.open(${JSON.stringify(target)}, ${OPEN_TIMEOUT_MS})`);
    const close = (): Promise<void> => page.evaluate<void>(`window.benchPage.close(${OPEN_TIMEOUT_MS})`);
    const transfer = (direction: Direction, size: number, count: number): Promise<PageTransfer> =>
      page.evaluate<PageTransfer>(
        `window.benchPage.transfer(${JSON.stringify(direction)}, ${size}, ${count}, ${TRANSFER_TIMEOUT_MS})`,
      );
    for (let round = 0; round < ROUNDS; round++) {
      for (const { path } of rotate(BROWSER_PATHS, round)) {
        const result = results.get(path)!;
        const target = targets[path];
        try {
          for (let i = 0; i < HANDSHAKES; i++) {
            result.handshakesMs.push(await open(target));
            await close();
          }
        } catch (error) {
          result.errors.push(`round ${round + 1}: handshake: ${String(error)}`);
          await close().catch(() => {});
        }
        for (const scenario of scenarios()) {
          try {
            await open(target);
            await transfer(scenario.direction, scenario.size, Math.max(1, scenario.count >> 2));
            const before = cpuSnapshot(roots);
            const measured = await transfer(scenario.direction, scenario.size, scenario.count);
            const used = cpuBetween(before, cpuSnapshot(roots));
            (result.transfers[scenario.key] ??= []).push({
              ms: measured.ms,
              bytes: measured.bytes,
              cpuMs: used,
            });
          } catch (error) {
            result.errors.push(`round ${round + 1}: ${scenario.key}: ${String(error)}`);
          }
          await close().catch(() => {});
        }
        console.log(`chromium, round ${round + 1}/${ROUNDS}: ${path}: ${progress(result)}`);
      }
    }
    return { results: [...results.values()], chromium: chromiumVersion };
  } catch (error) {
    return { results: [...results.values()], chromium: chromiumVersion, error: String(error) };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

async function orchestrate(): Promise<void> {
  const disarm = boundRun(RUN_TIMEOUT_MS);
  const started = now();
  const loadStart = os.loadavg()[0] ?? 0;
  const { makeTestCertificates } = await import('../e2e/browser/support/tls.js');
  const certificates = makeTestCertificates();
  try {
    const server = spawnRole(
      SELF,
      [
        `--role=server`,
        `--cert=${certificates.servers.good.certFile}`,
        `--key=${certificates.servers.good.keyFile}`,
      ],
      PINNING?.server,
    );
    const { ports } = await nextMessage<{ type: string; ports: ServerPorts }>(server, 'listening', 30_000);
    console.log(`server: ${JSON.stringify(ports)}`);
    const sizes = await bundleSizes();
    for (const size of sizes) console.log(`size: ${size.name}: ${size.gzipped ?? size.error} B gzipped`);
    const node = await runNode(ports, certificates.caFile);
    const browser = await runBrowser(ports, certificates.caFile, certificates.servers.good.cert, server.pid!);
    if (browser.error !== undefined) console.error(`chromium: ${browser.error}`);
    server.send({ type: 'exit' });
    const environment = {
      date: new Date().toISOString(),
      node: process.version,
      openssl: process.versions.openssl,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      cpu: os.cpus()[0]?.model.trim() ?? '?',
      cpus: os.cpus().length,
      pinning: PINNING,
      chromium: browser.chromium,
      deno: denoVersion(ROOT),
      versions: node.versions,
      seconds: (now() - started) / 1000,
      loadAverage: { start: loadStart, end: os.loadavg()[0] ?? 0 },
    };
    const config = {
      quick: QUICK,
      rounds: ROUNDS,
      handshakes: HANDSHAKES,
      counts: COUNTS,
      serverQueueLimit: SERVER_QUEUE_LIMIT,
      reclaimServerName: RECLAIM_SERVER_NAME,
      beforeGatewayTls: BEFORE_GATEWAY_TLS,
    };
    const summary = {
      node: node.results.map(summarize),
      browser: browser.results.map(summarize),
    };
    const text = markdown(environment, summary.node, summary.browser, sizes, browser.error);
    writeResults('tls', QUICK, text, {
      environment,
      config,
      sizes,
      summary,
      raw: { node: node.results, browser: browser.results },
    });
  } finally {
    certificates.remove();
    killChildren();
    disarm();
  }
}

// ---------------------------------------------------------------------------
// Summary and output

type ScenarioSummary = TransferSummary<CpuGroup | 'client'>;

interface PathSummary {
  readonly path: string;
  readonly handshakes: number;
  readonly handshakeMs: number;
  readonly scenarios: Partial<Record<ScenarioKey, ScenarioSummary>>;
  readonly errors: string[];
}

function summarize(result: PathResult<string>): PathSummary {
  const summaries: PathSummary['scenarios'] = {};
  for (const [key, transfers] of Object.entries(result.transfers) as Array<[ScenarioKey, Transfer[]]>) {
    summaries[key] = summarizeTransfers(transfers);
  }
  return {
    path: result.path,
    handshakes: result.handshakesMs.length,
    handshakeMs: median(result.handshakesMs),
    scenarios: summaries,
    errors: result.errors,
  };
}

function markdown(
  environment: {
    date: string;
    node: string;
    openssl: string;
    cpu: string;
    cpus: number;
    pinning: { server: string; client: string } | null;
    chromium: string;
    deno: string;
    versions: Record<string, string>;
    seconds: number;
    loadAverage: { start: number; end: number };
  },
  node: readonly PathSummary[],
  browser: readonly PathSummary[],
  sizes: readonly BundleSize[],
  browserError: string | undefined,
): string {
  const keys = scenarios().map((s) => s.key);
  const byPath = new Map(node.map((s) => [s.path, s]));
  const cell = (summary: PathSummary, ref: PathSummary | undefined, key: ScenarioKey): string => {
    const value = summary.scenarios[key]?.mbps ?? Number.NaN;
    return ref === undefined
      ? fmt(value, 0)
      : `${fmt(value, 0)} (${ratio(value, ref.scenarios[key]?.mbps ?? Number.NaN)})`;
  };
  const handshakeCell = (summary: PathSummary, ref: PathSummary | undefined): string =>
    ref === undefined
      ? fmt(summary.handshakeMs, 1)
      : `${fmt(summary.handshakeMs, 1)} (${ratio(summary.handshakeMs, ref.handshakeMs)})`;
  const version = (name: string): string => environment.versions[name] ?? '?';
  const lines = [
    '# TLS benchmark: Node `tls`, a JavaScript TLS, and `wss:` in Chromium',
    '',
    `Generated by \`npm run bench:tls\` (\`tsx bench/tls.bench.ts\`) on ${environment.date}.`,
    '',
    `- Node ${environment.node} (OpenSSL ${environment.openssl}), ${environment.cpu} ×${environment.cpus}${environment.pinning === null ? '' : `, taskset: server on CPU ${environment.pinning.server}, Node clients on CPU ${environment.pinning.client}`}; ${environment.chromium}; gateway on ${environment.deno}. Loopback only. Total run time ${fmt(environment.seconds, 0)} s; 1-minute load average ${fmt(environment.loadAverage.start, 2)} at the start, ${fmt(environment.loadAverage.end, 2)} at the end.`,
    `- polysocket ${version('polysocket')} (src/, through tsx in Node; through Vite in the page), \`ws\` ${version('ws')}, \`@reclaimprotocol/tls\` ${version('@reclaimprotocol/tls')} with its WebCrypto implementation. Server: \`ws\` over \`http\`/\`https\` (node:tls), and raw \`net\`/\`tls\` servers for the floor, in a process of their own. Certificate: ECDSA P-256 from a test CA, which every client verifies.`,
    `- Medians of ${ROUNDS} runs (a fresh client process per run and path in Node; one Chromium, one page); handshakes: median of all ${HANDSHAKES * ROUNDS} connections (connect to \`open\`; raw sockets: to \`connect\`/\`secureConnect\`). Transfers: ${COUNTS[1024]} messages of 1 KiB (${(COUNTS[1024]! * 1024) / 2 ** 20} MiB) or ${COUNTS[2 ** 20]} of 1 MiB, after a warm-up of a quarter of that on the same connection; MB/s = 10^6 payload bytes per second. In parentheses: the ratio to the reference named in its row (handshake: lower is better; MB/s: higher is better).`,
    '',
    '## Node',
    '',
    `| path | reference | handshake (ms) | ${keys.map((k) => `${k} (MB/s)`).join(' | ')} |`,
    `| --- | --- | ---: | ${keys.map(() => '---:').join(' | ')} |`,
  ];
  for (const { path, ref, label } of NODE_PATHS) {
    const summary = byPath.get(path);
    if (summary === undefined) continue;
    const reference = ref === null ? undefined : byPath.get(ref);
    const refLabel = ref === null ? '—' : (NODE_PATHS.find((p) => p.path === ref)?.label ?? ref);
    lines.push(
      `| ${label} | ${refLabel} | ${handshakeCell(summary, reference)} | ${keys.map((k) => cell(summary, reference, k)).join(' | ')} |`,
    );
  }
  lines.push(
    '',
    'CPU of the client process per MiB moved (ms; `process.cpuUsage()`, user + system, over the timed transfer):',
    '',
    `| path | ${keys.join(' | ')} |`,
    `| --- | ${keys.map(() => '---:').join(' | ')} |`,
  );
  for (const { path, label } of NODE_PATHS) {
    const summary = byPath.get(path);
    if (summary === undefined) continue;
    lines.push(
      `| ${label} | ${keys.map((k) => fmt(summary.scenarios[k]?.cpuMsPerMiB.client ?? Number.NaN, 2)).join(' | ')} |`,
    );
  }
  lines.push(
    '',
    '- `@reclaimprotocol/tls` 0.1.5 formats every record it sends as a hex string for a `logger.trace()` call (`writeEncryptedPacket` in lib/make-tls-client.js: `toHexStringWithWhitespace(opts.data)`), whether or not the logger prints anything: a full record (16,380 bytes) costs milliseconds of CPU this way, which is most of its send cost here. Measured as shipped.',
    '- The raw floors write each message as one socket write (one TLS record per write for `node:tls` and `@reclaimprotocol/tls`); `ws` delivers Node Buffers, polysocket `ArrayBuffer`s.',
  );
  const nativeWss = browser.find((s) => s.path === 'native wss:');
  lines.push(
    '',
    '## Chromium',
    '',
    "Driven over a bare CDP connection (only `Runtime.evaluate`; no Network domain). polysocket's handshakes include a new WebTransport session (QUIC) each time: the session closes with its last WebSocket. Chromium may resume TLS sessions on native `wss:`; Node's clients and the gateway do not here.",
    '',
    `| path | handshake (ms) | ${keys.map((k) => `${k} (MB/s)`).join(' | ')} |`,
    `| --- | ---: | ${keys.map(() => '---:').join(' | ')} |`,
  );
  for (const { path, label } of BROWSER_PATHS) {
    const summary = browser.find((s) => s.path === path);
    if (summary === undefined) continue;
    const reference = path === 'native wss:' ? undefined : nativeWss;
    lines.push(
      `| ${label} | ${handshakeCell(summary, reference)} | ${keys.map((k) => cell(summary, reference, k)).join(' | ')} |`,
    );
  }
  const groups = CPU_GROUPS;
  lines.push(
    '',
    'CPU per MiB moved, by process (ms; /proc/<pid>/stat, 10 ms ticks, over the timed transfer; ratio of the total to native `wss:`):',
    '',
    `| path | scenario | ${groups.join(' | ')} | total |`,
    `| --- | --- | ${groups.map(() => '---:').join(' | ')} | ---: |`,
  );
  for (const { path, label } of BROWSER_PATHS) {
    const summary = browser.find((s) => s.path === path);
    if (summary === undefined) continue;
    for (const key of keys) {
      const cpu = summary.scenarios[key]?.cpuMsPerMiB;
      if (cpu === undefined) continue;
      const total = cpu.total ?? Number.NaN;
      const refTotal = nativeWss?.scenarios[key]?.cpuMsPerMiB.total ?? Number.NaN;
      lines.push(
        `| ${label} | ${key} | ${groups.map((g) => fmt(cpu[g] ?? Number.NaN, 2)).join(' | ')} | ${fmt(total, 2)}${path === 'native wss:' ? '' : ` (${ratio(total, refTotal)})`} |`,
      );
    }
  }
  if (browserError !== undefined) lines.push('', `Chromium part failed: ${browserError}`);
  lines.push(
    '',
    '## Bundle size',
    '',
    'esbuild, minified, ES2022, for the browser, gzip level 9 (as `npm run size`). "Before gateway TLS" bundles the same entry from the files it needs as they were at the commit before gateway protocol version 2: the difference is what `tls: \'gateway\'` added. `@reclaimprotocol/tls` bundles its Mozilla root store; its WebCrypto implementation takes `webcrypto` from the page.',
    '',
    '| bundle | minified (B) | gzipped (B) |',
    '| --- | ---: | ---: |',
  );
  for (const size of sizes) {
    lines.push(
      `| ${size.name} | ${size.minified === null ? `failed: ${size.error}` : size.minified.toLocaleString('en-US')} | ${size.gzipped === null ? '—' : size.gzipped.toLocaleString('en-US')} |`,
    );
  }
  const [withTls, withoutTls] = sizes;
  if (withTls?.gzipped != null && withoutTls?.gzipped != null) {
    lines.push(
      '',
      `\`tls: 'gateway'\` adds ${(withTls.minified! - withoutTls.minified!).toLocaleString('en-US')} B minified, ${(withTls.gzipped - withoutTls.gzipped).toLocaleString('en-US')} B gzipped.`,
    );
  }
  const errors = [...node, ...browser].flatMap((s) => s.errors.map((e) => `- ${s.path}: ${e}`));
  if (errors.length > 0) lines.push('', '## Errors', '', ...errors);
  lines.push('');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------

function argument(name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const role = argument('role');
const main =
  role === 'server'
    ? runServer(argument('cert') ?? '', argument('key') ?? '')
    : role === 'client'
      ? runClient(
          argument('path') as NodePath,
          JSON.parse(argument('ports') ?? '{}') as ServerPorts,
          argument('ca') ?? '',
        )
      : orchestrate();
main.catch((error: unknown) => {
  console.error(error);
  killChildren();
  process.exit(1);
});
