/**
 * Shared helpers for the interop tests: spawning the Python peers, running
 * in-process `ws` servers, and reading what the core received.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type ServerOptions as WsServerOptions } from 'ws';
import {
  type Frame,
  Opcode,
  type Protocol,
  type Request,
  type Response,
  State,
} from '../../src/protocol/index.js';
import type { Connection } from './net-driver.js';

/** Debian's interpreter: it has python3-websockets 10.4, whatever else is on PATH. */
export const PYTHON = '/usr/bin/python3';

const PEERS_DIR = fileURLToPath(new URL('./peers/', import.meta.url));

/** The size limit the interop suites test at (limit passes, limit + 1 fails with 1009). */
export const LIMIT = 64 * 1024;
/** Every close code a peer may send (RFC 6455, 7.4.1 and 7.4.2), as the suites test them both ways. */
export const VALID_CLOSE_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
];
export const encoder = new TextEncoder();
export const decoder = new TextDecoder('utf-8', { fatal: true });

export type JsonLine = Record<string, unknown>;

/** Reject with a labelled error if `promise` doesn't settle within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const livePeers = new Set<PythonPeer>();

/** A Python peer process that speaks JSON lines on stdout. */
export class PythonPeer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: JsonLine[] = [];
  /** Resolves with the exit code (null if killed by a signal). */
  readonly exited: Promise<number | null>;
  stderr = '';
  #waiters: Array<() => void> = [];

  constructor(script: string, args: readonly string[]) {
    this.child = spawn(PYTHON, [PEERS_DIR + script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    livePeers.add(this);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        livePeers.delete(this);
        resolve(code);
        this.#wake();
      });
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      // A stray non-JSON line (a warning, a debug print) must not throw in this handler.
      try {
        this.lines.push(JSON.parse(line) as JsonLine);
      } catch {
        this.lines.push({ event: 'unparsed', line });
      }
      this.#wake();
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** The first line matching `predicate`, waiting for it up to `timeoutMs`. */
  async waitForLine(predicate: (line: JsonLine) => boolean, timeoutMs = 10_000): Promise<JsonLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found !== undefined) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`python peer exited without the expected line; stderr:\n${this.stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out waiting for a line from the python peer; stderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Kill every Python peer still running (call from afterEach/afterAll). */
export function killPythonPeers(): void {
  for (const peer of livePeers) peer.kill();
}

export interface PythonServer {
  readonly peer: PythonPeer;
  readonly port: number;
  /** `ws://127.0.0.1:port/path`, with `id` appended so the close line can be matched. */
  url(path: string, id: string): string;
  /** The line the server prints once connection `id` is closed. */
  closedLine(id: string): Promise<JsonLine>;
}

export async function startPythonServer(args: readonly string[] = []): Promise<PythonServer> {
  const peer = new PythonPeer('python-server.py', args);
  // A cold Python start on a busy machine can take a few seconds.
  const first = await peer.waitForLine((line) => typeof line['port'] === 'number', 15_000);
  const port = first['port'] as number;
  return {
    peer,
    port,
    url(path, id) {
      return `ws://127.0.0.1:${port}${path}${path.includes('?') ? '&' : '?'}id=${id}`;
    },
    closedLine(id) {
      return peer.waitForLine((line) => line['event'] === 'closed' && line['id'] === id);
    },
  };
}

export type ClientStep =
  | { op: 'send'; text: string }
  | { op: 'send'; hex: string }
  | { op: 'send_fragments'; text: string[] }
  | { op: 'send_fragments'; hex: string[] }
  | { op: 'recv' }
  | { op: 'recv_until_closed' }
  | { op: 'ping'; hex: string }
  | { op: 'close'; code: number; reason: string }
  | { op: 'write_frame'; fin: boolean; opcode: number; hex: string };

export interface ClientScript {
  url: string;
  options?: { max_size?: number; subprotocols?: string[]; origin?: string };
  steps: ClientStep[];
}

/** Run the scripted Python client to completion and return its JSON lines. */
export async function runPythonClient(script: ClientScript, timeoutMs = 15_000): Promise<JsonLine[]> {
  const peer = new PythonPeer('python-client.py', []);
  peer.child.stdin.end(JSON.stringify(script));
  let code: number | null;
  try {
    // The script gives up by itself after 12 s; this only catches a hung interpreter.
    code = await withTimeout(peer.exited, timeoutMs, 'python client to exit');
  } catch (error) {
    peer.kill();
    throw error;
  }
  if (code !== 0) throw new Error(`python client exited with ${code}; stderr:\n${peer.stderr}`);
  return peer.lines;
}

export function hex(data: Uint8Array | string): string {
  return Buffer.from(typeof data === 'string' ? encoder.encode(data) : data).toString('hex');
}

export function lineOf(lines: readonly JsonLine[], event: string): JsonLine {
  const line = lines.find((l) => l['event'] === event);
  if (line === undefined) throw new Error(`no ${event} line in ${JSON.stringify(lines).slice(0, 2000)}`);
  return line;
}

export function messageLines(lines: readonly JsonLine[]): JsonLine[] {
  return lines.filter((l) => l['event'] === 'message');
}

/** Binary payloads as hex: readable in failure diffs and compared by value. */
export type Message = { type: 'text'; text: string } | { type: 'binary'; hex: string };

