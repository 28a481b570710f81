/**
 * Helpers of the permessage-deflate interop tests: a deterministic message
 * mix, sending it through the core (whole and fragmented), reassembling what
 * came back, and Python peers.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Frame, Opcode, type Protocol, type Request, type Response } from '../../src/protocol/index.js';

export const PYTHON = '/usr/bin/python3';
const PEER = fileURLToPath(new URL('./peers/deflate_peer.py', import.meta.url));

export interface Message {
  readonly type: 'text' | 'binary';
  readonly data: Uint8Array;
  /** Send in three frames. */
  readonly fragmented: boolean;
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'status', 'ok', 'value', 'user', 'id', 'é', '€', '𝄞'];

/**
 * JSON-like text of `size` code points at most, about as many bytes
 * (compressible, with non-ASCII characters).
 */
export function jsonText(random: () => number, size: number): Uint8Array {
  const pieces: string[] = [];
  let length = 0;
  while (length < size) {
    const piece = `{"${WORDS[Math.floor(random() * WORDS.length)]}":${Math.floor(random() * 1e6)},"t":"${
      WORDS[Math.floor(random() * WORDS.length)]
    }"},`;
    pieces.push(piece);
    length += piece.length;
  }
  const text = pieces.join('');
  // Cut after `size` code points, without splitting a surrogate pair. A
  // scan, not Array.from(text): that makes an array of millions of strings,
  // seconds of a test's time for the 3 MiB messages.
  let end = 0;
  for (let count = 0; count < size && end < text.length; count++) {
    const unit = text.charCodeAt(end);
    const low = text.charCodeAt(end + 1);
    end += unit >= 0xd800 && unit <= 0xdbff && low >= 0xdc00 && low <= 0xdfff ? 2 : 1;
  }
  return new TextEncoder().encode(text.slice(0, end));
}

/** From tiny to several MiB, text and binary, compressible and not, whole and fragmented. */
export function messageMix(seed: number, options: { large?: boolean } = {}): Message[] {
  const random = prng(seed);
  const messages: Message[] = [];
  const sizes = [0, 1, 5, 31, 32, 100, 200, 1000, 4000, 20_000, 70_000, 300_000];
  if (options.large ?? true) sizes.push(3 * 2 ** 20);
  for (const size of sizes) {
    messages.push({ type: 'text', data: jsonText(random, size), fragmented: false });
    messages.push({ type: 'text', data: jsonText(random, size), fragmented: size > 3 });
    const binary = new Uint8Array(Math.min(size, 100_000));
    for (let i = 0; i < binary.length; i++) binary[i] = Math.floor(random() * 256);
    messages.push({ type: 'binary', data: binary, fragmented: size % 2 === 0 && size > 3 });
  }
  // Many small, similar messages: context takeover pays off here.
  for (let i = 0; i < 60; i++)
    messages.push({ type: 'text', data: jsonText(random, 120), fragmented: false });
  return messages;
}

export function totalBytes(messages: readonly Message[]): number {
  return messages.reduce((n, m) => n + m.data.byteLength, 0);
}

/** Send `message` through the core, in three frames if it is marked fragmented. */
export function sendMessage(protocol: Protocol<Request> | Protocol<Response>, message: Message): void {
  const send =
    message.type === 'text' ? protocol.sendText.bind(protocol) : protocol.sendBinary.bind(protocol);
  if (!message.fragmented) {
    send(message.data.slice());
    return;
  }
  const third = Math.floor(message.data.byteLength / 3);
  send(message.data.slice(0, third), false);
  protocol.sendContinuation(message.data.slice(third, 2 * third), false);
  protocol.sendContinuation(message.data.slice(2 * third), true);
}

/**
 * How many messages `events` hold complete: a cheap test to wait on, where
 * {@link messagesOf} copies every payload each time.
 */
export function countMessages(events: ReadonlyArray<Request | Response | Frame>): number {
  let count = 0;
  for (const event of events) {
    if (event.kind === 'frame' && event.fin && event.opcode <= Opcode.BINARY) count++;
  }
  return count;
}

/** Reassemble the messages in a list of events. */
export function messagesOf(
  events: ReadonlyArray<Request | Response | Frame>,
): Array<{ type: string; data: Buffer }> {
  const out: Array<{ type: string; data: Buffer }> = [];
  let parts: Uint8Array[] = [];
  let type = '';
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
    if (event.fin) out.push({ type, data: Buffer.concat(parts) });
  }
  return out;
}

/** Whether the messages received equal the messages sent, in order (fast byte comparison). */
export function sameMessages(
  received: ReadonlyArray<{ type: string; data: Uint8Array }>,
  sent: readonly Message[],
): string | null {
  if (received.length !== sent.length) return `received ${received.length} messages, sent ${sent.length}`;
  for (let i = 0; i < sent.length; i++) {
    const r = received[i]!;
    const s = sent[i]!;
    if (r.type !== s.type) return `message ${i}: type ${r.type}, expected ${s.type}`;
    if (!Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).equals(s.data))
      return `message ${i}: ${r.data.byteLength} bytes differ from the ${s.data.byteLength} sent`;
  }
  return null;
}

export type JsonLine = Record<string, unknown>;

/** A Python deflate peer speaking JSON lines on stdout. */
export class PythonDeflatePeer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: JsonLine[] = [];
  stderr = '';
  #wake: Array<() => void> = [];

  constructor(args: readonly string[]) {
    this.child = spawn(PYTHON, [PEER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      // A stray non-JSON line (a warning) must not throw in this handler.
      try {
        this.lines.push(JSON.parse(line) as JsonLine);
      } catch {
        this.lines.push({ event: 'unparsed', line });
      }
      for (const wake of this.#wake.splice(0)) wake();
    });
    this.child.once('exit', () => {
      for (const wake of this.#wake.splice(0)) wake();
    });
  }

  /** The first line matching `predicate`, waiting for it up to `timeoutMs`. */
  async line(predicate: (line: JsonLine) => boolean, timeoutMs: number): Promise<JsonLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found !== undefined) return found;
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`python peer exited; stderr:\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for the python peer; stderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
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
