/**
 * Structure-aware fuzzing of the core against hostile peers, in both roles
 * (seeded and bounded: FUZZ_RUNS, FUZZ_SEED; see `src/testing/fuzz.ts`).
 *
 * - Frame streams: messages, fragments and control frames generated as
 *   frames, then mutated as frames (opcodes, FIN, RSV bits, MASK bit,
 *   length encodings, declared lengths up to 2^64 - 1, dropped, duplicated
 *   and swapped frames, UTF-8 edge cases, close payloads), serialized and
 *   fed in random chunks. A reference model of RFC 6455 says what must
 *   happen, frame by frame: which frames are delivered, which pongs are
 *   sent, and whether the connection ends with the peer's close, at EOF
 *   (1006), or failed with the right close code (1002, 1007, 1009).
 * - The same streams with byte-level damage on top: invariants only.
 * - Compressed streams with permessage-deflate negotiated: produced by a
 *   real sender (fragmented, interleaved with pings), then damaged.
 * - HTTP heads, both roles: oversized, duplicated, folded and invalid
 *   header lines, bare LFs, names such as `__proto__`; a head with a defect
 *   that RFC 9112 or RFC 6455 rejects never opens the connection.
 *
 * Invariants everywhere: nothing escapes `receiveData()`/`receiveEof()`,
 * the connection ends CLOSED at EOF, a failure is a documented error whose
 * close code is the one sent, no message larger than `maxMessageSize` is
 * delivered, and a fresh instance still works.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { concat, hex, utf8 } from '../testing/chunking.js';
import { fuzz } from '../testing/fuzz.js';
import { ByteQueue } from './byte-queue.js';
import { ClientProtocol } from './client.js';
import { InvalidHandshakeError, PayloadTooBigError, ProtocolError, UnexpectedEofError } from './errors.js';
import {
  ClientPerMessageDeflateFactory,
  ServerPerMessageDeflateFactory,
} from './extensions/permessage-deflate.js';
import { type Frame, frame, Opcode, parseFrame } from './frames.js';
import type { Request, Response } from './http11.js';
import { Protocol, SEND_EOF, type Side, State } from './protocol.js';
import { ServerProtocol } from './server.js';

const MAX_MESSAGE = 4096;
const KEY = hex('37fa213d');

// ---------------------------------------------------------------------------
// Helpers

/** Split `data` at the given cut points (fresh copies: the protocol owns chunks). */
function cut(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let previous = 0;
  for (const point of [...points, data.length]) {
    if (point > previous) chunks.push(data.slice(previous, point));
    previous = point;
  }
  return chunks;
}

interface Observed {
  /** Frames delivered by `eventsReceived()`, in order. */
  readonly frames: Frame[];
  /** Frames written by the protocol, parsed back. */
  readonly written: Frame[];
  readonly eofWritten: boolean;
}

/**
 * Feed `chunks` then EOF, draining output and events after every call as a
 * driver does; check the invariants that hold whatever the input.
 */
function drive(
  protocol: Protocol<unknown>,
  chunks: readonly Uint8Array[],
  maxMessage: number | null,
  ended = false,
): Observed {
  const frames: Frame[] = [];
  const output: Uint8Array[] = [];
  let eofWritten = ended;
  let messageSize = 0;
  const drain = (): void => {
    for (const item of protocol.dataToSend()) {
      expect(eofWritten, 'nothing is written after SEND_EOF').toBe(false);
      if (item === SEND_EOF) eofWritten = true;
      else output.push(item.slice());
    }
    for (const event of protocol.eventsReceived()) {
      if ((event as { kind: string }).kind !== 'frame') continue;
      const received = event as Frame;
      frames.push(received);
      if (received.opcode <= Opcode.BINARY) {
        messageSize = (received.opcode === Opcode.CONT ? messageSize : 0) + received.data.byteLength;
        // Memory stays within the configured limit: no message grows past it.
        if (maxMessage !== null) expect(messageSize).toBeLessThanOrEqual(maxMessage);
      }
    }
  };
  for (const chunk of chunks) {
    expect(() => protocol.receiveData(chunk)).not.toThrow();
    drain();
    if (protocol.state === State.CLOSED) break;
  }
  expect(() => protocol.receiveEof()).not.toThrow();
  drain();
  expect(protocol.state).toBe(State.CLOSED);
  expect(eofWritten, 'the output stream ends at EOF').toBe(true);
  const error = protocol.parserError;
  if (error !== null) {
    const documented =
      error instanceof ProtocolError ||
      error instanceof UnexpectedEofError ||
      error instanceof InvalidHandshakeError;
    expect(documented, `undocumented parser error: ${error.name}: ${error.message}`).toBe(true);
  }
  if (error instanceof ProtocolError && protocol.closeRcvd === null && protocol.closeSent !== null) {
    expect(protocol.closeSent.code).toBe(error.closeCode);
  }
  // What was written parses as frames, masked by a client only.
  const written: Frame[] = [];
  {
    const queue = new ByteQueue();
    const bytes = concat(output);
    // Skip an HTTP head, if any.
    const headEnd = findHeadEnd(bytes);
    queue.push(bytes.slice(headEnd));
    for (;;) {
      const parsed = parseFrame(queue, { mask: protocol.side === 'client', maxSize: null });
      if (parsed === null) break;
      written.push(parsed);
    }
    expect(queue.length, 'output ends on a frame boundary').toBe(0);
  }
  return { frames, written, eofWritten };
}

