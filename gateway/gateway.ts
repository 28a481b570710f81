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
 * A request with `tls` (protocol version 2) gets a TLS connection to the
 * target, verified by the gateway (tls.ts), in place of the bare TCP one;
 * the stream then carries the plaintext.
 *
 * Buffers are bounded by the streams' queues: `pipeTo()` waits for each
 * write, so a slow side pauses reading on the other (backpressure).
 *
 * Limits (all in {@link GatewayOptions}, documented in gateway/README.md):
 * sessions and TCP connections in all, sessions and connections per client
 * address (limits.ts), streams per session, and time limits for each step a
 * client must take. A session without an open stream is closed after
 * `sessionIdleTimeoutMs`; a session whose client vanished is closed by the
 * QUIC idle timeout, and its TCP connections with it.
 *
 * Clients vanish at any moment (a tab closed, a process killed, a network
 * gone): then `wt.closed` rejects and every read and write of the session's
 * streams fails. Each of those promises is handled where it is made, since
 * in Deno an unhandled rejection ends the process, and every other session
 * with it. (The streams' own `closed` and `ready` promises need no handler:
 * the Streams standard marks them handled when it rejects them. `wt.closed`
 * is an ordinary promise.)
 */
import {
  connectedText,
  formatTarget,
  type GatewayRequest,
  GatewayStatus,
  type GatewayTarget,
  GatewayTlsFailure,
  type GatewayTlsReply,
  MAX_GATEWAY_LINE,
  parseRequest,
  readLine,
  serializeStatusLine,
  tlsFailureReason,
} from '../src/transports/gateway-wire.ts';
import { canFinishSendStreams, finishSendStream } from './deno-wt-fin.ts';
import { AddressTable, addressKey } from './limits.ts';
import { type AllowList, printable } from './protocol.ts';
import { startTargetTls, TargetTlsError, verificationProblem } from './tls.ts';

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
  /** Concurrent WebTransport sessions, handshakes included; more are refused. @defaultValue `64` */
  readonly maxSessions?: number;
  /** Concurrent TCP connections of one client address (limits.ts); more get a 503. @defaultValue `64` */
  readonly maxConnectionsPerAddress?: number;
  /** Concurrent sessions of one client address (limits.ts); more are refused. @defaultValue `16` */
  readonly maxSessionsPerAddress?: number;
  /** Concurrent streams of one session; more get a 503. @defaultValue `32` */
  readonly maxStreamsPerSession?: number;
  /** Time allowed for a TCP connect; then 504. @defaultValue `10000` */
  readonly connectTimeoutMs?: number;
  /**
   * Time a client has to send each request: the WebTransport CONNECT once
   * its QUIC connection is up (else the connection is closed), and the
   * request line once a stream is open (else 400). @defaultValue `10000`
   */
  readonly requestTimeoutMs?: number;
  /**
   * QUIC idle timeout: a connection with no packets for this long is closed.
   * Keep-alives go out every third of it, so only a client that is gone
   * times out. @defaultValue `30000`
   */
  readonly idleTimeoutMs?: number;
  /**
   * A session without an open stream for this long is closed; a session
   * with an open stream is never closed for being idle. @defaultValue `60000`
   */
  readonly sessionIdleTimeoutMs?: number;
  /**
   * Extra root certificates, PEM, that the target's certificate may chain
   * to when a client asks for TLS, in addition to Deno's root store. Only
   * the operator gives them; a client cannot. @defaultValue `[]`
   */
  readonly caCerts?: readonly string[];
  /** Where log lines go. @defaultValue `console.log` with an ISO timestamp */
  readonly log?: (line: string) => void;
}

/** A running gateway. */
export interface Gateway {
  readonly hostname: string;
  readonly port: number;
  /** Resolves once the gateway stopped accepting sessions: after close(), or if its listener failed. */
  readonly stopped: Promise<void>;
  /** What the gateway holds now. */
  stats(): GatewayStats;
  /** Stop accepting, close every session, and wait for the connections to end. */
  close(): Promise<void>;
}

