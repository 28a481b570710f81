/**
 * Where an echo round trip's time goes, client side: polysocket's Node
 * `WebSocket` against `ws` (pure JS), one 16 B text message in flight.
 *
 * Run with `npm run bench:echo-split` (i.e. `tsx bench/echo-split.bench.ts`);
 * `--quick` runs a short smoke test and writes nothing. Results go to
 * bench/results/echo-split.{json,md}.
 *
 * Method: a `ws` echo server in a child process of its own, and each client
 * in a child process of its own (the built package: `vite build` first), with
 * `taskset` pinning the server to the last CPU and the clients to the first
 * where it exists. In the client, `net.Socket.prototype.write` and `emit`
 * are wrapped to timestamp, per round trip: the application's `send()`
 * (S), the first socket write after it (W), the socket's `data` event
 * carrying the echo (D) and the application's `message` handler (M).
 * Reported: the medians of S→W (the client's send path: the frame, and for
 * polysocket the end-of-turn flush that coalesces same-turn frames), W→D
 * (loopback, server and wake-up; the same server for both) and D→M (the
 * receive path: for polysocket the parse, the task the WHATWG standard
 * queues per message and the `MessageEvent`; `ws` emits synchronously), over
 * SAMPLES samples of ROUND_TRIPS round trips after a warm-up sample, the two
 * clients alternating. The wrappers add the same small cost to both; the
 * full benchmark (`npm run bench:client`) measures latency without them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const QUICK = process.argv.includes('--quick');
const SAMPLES = QUICK ? 2 : 9;
const ROUND_TRIPS = QUICK ? 500 : 5000;
const MESSAGE = 'x'.repeat(16);
const IMPLS = ['polysocket', 'ws'] as const;
type Impl = (typeof IMPLS)[number];
const HERE = dirname(fileURLToPath(import.meta.url));
const SELF = fileURLToPath(import.meta.url);
/** The whole run is stopped after this long. */
const RUN_TIMEOUT_MS = 5 * 60_000;

interface Split {
  /** Medians over the sample's round trips, in µs. */
  readonly sendToWrite: number;
  readonly writeToData: number;
  readonly dataToMessage: number;
  readonly roundTrip: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

// ---------------------------------------------------------------------------
// Server role

async function runServer(): Promise<void> {
  const { WebSocketServer } = await import('ws');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('connection', (socket) =>
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })),
  );
  server.on('listening', () => process.send?.({ port: (server.address() as net.AddressInfo).port }));
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------
// Client role

interface EchoSocket {
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: (() => void) | null;
  send(data: string): void;
  close(): void;
}

async function openClient(impl: Impl, url: string): Promise<EchoSocket> {
  if (impl === 'ws') {
    const { default: Ws } = await import('ws');
    return new Ws(url, { perMessageDeflate: false }) as unknown as EchoSocket;
  }
  const { WebSocket } = (await import(join(HERE, '..', 'dist', 'node.js'))) as {
    WebSocket: new (url: string, protocols: string[], options: object) => EchoSocket;
  };
  return new WebSocket(url, [], { compression: false });
}