function findHeadEnd(bytes: Uint8Array): number {
  if (bytes[0] !== 0x47 && bytes[0] !== 0x48) return 0; // 'G'ET or 'H'TTP
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i - 3] === 13 && bytes[i - 2] === 10 && bytes[i - 1] === 13 && bytes[i] === 10) return i + 1;
  }
  return bytes.length;
}

/** A fresh instance is unaffected by whatever broke another one. */
function checkFresh(side: Side): void {
  const fresh = new Protocol(side);
  fresh.receiveData(side === 'client' ? hex('81 02 4869') : hex('81 82 00000000 4869'));
  expect(fresh.eventsReceived()).toEqual([frame(Opcode.TEXT, utf8('Hi'))]);
  expect(fresh.state).toBe(State.OPEN);
}

// ---------------------------------------------------------------------------
// Frames as a peer could write them, rule-breaking included

interface RawFrame {
  fin: boolean;
  rsv: number; // 3 bits: RSV1 RSV2 RSV3
  opcode: number; // 4 bits, reserved ones included
  masked: boolean;
  payload: Uint8Array;
  /** Payload length encoding: shortest, or forced to 16 or 64 bits where the length allows. */
  encoding: 'minimal' | '16' | '64';
  /** A declared length other than the payload's (a lie); the stream ends after this frame. */
  declared: bigint | null;
}

function serializeRaw(f: RawFrame): Uint8Array {
  const length = f.declared ?? BigInt(f.payload.byteLength);
  const head: number[] = [(f.fin ? 0x80 : 0) | (f.rsv << 4) | f.opcode];
  const maskBit = f.masked ? 0x80 : 0;
  if (f.encoding === 'minimal' && length < 126n) head.push(maskBit | Number(length));
  else if (f.encoding !== '64' && length < 65536n)
    head.push(maskBit | 126, Number(length >> 8n), Number(length & 255n));
  else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((length >> shift) & 255n));
  }
  const payload = f.payload.slice();
  if (f.masked) {
    head.push(...KEY);
    for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ KEY[i & 3]!;
  }
  return concat([Uint8Array.from(head), payload]);
}

/** UTF-8 edge cases: valid boundaries and every kind of invalid sequence. */
const UTF8_CASES = [
  '', // empty
  '41', // a
  'c2a9', // ©
  'e282ac', // €
  'f09f9880', // 😀
  'efbbbf41', // BOM + a
  'f48fbfbf', // U+10FFFF
  'ed9fbf', // U+D7FF
  'ee8080', // U+E000
  'c0af', // overlong /
  'e080af', // overlong
  'f0808080', // overlong
  'eda080', // surrogate U+D800
  'edbfbf', // surrogate U+DFFF
  'f4908080', // > U+10FFFF
  'f8888080', // 5-byte form
  'ff',
  '80', // lone continuation
  'c2', // truncated 2-byte
  'e282', // truncated 3-byte
  'f09f98', // truncated 4-byte
  'cebae1bdb9cf83cebcceb5', // κόσμε
].map(hex);

