/**
 * Test helpers for the gateway's `deno test` suites (*.test.ts) and for
 * wt-client.ts: a gateway on loopback with its log captured, a TCP echo
 * target, Deno's own WebTransport client, and a UDP relay that makes a
 * client vanish without a word, as a closed laptop does.
 *
 * Everything listens on 127.0.0.1 (the relay also sends from 127.0.0.2, a
 * second client address) and every wait is bounded.
 */
import { generateCertificate } from './cert.ts';
import { finishSendStream } from './deno-wt-fin.ts';
import { type Gateway, type GatewayOptions, startGateway } from './gateway.ts';
import { AllowList } from './protocol.ts';

/** Rejects with `what` in the message if `promise` takes longer than `ms`. */
export async function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait until `check()` is true, polling; throws after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const unhandledRejections: unknown[] = [];
let watching = false;

/**
 * Record the rejections nobody handled in this process, from now on: each
 * test fails on its own (assertNoUnhandledRejections), rather than the
 * runner failing the file without saying which test it was.
 */
export function watchUnhandledRejections(): void {
  if (watching) return;
  watching = true;
  globalThis.addEventListener('unhandledrejection', (event) => {
    event.preventDefault();
    unhandledRejections.push(event.reason);
  });
}

/** Throws if a promise was rejected without a handler; waits a little first, as Deno reports them late. */
export async function assertNoUnhandledRejections(): Promise<void> {
  if (!watching) throw new Error('call watchUnhandledRejections() first');
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (unhandledRejections.length > 0) {
    const reasons = unhandledRejections.splice(0).map((reason) => String(reason));
    throw new Error(`unhandled rejections: ${reasons.join('; ')}`);
  }
}

/** A gateway on 127.0.0.1 for tests, with its log lines kept. */
export interface TestGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly certificateHash: string;
  readonly lines: string[];
  /** Resolves with the first log line (from `from` on) that matches. */
  waitForLine(pattern: RegExp, ms: number, from?: number): Promise<string>;
  close(): Promise<void>;
}

/** Start a gateway on 127.0.0.1 and a free port, allowing `allow`. */
export async function startTestGateway(
  options: Partial<Omit<GatewayOptions, 'allow' | 'cert' | 'key'>> & { readonly allow: readonly string[] },
): Promise<TestGateway> {
  const certificate = await generateCertificate({ days: 10 });
  const lines: string[] = [];
  const gateway = startGateway({
    hostname: '127.0.0.1',
    port: 0,
    ...options,
    allow: new AllowList(options.allow),
    cert: certificate.certPem,
    key: certificate.keyPem,
    log: (line) => lines.push(line),
  });
  return {
    gateway,
    url: `https://127.0.0.1:${gateway.port}/`,
    certificateHash: certificate.sha256,
    lines,
    async waitForLine(pattern, ms, from = 0) {
      let found: string | undefined;
      await until(
        () => (found = lines.slice(from).find((line) => pattern.test(line))) !== undefined,
        ms,
        `a log line matching ${pattern}; log:\n${lines.join('\n')}`,
      );
      return found!;
    },
    close: () => deadline(gateway.close(), 10_000, 'gateway.close()'),
  };
}

/** A TCP server that echoes what it gets, and counts its connections. */
export interface EchoServer {
  readonly port: number;
  /** Connections open now. */
  readonly open: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

/** Start an echo server on 127.0.0.1. */
export function startEchoServer(): EchoServer {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 });
  const conns = new Set<Deno.Conn>();
  let accepted = 0;
  const serving = (async () => {
    const handlers: Promise<void>[] = [];
    try {
      for await (const conn of listener) {
        accepted++;
        conns.add(conn);
        handlers.push(
          conn.readable
            .pipeTo(conn.writable)
            .catch(() => {})
            .finally(() => {
              conns.delete(conn);
              try {
                conn.close();
              } catch {
                // Closed by pipeTo already.
              }
            }),
        );
      }
    } catch {
      // The listener was closed.
    }
    await Promise.all(handlers);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get open() {
      return conns.size;
    },
    get accepted() {
      return accepted;
    },
    async close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      await deadline(serving, 5000, 'the echo server to stop');
    },
  };
}

