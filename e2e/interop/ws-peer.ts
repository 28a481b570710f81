/**
 * The npm `ws` peer of the interop suites, in-process: the interface and
 * what each mode does are in peers.ts.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type PerMessageDeflateOptions, WebSocket, WebSocketServer } from 'ws';
import { Opcode } from '../../src/protocol/index.js';
import { hex, toHex } from '../../src/testing/chunking.js';
import { bytes, type Message, messageOf, WAIT_MS, withTimeout } from './helpers.js';
import type {
  ClientReport,
  ClientScript,
  ClientStep,
  DeflateEcho,
  DeflateReport,
  DeflateSettings,
  Peer,
  PeerClose,
  PeerServer,
} from './peers.js';

/** Send `parts` as one message, a frame each (ws sends exactly these frames). */
function sendParts(ws: WebSocket, parts: ReadonlyArray<string | Uint8Array>, binary: boolean): void {
  parts.forEach((part, i) => {
    ws.send(part, { binary, fin: i === parts.length - 1 });
  });
}

function echo(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
}

/** Resolves with how `ws` ended; `errors` collects what it emits (it throws them as uncaught without a listener). */
function closeOf(ws: WebSocket): Promise<PeerClose> {
  const errors: string[] = [];
  ws.on('error', (error) => errors.push(error.message));
  return new Promise((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8'), errors }));
  });
}

/** Start what `url`'s path asks of a server connection (the modes in peers.ts). */
function runMode(ws: WebSocket, url: URL): void {
  const param = (name: string): string => url.searchParams.get(name) ?? '';
  switch (url.pathname) {
    case '/echo':
      break;
    case '/send': {
      const text = param('type') === 'text';
      const sizes = param('sizes').split(',').map(Number);
      sendParts(
        ws,
        sizes.map((size) => (text ? 'x'.repeat(size) : bytes(size, 0x5a))),
        !text,
      );
      break;
    }
    case '/fragments':
      sendParts(ws, JSON.parse(param('text')) as string[], false);
      sendParts(ws, (JSON.parse(param('hex')) as string[]).map(hex), true);
      break;
    case '/close':
      ws.close(Number(param('code')), param('reason'));
      return;
    case '/ping':
      ws.once('pong', (data) => ws.send(`got pong: ${data.toString()}`));
      ws.ping(param('data'));
      break;
    case '/write-frame':
      // ws doesn't validate what it sends: bytes sent as text go out as they
      // are, and it masks as told, on either side.
      ws.send(hex(param('hex')), {
        binary: Number(param('opcode')) === Opcode.BINARY,
        mask: param('mask') === '1',
      });
      break;
    case '/subprotocol':
      ws.send(ws.protocol || 'null');
      break;
    default:
      ws.close(1008, `unknown mode ${url.pathname}`);
      return;
  }
  echo(ws);
}