const CLOSE_PAYLOADS = [
  '',
  '03',
  '03e8',
  '03e9',
  '03ea',
  '03eb',
  '03ec', // 1004 reserved
  '03ed', // 1005 never sent
  '03ee', // 1006 never sent
  '03ef',
  '03f3',
  '03f6', // 1014
  '03f7', // 1015 never sent
  '03f8', // 1016 unassigned
  '0000',
  '03e7', // 999
  '0bb7', // 2999
  '0bb8', // 3000
  '1387', // 4999
  '1388', // 5000
  'ffff',
  '03e8 627965',
  '03e8 ff', // invalid UTF-8 reason
  '03e8 eda080',
  `03e8 ${'61'.repeat(123)}`, // longest reason
].map(hex);

const arbBytes = (max: number) => fc.uint8Array({ maxLength: max });

const arbTextPayload = fc.oneof(
  fc.constantFrom(...UTF8_CASES),
  fc.string({ unit: 'binary', maxLength: 40 }).map(utf8),
  fc.array(fc.constantFrom(...UTF8_CASES), { maxLength: 6 }).map(concat),
);

interface Message {
  readonly type: 'text' | 'binary';
  readonly payload: Uint8Array;
  readonly cuts: number[];
}

const arbMessage: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom('text' as const, 'binary' as const),
  payload: fc.oneof(
    { weight: 4, arbitrary: arbTextPayload },
    { weight: 2, arbitrary: arbBytes(300) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 125, max: MAX_MESSAGE + 300 }).map((n) => new Uint8Array(n).fill(0x61)),
    },
  ),
  // Fragment boundaries, possibly empty fragments.
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
});

type Item =
  | { readonly kind: 'message'; readonly message: Message }
  | { readonly kind: 'control'; readonly opcode: number; readonly payload: Uint8Array };

const arbItem: fc.Arbitrary<Item> = fc.oneof(
  { weight: 5, arbitrary: arbMessage.map((message) => ({ kind: 'message' as const, message })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(Opcode.PING, Opcode.PONG), arbBytes(125))
      .map(([opcode, payload]) => ({ kind: 'control' as const, opcode, payload })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...CLOSE_PAYLOADS)
      .map((payload) => ({ kind: 'control' as const, opcode: Opcode.CLOSE, payload })),
  },
);