/** A Deno WebTransport client session to a gateway. */
export async function openSession(url: string, certificateHash: string): Promise<WebTransport> {
  const wt = new WebTransport(url, {
    serverCertificateHashes: [
      { algorithm: 'sha-256', value: Uint8Array.from(atob(certificateHash), (c) => c.charCodeAt(0)) },
    ],
  });
  // The client's own: it rejects when the gateway closes the session, and
  // each test looks at it (or not) by itself.
  wt.closed.catch(() => {});
  await deadline(wt.ready, 10_000, `a session to ${url}`);
  return wt;
}

/** One stream through the gateway: the status line, and the stream to go on with. */
export interface GatewayStream {
  /** The status line, without CRLF. */
  readonly status: string;
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Half-close: send FIN. */
  end(): Promise<void>;
}

/** Open a stream and send `request` (CONNECT host:port unless it starts otherwise), then read the status line. */
export async function openStream(wt: WebTransport, request: string | Uint8Array): Promise<GatewayStream> {
  const bidi = await deadline(wt.createBidirectionalStream(), 10_000, 'a stream');
  const writable = bidi.writable as WritableStream<Uint8Array>;
  const writer = writable.getWriter();
  const reader = (bidi.readable as ReadableStream<Uint8Array>).getReader();
  const bytes = typeof request === 'string' ? new TextEncoder().encode(request) : request;
  if (bytes.byteLength > 0) await deadline(writer.write(bytes), 10_000, 'writing the request');
  const end = async () => {
    await writer.close();
    writer.releaseLock();
    // Deno's client has the gateway's FIN bug too (deno-wt-fin.ts).
    finishSendStream(writable);
  };
  return { status: await readStatus(reader), reader, writer, end };
}

/** Read the gateway's status line. */
export async function readStatus(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let text = '';
  while (!text.includes('\n')) {
    const { value, done } = await deadline(reader.read(), 15_000, 'the status line');
    if (done) throw new Error(`the stream ended before a status line (got ${JSON.stringify(text)})`);
    text += new TextDecoder().decode(value);
  }
  return text.slice(0, text.indexOf('\n')).replace(/\r$/, '');
}

/** Write `text` and read until it came back (from an echo target). */
export async function echo(stream: GatewayStream, text: string): Promise<string> {
  await deadline(stream.writer.write(new TextEncoder().encode(text)), 10_000, 'writing');
  let got = '';
  while (got.length < text.length) {
    const { value, done } = await deadline(stream.reader.read(), 10_000, 'the echo');
    if (done) break;
    got += new TextDecoder().decode(value);
  }
  return got;
}

/**
 * A UDP relay between QUIC clients and a gateway: clients talk to the
 * relay, which talks to the gateway from its own socket (and address), so
 * the gateway sees the relay as the client. `vanish()` drops every packet
 * from then on both ways: to the gateway, the client is gone without a word.
 */
export interface UdpRelay {
  readonly port: number;
  vanish(): void;
  close(): Promise<void>;
}

/** Start a relay on 127.0.0.1 to the gateway on 127.0.0.1:`gatewayPort`, sending from `fromAddress`. */
export function startUdpRelay(gatewayPort: number, fromAddress = '127.0.0.1'): UdpRelay {
  const front = Deno.listenDatagram({ transport: 'udp', hostname: '127.0.0.1', port: 0 });
  const back = Deno.listenDatagram({ transport: 'udp', hostname: fromAddress, port: 0 });
  const gateway: Deno.NetAddr = { transport: 'udp', hostname: '127.0.0.1', port: gatewayPort };
  let client: Deno.Addr | undefined;
  let dropping = false;
  const pump = async (
    from: Deno.DatagramConn,
    to: Deno.DatagramConn,
    target: () => Deno.Addr | undefined,
  ) => {
    try {
      for (;;) {
        const [packet, sender] = await from.receive();
        if (from === front) client = sender;
        const address = target();
        if (!dropping && address !== undefined) await to.send(packet, address).catch(() => 0);
      }
    } catch {
      // The socket was closed.
    }
  };
  const pumps = Promise.all([pump(front, back, () => gateway), pump(back, front, () => client)]);
  return {
    port: (front.addr as Deno.NetAddr).port,
    vanish() {
      dropping = true;
    },
    async close() {
      front.close();
      back.close();
      await deadline(pumps, 5000, 'the relay to stop');
    },
  };
}