async function startServer({ subprotocols }: { subprotocols: readonly string[] }): Promise<PeerServer> {
  const reports = new Map<string, { closed: Promise<PeerClose>; resolve(close: PeerClose): void }>();
  const reportOf = (id: string) => {
    let report = reports.get(id);
    if (report === undefined) {
      let resolve: (close: PeerClose) => void = () => {};
      const closed = new Promise<PeerClose>((r) => {
        resolve = r;
      });
      report = { closed, resolve };
      reports.set(id, report);
    }
    return report;
  };
  const live = new Set<WebSocket>();
  const server = createServer();
  server.on('upgrade', (request, socket, head) => {
    const url = new URL(request.url ?? '/', 'ws://127.0.0.1');
    const maxSize = url.searchParams.get('max_size');
    // One WebSocketServer per connection: ws sets maxPayload per server, the modes per connection.
    const wss = new WebSocketServer({
      noServer: true,
      ...(maxSize === null ? {} : { maxPayload: Number(maxSize) }),
      handleProtocols: (offered) => subprotocols.find((p) => offered.has(p)) ?? false,
      verifyClient: (_info, callback) => {
        if (url.pathname !== '/reject') return callback(true);
        const reason = url.searchParams.get('reason') ?? '';
        callback(false, 403, url.searchParams.get('body') ?? '', { 'X-Reason': reason });
      },
    });
    wss.handleUpgrade(request, socket, head, (ws) => {
      live.add(ws);
      const report = reportOf(url.searchParams.get('id') ?? '');
      void closeOf(ws).then((close) => {
        live.delete(ws);
        report.resolve(close);
      });
      runMode(ws, url);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url(path, id) {
      return `ws://127.0.0.1:${port}${path}${path.includes('?') ? '&' : '?'}id=${id}`;
    },
    closed(id) {
      return withTimeout(reportOf(id).closed, WAIT_MS, `the ws server to see connection ${id} close`);
    },
    async stop() {
      for (const ws of live) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Messages as ws delivers them, for the script's recv steps to take in order. */
class Inbox {
  readonly #messages: Message[] = [];
  #ended = false;
  #wake: () => void = () => {};

  push(message: Message): void {
    this.#messages.push(message);
    this.#wake();
  }

  /** ws delivers every message before 'close'. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** The next message; null once the connection closed without one. */
  async next(): Promise<Message | null> {
    while (this.#messages.length === 0 && !this.#ended) {
      const wake = new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      await withTimeout(wake, WAIT_MS, 'a message for the ws client');
    }
    return this.#messages.shift() ?? null;
  }
}

/** Run `steps` as python-client.py does; stop where the connection closed under a step. */
async function runSteps(
  ws: WebSocket,
  steps: readonly ClientStep[],
  inbox: Inbox,
  closed: Promise<PeerClose>,
  report: ClientReport,
): Promise<void> {
  for (const step of steps) {
    switch (step.op) {
      case 'send':
        ws.send('text' in step ? step.text : hex(step.hex));
        break;
      case 'send_fragments':
        if ('text' in step) sendParts(ws, step.text, false);
        else sendParts(ws, step.hex.map(hex), true);
        break;
      case 'recv': {
        const message = await inbox.next();
        if (message === null) return;
        report.messages.push(message);
        break;
      }
      case 'recv_until_closed':
        for (let message = await inbox.next(); message !== null; message = await inbox.next()) {
          report.messages.push(message);
        }
        return;
      case 'ping': {
        const payload = hex(step.hex);
        const pong = new Promise<string>((resolve) => {
          const onPong = (data: Buffer) => {
            if (!data.equals(payload)) return;
            ws.off('pong', onPong);
            resolve(toHex(data));
          };
          ws.on('pong', onPong);
        });
        ws.ping(payload);
        const answer = await withTimeout(
          Promise.race([pong, closed.then(() => null)]),
          WAIT_MS,
          'the pong to the ws client',
        );
        if (answer === null) return;
        report.pongs.push(answer);
        break;
      }
      case 'close':
        ws.close(step.code, step.reason);
        break;
      case 'write_frame':
        // ws doesn't validate what it sends, and masks as told.
        ws.send(hex(step.hex), {
          binary: step.opcode === Opcode.BINARY,
          fin: step.fin,
          mask: step.mask ?? true,
        });
        break;
    }
  }
}

async function runClient(script: ClientScript): Promise<ClientReport> {
  const { max_size: maxSize, subprotocols = [], origin } = script.options ?? {};
  const ws = new WebSocket(script.url, subprotocols, {
    ...(maxSize === undefined ? {} : { maxPayload: maxSize }),
    ...(origin === undefined ? {} : { origin }),
  });
  const report: ClientReport = {
    opened: false,
    subprotocol: null,
    rejected: null,
    messages: [],
    pongs: [],
    closed: null,
  };
  const inbox = new Inbox();
  ws.on('message', (data, isBinary) => inbox.push(messageOf(isBinary ? 'binary' : 'text', data as Buffer)));
  const closed = closeOf(ws);
  void closed.then(() => inbox.end());
  const opened = new Promise<'open'>((resolve) => ws.once('open', () => resolve('open')));
  // With a listener, ws leaves a refused handshake's response to it, and reports no error.
  const rejected = new Promise<{ status: number; body: string }>((resolve) => {
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
  });
  const outcome = await withTimeout(
    Promise.race([opened, rejected.then(() => 'rejected' as const), closed.then(() => 'closed' as const)]),
    WAIT_MS,
    'the ws client handshake',
  );
  if (outcome === 'open') {
    report.opened = true;
    report.subprotocol = ws.protocol || null;
    await runSteps(ws, script.steps, inbox, closed, report);
  } else if (outcome === 'rejected') {
    report.rejected = await rejected;
    ws.terminate();
  }
  report.closed = await withTimeout(closed, WAIT_MS, 'the ws client to close');
  return report;
}

function deflateOptions(settings: DeflateSettings): PerMessageDeflateOptions {
  const { memLevel, ...rest } = settings;
  return { ...rest, ...(memLevel === undefined ? {} : { zlibDeflateOptions: { memLevel } }) };
}

/** The echo of peers.ts's DeflateEcho on `ws`; resolves with the report once it closed. */
function deflateEcho(ws: WebSocket): Promise<DeflateReport> {
  let received = 0;
  ws.on('message', (data, isBinary) => {
    const message = data as Buffer;
    received++;
    if (message.byteLength <= 65536) {
      ws.send(message, { binary: isBinary });
      return;
    }
    const third = Math.floor(message.byteLength / 3);
    const parts = [
      message.subarray(0, third),
      message.subarray(third, 2 * third),
      message.subarray(2 * third),
    ];
    sendParts(ws, parts, isBinary);
  });
  return closeOf(ws).then(({ code }) => ({
    received,
    code,
    deflate: ws.extensions.includes('permessage-deflate'),
  }));
}

/** Rejects with the first error `emitter` emits. */
function failureOf(emitter: {
  once(event: 'error', listener: (error: Error) => void): unknown;
}): Promise<never> {
  return new Promise<never>((_, reject) => emitter.once('error', reject));
}

export const wsPeer: Peer = {
  name: 'ws',
  startServer,
  runClient,
  fragmentFrames(opcode, parts) {
    return parts.map((part, i) => [i === 0 ? opcode : Opcode.CONT, i === parts.length - 1, toHex(part)]);
  },
  // ws stops reading once it failed the connection, so it never sees the
  // close frame that answers its own: it reports 1006.
  refusedOversize: { code: 1006, errors: ['Max payload size exceeded'] },
  // RFC 6455 lets the server select none; ws then fails the handshake.
  noCommonSubprotocol: {
    opened: false,
    closed: { code: 1006, reason: '', errors: ['Server sent no subprotocol'] },
  },
  deflate: {
    // Node's zlib takes windowBits 8 for raw deflate (zlib itself refuses it).
    compressesWith8BitWindow: true,
    async startServer(settings, maxSize) {
      const wss = new WebSocketServer({
        host: '127.0.0.1',
        port: 0,
        perMessageDeflate: deflateOptions(settings),
        maxPayload: maxSize,
      });
      const failure = failureOf(wss);
      failure.catch(() => {});
      const report = new Promise<DeflateReport>((resolve) =>
        wss.once('connection', (ws) => resolve(deflateEcho(ws))),
      );
      await Promise.race([once(wss, 'listening'), failure]);
      return {
        url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
        closed: (timeoutMs) => withTimeout(report, timeoutMs, 'the ws server to report the close'),
        failure: () => failure,
        async stop() {
          for (const ws of wss.clients) ws.terminate();
          await new Promise<void>((resolve) => wss.close(() => resolve()));
        },
      };
    },
    startClient(url, settings, maxSize): DeflateEcho {
      const ws = new WebSocket(url, { perMessageDeflate: deflateOptions(settings), maxPayload: maxSize });
      const report = deflateEcho(ws);
      return {
        closed: (timeoutMs) => withTimeout(report, timeoutMs, 'the ws client to report the close'),
        // deflateEcho listens to 'error' (closeOf): this is a second listener.
        failure: () => failureOf(ws),
        async stop() {
          ws.terminate();
        },
      };
    },
  },
};