/** The frames of a sequence of items: messages fragmented at their cut points. */
function toFrames(items: readonly Item[], masked: boolean): RawFrame[] {
  const frames: RawFrame[] = [];
  const base = { rsv: 0, masked, encoding: 'minimal' as const, declared: null };
  for (const item of items) {
    if (item.kind === 'control') {
      frames.push({ ...base, fin: true, opcode: item.opcode, payload: item.payload });
      continue;
    }
    const { type, payload, cuts } = item.message;
    const points = [...new Set(cuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
    const bounds = [0, ...points, payload.length];
    const count = bounds.length - 1;
    for (let i = 0; i < count; i++) {
      frames.push({
        ...base,
        fin: i === count - 1,
        opcode: i === 0 ? (type === 'text' ? Opcode.TEXT : Opcode.BINARY) : Opcode.CONT,
        payload: payload.slice(bounds[i], bounds[i + 1]),
      });
    }
  }
  return frames;
}

const DECLARED = [
  126n,
  65_536n,
  BigInt(MAX_MESSAGE),
  BigInt(MAX_MESSAGE + 1),
  2n ** 31n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 63n - 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];

type FrameMutation =
  | { readonly kind: 'opcode'; readonly at: number; readonly value: number }
  | { readonly kind: 'fin' | 'mask' | 'drop' | 'duplicate' | 'swap'; readonly at: number }
  | { readonly kind: 'rsv'; readonly at: number; readonly value: number }
  | { readonly kind: 'encoding'; readonly at: number; readonly value: '16' | '64' }
  | { readonly kind: 'declared'; readonly at: number; readonly value: bigint }
  | { readonly kind: 'oversized-control'; readonly at: number; readonly value: number };

const arbFrameMutation: fc.Arbitrary<FrameMutation> = fc.oneof(
  fc.record({ kind: fc.constant('opcode' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 15 }) }),
  fc.record({
    kind: fc.constantFrom(
      'fin' as const,
      'mask' as const,
      'drop' as const,
      'duplicate' as const,
      'swap' as const,
    ),
    at: fc.nat(),
  }),
  fc.record({ kind: fc.constant('rsv' as const), at: fc.nat(), value: fc.integer({ min: 1, max: 7 }) }),
  fc.record({
    kind: fc.constant('encoding' as const),
    at: fc.nat(),
    value: fc.constantFrom('16' as const, '64' as const),
  }),
  fc.record({ kind: fc.constant('declared' as const), at: fc.nat(), value: fc.constantFrom(...DECLARED) }),
  fc.record({
    kind: fc.constant('oversized-control' as const),
    at: fc.nat(),
    value: fc.constantFrom(Opcode.PING, Opcode.PONG, Opcode.CLOSE),
  }),
);

function applyFrameMutations(input: readonly RawFrame[], mutations: readonly FrameMutation[]): RawFrame[] {
  let frames = input.map((f) => ({ ...f }));
  for (const m of mutations) {
    if (frames.length === 0) break;
    const at = m.at % frames.length;
    const target = frames[at]!;
    switch (m.kind) {
      case 'opcode':
        target.opcode = m.value;
        break;
      case 'fin':
        target.fin = !target.fin;
        break;
      case 'mask':
        target.masked = !target.masked;
        break;
      case 'rsv':
        target.rsv = m.value;
        break;
      case 'encoding':
        target.encoding = m.value;
        break;
      case 'drop':
        frames.splice(at, 1);
        break;
      case 'duplicate':
        frames.splice(at, 0, { ...target });
        break;
      case 'swap':
        if (at + 1 < frames.length) [frames[at], frames[at + 1]] = [frames[at + 1]!, target];
        break;
      case 'declared':
        // A length the payload doesn't have: larger, and nothing follows.
        if (m.value > BigInt(target.payload.byteLength)) {
          target.declared = m.value;
          frames = frames.slice(0, at + 1);
        }
        break;
      case 'oversized-control':
        frames.splice(at, 0, {
          ...target,
          fin: true,
          rsv: 0,
          opcode: m.value,
          payload: new Uint8Array(126),
          declared: null,
        });
        break;
    }
  }
  // A frame with a false length never completes: later mutations may have
  // moved frames after it, which would become its payload; drop them.
  const lie = frames.findIndex((f) => f.declared !== null);
  return lie === -1 ? frames : frames.slice(0, lie + 1);
}

// ---------------------------------------------------------------------------
// The reference model: what RFC 6455 says a receiver does with these frames

type Outcome =
  | { readonly kind: 'fail'; readonly code: number; readonly delivered: number }
  | { readonly kind: 'close'; readonly code: number; readonly delivered: number }
  | { readonly kind: 'eof'; readonly delivered: number };

const VALID_OPCODES = new Set<number>([0, 1, 2, 8, 9, 10]);

function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

function model(frames: readonly RawFrame[], side: Side, maxMessage: number): Outcome {
  let current: number | null = null;
  let text: TextDecoder | null = null;
  let delivered = 0;
  const fail = (code: number): Outcome => ({ kind: 'fail', code, delivered });
  for (const f of frames) {
    if (!VALID_OPCODES.has(f.opcode)) return fail(1002);
    if (f.masked !== (side === 'server')) return fail(1002);
    const length = f.declared ?? BigInt(f.payload.byteLength);
    const wide = f.encoding === '64' || length >= 65_536n;
    if (wide && length >= 2n ** 63n) return fail(1002); // most significant bit set
    if (length > BigInt(Number.MAX_SAFE_INTEGER)) return fail(1009);
    const control = f.opcode >= 8;
    if (control && length > 125n) return fail(1002);
    if (control && !f.fin) return fail(1002);
    if (!control && length > BigInt(maxMessage - (current ?? 0))) return fail(1009);
    if (f.declared !== null) return { kind: 'eof', delivered }; // the frame never completes
    if (f.rsv !== 0) return fail(1002);
    const data = f.payload;
    try {
      switch (f.opcode) {
        case Opcode.TEXT:
        case Opcode.BINARY:
          if (current !== null) return fail(1002);
          current = f.fin ? null : data.byteLength;
          text = f.opcode === Opcode.TEXT ? new TextDecoder('utf-8', { fatal: true }) : null;
          text?.decode(data, { stream: !f.fin });
          if (f.fin) text = null;
          break;
        case Opcode.CONT:
          if (current === null) return fail(1002);
          current = f.fin ? null : current + data.byteLength;
          text?.decode(data, { stream: !f.fin });
          if (f.fin) text = null;
          break;
        case Opcode.CLOSE: {
          if (data.byteLength === 1) return fail(1002);
          const code = data.byteLength === 0 ? 1005 : (data[0]! << 8) | data[1]!;
          if (data.byteLength >= 2 && !validCloseCode(code)) return fail(1002);
          new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(2));
          return { kind: 'close', code, delivered: delivered + 1 };
        }
      }
    } catch {
      return fail(1007); // TextDecoder: invalid UTF-8
    }
    delivered++;
  }
  return { kind: 'eof', delivered };
}

