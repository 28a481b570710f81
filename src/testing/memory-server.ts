/**
 * A `ServerProtocol` on the far end of memory transports, driven by the
 * Sans-I/O rules, for unit tests of the WHATWG layer: every connection made
 * through `factory` is accepted (or answered by `respond`), and data frames
 * are echoed unless `onFrame` says otherwise.
 */
import type { Frame } from '../protocol/frames.js';
import { Opcode } from '../protocol/frames.js';
import type { Request, Response } from '../protocol/http11.js';
import { encodeUtf8 } from '../protocol/platform.js';
import { SEND_EOF } from '../protocol/protocol.js';
import { ServerProtocol, type ServerProtocolOptions } from '../protocol/server.js';
import type { Transport, TransportFactory } from '../transports/transport.js';
import { type FaultOptions, FaultTransport } from './fault-transport.js';
import {
  type MemoryTransport,
  type MemoryTransportOptions,
  memoryTransportPair,
} from './memory-transport.js';

/** How the test server behaves. */
export interface MemoryServerOptions extends ServerProtocolOptions {
  /** Answer the handshake request; `undefined` lets the connection hang. @defaultValue `protocol.accept(request)` */
  readonly respond?: (request: Request, protocol: ServerProtocol) => Response | undefined;
  /** Handle each frame received. @defaultValue echo data frames */
  readonly onFrame?: (frame: Frame, connection: ServerConnection) => void;
  /** Called once the 101 response is sent. */
  readonly onOpen?: (connection: ServerConnection) => void;
  /** Don't close the TCP connection after the closing handshake (to test close timeouts). @defaultValue `false` */
  readonly holdEof?: boolean;
  /** Options of the memory pairs. */
  readonly transport?: MemoryTransportOptions;
  /** Faults injected on the client's end. */
  readonly faults?: FaultOptions;
}

/** The server end of one connection. */
export class ServerConnection {
  readonly protocol: ServerProtocol;
  /** The server end of the pair. */
  readonly transport: MemoryTransport;
  /** The client end of the pair, as the WebSocket sees it (before faults). */
  readonly client: MemoryTransport;
  readonly frames: Frame[] = [];
  request: Request | null = null;
  readonly closed: Promise<void>;
  readonly #options: MemoryServerOptions;

  constructor(transport: MemoryTransport, client: MemoryTransport, options: MemoryServerOptions) {
    this.protocol = new ServerProtocol(options);
    this.transport = transport;
    this.client = client;
    this.#options = options;
    this.closed = new Promise((resolve) => transport.once('close', () => resolve()));
    transport.on('data', (chunk) => {
      this.protocol.receiveData(chunk);
      this.flush();
    });
    transport.on('end', () => {
      this.protocol.receiveEof();
      this.flush();
      void transport.end().then(() => transport.destroy());
    });
  }

  /** Text frames received, decoded. */
  get texts(): string[] {
    return this.frames.filter((f) => f.opcode === Opcode.TEXT).map((f) => new TextDecoder().decode(f.data));
  }

  sendText(text: string): void {
    this.protocol.sendText(encodeUtf8(text));
    this.flush();
  }

  sendBinary(bytes: Uint8Array): void {
    this.protocol.sendBinary(bytes);
    this.flush();
  }

  sendClose(code?: number, reason?: string): void {
    this.protocol.sendClose(code, reason);
    this.flush();
  }

  /** Write bytes as they are, bypassing the protocol. */
  writeRaw(bytes: Uint8Array): Promise<void> {
    return this.transport.write(bytes);
  }

  /** Write pending output (SEND_EOF half-closes), then handle events. */
  flush(): void {
    for (const output of this.protocol.dataToSend()) {
      if (output === SEND_EOF) {
        if (!this.#options.holdEof) void this.transport.end();
      } else if (!this.transport.closed) {
        this.transport.write(output).catch(() => {});
      }
    }
    for (const event of this.protocol.eventsReceived()) {
      if (event.kind === 'request') {
        this.request = event;
        const response = this.#options.respond
          ? this.#options.respond(event, this.protocol)
          : this.protocol.accept(event);
        if (response === undefined) continue;
        this.protocol.sendResponse(response);
        this.flush();
        if (response.status === 101 && this.protocol.handshakeError === null) this.#options.onOpen?.(this);
        continue;
      }
      this.frames.push({ ...event, data: event.data.slice() });
      if (this.#options.onFrame) this.#options.onFrame(event, this);
      else if (event.opcode === Opcode.TEXT && this.protocol.state === 1)
        this.protocol.sendText(event.data, event.fin);
      else if (event.opcode === Opcode.BINARY && this.protocol.state === 1)
        this.protocol.sendBinary(event.data, event.fin);
      else if (event.opcode === Opcode.CONT && this.protocol.state === 1)
        this.protocol.sendContinuation(event.data, event.fin);
      this.flush();
    }
  }
}

/** A test server reachable through `factory`. */
export interface MemoryServer {
  readonly factory: TransportFactory;
  readonly connections: ServerConnection[];
  /** The client ends handed to WebSockets (after faults, if any). */
  readonly clients: Transport[];
  /** Resolves with the next connection accepted (or the latest if one exists unclaimed). */
  connection(index?: number): Promise<ServerConnection>;
}

/** Start a memory server. */
export function memoryServer(options: MemoryServerOptions = {}): MemoryServer {
  const connections: ServerConnection[] = [];
  const clients: Transport[] = [];
  const waiters: Array<() => void> = [];
  const factory: TransportFactory = (target) => {
    const [client, server] = memoryTransportPair({ secure: target.secure, ...options.transport });
    connections.push(new ServerConnection(server, client, options));
    for (const wake of waiters.splice(0)) wake();
    const transport = options.faults ? new FaultTransport(client, options.faults) : client;
    clients.push(transport);
    return transport;
  };
  return {
    factory,
    connections,
    clients,
    async connection(index = 0) {
      while (connections[index] === undefined) await new Promise<void>((resolve) => waiters.push(resolve));
      return connections[index]!;
    },
  };
}
