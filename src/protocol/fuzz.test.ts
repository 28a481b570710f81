/**
 * Property and fuzz tests (seeded, bounded): whatever bytes a peer sends,
 * `receiveData()`/`receiveEof()` never throw, the connection ends CLOSED at
 * EOF, and a failure is a documented error whose close code is the one sent.
 * Runs at a small budget in `npm test`; FUZZ_RUNS raises it (`npm run fuzz`
 * runs every fuzz*.test.ts at a large budget and writes results/fuzz.*).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { concat, hex, seededRandom, utf8 } from '../testing/chunking.js';
import { FUZZ_SEED, fuzz } from '../testing/fuzz.js';
import { ByteQueue } from './byte-queue.js';
import { ClientProtocol } from './client.js';
import { InvalidHandshakeError, ProtocolError, UnexpectedEofError } from './errors.js';
import { frame, Opcode, parseFrame, serializeFrame } from './frames.js';
import { Protocol, SEND_EOF, type Side, State } from './protocol.js';
import { ServerProtocol } from './server.js';

const SEED = FUZZ_SEED;

/** Feed chunks, then EOF, checking the invariants; returns the protocol for more checks. */
function feedAndCheck<P extends Protocol<unknown>>(protocol: P, chunks: Uint8Array[]): P {
  for (const chunk of chunks) {
    expect(() => protocol.receiveData(chunk)).not.toThrow();
    protocol.eventsReceived();
    protocol.dataToSend();
  }
  expect(() => protocol.receiveEof()).not.toThrow();
  protocol.eventsReceived();
  const output = protocol.dataToSend();
  // After EOF the output stream ends, unless it ended already.
  expect(output.filter((o) => o !== SEND_EOF).length === 0 || output.at(-1) === SEND_EOF).toBe(true);
  expect(protocol.state).toBe(State.CLOSED);
  const error = protocol.parserError;
  if (error !== null) {
    const documented =
      error instanceof ProtocolError ||
      error instanceof UnexpectedEofError ||
      error instanceof InvalidHandshakeError;
    expect(documented, `undocumented parser error: ${error.name}: ${error.message}`).toBe(true);
  }
  if (error instanceof ProtocolError && protocol.closeSent !== null && protocol.closeRcvd === null) {
    expect(protocol.closeSent.code).toBe(error.closeCode);
  }
  return protocol;
}

/** Split `data` at the given cut points (fresh copies: the protocol owns chunks). */
function cut(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let previous = 0;
  for (const point of [...points, data.length]) {
    chunks.push(data.slice(previous, point));
    previous = point;
  }
  return chunks;
}

const arbFrame = fc.record({
  opcode: fc.constantFrom(Opcode.CONT, Opcode.TEXT, Opcode.BINARY, Opcode.CLOSE, Opcode.PING, Opcode.PONG),
  fin: fc.boolean(),
  rsv1: fc.boolean(),
  data: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }).map((s) => utf8(s)),
    fc.constantFrom(
      hex('03e8'),
      hex('03e8 627965'),
      hex('0bb8'),
      hex('03'),
      hex('ff'),
      hex('e282'),
      hex('eda080'),
    ),
    fc.integer({ min: 120, max: 70_000 }).map((n) => new Uint8Array(n)),
  ),
});

/** A stream of mostly valid frames from the peer of `side`, serialized as that peer would. */
function arbStream(side: Side) {
  return fc.array(arbFrame, { minLength: 1, maxLength: 8 }).map((frames) => {
    const parts = frames.map((f) =>
      serializeFrame(frame(f.opcode, f.data, f.fin, f.rsv1), side === 'server' ? hex('a1b2c3d4') : null),
    );
    return concat(parts);
  });
}

/** Flip, set or drop bytes of `data`: structure-aware mutations land in headers often. */
const arbMutations = fc.array(
  fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('flip', 'set', 'drop', 'head'),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  { maxLength: 4 },
);

function mutate(data: Uint8Array, mutations: Array<{ at: number; kind: string; value: number }>): Uint8Array {
  let out = data.slice();
  for (const m of mutations) {
    if (out.length === 0) break;
    // 'head' aims at the first bytes, where opcodes, flags and lengths live.
    const at = m.kind === 'head' ? m.at % Math.min(out.length, 14) : m.at % out.length;
    if (m.kind === 'drop') out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + 1)]);
    else if (m.kind === 'flip') out[at] = out[at]! ^ (1 << (m.value & 7));
    else out[at] = m.value;
  }
  return out;
}