function checkOutcome(
  protocol: Protocol<unknown>,
  observed: Observed,
  expected: Outcome,
  sent: readonly RawFrame[],
): void {
  expect(observed.frames.length, 'frames delivered before the end').toBe(expected.delivered);
  // Every ping delivered was answered with a pong carrying its payload, in order.
  const pings = observed.frames.filter((f) => f.opcode === Opcode.PING).map((f) => f.data);
  const pongs = observed.written.filter((f) => f.opcode === Opcode.PONG).map((f) => f.data);
  expect(pongs).toEqual(pings);
  // Delivered frames carry what was sent.
  observed.frames.forEach((f, i) => {
    expect(f.opcode).toBe(sent[i]!.opcode);
    expect(f.data).toEqual(sent[i]!.payload);
  });
  switch (expected.kind) {
    case 'fail':
      expect(protocol.parserError, 'the connection failed').toBeInstanceOf(ProtocolError);
      expect((protocol.parserError as ProtocolError).closeCode).toBe(expected.code);
      expect(protocol.closeSent?.code).toBe(expected.code);
      expect(protocol.closeRcvd).toBeNull();
      if (expected.code === 1009) expect(protocol.parserError).toBeInstanceOf(PayloadTooBigError);
      break;
    case 'close':
      expect(protocol.parserError).toBeNull();
      expect(protocol.closeRcvd?.code).toBe(expected.code);
      expect(protocol.closeSent?.code).toBe(expected.code);
      expect(protocol.closeCode).toBe(expected.code);
      break;
    case 'eof':
      expect(protocol.parserError).toBeInstanceOf(UnexpectedEofError);
      expect(protocol.closeSent).toBeNull();
      expect(protocol.closeCode).toBe(1006);
      break;
  }
}

const arbCuts = fc.array(fc.nat(), { maxLength: 8 });

describe.each(['client', 'server'] as const)('%s receiving hostile frame streams', (side) => {
  const masked = side === 'server';

  test('structure-aware mutations: the outcome RFC 6455 prescribes, frame by frame', () => {
    fuzz(
      `frames/${side}: structure-aware, model-checked`,
      fc.property(
        fc.array(arbItem, { minLength: 1, maxLength: 8 }),
        fc.array(arbFrameMutation, { maxLength: 3 }),
        arbCuts,
        (items, mutations, cuts) => {
          const frames = applyFrameMutations(toFrames(items, masked), mutations);
          const bytes = concat(frames.map(serializeRaw));
          const protocol = new Protocol(side, { maxMessageSize: MAX_MESSAGE });
          const observed = drive(protocol, cut(bytes, cuts), MAX_MESSAGE);
          checkOutcome(protocol, observed, model(frames, side, MAX_MESSAGE), frames);
          checkFresh(side);
        },
      ),
    );
  });

  test('structure-aware mutations plus byte damage: invariants hold', () => {
    fuzz(
      `frames/${side}: structure-aware + byte damage`,
      fc.property(
        fc.array(arbItem, { minLength: 1, maxLength: 6 }),
        fc.array(arbFrameMutation, { maxLength: 2 }),
        fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        arbCuts,
        (items, mutations, damage, cuts) => {
          const bytes = concat(applyFrameMutations(toFrames(items, masked), mutations).map(serializeRaw));
          for (const d of damage) if (bytes.length > 0) bytes[d.at % bytes.length]! ^= d.xor;
          drive(new Protocol(side, { maxMessageSize: MAX_MESSAGE }), cut(bytes, cuts), MAX_MESSAGE);
          checkFresh(side);
        },
      ),
    );
  });
});

// ---------------------------------------------------------------------------
// Compressed streams (permessage-deflate negotiated)

const arbDeflateConfig = fc.record({
  serverNoContextTakeover: fc.boolean(),
  clientNoContextTakeover: fc.boolean(),
  serverMaxWindowBits: fc.constantFrom(null, 8, 9, 12, 15),
  clientMaxWindowBits: fc.constantFrom(true as const, 8, 11, 15),
});