/** What a gateway holds at one moment. */
export interface GatewayStats {
  /** Sessions, handshakes included. */
  readonly sessions: number;
  /** TCP connections, connecting ones included. */
  readonly connections: number;
  /** Client addresses (limits.ts) that hold a session or a connection. */
  readonly addresses: number;
}

type Settings = Required<Omit<GatewayOptions, 'hostname' | 'port' | 'cert' | 'key'>>;

interface State {
  sessions: number;
  connections: number;
  nextSession: number;
  readonly addresses: AddressTable;
  /**
   * Whether this Deno verifies certificates (tls.ts): `null` if it does,
   * else why not. Checked once, at the first `tls` request.
   */
  verification: Promise<string | null> | undefined;
}

/** Start listening; returns once the UDP socket is bound. */
export function startGateway(options: GatewayOptions): Gateway {
  const log = options.log ?? ((line: string) => console.log(`${new Date().toISOString()} ${line}`));
  const settings: Settings = {
    allow: options.allow,
    maxConnections: options.maxConnections ?? 256,
    maxSessions: options.maxSessions ?? 64,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? 64,
    maxSessionsPerAddress: options.maxSessionsPerAddress ?? 16,
    maxStreamsPerSession: options.maxStreamsPerSession ?? 32,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
    sessionIdleTimeoutMs: options.sessionIdleTimeoutMs ?? 60_000,
    caCerts: [...(options.caCerts ?? [])],
    log,
  };
  for (const [name, value] of Object.entries(settings)) {
    if (typeof value === 'number' && !(Number.isInteger(value) && value > 0)) {
      throw new RangeError(`${name} must be a positive integer, not ${value}`);
    }
  }
  if (!canFinishSendStreams()) {
    log(
      'warning: Deno internals for the FIN workaround are missing; a target closing ends the whole session',
    );
  }
  const endpoint = new Deno.QuicEndpoint({ hostname: options.hostname ?? '::', port: options.port ?? 4433 });
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
    maxIdleTimeout: settings.idleTimeoutMs,
    keepAliveInterval: Math.max(100, Math.floor(settings.idleTimeoutMs / 3)),
    // QUIC's own stream limit (100 unless set) would stall a client's
    // createBidirectionalStream() before our cap answers it with a 503. The
    // room above the cap is for the HTTP/3 CONNECT stream and for refused
    // streams that the client has not closed yet.
    maxConcurrentBidirectionalStreams: Math.max(100, settings.maxStreamsPerSession + 16),
  });
  const state: State = {
    sessions: 0,
    connections: 0,
    nextSession: 1,
    addresses: new AddressTable(),
    verification: undefined,
  };
  const sessions = new Set<Promise<void>>();
  const stopped = (async () => {
    try {
      // Bounded by the listener: it ends when stop() is called.
      for await (const incoming of listener) {
        if (state.sessions >= settings.maxSessions) {
          log(`refuse a session: ${settings.maxSessions} sessions already (--max-sessions)`);
          try {
            incoming.refuse();
          } catch (error) {
            log(`! refusing a session failed: ${errorText(error)}`);
          }
          continue;
        }
        const id = `s${state.nextSession++}`;
        const session = handleSession(incoming, id, state, settings).catch((error: unknown) =>
          log(`! session ${id} failed: ${errorText(error)}`),
        );
        sessions.add(session);
        void session.then(() => sessions.delete(session));
      }
    } catch (error) {
      log(`listener stopped: ${errorText(error)}`);
    }
  })();
  return {
    hostname: endpoint.addr.hostname,
    port: endpoint.addr.port,
    stopped,
    stats: () => ({
      sessions: state.sessions,
      connections: state.connections,
      addresses: state.addresses.size,
    }),
    async close() {
      try {
        listener.stop();
      } catch {
        // Stopped already.
      }
      try {
        endpoint.close({ closeCode: 0, reason: 'gateway shutting down' });
      } catch {
        // Closed already.
      }
      await stopped;
      await Promise.all([...sessions]);
    },
  };
}

