/**
 * The permessage-deflate interop tests' common part, for both roles
 * (deflate-client.test.ts, deflate-server.test.ts: a file a role, so that
 * the two run in parallel): a case's shape, a deterministic message mix,
 * sending it through the core (whole and fragmented) to a peer that echoes
 * it (peers.ts, DeflateEcho), and checking what came back.
 */
import { expect } from 'vitest';
import {
  type ClientPerMessageDeflateOptions,
  type Frame,
  Opcode,
  PerMessageDeflate,
  type PerMessageDeflateParams,
  type Protocol,
  type Request,
  type Response,
  type ServerPerMessageDeflateOptions,
  State,
} from '../../src/protocol/index.js';
import { mulberry32 } from '../../src/testing/fault-transport.js';
import { PYTHON_START_MS, rawMessagesOf, TIME_SCALE, withTimeout } from './helpers.js';
import type { Connection } from './net-driver.js';
import type { DeflateEcho, DeflateSettings, Peer } from './peers.js';

export const MAX_SIZE = 16 * 2 ** 20;
/** Bound on the peer's start (a Python interpreter's, on a busy machine, the longest) and the handshake. */
export const START_MS = PYTHON_START_MS;
/**
 * Bound on the echo of a mix (about 7 MiB, deflated and inflated on both
 * sides, the core's side in JavaScript): about 5 s on an idle 2-core machine.
 */
const ECHO_MS = 15_000 * TIME_SCALE;
/** Bound on the closing handshake and the peer's report of it. */
const CLOSE_MS = 5_000 * TIME_SCALE;
/** Each test: the bounds above in turn, plus making the mix; the bounds above fail first, saying which. */
export const TEST_MS = START_MS + ECHO_MS + 2 * CLOSE_MS + 5_000 * TIME_SCALE;

interface MixMessage {
  readonly type: 'text' | 'binary';
  readonly data: Uint8Array;
  /** Send in three frames. */
  readonly fragmented: boolean;
}

/** Deterministic PRNG (mulberry32). */
const prng = mulberry32;

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'status', 'ok', 'value', 'user', 'id', 'é', '€', '𝄞'];

/**
 * JSON-like text of `size` code points at most, about as many bytes
 * (compressible, with non-ASCII characters).
 */
function jsonText(random: () => number, size: number): Uint8Array {
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
function messageMix(seed: number, options: { large?: boolean } = {}): MixMessage[] {
  const random = prng(seed);
  const messages: MixMessage[] = [];
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

function totalBytes(messages: readonly MixMessage[]): number {
  return messages.reduce((n, m) => n + m.data.byteLength, 0);
}

/** Send `message` through the core, in three frames if it is marked fragmented. */
function sendMessage(protocol: Protocol<Request> | Protocol<Response>, message: MixMessage): void {
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
 * rawMessagesOf (helpers.ts) copies every payload each time.
 */
function countMessages(events: ReadonlyArray<Request | Response | Frame>): number {
  let count = 0;
  for (const event of events) {
    if (event.kind === 'frame' && event.fin && event.opcode <= Opcode.BINARY) count++;
  }
  return count;
}

/** Whether the messages received equal the messages sent, in order (fast byte comparison). */
function sameMessages(
  received: ReadonlyArray<{ type: string; data: Uint8Array }>,
  sent: readonly MixMessage[],
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

function paramsOf(extensions: readonly unknown[]): PerMessageDeflateParams {
  expect(extensions).toHaveLength(1);
  const pmd = extensions[0] as PerMessageDeflate;
  expect(pmd).toBeInstanceOf(PerMessageDeflate);
  return {
    remoteNoContextTakeover: pmd.remoteNoContextTakeover,
    localNoContextTakeover: pmd.localNoContextTakeover,
    remoteMaxWindowBits: pmd.remoteMaxWindowBits,
    localMaxWindowBits: pmd.localMaxWindowBits,
  };
}

export const P = (r: boolean, l: boolean, rb: number, lb: number): PerMessageDeflateParams => ({
  remoteNoContextTakeover: r,
  localNoContextTakeover: l,
  remoteMaxWindowBits: rb,
  localMaxWindowBits: lb,
});

export interface Case {
  readonly name: string;
  readonly ours: ClientPerMessageDeflateOptions & ServerPerMessageDeflateOptions;
  readonly theirs: DeflateSettings;
  /** Expected parameters on our side. */
  readonly params: PerMessageDeflateParams;
  /**
   * The peer compresses with an 8-bit window here: only peers that can
   * (DeflatePeer.compressesWith8BitWindow) run the case.
   */
  readonly peerCompressesWith8Bits?: true;
}

export function casesFor(peer: Peer, cases: readonly Case[]): Case[] {
  return cases.filter((c) => !c.peerCompressesWith8Bits || peer.deflate.compressesWith8BitWindow);
}

/**
 * Send the mix through `connection`, wait for the peer's echo, check it and
 * what went over the wire, then close and check the peer's report.
 */
export async function echoMix<Proto extends Protocol<Request> | Protocol<Response>>(
  connection: Connection<Proto>,
  echo: DeflateEcho,
  c: Case,
  seed: number,
): Promise<void> {
  expect(connection.protocol.state).toBe(State.OPEN);
  expect(paramsOf(connection.protocol.extensions)).toEqual(c.params);
  const messages = messageMix(seed);
  for (const message of messages) sendMessage(connection.protocol, message);
  connection.flush();
  await connection.waitFor((events) => countMessages(events) >= messages.length, ECHO_MS);
  expect(sameMessages(rawMessagesOf(connection.events), messages)).toBeNull();
  // Large messages came back in three frames.
  const continuations = connection.events.filter((e) => e.kind === 'frame' && e.opcode === Opcode.CONT);
  expect(continuations.length).toBeGreaterThan(0);
  // Both directions were compressed: far fewer bytes than payload.
  expect(connection.socket.bytesRead).toBeLessThan(totalBytes(messages) * 0.6);
  expect(connection.socket.bytesWritten).toBeLessThan(totalBytes(messages) * 0.6);

  connection.protocol.sendClose(1000);
  connection.flush();
  expect(await echo.closed(CLOSE_MS)).toEqual({ received: messages.length, code: 1000, deflate: true });
  await withTimeout(connection.closed, CLOSE_MS, 'the connection to close');
  expect(connection.protocol.closeCode).toBe(1000);
}
