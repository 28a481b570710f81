/**
 * A WebTransport → TCP gateway (Deno 2.9, `--unstable-net`): every
 * bidirectional stream a client opens becomes one TCP connection to the
 * allow-listed target its request line names (gateway/protocol.ts), with the
 * bytes piped both ways and half-closes carried both ways:
 *
 *     client writer.close() (QUIC FIN)  → tcp.closeWrite()   (TCP FIN)
 *     TCP EOF from the target           → QUIC FIN           (Deno FIN workaround)
 *     client abort() (RESET_STREAM)     → the TCP connection is closed
 *
 * Buffers are bounded by the streams' queues: `pipeTo()` waits for each
 * write, so a slow side pauses reading on the other (backpressure). The
 * numbers of sessions and of connections are capped.
 */
import { canFinishSendStreams, finishSendStream } from './deno-wt-fin.ts';
import {
  type AllowList,
  formatTarget,
  parseRequest,
  readRequestLine,
  Status,
  statusLine,
  type Target,
} from './protocol.ts';

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** UDP address to listen on; `::` is dual-stack. @defaultValue `'::'` */
  readonly hostname?: string;
  /** UDP port; 0 picks a free one. @defaultValue `4433` */
  readonly port?: number;
  /** The targets streams may connect to. */
  readonly allow: AllowList;
  /** Certificate chain, PEM. */
  readonly cert: string;
  /** Private key, PEM. */
  readonly key: string;
  /** Concurrent TCP connections, over all sessions; more get a 503. @defaultValue `256` */
  readonly maxConnections?: number;
  /** Concurrent WebTransport sessions; more are refused. @defaultValue `64` */
  readonly maxSessions?: number;
  /** Time allowed for a TCP connect; then 504. @defaultValue `10000` */
  readonly connectTimeoutMs?: number;
  /** Time allowed for the request line once a stream opened; then 400. @defaultValue `10000` */
  readonly requestTimeoutMs?: number;
  /**
   * QUIC idle timeout: a connection with no packets for this long is closed.
   * Keep-alives go out every third of it, so only a client that is gone
   * times out. @defaultValue `30000`
   */
  readonly idleTimeoutMs?: number;
  /** Where log lines go. @defaultValue `console.log` with an ISO timestamp */
  readonly log?: (line: string) => void;
}

/** A running gateway. */
export interface Gateway {
  readonly hostname: string;
  readonly port: number;
  /** Stop accepting, close every session, and wait for the connections to end. */
  close(): Promise<void>;
}

interface Counters {
  sessions: number;
  connections: number;
  nextSession: number;
}

/** Start listening; resolves once the UDP socket is bound. */
export function startGateway(options: GatewayOptions): Gateway {
  const log = options.log ?? ((line: string) => console.log(`${new Date().toISOString()} ${line}`));
  const settings = {
    allow: options.allow,
    maxConnections: options.maxConnections ?? 256,
    maxSessions: options.maxSessions ?? 64,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    log,
  };
  if (!canFinishSendStreams()) {
    log(
      'warning: Deno internals for the FIN workaround are missing; a target closing ends the whole session',
    );
  }
  const endpoint = new Deno.QuicEndpoint({ hostname: options.hostname ?? '::', port: options.port ?? 4433 });
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const listener = endpoint.listen({
    cert: options.cert,
    key: options.key,
    // WebTransport runs over HTTP/3, whose ALPN token is h3 (RFC 9114, 3.1).
    alpnProtocols: ['h3'],
    // Deno 2.9.6 never notices a session the client closed (wt.closed and
    // incomingBidirectionalStreams stay pending after Chromium's
    // WebTransport.close()), but Chromium then stops answering: QUIC's idle
    // timeout reaps the connection. Our keep-alive PINGs, which a live client
    // acknowledges, keep idle but open sessions from timing out.
    maxIdleTimeout: idleTimeoutMs,
    keepAliveInterval: Math.max(1000, Math.floor(idleTimeoutMs / 3)),
  });
  const counters: Counters = { sessions: 0, connections: 0, nextSession: 1 };
  const sessions = new Set<Promise<void>>();
  const accepting = (async () => {
    try {
      // Bounded by the listener: it ends when stop() is called.
      for await (const incoming of listener) {
        if (counters.sessions >= settings.maxSessions) {
          log(`refuse a session: ${settings.maxSessions} sessions already`);
          incoming.refuse();
          continue;
        }
        const session = handleSession(incoming, counters, settings);
        sessions.add(session);
        session.finally(() => sessions.delete(session));
      }
    } catch (error) {
      log(`listener stopped: ${errorText(error)}`);
    }
  })();
  return {
    hostname: endpoint.addr.hostname,
    port: endpoint.addr.port,
    async close() {
      listener.stop();
      endpoint.close({ closeCode: 0, reason: 'gateway shutting down' });
      await accepting;
      await Promise.allSettled([...sessions]);
    },
  };
}