type DeflateConfig = typeof arbDeflateConfig extends fc.Arbitrary<infer T> ? T : never;

/** A client and a server in memory with permessage-deflate negotiated. */
function deflatePair(config: DeflateConfig) {
  const client = new ClientProtocol('ws://example.com/', {
    maxMessageSize: MAX_MESSAGE,
    random: (bytes) => bytes.fill(0x5a),
    extensions: [new ClientPerMessageDeflateFactory({ ...config, threshold: 0 })],
  });
  const server = new ServerProtocol({
    maxMessageSize: MAX_MESSAGE,
    extensions: [new ServerPerMessageDeflateFactory({ threshold: 0 })],
  });
  client.sendRequest(client.connect());
  for (const chunk of client.dataToSend()) if (chunk !== SEND_EOF) server.receiveData(chunk.slice());
  const [request] = server.eventsReceived() as Request[];
  server.sendResponse(server.accept(request!));
  for (const chunk of server.dataToSend()) if (chunk !== SEND_EOF) client.receiveData(chunk.slice());
  const [response] = client.eventsReceived() as Response[];
  expect(response?.status).toBe(101);
  expect(client.extensions).toHaveLength(1);
  return { client, server };
}

const arbCompressible = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 200 }).map(utf8),
  fc.tuple(fc.string({ maxLength: 8 }), fc.integer({ min: 1, max: 900 })).map(([s, n]) => utf8(s.repeat(n))),
  arbBytes(200),
);

describe.each(['client', 'server'] as const)('%s receiving compressed streams', (side) => {
  test('valid compressed streams round-trip; damaged ones fail cleanly', () => {
    fuzz(
      `deflate/${side}: round trip and damage`,
      fc.property(
        arbDeflateConfig,
        fc.array(
          fc.record({
            text: fc.boolean(),
            payload: arbCompressible,
            cuts: fc.array(fc.nat(), { maxLength: 3 }),
            ping: fc.boolean(),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }), head: fc.boolean() }), {
          maxLength: 3,
        }),
        arbCuts,
        (config, messages, damage, cuts) => {
          const { client, server } = deflatePair(config);
          const [sender, receiver] = side === 'client' ? [server, client] : [client, server];
          const sent: Uint8Array[] = [];
          for (const m of messages) {
            // Text must be valid UTF-8: send binary bytes as binary.
            const text = m.text && isUtf8(m.payload);
            const bounds = [
              0,
              ...[...new Set(m.cuts.map((c) => c % (m.payload.length + 1)))].sort((a, b) => a - b),
              m.payload.length,
            ];
            for (let i = 0; i < bounds.length - 1; i++) {
              const part = m.payload.slice(bounds[i], bounds[i + 1]);
              const fin = i === bounds.length - 2;
              if (i === 0) text ? sender.sendText(part, fin) : sender.sendBinary(part, fin);
              else sender.sendContinuation(part, fin);
              if (m.ping && i === 0) sender.sendPing(hex('01020304'));
            }
            sent.push(m.payload);
          }
          const bytes = concat(sender.dataToSend().filter((o): o is Uint8Array => o !== SEND_EOF));
          // Byte damage anywhere, or aimed at the first frame header (RSV1, opcode, length).
          for (const d of damage)
            if (bytes.length > 0) bytes[d.at % (d.head ? Math.min(bytes.length, 2) : bytes.length)]! ^= d.xor;
          const observed = drive(receiver, cut(bytes, cuts), MAX_MESSAGE);
          if (damage.length === 0) {
            // Undamaged: every message arrives whole, then EOF (1006); or,
            // from the first one over maxMessageSize on, 1009.
            const tooBig = sent.findIndex((m) => m.byteLength > MAX_MESSAGE);
            const received: Uint8Array[] = [];
            let current: Uint8Array[] = [];
            for (const f of observed.frames) {
              if (f.opcode > Opcode.BINARY) continue;
              current.push(f.data);
              if (f.fin) {
                received.push(concat(current));
                current = [];
              }
            }
            if (tooBig === -1) {
              expect(received).toEqual(sent);
              expect(receiver.parserError).toBeInstanceOf(UnexpectedEofError);
            } else {
              expect(received).toEqual(sent.slice(0, tooBig));
              expect(receiver.parserError).toBeInstanceOf(PayloadTooBigError);
              expect(receiver.closeSent?.code).toBe(1009);
            }
          }
          checkFresh(side);
        },
      ),
    );
  });
});

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// HTTP heads