/** One session, from its QUIC handshake to its end; counted in `state.sessions` all along. */
async function handleSession(
  incoming: Deno.QuicIncoming,
  id: string,
  state: State,
  settings: Settings,
): Promise<void> {
  state.sessions++;
  try {
    // The QuicIncoming's own remoteAddr is not read: in Deno 2.9.6, touching
    // it before accept() left the listener failing with "Invalid QuicIncoming
    // resource"; the connection's is fine. accept() is bounded by the QUIC
    // idle timeout, which applies during the handshake.
    let conn: Deno.QuicConn;
    let peer: string;
    let key: string;
    try {
      conn = await incoming.accept();
      peer = formatTarget({ host: conn.remoteAddr.hostname, port: conn.remoteAddr.port });
      key = addressKey(conn.remoteAddr.hostname);
    } catch (error) {
      settings.log(`session ${id} failed to open: ${errorText(error)}`);
      return;
    }
    const held = state.addresses.use(key).sessions;
    if (held >= settings.maxSessionsPerAddress) {
      settings.log(
        `refuse session ${id} from ${peer}: ${held} sessions from ${key} already (--max-sessions-per-address)`,
      );
      closeConn(conn, 'too many sessions from this address');
      return;
    }
    state.addresses.add(key, 'sessions', 1);
    try {
      await serveSession(conn, id, peer, key, state, settings);
    } finally {
      state.addresses.add(key, 'sessions', -1);
    }
  } finally {
    state.sessions--;
  }
}

async function serveSession(
  conn: Deno.QuicConn,
  id: string,
  peer: string,
  key: string,
  state: State,
  settings: Settings,
): Promise<void> {
  let wt: WebTransport & { url: string };
  try {
    // A client that finished the QUIC handshake but sends no WebTransport
    // CONNECT would otherwise hold its session forever: our keep-alives
    // keep the connection up.
    wt = await withTimeout(Deno.upgradeWebTransport(conn), settings.requestTimeoutMs);
    await wt.ready;
  } catch (error) {
    closeConn(conn, 'no WebTransport session');
    settings.log(`session ${id} from ${peer} failed to open: ${errorText(error)}`);
    return;
  }
  // Handled at once: it rejects when the client vanishes (QUIC idle
  // timeout), maybe long before the streams are done.
  const closed = wt.closed.then(
    (info) => `code ${info.closeCode}${info.reason ? `, ${printable(info.reason)}` : ''}`,
    (error: unknown) => errorText(error),
  );
  // Aborted once the session is over: every stream of the session stops.
  const over = new AbortController();
  void closed.then((how) => over.abort(new Error(`session closed: ${how}`)));
  settings.log(`session ${id} open from ${peer} ${printable(wt.url, 200)}`);

  const tasks = new Set<Promise<void>>();
  let open = 0;
  let nextStream = 1;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const startIdleTimer = () => {
    idleTimer = setTimeout(() => {
      settings.log(
        `session ${id} idle: no stream for ${settings.sessionIdleTimeoutMs} ms (--session-idle-timeout); closing it`,
      );
      closeSession(wt, 'idle');
    }, settings.sessionIdleTimeoutMs);
  };
  startIdleTimer();
  const reader = wt.incomingBidirectionalStreams.getReader();
  // Ends the loop below however the session ended.
  void closed.then(() => reader.cancel().catch(() => {}));
  try {
    // Bounded by the session: read() is done or fails once it is over.
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const streamId = `${id}.${nextStream++}`;
      let task: Promise<void>;
      if (open >= settings.maxStreamsPerSession) {
        task = refuse(
          value,
          wt,
          streamId,
          '-',
          GatewayStatus.SERVICE_UNAVAILABLE,
          `too many streams in this session (${settings.maxStreamsPerSession})`,
          settings,
        );
      } else {
        open++;
        clearTimeout(idleTimer);
        task = bridgeStream(wt, value, streamId, key, over.signal, state, settings).finally(() => {
          open--;
          if (open === 0 && !over.signal.aborted) startIdleTimer();
        });
      }
      const handled = task.catch((error: unknown) =>
        settings.log(`! ${streamId} failed: ${errorText(error)}`),
      );
      tasks.add(handled);
      void handled.then(() => tasks.delete(handled));
    }
  } catch {
    // The session closed or was lost: its streams fail with it.
  }
  clearTimeout(idleTimer);
  // Usually closed already. If not, Deno failed on a stream's header and
  // accepts no more streams: end the session rather than serve it half.
  closeSession(wt, 'cannot accept streams');
  await Promise.all([...tasks]);
  settings.log(`session ${id} closed: ${await closed}`);
}