type Settings = Required<
  Pick<
    GatewayOptions,
    'allow' | 'maxConnections' | 'maxSessions' | 'connectTimeoutMs' | 'requestTimeoutMs' | 'log'
  >
>;

async function handleSession(
  incoming: Deno.QuicIncoming,
  counters: Counters,
  settings: Settings,
): Promise<void> {
  const id = `s${counters.nextSession++}`;
  counters.sessions++;
  let wt: WebTransport & { url: string };
  // The QuicIncoming's own remoteAddr is not read: in Deno 2.9.6, touching
  // it before accept() left the listener failing with "Invalid QuicIncoming
  // resource"; the connection's is fine.
  let peer = '?';
  try {
    const conn = await incoming.accept();
    peer = formatTarget({ host: conn.remoteAddr.hostname, port: conn.remoteAddr.port });
    wt = await Deno.upgradeWebTransport(conn);
    await wt.ready;
  } catch (error) {
    counters.sessions--;
    settings.log(`session ${id} from ${peer} failed to open: ${errorText(error)}`);
    return;
  }
  settings.log(`session ${id} open from ${peer} ${wt.url}`);
  const streams = new Set<Promise<void>>();
  let nextStream = 1;
  const reader = wt.incomingBidirectionalStreams.getReader();
  try {
    // Bounded by the session: read() is done once it closes.
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const stream = bridgeStream(wt, value, `${id}.${nextStream++}`, counters, settings);
      streams.add(stream);
      stream.finally(() => streams.delete(stream));
    }
  } catch {
    // The session closed or was lost: its streams fail with it.
  }
  await Promise.allSettled([...streams]);
  counters.sessions--;
  const closed = await wt.closed.then(
    (info) => `code ${info.closeCode}${info.reason ? `, ${info.reason}` : ''}`,
    (error: unknown) => errorText(error),
  );
  settings.log(`session ${id} closed: ${closed}`);
}