interface HeadLine {
  readonly text: string;
  /** Whether RFC 9112 / RFC 6455 makes the whole head invalid. */
  readonly bad: boolean;
}

const good = (text: string): HeadLine => ({ text, bad: false });
const bad = (text: string): HeadLine => ({ text, bad: true });

/** Extra header lines a hostile peer may add, each tagged with whether it must be rejected. */
const arbExtraLine: fc.Arbitrary<HeadLine> = fc.oneof(
  fc.constantFrom(
    good('X-Test: 1'),
    good('__proto__: polluted'),
    good('constructor: polluted'),
    good('prototype: polluted'),
    good('hasOwnProperty: x'),
    good('X-Empty:'),
    good('X-Spaces:    padded value   '),
    good('X-Latin1: caf\xe9'),
    good('Cookie: a=1; b=2'),
    bad(' folded continuation'),
    bad('\tfolded continuation'),
    bad('X-Bad Name: 1'),
    bad('X-Bad\x00Name: 1'),
    bad(': no name'),
    bad('no colon at all'),
    bad('X-Nul: a\x00b'),
    bad('X-Del: a\x7fb'),
    bad('X-CR: a\rb'),
    bad('X-Test : space before colon'),
    bad('X-Long: '.padEnd(300, 'a')),
  ),
  fc.string({ unit: 'binary-ascii', maxLength: 30 }).map((line) => {
    // Arbitrary bytes as a line (no LF: that would end it): bad unless it
    // happens to be a valid field line.
    // An empty line would end the head: not a header line at all.
    const s = line.replaceAll('\n', '') || 'X-Was-Empty: 1';
    const colon = s.indexOf(':');
    const name = colon === -1 ? '' : s.slice(0, colon);
    const value = colon === -1 ? '' : s.slice(colon + 1).replace(/^[\t ]+|[\t ]+$/g, '');
    const ok =
      colon > 0 &&
      /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) &&
      ![...value].some((c) => (c < ' ' && c !== '\t') || c === '\x7f') &&
      !/^(host|upgrade|connection|sec-websocket-[a-z]+|content-length|transfer-encoding)$/i.test(name);
    return { text: s, bad: !ok };
  }),
);

const REQUEST_LINES = [
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
];