async function runClient(impl: Impl, port: number): Promise<void> {
  // Timestamps of the round trip in flight (0n: not yet).
  let send = 0n;
  let write = 0n;
  let data = 0n;
  const proto = net.Socket.prototype as unknown as {
    write: (...args: unknown[]) => boolean;
    emit: (event: string | symbol, ...args: unknown[]) => boolean;
  };
  const { write: originalWrite, emit: originalEmit } = proto;
  proto.write = function (this: net.Socket, ...args: unknown[]) {
    if (send !== 0n && write === 0n) write = process.hrtime.bigint();
    return originalWrite.apply(this, args);
  };
  proto.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]) {
    if (event === 'data' && write !== 0n && data === 0n) data = process.hrtime.bigint();
    return originalEmit.call(this, event, ...args);
  };

  const sample = async (): Promise<Split> => {
    const ws = await openClient(impl, `ws://127.0.0.1:${port}/`);
    const parts: [number[], number[], number[], number[]] = [[], [], [], []];
    await new Promise<void>((resolve, reject) => {
      const start = (): void => {
        send = process.hrtime.bigint();
        write = 0n;
        data = 0n;
        ws.send(MESSAGE);
      };
      ws.onerror = () => reject(new Error(`${impl}: error event`));
      ws.onopen = start;
      ws.onmessage = (event) => {
        const message = process.hrtime.bigint();
        if (event.data === undefined) reject(new Error('no data'));
        if (write !== 0n && data !== 0n) {
          parts[0].push(Number(write - send) / 1000);
          parts[1].push(Number(data - write) / 1000);
          parts[2].push(Number(message - data) / 1000);
          parts[3].push(Number(message - send) / 1000);
        }
        if (parts[3].length >= ROUND_TRIPS) resolve();
        else start();
      };
    });
    send = 0n;
    ws.close();
    return {
      sendToWrite: median(parts[0]),
      writeToData: median(parts[1]),
      dataToMessage: median(parts[2]),
      roundTrip: median(parts[3]),
    };
  };

  process.on('message', (message: { type: string }) => {
    if (message.type === 'exit') process.exit(0);
    sample().then(
      (split) => process.send?.({ type: 'split', split }),
      (error: unknown) => process.send?.({ type: 'error', error: String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}

// ---------------------------------------------------------------------------
// Orchestrator

const children = new Set<ChildProcess>();

function child(args: string[], cpu: string | undefined): ChildProcess {
  const nodeArgs = [...process.execArgv, SELF, ...args];
  const proc =
    cpu === undefined
      ? spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : spawn('taskset', ['-c', cpu, process.execPath, ...nodeArgs], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

function next<T>(proc: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (): void => reject(new Error('child exited'));
    proc.once('exit', onExit);
    proc.once('message', (message) => {
      proc.off('exit', onExit);
      resolve(message as T);
    });
  });
}

function pinning(): { server: string; client: string } | undefined {
  const cpus = os.cpus().length;
  if (cpus < 2 || spawnSync('taskset', ['-c', '0', 'true']).status !== 0) return undefined;
  return { server: String(cpus - 1), client: '0' };
}

function fmt(value: number): string {
  return value.toFixed(2);
}

async function orchestrate(): Promise<void> {
  const runTimer = setTimeout(() => {
    console.error(`echo-split: stopped after ${RUN_TIMEOUT_MS / 1000} s`);
    for (const proc of children) proc.kill('SIGKILL');
    process.exit(1);
  }, RUN_TIMEOUT_MS);
  const vite = join(HERE, '..', 'node_modules', 'vite', 'bin', 'vite.js');
  const built = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'error'], {
    cwd: join(HERE, '..'),
    stdio: 'inherit',
  });
  if (built.status !== 0) throw new Error(`vite build failed (${built.status ?? built.signal})`);
  const pins = pinning();
  const started = Date.now();
  try {
    const server = child(['--role=server'], pins?.server);
    const { port } = await next<{ port: number }>(server);
    const clients = new Map<Impl, ChildProcess>();
    for (const impl of IMPLS) {
      const proc = child([`--role=client`, `--impl=${impl}`, `--port=${port}`], pins?.client);
      await next(proc);
      clients.set(impl, proc);
    }
    const splits = new Map<Impl, Split[]>(IMPLS.map((impl) => [impl, []]));
    for (let s = -1; s < SAMPLES; s++) {
      const order = s % 2 === 0 ? IMPLS : [...IMPLS].reverse();
      for (const impl of order) {
        const proc = clients.get(impl)!;
        const reply = next<{ type: string; split?: Split; error?: string }>(proc);
        proc.send({ type: 'sample' });
        const result = await reply;
        if (result.split === undefined) throw new Error(`${impl}: ${result.error}`);
        if (s >= 0) splits.get(impl)!.push(result.split); // s = -1: warm-up
      }
    }
    for (const proc of [...clients.values(), server]) proc.kill();
    const rows = IMPLS.map((impl) => {
      const all = splits.get(impl)!;
      return {
        impl,
        sendToWrite: median(all.map((x) => x.sendToWrite)),
        writeToData: median(all.map((x) => x.writeToData)),
        dataToMessage: median(all.map((x) => x.dataToMessage)),
        roundTrip: median(all.map((x) => x.roundTrip)),
      };
    });
    const seconds = (Date.now() - started) / 1000;
    const header =
      '| µs (median) | send() → socket write | socket write → data (loopback, server) | data → message handler | round trip |';
    const lines = [
      header,
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (r) =>
          `| ${r.impl} | ${fmt(r.sendToWrite)} | ${fmt(r.writeToData)} | ${fmt(r.dataToMessage)} | ${fmt(r.roundTrip)} |`,
      ),
    ];
    console.log(lines.join('\n'));
    if (QUICK) return;
    const results = join(HERE, 'results');
    mkdirSync(results, { recursive: true });
    const environment = {
      date: new Date().toISOString(),
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cpus: os.cpus().length,
      pinning: pins === undefined ? 'none' : `server on CPU ${pins.server}, clients on CPU ${pins.client}`,
      samples: SAMPLES,
      roundTripsPerSample: ROUND_TRIPS,
    };
    writeFileSync(join(results, 'echo-split.json'), `${JSON.stringify({ environment, rows }, null, 2)}\n`);
    const md = [
      '# Echo round trip, client side',
      '',
      `Generated by \`npm run bench:echo-split\` on ${environment.date}: Node ${environment.node}, ${environment.cpu} ×${environment.cpus}; taskset: ${environment.pinning}; ${SAMPLES} samples of ${ROUND_TRIPS} round trips of one 16 B text message after a warm-up sample, medians of per-sample medians; ${seconds.toFixed(0)} s.`,
      '',
      "Timestamps in the client process (wrappers around `net.Socket.prototype.write` and `emit`): the application calls `send()`; the first socket write after it; the socket emits the echo; the application's message handler runs. The same `ws` server (in a child process) answers both clients.",
      '',
      ...lines,
      '',
      "- polysocket's `send()` → write includes the end-of-turn flush that coalesces the frames sent in one turn into one write (issue 4 asks for it); `ws` writes inside `send()`.",
      '- polysocket\'s data → handler includes the task the WHATWG standard queues for every message ("queue a task") and the `MessageEvent`; `ws` emits synchronously in the socket callback.',
      '- The wrappers add the same small cost to both clients; `npm run bench:client` measures echo latency without them.',
      '',
    ];
    writeFileSync(join(results, 'echo-split.md'), md.join('\n'));
    console.log(`wrote ${join('bench', 'results', 'echo-split.{json,md}')}`);
  } finally {
    clearTimeout(runTimer);
    for (const proc of children) proc.kill('SIGKILL');
  }
}

const role = process.argv.find((arg) => arg.startsWith('--role='))?.slice('--role='.length);
const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (role === 'server') {
  await runServer();
} else if (role === 'client') {
  await runClient(arg('impl') as Impl, Number(arg('port')));
} else {
  await orchestrate();
}