/** Connect one stream to its target, or refuse it with a status line. */
async function bridgeStream(
  wt: WebTransport,
  bidi: WebTransportBidirectionalStream,
  id: string,
  counters: Counters,
  settings: Settings,
): Promise<void> {
  const readable = bidi.readable as ReadableStream<Uint8Array>;
  const writable = bidi.writable as WritableStream<Uint8Array>;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  const endStream = () => {
    if (!finishSendStream(writable)) {
      // Without the workaround there is no way to end one stream: end them all.
      wt.close({ closeCode: 0, reason: 'stream ended' });
    }
  };
  const refuse = async (target: string, status: number, reason: string) => {
    settings.log(`refuse ${id} ${target} ${status} ${reason}`);
    try {
      await writer.write(statusLine(status, reason));
      writer.releaseLock();
      endStream();
    } catch {
      // The client is gone already.
    }
    reader.cancel().catch(() => {});
  };

  const request = await withTimeout(readRequestLine(reader), settings.requestTimeoutMs).catch(() => null);
  const target = request === null ? null : parseRequest(request.line);
  if (request === null || target === null) {
    const shown = request === null ? '-' : JSON.stringify(request.line.slice(0, 100));
    await refuse(shown, Status.BAD_REQUEST, 'malformed request line (expected CONNECT host:port)');
    return;
  }
  const name = formatTarget(target);
  if (!settings.allow.allows(target)) {
    await refuse(name, Status.FORBIDDEN, 'target not allowed');
    return;
  }
  if (counters.connections >= settings.maxConnections) {
    await refuse(name, Status.SERVICE_UNAVAILABLE, `too many connections (${settings.maxConnections})`);
    return;
  }
  counters.connections++;
  try {
    const started = Date.now();
    let tcp: Deno.TcpConn;
    try {
      tcp = await connect(target, settings.connectTimeoutMs);
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      await refuse(
        name,
        timedOut ? Status.GATEWAY_TIMEOUT : Status.BAD_GATEWAY,
        `connect failed: ${timedOut ? `no answer in ${settings.connectTimeoutMs} ms` : errorText(error)}`,
      );
      return;
    }
    settings.log(`connect ${id} ${name}`);
    const bytes = { up: 0, down: 0 };
    let outcome = 'clean';
    let tcpClosed = false;
    const closeTcp = () => {
      if (tcpClosed) return;
      tcpClosed = true;
      try {
        tcp.close();
      } catch {
        // Already closed.
      }
    };
    try {
      await writer.write(statusLine(Status.CONNECTED, 'connected'));
      if (request.rest.byteLength > 0) {
        const tcpWriter = tcp.writable.getWriter();
        await tcpWriter.write(request.rest);
        tcpWriter.releaseLock();
        bytes.up += request.rest.byteLength;
      }
    } catch (error) {
      settings.log(`close ${id} ${name} up=0 down=0 ms=${Date.now() - started} error: ${errorText(error)}`);
      closeTcp();
      return;
    }
    writer.releaseLock();
    reader.releaseLock();
    // Client → target; its FIN becomes the target's (TCP half-close).
    const up = readable
      .pipeThrough(counter((n) => (bytes.up += n)))
      .pipeTo(tcp.writable, { preventClose: true, preventAbort: true })
      .then(
        () => tcp.closeWrite(),
        (error: unknown) => {
          // A RESET_STREAM from the client, or the target stopped reading.
          if (outcome === 'clean') outcome = `client side: ${errorText(error)}`;
          closeTcp();
        },
      )
      .catch(() => closeTcp());
    // Target → client; its EOF becomes a QUIC FIN.
    const down = tcp.readable
      .pipeThrough(counter((n) => (bytes.down += n)))
      .pipeTo(writable, { preventClose: true, preventAbort: true })
      .then(
        () => endStream(),
        (error: unknown) => {
          // Deno cannot reset a WebTransport stream (abort() is a no-op):
          // the client gets a FIN, and RFC 6455 sees a close without frame.
          if (outcome === 'clean') outcome = `target side: ${errorText(error)}`;
          closeTcp();
          endStream();
        },
      );
    await Promise.allSettled([up, down]);
    closeTcp();
    settings.log(
      `close ${id} ${name} up=${bytes.up} down=${bytes.down} ms=${Date.now() - started} ${outcome}`,
    );
  } finally {
    counters.connections--;
  }
}

/** Deno.connect with a timeout that applies to connecting only. */
async function connect(target: Target, timeoutMs: number): Promise<Deno.TcpConn> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('connect timed out', 'TimeoutError')),
    timeoutMs,
  );
  try {
    const tcp = await Deno.connect({ hostname: target.host, port: target.port, signal: controller.signal });
    tcp.setNoDelay(true);
    return tcp;
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
  }
}

/** A pass-through stream that counts bytes. */
function counter(count: (n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      count(chunk.byteLength);
      controller.enqueue(chunk);
    },
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.replace(/[\r\n]+/g, ' ');
  return String(error);
}