/** Reassemble the data frames among `events` into messages; a trailing partial message is left out. */
export function messagesOf(events: ReadonlyArray<Request | Response | Frame>): Message[] {
  const messages: Message[] = [];
  let opcode: Opcode | null = null;
  let parts: Uint8Array[] = [];
  for (const event of events) {
    if (event.kind !== 'frame') continue;
    if (event.opcode === Opcode.TEXT || event.opcode === Opcode.BINARY) {
      opcode = event.opcode;
      parts = [event.data];
    } else if (event.opcode === Opcode.CONT) {
      parts.push(event.data);
    } else {
      continue;
    }
    if (!event.fin) continue;
    const data = Buffer.concat(parts);
    messages.push(
      opcode === Opcode.TEXT
        ? { type: 'text', text: decoder.decode(data) }
        : { type: 'binary', hex: data.toString('hex') },
    );
    opcode = null;
    parts = [];
  }
  return messages;
}

/** The data frames among `events`, as [opcode, fin, payload hex], to check fragmentation exactly. */
export function dataFramesOf(
  events: ReadonlyArray<Request | Response | Frame>,
): Array<[number, boolean, string]> {
  return events.flatMap((e) =>
    e.kind === 'frame' && e.opcode <= Opcode.BINARY
      ? [[e.opcode, e.fin, hex(e.data)] as [number, boolean, string]]
      : [],
  );
}

export function framesWithOpcode(events: ReadonlyArray<Request | Response | Frame>, opcode: Opcode): Frame[] {
  return events.filter((e): e is Frame => e.kind === 'frame' && e.opcode === opcode);
}

/** Run `action` on the protocol, then write its output as the driver rules require. */
export function act<P extends Protocol<Request> | Protocol<Response>>(
  connection: Connection<P>,
  action: (protocol: P) => void,
): void {
  action(connection.protocol);
  connection.flush();
}

/** Wait until the socket closed and check the protocol reached CLOSED. */
export async function waitClosed<P extends Protocol<Request> | Protocol<Response>>(
  connection: Connection<P>,
  timeoutMs = 10_000,
): Promise<void> {
  await withTimeout(connection.closed, timeoutMs, 'connection to close');
  if (connection.protocol.state !== State.CLOSED) {
    throw new Error(`socket closed but protocol state is ${connection.protocol.state}`);
  }
}

export function bytes(size: number, fill = 0x5a): Uint8Array {
  return new Uint8Array(size).fill(fill);
}

// -----------------------------------------------------------------------------
// ws peers

export interface WsServer {
  readonly server: WebSocketServer;
  readonly port: number;
  close(): Promise<void>;
}

/** An in-process `ws` server on 127.0.0.1 port 0. */
export async function startWsServer(options: Omit<WsServerOptions, 'host' | 'port'> = {}): Promise<WsServer> {
  const server = new WebSocketServer({ ...options, host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    async close() {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// -----------------------------------------------------------------------------
// Raw frames, for peers that misbehave on purpose

/** Sec-WebSocket-Accept computed independently of the core. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/**
 * Encode one frame byte by byte, without the core's checks, so that tests can
 * send what the core's serializer refuses to produce.
 */
export function rawFrame(
  first: number,
  payload: Uint8Array,
  options: { mask?: boolean; length?: Uint8Array } = {},
): Buffer {
  const mask = options.mask ?? false;
  let lengthBytes: Uint8Array;
  if (options.length !== undefined) {
    lengthBytes = options.length;
  } else if (payload.length < 126) {
    lengthBytes = Uint8Array.of(payload.length);
  } else if (payload.length < 65536) {
    lengthBytes = Uint8Array.of(126, payload.length >> 8, payload.length & 0xff);
  } else {
    const b = Buffer.alloc(9);
    b[0] = 127;
    b.writeBigUInt64BE(BigInt(payload.length), 1);
    lengthBytes = b;
  }
  const header = Buffer.from(lengthBytes);
  header[0] = header[0]! | (mask ? 0x80 : 0);
  if (!mask) return Buffer.concat([Uint8Array.of(first), header, payload]);
  const key = Uint8Array.of(0x12, 0x34, 0x56, 0x78);
  const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Uint8Array.of(first), header, key, masked]);
}

/** Parse every complete frame in `buffer` (masked or not); enough for close frames. */
export function parseRawFrames(buffer: Buffer): Array<{ opcode: number; fin: boolean; payload: Buffer }> {
  const frames: Array<{ opcode: number; fin: boolean; payload: Buffer }> = [];
  let offset = 0;
  while (buffer.length - offset >= 2) {
    const b0 = buffer[offset]!;
    const b1 = buffer[offset + 1]!;
    let length = b1 & 0x7f;
    let pos = offset + 2;
    if (length === 126) {
      if (buffer.length < pos + 2) break;
      length = buffer.readUInt16BE(pos);
      pos += 2;
    } else if (length === 127) {
      if (buffer.length < pos + 8) break;
      length = Number(buffer.readBigUInt64BE(pos));
      pos += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? buffer.subarray(pos, pos + 4) : null;
    if (masked) pos += 4;
    if (buffer.length < pos + length) break;
    const payload = Buffer.from(buffer.subarray(pos, pos + length));
    if (key !== null) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i % 4]!;
    frames.push({ opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, payload });
    offset = pos + length;
  }
  return frames;
}

/** Code of the first close frame in `frames`, or null. */
export function closeCodeOf(frames: ReadonlyArray<{ opcode: number; payload: Buffer }>): number | null {
  const close = frames.find((f) => f.opcode === Opcode.CLOSE);
  if (close === undefined || close.payload.length < 2) return null;
  return close.payload.readUInt16BE(0);
}