/** Defects in the handshake fields themselves. */
const arbHandshakeDefect = fc.constantFrom(
  { drop: 'Host', add: null },
  { drop: 'Upgrade', add: null },
  { drop: 'Connection', add: null },
  { drop: 'Sec-WebSocket-Key', add: null },
  { drop: 'Sec-WebSocket-Version', add: null },
  { drop: null, add: 'Host: other.example.com' }, // duplicated Host
  { drop: null, add: 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' }, // duplicated key
  { drop: null, add: 'Sec-WebSocket-Version: 8' },
  { drop: 'Sec-WebSocket-Key', add: 'Sec-WebSocket-Key: c2hvcnQ=' },
  { drop: 'Upgrade', add: 'Upgrade: h2c' },
  { drop: null, add: 'Content-Length: 5' },
  { drop: null, add: 'Transfer-Encoding: chunked' },
);

const arbEnding = fc.constantFrom(
  { eol: '\r\n', bad: false },
  { eol: '\n', bad: true }, // bare LF
);

describe('hostile HTTP heads', () => {
  test('server: a defective request never opens; a valid one does; nothing escapes', () => {
    fuzz(
      'handshake/server: structure-aware requests',
      fc.property(
        fc.array(arbExtraLine, { maxLength: 4 }),
        fc.option(arbHandshakeDefect, { nil: null }),
        arbEnding,
        fc.nat(),
        fc.option(fc.integer({ min: 120, max: 140 }), { nil: null }), // many headers
        arbCuts,
        (extra, defect, ending, position, many, cuts) => {
          const lines = REQUEST_LINES.filter(
            (l) => defect?.drop == null || !l.startsWith(`${defect.drop}:`),
          ).map(good);
          if (defect?.add != null) lines.push(good(defect.add));
          for (const line of extra) lines.splice(position % (lines.length + 1), 0, line);
          if (many !== null) for (let i = 0; i < many; i++) lines.push(good(`X-Many-${i}: ${i}`));
          const head = `GET /chat HTTP/1.1${ending.eol}${lines.map((l) => l.text + ending.eol).join('')}${ending.eol}`;
          const server = new ServerProtocol({ httpLimits: { maxLineLength: 256 } });
          let opened = false;
          let ended = false;
          let request: Request | null = null;
          for (const chunk of cut(latin1(head), cuts)) {
            expect(() => server.receiveData(chunk)).not.toThrow();
            for (const event of server.eventsReceived()) {
              if (event.kind !== 'request') continue;
              request = event;
              const res = server.accept(event);
              server.sendResponse(res);
              opened = res.status === 101;
            }
            ended ||= server.dataToSend().includes(SEND_EOF);
          }
          const total = lines.length;
          const mustFail = ending.bad || lines.some((l) => l.bad) || defect !== null || total > 128;
          if (mustFail)
            expect(opened, `opened with a defective head: ${JSON.stringify(head.slice(0, 300))}`).toBe(false);
          else expect(opened, `rejected a valid head: ${server.handshakeError?.message}`).toBe(true);
          if (request !== null && !opened)
            expect(server.handshakeError).toBeInstanceOf(InvalidHandshakeError);
          checkNoPollution();
          drive(server, [], null, ended);
          if (!opened) expect(server.handshakeError).toBeInstanceOf(InvalidHandshakeError);
        },
      ),
    );
  });

  test('client: a defective response never opens; a valid one does; nothing escapes', () => {
    fuzz(
      'handshake/client: structure-aware responses',
      fc.property(
        fc.array(arbExtraLine, { maxLength: 4 }),
        fc.constantFrom(
          null,
          { drop: 'Upgrade', add: null },
          { drop: 'Connection', add: null },
          { drop: 'Sec-WebSocket-Accept', add: null },
          { drop: null, add: 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=' }, // duplicated
          { drop: null, add: 'Sec-WebSocket-Protocol: chat' }, // not offered
          { drop: null, add: 'Sec-WebSocket-Extensions: x-unknown' }, // not offered
          { drop: 'Upgrade', add: 'Upgrade: websocket, h2c' },
        ),
        arbEnding,
        fc.nat(),
        fc.option(fc.integer({ min: 120, max: 140 }), { nil: null }),
        arbCuts,
        (extra, defect, ending, position, many, cuts) => {
          const client = new ClientProtocol('ws://server.example.com/chat', {
            random: (bytes) => bytes.fill(0x5a),
            httpLimits: { maxLineLength: 256 },
          });
          const req = client.connect();
          client.sendRequest(req);
          client.dataToSend();
          const accept = new ServerProtocol().accept(req).headers.get('Sec-WebSocket-Accept')!;
          const base = ['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`];
          const lines = base
            .filter((l) => defect?.drop == null || !l.startsWith(`${defect.drop}:`))
            .map(good);
          if (defect?.add != null)
            lines.push(good(defect.add.replace('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', accept)));
          for (const line of extra) lines.splice(position % (lines.length + 1), 0, line);
          if (many !== null) for (let i = 0; i < many; i++) lines.push(good(`X-Many-${i}: ${i}`));
          const head = `HTTP/1.1 101 Switching Protocols${ending.eol}${lines.map((l) => l.text + ending.eol).join('')}${ending.eol}`;
          let opened = false;
          let ended = false;
          for (const chunk of cut(latin1(head), cuts)) {
            expect(() => client.receiveData(chunk)).not.toThrow();
            client.eventsReceived();
            ended ||= client.dataToSend().includes(SEND_EOF);
            if (client.state === State.OPEN) opened = true;
          }
          // Content-Length / Transfer-Encoding on a 101 mean nothing: not defects here.
          const extraBad = lines.some((l) => l.bad && !/^(content-length|transfer-encoding):/i.test(l.text));
          const mustFail = ending.bad || extraBad || defect !== null || lines.length > 128;
          if (mustFail)
            expect(opened, `opened with a defective head: ${JSON.stringify(head.slice(0, 300))}`).toBe(false);
          else expect(opened, `rejected a valid head: ${client.handshakeError?.message}`).toBe(true);
          checkNoPollution();
          drive(client, [], null, ended);
          if (!opened) expect(client.handshakeError).toBeInstanceOf(InvalidHandshakeError);
        },
      ),
    );
  });
});

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

/** Header names such as `__proto__` never reach `Object.prototype`. */
function checkNoPollution(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_KEYS);
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
}
