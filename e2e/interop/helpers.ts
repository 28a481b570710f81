/**
 * Shared helpers for the interop tests: time bounds, Python peer processes,
 * reading what the core received, and raw frames for misbehaving peers.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect, inject } from 'vitest';
import {
  type Frame,
  Opcode,
  type Protocol,
  type Request,
  type Response,
  State,
} from '../../src/protocol/index.js';
import { concat, toHex } from '../../src/testing/chunking.js';
import type { Connection } from './net-driver.js';

/** The time scale of the run (vitest.config.ts): every bound below is what an idle machine needs, times it. */
export const TIME_SCALE = inject('timeScale');
/** Bound on one wait for a peer's event: a message, a close, a line from a Python process. */
export const WAIT_MS = 10_000 * TIME_SCALE;
/** Bound on a cold Python start (interpreter and websockets import), which a busy machine slows most. */
export const PYTHON_START_MS = 15_000 * TIME_SCALE;

/** Debian's interpreter: it has python3-websockets 10.4, whatever else is on PATH. */
const PYTHON = '/usr/bin/python3';

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

/** A Python peer process (a script in peers/) that speaks JSON lines on stdout. */
export class PythonPeer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: JsonLine[] = [];
  /** Resolves with the exit code (null if killed by a signal). */
  readonly exited: Promise<number | null>;
  stderr = '';
  #waiters: Array<() => void> = [];

  constructor(script: string, args: readonly string[]) {
    this.child = spawn(PYTHON, [PEERS_DIR + script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
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
  async waitForLine(predicate: (line: JsonLine) => boolean, timeoutMs = WAIT_MS): Promise<JsonLine> {
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

  /** Rejects, with the peer's stderr, once the process exits: to race against what it should do first. */
  async failure(): Promise<never> {
    const code = await this.exited;
    throw new Error(`python peer exited with ${code}; stderr:\n${this.stderr}`);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Binary payloads as hex: readable in failure diffs and compared by value. */
export type Message = { type: 'text'; text: string } | { type: 'binary'; hex: string };

/** A message as received: its type and all its bytes. */
export interface RawMessage {
  readonly type: 'text' | 'binary';
  readonly data: Uint8Array;
}

/** `data` as a {@link Message}: text decoded (strictly), binary as hex. */
export function messageOf(type: 'text' | 'binary', data: Uint8Array): Message {
  return type === 'text' ? { type, text: decoder.decode(data) } : { type, hex: toHex(data) };
}

/** The size in bytes of a {@link Message}'s payload. */
export function sizeOf(message: Message): number {
  return message.type === 'text' ? encoder.encode(message.text).byteLength : message.hex.length / 2;
}

/** Reassemble the data frames among `events` into messages; a trailing partial message is left out. */
export function rawMessagesOf(events: ReadonlyArray<Request | Response | Frame>): RawMessage[] {
  const messages: RawMessage[] = [];
  let type: RawMessage['type'] = 'text';
  let parts: Uint8Array[] = [];
  for (const event of events) {
    if (event.kind !== 'frame') continue;
    if (event.opcode === Opcode.TEXT || event.opcode === Opcode.BINARY) {
      type = event.opcode === Opcode.TEXT ? 'text' : 'binary';
      parts = [event.data];
    } else if (event.opcode === Opcode.CONT) {
      parts.push(event.data);
    } else {
      continue;
    }
    if (event.fin) messages.push({ type, data: concat(parts) });
  }
  return messages;
}

/** The messages among `events`, as {@link Message}s. */
export function messagesOf(events: ReadonlyArray<Request | Response | Frame>): Message[] {
  return rawMessagesOf(events).map((m) => messageOf(m.type, m.data));
}

/** A data frame as [opcode, fin, payload hex], to check fragmentation exactly. */
export type DataFrame = [opcode: number, fin: boolean, hex: string];

/** The data frames among `events`. */
export function dataFramesOf(events: ReadonlyArray<Request | Response | Frame>): DataFrame[] {
  return events.flatMap((e): DataFrame[] =>
    e.kind === 'frame' && e.opcode <= Opcode.BINARY ? [[e.opcode, e.fin, toHex(e.data)]] : [],
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
  timeoutMs = WAIT_MS,
): Promise<void> {
  await withTimeout(connection.closed, timeoutMs, 'connection to close');
  if (connection.protocol.state !== State.CLOSED) {
    throw new Error(`socket closed but protocol state is ${connection.protocol.state}`);
  }
}

/**
 * Check that both close frames were exchanged, `code` and `reason` each way,
 * after the peer initiated the close: the equivalent of wasClean.
 */
export function expectCleanCloseFromPeer(
  protocol: Protocol<Request> | Protocol<Response>,
  code: number,
  reason: string,
): void {
  expect(protocol.closeCode).toBe(code);
  expect(protocol.closeReason).toBe(reason);
  expect(protocol.closeRcvd).toEqual({ code, reason });
  expect(protocol.closeSent).toEqual({ code, reason });
  expect(protocol.closeRcvdThenSent).toBe(true);
  expect(protocol.parserError).toBeNull();
}

export function bytes(size: number, fill = 0x5a): Uint8Array {
  return new Uint8Array(size).fill(fill);
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