describe.each(['client', 'server'] as const)('%s: fuzzing the frame parser', (side) => {
  test('arbitrary bytes never throw and end CLOSED at EOF', () => {
    fuzz(
      `frames/${side}: arbitrary bytes`,
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        feedAndCheck(new Protocol(side, { maxMessageSize: 1000 }), cut(bytes, cuts));
      }),
    );
  });

  test('mutated valid frame streams never throw; failures carry the right close code', () => {
    fuzz(
      `frames/${side}: mutated valid streams`,
      fc.property(
        arbStream(side),
        arbMutations,
        fc.array(fc.nat(), { maxLength: 6 }),
        (stream, mutations, cuts) => {
          const protocol = feedAndCheck(
            new Protocol(side, { maxMessageSize: 50_000, random: () => undefined }),
            cut(mutate(stream, mutations), cuts),
          );
          // A fresh instance is unaffected by what broke this one.
          const fresh = new Protocol(side);
          fresh.receiveData(side === 'client' ? hex('81 02 4869') : hex('81 82 00000000 4869'));
          expect(fresh.eventsReceived()).toEqual([frame(Opcode.TEXT, utf8('Hi'))]);
          expect(protocol.state).toBe(State.CLOSED);
        },
      ),
    );
  });

  test('valid streams parse identically whatever the chunking', () => {
    fuzz(
      `frames/${side}: chunking invariance`,
      fc.property(arbStream(side), fc.array(fc.nat(), { maxLength: 10 }), (stream, cuts) => {
        const whole = new Protocol(side, { maxMessageSize: null });
        whole.receiveData(stream.slice());
        const split = new Protocol(side, { maxMessageSize: null });
        for (const chunk of cut(stream, cuts)) split.receiveData(chunk);
        expect(split.eventsReceived()).toEqual(whole.eventsReceived());
        expect(split.dataToSend().length).toBe(whole.dataToSend().length);
        expect(split.parserError?.message).toBe(whole.parserError?.message);
      }),
    );
  });
});

const REQUEST = utf8(
  'GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
    'Sec-WebSocket-Extensions: x; a=1, y\r\nSec-WebSocket-Protocol: a, b\r\n\r\n',
);

describe('fuzzing the HTTP handshake', () => {
  test('mutated requests never throw; the server answers or fails the handshake', () => {
    fuzz(
      'handshake/server: mutated requests',
      fc.property(arbMutations, fc.array(fc.nat(), { maxLength: 6 }), (mutations, cuts) => {
        const server = new ServerProtocol({ subprotocols: ['b'], httpLimits: { maxLineLength: 256 } });
        for (const chunk of cut(mutate(REQUEST, mutations), cuts)) {
          expect(() => server.receiveData(chunk)).not.toThrow();
          for (const event of server.eventsReceived()) {
            if (event.kind === 'request') server.sendResponse(server.accept(event));
          }
        }
        feedAndCheck(server, []);
      }),
    );
  });

  test('mutated responses never throw; the client opens or reports a typed handshake error', () => {
    const random = seededRandom(SEED);
    fuzz(
      'handshake/client: mutated responses',
      fc.property(arbMutations, fc.array(fc.nat(), { maxLength: 6 }), (mutations, cuts) => {
        const client = new ClientProtocol('ws://h/', { random: (b) => b.fill(Math.floor(random() * 256)) });
        const request = client.connect();
        client.sendRequest(request);
        client.dataToSend();
        // The real 101 response for this client's key, then mutated.
        const accepted = new ServerProtocol().accept(request);
        const head = `HTTP/1.1 101 Switching Protocols\r\n${[...accepted.headers].map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
        for (const chunk of cut(mutate(utf8(head), mutations), cuts)) {
          expect(() => client.receiveData(chunk)).not.toThrow();
        }
        feedAndCheck(client, []);
      }),
    );
  });

  test('an endless HTTP head fails at the limit without growing memory', () => {
    const server = new ServerProtocol();
    server.receiveData(utf8('GET / HTTP/1.1\r\n'));
    const line = utf8(
      'X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n',
    );
    let fed = 0;
    while (server.handshakeError === null && fed < 10_000) {
      server.receiveData(line.slice());
      fed++;
    }
    expect(server.handshakeError?.message).toBe('too many headers');
    // 128 header lines are allowed (MAX_NUM_HEADERS); the 129th fails.
    expect(fed).toBe(129);
  });

  test('an endless stream of one-byte fragments is bounded by maxMessageSize', () => {
    const protocol = new Protocol('client', { maxMessageSize: 1000 });
    protocol.receiveData(hex('02 01 00'));
    let fed = 0;
    while (protocol.parserError === null && fed < 10_000) {
      protocol.receiveData(hex('00 01 00'));
      fed++;
    }
    expect(protocol.parserError?.name).toBe('PayloadTooBigError');
    expect(fed).toBe(1000);
  });

  test('a 2^63-byte length fails at once', () => {
    const protocol = new Protocol('client');
    protocol.receiveData(hex('82 7f 7fffffffffffffff'));
    expect(protocol.parserError?.name).toBe('PayloadTooBigError');
    const queue = new ByteQueue();
    queue.push(hex('82 7f 7fffffffffffffff'));
    expect(() => parseFrame(queue, { mask: false, maxSize: null })).toThrow(ProtocolError);
  });
});
