/**
 * A minimal, test-only integration of the Sans-I/O core with Node's `net`,
 * following the driver rules of `Protocol` (src/protocol/protocol.ts): after
 * every receiveData/receiveEof/send*, write dataToSend() first (SEND_EOF
 * means half-close), then arm the close timer if closeExpected(), then hand
 * out events. Interop tests use it to put real peers on the other end of the
 * core, with nothing of polysocket's own connection driver in between.
 */
import net from 'node:net';
import {
  ClientProtocol,
  type ClientProtocolOptions,
  type Frame,
  type Protocol,
  type Request,
  type Response,
  SEND_EOF,
  ServerProtocol,
  type ServerProtocolOptions,
  State,
} from '../../src/protocol/index.js';
import { WAIT_MS } from './helpers.js';

/** Close the socket if the peer doesn't within this time once a close is expected. */
const CLOSE_TIMEOUT_MS = 2000;

export class Connection<P extends Protocol<Request> | Protocol<Response>> {
  readonly protocol: P;
  readonly socket: net.Socket;
  /** Every event the protocol produced, in order. */
  readonly events: Array<Request | Response | Frame> = [];
  /** Resolves when the socket is fully closed. */
  readonly closed: Promise<void>;
  #waiters: Array<() => void> = [];
  /** Set once the socket's close handler ran: no event comes after it. */
  #ended = false;
  #closeTimer: NodeJS.Timeout | null = null;

  constructor(protocol: P, socket: net.Socket, onEvent?: (event: Request | Response | Frame) => void) {
    this.protocol = protocol;
    this.socket = socket;
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        if (this.#closeTimer !== null) clearTimeout(this.#closeTimer);
        // The close timer destroys the socket without an 'end' or 'error':
        // the protocol must still see the end of the stream to reach CLOSED.
        if (protocol.state !== State.CLOSED) {
          protocol.receiveEof();
          this.flush(onEvent);
        }
        this.#ended = true;
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => {
      protocol.receiveData(chunk);
      this.flush(onEvent);
    });
    socket.on('end', () => {
      protocol.receiveEof();
      this.flush(onEvent);
      socket.destroy();
    });
    socket.on('error', () => {
      // ECONNRESET and the like: the protocol sees EOF.
      if (protocol.state !== State.CLOSED) {
        protocol.receiveEof();
        this.flush(onEvent);
      }
      socket.destroy();
    });
  }

  /** Write pending output, arm the close timer, then deliver events. */
  flush(onEvent?: (event: Request | Response | Frame) => void): void {
    for (const chunk of this.protocol.dataToSend()) {
      if (chunk === SEND_EOF) {
        if (!this.socket.destroyed) this.socket.end();
      } else if (!this.socket.destroyed && this.socket.writable) {
        this.socket.write(chunk);
      }
    }
    if (this.protocol.closeExpected() && this.#closeTimer === null) {
      this.#closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
    }
    const events = this.protocol.eventsReceived() as Array<Request | Response | Frame>;
    for (const event of events) {
      this.events.push(event);
      onEvent?.(event);
    }
    if (events.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Wait until `predicate` holds over the events received so far. */
  async waitFor(
    predicate: (events: ReadonlyArray<Request | Response | Frame>) => boolean,
    timeoutMs = WAIT_MS,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Events only come with a flush, so each wake-up (a flush with events, the
    // close, the deadline) is the only time the predicate can change.
    while (!predicate(this.events)) {
      if (this.#ended) throw new Error('connection closed while waiting for events');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for events`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        this.closed,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
      clearTimeout(timer);
    }
  }
}

/** Connect a `ClientProtocol` to `ws://host:port/path` and run the handshake. */
export async function connectClient(
  uri: string,
  options: ClientProtocolOptions = {},
): Promise<Connection<ClientProtocol>> {
  const protocol = new ClientProtocol(uri, options);
  const socket = net.connect({ host: protocol.uri.host, port: protocol.uri.port, allowHalfOpen: true });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const connection = new Connection(protocol, socket);
  protocol.sendRequest(protocol.connect());
  connection.flush();
  await connection.waitFor((events) => events.length > 0);
  return connection;
}

/**
 * A server running `ServerProtocol` on 127.0.0.1: accepts every handshake
 * (through `ServerProtocol.accept`) and hands each connection's events to
 * `onEvent`.
 */
export async function startServer(
  options: ServerProtocolOptions,
  onEvent: (connection: Connection<ServerProtocol>, event: Request | Frame) => void,
): Promise<{ port: number; connections: Connection<ServerProtocol>[]; close(): Promise<void> }> {
  const connections: Connection<ServerProtocol>[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.setNoDelay(true);
    const protocol = new ServerProtocol(options);
    const connection: Connection<ServerProtocol> = new Connection(protocol, socket, (event) => {
      if (event.kind === 'request') {
        protocol.sendResponse(protocol.accept(event));
        connection.flush();
      }
      onEvent(connection, event as Request | Frame);
      connection.flush();
    });
    connections.push(connection);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections,
    async close() {
      for (const c of connections) c.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