/** Connect one stream to its target, or refuse it with a status line. */
async function bridgeStream(
  wt: WebTransport,
  bidi: WebTransportBidirectionalStream,
  id: string,
  key: string,
  sessionOver: AbortSignal,
  state: State,
  settings: Settings,
): Promise<void> {
  const reader = (bidi.readable as ReadableStream<Uint8Array>).getReader();
  let request: Awaited<ReturnType<typeof readLine>>;
  try {
    request = await withTimeout(readLine(reader), settings.requestTimeoutMs);
  } catch (error) {
    reader.releaseLock();
    const reason = isTimeout(error)
      ? `no request line within ${settings.requestTimeoutMs} ms`
      : `no request line: ${errorText(error)}`;
    await refuse(bidi, wt, id, '-', GatewayStatus.BAD_REQUEST, reason, settings);
    return;
  }
  reader.releaseLock();
  if (request.kind !== 'line') {
    const reason =
      request.kind === 'too-long'
        ? `request line longer than ${MAX_GATEWAY_LINE} bytes`
        : 'the stream ended before the request line';
    await refuse(bidi, wt, id, `"${printable(request.head)}"`, GatewayStatus.BAD_REQUEST, reason, settings);
    return;
  }
  const target = parseRequest(request.line);
  if ('malformed' in target) {
    const shown = `"${printable(request.line)}"`;
    await refuse(bidi, wt, id, shown, GatewayStatus.BAD_REQUEST, target.malformed, settings);
    return;
  }
  // Allow-listed names are short; one that is not may be up to a line long.
  const name = printable(
    formatTarget(target) + (target.tls === null ? '' : ` tls=${target.tls.serverName ?? target.host}`),
  );
  if (!settings.allow.allows(target)) {
    await refuse(bidi, wt, id, name, GatewayStatus.FORBIDDEN, 'target not allowed', settings);
    return;
  }
  if (state.connections >= settings.maxConnections) {
    const reason = `too many connections (${settings.maxConnections})`;
    await refuse(bidi, wt, id, name, GatewayStatus.SERVICE_UNAVAILABLE, reason, settings);
    return;
  }
  if (state.addresses.use(key).connections >= settings.maxConnectionsPerAddress) {
    const reason = `too many connections from your address (${settings.maxConnectionsPerAddress})`;
    await refuse(bidi, wt, id, name, GatewayStatus.SERVICE_UNAVAILABLE, reason, settings);
    return;
  }
  state.connections++;
  state.addresses.add(key, 'connections', 1);
  try {
    await pipeStream(wt, bidi, id, name, target, request.rest, sessionOver, state, settings);
  } finally {
    state.connections--;
    state.addresses.add(key, 'connections', -1);
  }
}

/**
 * Connect to `target` (with TLS if asked), answer 200 (or the failure), and
 * pipe both ways until both ends are done.
 */
async function pipeStream(
  wt: WebTransport,
  bidi: WebTransportBidirectionalStream,
  id: string,
  name: string,
  target: GatewayRequest,
  rest: Uint8Array,
  sessionOver: AbortSignal,
  state: State,
  settings: Settings,
): Promise<void> {
  const readable = bidi.readable as ReadableStream<Uint8Array>;
  const writable = bidi.writable as WritableStream<Uint8Array>;
  const started = Date.now();
  if (target.tls !== null) {
    // Verification is the point of TLS at the gateway: without it, the
    // page would be told "verified" about a connection nobody verified.
    if (state.verification === undefined) {
      state.verification = verificationProblem(settings.connectTimeoutMs).then(
        (problem) => {
          settings.log(
            problem === null
              ? 'tls: checked that certificate verification is on'
              : `! tls: ${problem}; refusing every tls request`,
          );
          return problem;
        },
        (error: unknown) => `could not check that certificate verification is on: ${errorText(error)}`,
      );
    }
    const problem = await state.verification;
    if (problem !== null) {
      const reason = tlsFailureReason(GatewayTlsFailure.UNAVAILABLE, problem);
      await refuse(bidi, wt, id, name, GatewayStatus.BAD_GATEWAY, reason, settings);
      return;
    }
  }
  let conn: Deno.TcpConn | Deno.TlsConn;
  let tlsReply: GatewayTlsReply | null = null;
  try {
    const tcp = await connect(target, settings.connectTimeoutMs, sessionOver);
    if (target.tls === null) {
      conn = tcp;
    } else {
      const serverName = target.tls.serverName ?? target.host;
      const secured = await startTargetTls(tcp, {
        serverName,
        alpn: target.tls.alpn ?? [],
        caCerts: settings.caCerts,
        timeoutMs: settings.connectTimeoutMs,
        signal: sessionOver,
      });
      conn = secured.conn;
      tlsReply = { verified: true, serverName, alpn: secured.alpn };
    }
  } catch (error) {
    if (error instanceof TargetTlsError) {
      const timedOut = error.failure === GatewayTlsFailure.HANDSHAKE_TIMEOUT;
      await refuse(
        bidi,
        wt,
        id,
        name,
        timedOut ? GatewayStatus.GATEWAY_TIMEOUT : GatewayStatus.BAD_GATEWAY,
        tlsFailureReason(error.failure, printable(error.detail, 300)),
        settings,
      );
      return;
    }
    const timedOut = isTimeout(error);
    await refuse(
      bidi,
      wt,
      id,
      name,
      timedOut ? GatewayStatus.GATEWAY_TIMEOUT : GatewayStatus.BAD_GATEWAY,
      `connect failed: ${timedOut ? `no answer in ${settings.connectTimeoutMs} ms` : errorText(error)}`,
      settings,
    );
    return;
  }
  settings.log(
    `connect ${id} ${name}${tlsReply === null ? '' : ` verified${tlsReply.alpn === null ? '' : ` alpn=${printable(tlsReply.alpn)}`}`}`,
  );
  const bytes = { up: 0, down: 0 };
  let outcome = 'clean';
  let targetClosed = false;
  const closeTarget = () => {
    if (targetClosed) return;
    targetClosed = true;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  try {
    const writer = writable.getWriter();
    await writer.write(serializeStatusLine(GatewayStatus.CONNECTED, connectedText(tlsReply)));
    writer.releaseLock();
    if (rest.byteLength > 0) {
      const tcpWriter = conn.writable.getWriter();
      await tcpWriter.write(rest);
      tcpWriter.releaseLock();
      bytes.up += rest.byteLength;
    }
  } catch (error) {
    closeTarget();
    settings.log(`close ${id} ${name} up=0 down=0 ms=${Date.now() - started} error: ${errorText(error)}`);
    return;
  }
  // Both pipes stop when the session is over, whatever state they are in.
  const options = { preventClose: true, preventAbort: true, signal: sessionOver };
  // Client → target; its FIN becomes the target's (TCP half-close).
  const up = readable
    .pipeThrough(counter((n) => (bytes.up += n)))
    .pipeTo(conn.writable, options)
    .then(
      // With TLS, closeWrite() sends close_notify, then the TCP FIN.
      () => conn.closeWrite(),
      (error: unknown) => {
        // A RESET_STREAM from the client, the session gone, or the target
        // stopped reading.
        if (outcome === 'clean') outcome = `client side: ${errorText(error)}`;
        closeTarget();
      },
    )
    .catch(() => closeTarget());
  // Target → client; its EOF becomes a QUIC FIN.
  const down = conn.readable
    .pipeThrough(counter((n) => (bytes.down += n)))
    .pipeTo(writable, options)
    .then(
      () => endStream(wt, writable),
      (error: unknown) => {
        // Deno cannot reset a WebTransport stream (abort() is a no-op):
        // the client gets a FIN, and RFC 6455 sees a close without frame.
        // Many TLS servers (pywebsocket3 and others on Python's ssl) end
        // the TCP connection without a close_notify alert first, though
        // RFC 8446, 6.1 says "Each party MUST send a "close_notify" alert
        // before closing its write side of the connection": rustls reports
        // it as an error, and the log says what it was.
        const noCloseNotify = tlsReply !== null && error instanceof Deno.errors.UnexpectedEof;
        if (outcome === 'clean')
          outcome = noCloseNotify
            ? 'target ended TCP without TLS close_notify'
            : `target side: ${errorText(error)}`;
        closeTarget();
        endStream(wt, writable);
      },
    )
    .catch(() => closeTarget());
  await Promise.all([up, down]);
  closeTarget();
  settings.log(`close ${id} ${name} up=${bytes.up} down=${bytes.down} ms=${Date.now() - started} ${outcome}`);
}

/** Answer a stream with a status line and end it; logs the refusal. Never rejects. */
async function refuse(
  bidi: WebTransportBidirectionalStream,
  wt: WebTransport,
  id: string,
  shown: string,
  status: number,
  reason: string,
  settings: Settings,
): Promise<void> {
  settings.log(`refuse ${id} ${shown} ${status} ${reason}`);
  const writable = bidi.writable as WritableStream<Uint8Array>;
  try {
    const writer = writable.getWriter();
    await writer.write(serializeStatusLine(status, reason));
    writer.releaseLock();
    endStream(wt, writable);
  } catch {
    // The client is gone already.
  }
  // What the client sends after the request line is not read: stop it.
  await bidi.readable.cancel().catch(() => {});
}

/** Send FIN on a stream whose writer is released. */
function endStream(wt: WebTransport, writable: WritableStream<Uint8Array>): void {
  if (!finishSendStream(writable)) {
    // Without the workaround there is no way to end one stream: end them all.
    closeSession(wt, 'stream ended');
  }
}

function closeSession(wt: WebTransport, reason: string): void {
  try {
    wt.close({ closeCode: 0, reason });
  } catch {
    // Closed already.
  }
}

function closeConn(conn: Deno.QuicConn, reason: string): void {
  try {
    conn.close({ closeCode: 0, reason });
  } catch {
    // Closed already.
  }
}

/** Deno.connect with a timeout that applies to connecting only; gives up when `cancel` aborts. */
async function connect(target: GatewayTarget, timeoutMs: number, cancel: AbortSignal): Promise<Deno.TcpConn> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('connect timed out', 'TimeoutError')),
    timeoutMs,
  );
  const onCancel = () => controller.abort(cancel.reason);
  cancel.addEventListener('abort', onCancel);
  try {
    cancel.throwIfAborted();
    const tcp = await Deno.connect({ hostname: target.host, port: target.port, signal: controller.signal });
    try {
      tcp.setNoDelay(true);
    } catch (error) {
      tcp.close();
      throw error;
    }
    return tcp;
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
    cancel.removeEventListener('abort', onCancel);
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

/** `promise`, or a TimeoutError after `ms`; `promise` stays handled either way. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'TimeoutError';
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return printable(text, 300);
}
