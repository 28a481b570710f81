import { describe, expect, test } from 'vitest';
import { assertConnectionClosing, assertConnectionFailing, framesSent } from '../testing/assertions.js';
import { fixedRandom, hex, splits, toHex, utf8 } from '../testing/chunking.js';
import { CloseCode } from './close-code.js';
import { InvalidStateError, ProtocolError } from './errors.js';
import type { Extension } from './extensions/base.js';
import { type Frame, frame, Opcode, serializeFrame } from './frames.js';
import { Protocol, type ProtocolOptions, SEND_EOF, type Side, State } from './protocol.js';

const ZERO_MASK = fixedRandom(0);

function client(options: ProtocolOptions = {}): Protocol {
  return new Protocol('client', { random: ZERO_MASK, ...options });
}

function server(options: ProtocolOptions = {}): Protocol {
  return new Protocol('server', options);
}

/** Frame bytes as the peer of `side` would send them (servers receive masked frames, key 00000000). */
function wire(side: Side, unmasked: string): Uint8Array {
  const bytes = hex(unmasked);
  if (side === 'client') return bytes;
  // Insert the mask bit and a zero key after the length field.
  const length = bytes[1]! & 0x7f;
  const headerLength = length === 126 ? 4 : length === 127 ? 10 : 2;
  const out = new Uint8Array(bytes.length + 4);
  out.set(bytes.subarray(0, headerLength));
  out[1] = out[1]! | 0x80;
  out.set(bytes.subarray(headerLength), headerLength + 4);
  return out;
}

function receive(protocol: Protocol, chunks: Uint8Array[]): Frame[] {
  const events: Frame[] = [];
  for (const chunk of chunks) {
    protocol.receiveData(chunk);
    events.push(...protocol.eventsReceived());
  }
  return events;
}

const make = (side: Side, options: ProtocolOptions = {}) =>
  side === 'client' ? client(options) : server(options);

describe.each(['client', 'server'] as const)('%s receives', (side) => {
  for (const [name, chunks] of splits(wire(side, '81 05 48656c6c6f'))) {
    test(`text (${name})`, () => {
      const protocol = make(side);
      expect(receive(protocol, chunks)).toEqual([frame(Opcode.TEXT, utf8('Hello'))]);
      expect(protocol.dataToSend()).toEqual([]);
    });
  }

  for (const [name, chunks] of splits(
    Uint8Array.from([...wire(side, '01 03 48656c'), ...wire(side, '89 00'), ...wire(side, '80 02 6c6f')]),
  )) {
    test(`a fragmented message with a ping in the middle (${name})`, () => {
      const protocol = make(side);
      expect(receive(protocol, chunks)).toEqual([
        frame(Opcode.TEXT, utf8('Hel'), false),
        frame(Opcode.PING, new Uint8Array(0)),
        frame(Opcode.CONT, utf8('lo')),
      ]);
      // 5.5.2: the ping is answered at once, even mid-message.
      expect(framesSent(protocol)).toEqual([frame(Opcode.PONG, new Uint8Array(0))]);
    });
  }

  test('binary, empty and at the size limit', () => {
    const protocol = make(side, { maxMessageSize: 4 });
    expect(receive(protocol, [wire(side, '82 00'), wire(side, '82 04 01020304')])).toEqual([
      frame(Opcode.BINARY, new Uint8Array(0)),
      frame(Opcode.BINARY, hex('01020304')),
    ]);
  });

  test('a message one byte over the limit: fails with 1009 before buffering the payload', () => {
    const protocol = make(side, { maxMessageSize: 4 });
    protocol.receiveData(wire(side, '82 05').subarray(0, side === 'server' ? 6 : 2));
    expect(protocol.parserError?.name).toBe('PayloadTooBigError');
    assertConnectionFailing(protocol, CloseCode.MESSAGE_TOO_BIG, 'frame of 5 bytes exceeds limit of 4 bytes');
  });

  test('a fragmented message over the limit: fails with 1009 at the fragment that exceeds it', () => {
    const protocol = make(side, { maxMessageSize: 4 });
    expect(receive(protocol, [wire(side, '02 03 010203')])).toHaveLength(1);
    protocol.receiveData(wire(side, '80 02 0405'));
    assertConnectionFailing(protocol, CloseCode.MESSAGE_TOO_BIG, 'frame of 2 bytes exceeds limit of 1 bytes');
  });

  test('maxMessageSize null disables the limit; maxFragmentSize limits each frame', () => {
    const unlimited = make(side, { maxMessageSize: null });
    expect(receive(unlimited, [wire(side, `82 7e 2000 ${'00'.repeat(8192)}`)])).toHaveLength(1);
    const limited = make(side, { maxMessageSize: null, maxFragmentSize: 2 });
    expect(receive(limited, [wire(side, '02 02 0102')])).toHaveLength(1);
    limited.receiveData(wire(side, '80 03 030405'));
    assertConnectionFailing(limited, CloseCode.MESSAGE_TOO_BIG);
  });

  test('invalid UTF-8 split across fragments: fails with 1007 at the first bad fragment', () => {
    const protocol = make(side);
    expect(receive(protocol, [wire(side, '01 01 e2')])).toHaveLength(1);
    protocol.receiveData(wire(side, '00 01 28')); // '(' isn't a continuation byte; FIN clear
    expect(protocol.parserError?.name).toBe('InvalidUtf8Error');
    assertConnectionFailing(protocol, CloseCode.INVALID_DATA, 'invalid UTF-8 in text message');
  });

  test('text ending in the middle of a code point: fails with 1007', () => {
    const protocol = make(side);
    protocol.receiveData(wire(side, '81 02 e282'));
    assertConnectionFailing(protocol, CloseCode.INVALID_DATA);
  });

  test.each([
    ['reserved opcode', '83 00', 'invalid opcode: 0x3'],
    ['RSV1 without an extension', 'c1 00', 'reserved bits must be 0'],
    ['RSV2', 'a1 00', 'reserved bits must be 0'],
    ['RSV3', '91 00', 'reserved bits must be 0'],
    ['continuation without a message', '80 00', 'unexpected continuation frame'],
    ['a new message inside a fragmented one', '01 00 81 00', 'expected a continuation frame'],
    ['fragmented ping', '09 00', 'fragmented control frame'],
    ['ping of 126 bytes', `89 7e 007e ${'00'.repeat(126)}`, 'control frame too long'],
    ['close with a one-byte payload', '88 01 03', 'close frame too short'],
    ['close with code 1005', '88 02 03ed', 'invalid close code: 1005'],
    ['close with code 999', '88 02 03e7', 'invalid close code: 999'],
    ['64-bit length with the top bit set', '82 7f 8000000000000000', 'invalid 64-bit payload length'],
  ])('%s: fails with 1002', (_, bytes, message) => {
    const protocol = make(side);
    // Several frames may be given: split them as the peer would mask each.
    const frames = bytes === '01 00 81 00' ? [wire(side, '01 00'), wire(side, '81 00')] : [wire(side, bytes)];
    for (const f of frames) protocol.receiveData(f);
    protocol.eventsReceived();
    expect(protocol.parserError?.message).toBe(message);
    const sent = framesSent(protocol);
    expect(sent[0]).toEqual(frame(Opcode.CLOSE, Uint8Array.from([0x03, 0xea, ...utf8(message)])));
    expect(protocol.state).toBe(State.CLOSING);
  });

  test('incorrect masking: fails with 1002', () => {
    const protocol = make(side);
    protocol.receiveData(side === 'client' ? hex('81 80 00000000') : hex('81 00'));
    assertConnectionFailing(protocol, CloseCode.PROTOCOL_ERROR, 'incorrect masking');
  });

  test('a close frame with invalid UTF-8 in the reason: fails with 1007', () => {
    const protocol = make(side);
    protocol.receiveData(wire(side, '88 03 03e8ff'));
    assertConnectionFailing(protocol, CloseCode.INVALID_DATA, 'invalid UTF-8 in close reason');
  });

  test('after failing, further input is discarded and EOF closes', () => {
    const protocol = make(side);
    protocol.receiveData(wire(side, '83 00'));
    protocol.dataToSend();
    protocol.receiveData(wire(side, '81 05 48656c6c6f'));
    expect(protocol.eventsReceived()).toEqual([]);
    expect(protocol.closeExpected()).toBe(true);
    protocol.receiveEof();
    expect(protocol.state).toBe(State.CLOSED);
    expect(protocol.dataToSend()).toEqual(side === 'client' ? [SEND_EOF] : []);
    expect(protocol.closeCode).toBe(CloseCode.ABNORMAL_CLOSURE);
  });

  test('ping is answered with a pong carrying the same data', () => {
    const protocol = make(side);
    expect(receive(protocol, [wire(side, '89 05 48656c6c6f')])).toEqual([frame(Opcode.PING, utf8('Hello'))]);
    expect(framesSent(protocol)).toEqual([frame(Opcode.PONG, utf8('Hello'))]);
  });

  test('invalid UTF-8 inside one text frame fails when the invalid bytes arrive, not at the end of the frame', () => {
    const protocol = make(side);
    // A 30-byte text frame in three chops: valid, then 0xc3 0x28 (invalid), then the rest.
    const bytes = wire(side, `81 1e ${'61'.repeat(10)} ${'62'.repeat(8)}c328 ${'63'.repeat(10)}`);
    const headerLength = side === 'client' ? 2 : 6;
    protocol.receiveData(bytes.slice(0, headerLength + 10));
    expect(protocol.state).toBe(State.OPEN);
    protocol.receiveData(bytes.slice(headerLength + 10, headerLength + 20));
    expect(protocol.parserError?.message).toBe('invalid UTF-8 in text message');
    assertConnectionFailing(protocol, CloseCode.INVALID_DATA, 'invalid UTF-8 in text message');
  });

  test('in a continuation of a text message too; a character split across chops is no failure', () => {
    const protocol = make(side);
    // "é" (c3 a9) split across the first frame and the chops of the second.
    protocol.receiveData(wire(side, '01 01 c3'));
    const second = wire(side, `80 0c a9 ${'61'.repeat(5)} ff ${'61'.repeat(5)}`);
    const headerLength = side === 'client' ? 2 : 6;
    protocol.receiveData(second.slice(0, headerLength + 1));
    protocol.receiveData(second.slice(headerLength + 1, headerLength + 4));
    expect(protocol.state).toBe(State.OPEN);
    protocol.receiveData(second.slice(headerLength + 4, headerLength + 8));
    expect(protocol.parserError?.message).toBe('invalid UTF-8 in text message');
  });

  test('validating as it arrives leaves the bytes intact, also in Node Buffers (whose slice() is a view)', () => {
    const NodeBuffer = (globalThis as { Buffer?: { from(bytes: Uint8Array): Uint8Array } }).Buffer!;
    const protocol = make(side);
    const payload = utf8('x'.repeat(300));
    const bytes = serializeFrame(
      frame(Opcode.TEXT, payload),
      side === 'server' ? Uint8Array.of(1, 2, 3, 4) : null,
    );
    const chunks = [bytes.subarray(0, 100), bytes.subarray(100, 200), bytes.subarray(200)].map((chunk) =>
      NodeBuffer.from(chunk),
    );
    expect(receive(protocol, chunks)).toEqual([frame(Opcode.TEXT, payload)]);
  });

  test('a valid text frame validated as it arrives, byte by byte, is delivered whole', () => {
    const protocol = make(side);
    const text = 'héllo wörld ✓ 😀'.repeat(3);
    const payload = utf8(text);
    const bytes = wire(side, `81 ${payload.byteLength.toString(16).padStart(2, '0')} ${toHex(payload)}`);
    const frames = receive(
      protocol,
      [...bytes].map((byte) => Uint8Array.of(byte)),
    );
    expect(frames).toEqual([frame(Opcode.TEXT, payload)]);
    expect(protocol.parserError).toBeNull();
  });

  test('automaticPongs() says where the pongs answering pings are in the output just taken', () => {
    const protocol = make(side);
    expect(protocol.automaticPongs()).toEqual([]);
    protocol.sendText(utf8('a'));
    protocol.receiveData(wire(side, '89 01 31'));
    protocol.receiveData(wire(side, '89 01 32'));
    protocol.sendPing(utf8('mine'));
    protocol.sendPong(utf8('unsolicited'));
    const output = protocol.dataToSend();
    expect(output).toHaveLength(5);
    expect(protocol.automaticPongs()).toEqual([1, 2]);
    // Those of the next output only: none here.
    expect(protocol.dataToSend()).toEqual([]);
    expect(protocol.automaticPongs()).toEqual([]);
  });

  test('unsolicited pong is delivered and not answered', () => {
    const protocol = make(side);
    expect(receive(protocol, [wire(side, '8a 00')])).toEqual([frame(Opcode.PONG, new Uint8Array(0))]);
    expect(protocol.dataToSend()).toEqual([]);
  });

  test('the peer closes: the close is echoed and the connection closes at EOF', () => {
    const protocol = make(side);
    expect(receive(protocol, [wire(side, '88 05 03e8 627965')])).toEqual([
      frame(Opcode.CLOSE, hex('03e8 627965')),
    ]);
    expect(protocol.state).toBe(State.CLOSING);
    const sent = framesSent(protocol);
    expect(sent[0]).toEqual(frame(Opcode.CLOSE, hex('03e8 627965')));
    // 7.1.1: the server closes the TCP connection first.
    expect(sent.slice(1)).toEqual(side === 'server' ? [SEND_EOF] : []);
    expect(protocol.closeRcvd).toEqual({ code: 1000, reason: 'bye' });
    expect(protocol.closeSent).toEqual({ code: 1000, reason: 'bye' });
    expect(protocol.closeRcvdThenSent).toBe(true);
    expect(protocol.closeCode).toBeNull();
    protocol.receiveData(wire(side, '81 00'));
    expect(protocol.eventsReceived()).toEqual([]);
    protocol.receiveEof();
    expect(protocol.dataToSend()).toEqual(side === 'client' ? [SEND_EOF] : []);
    expect(protocol.state).toBe(State.CLOSED);
    expect(protocol.closeCode).toBe(1000);
    expect(protocol.closeReason).toBe('bye');
    expect(protocol.closeError?.ok).toBe(true);
  });

  test('the peer closes without a code: echoed empty, closeCode 1005', () => {
    const protocol = make(side);
    receive(protocol, [wire(side, '88 00')]);
    expect(framesSent(protocol)[0]).toEqual(frame(Opcode.CLOSE, new Uint8Array(0)));
    protocol.receiveEof();
    expect(protocol.closeCode).toBe(CloseCode.NO_STATUS_RCVD);
  });

  test('a close in the middle of a fragmented message abandons the message', () => {
    const protocol = make(side);
    expect(receive(protocol, [wire(side, '01 01 48'), wire(side, '88 02 03e9')])).toHaveLength(2);
    expect(protocol.parserError).toBeNull();
    expect(protocol.state).toBe(State.CLOSING);
  });

  test('we close first: the peer echoes, then EOF', () => {
    const protocol = make(side);
    protocol.sendClose(1001, 'going');
    assertConnectionClosing(protocol, 1001, 'going');
    expect(protocol.state).toBe(State.CLOSING);
    expect(receive(protocol, [wire(side, '88 02 03e9')])).toHaveLength(1);
    expect(protocol.closeRcvdThenSent).toBe(false);
    expect(protocol.dataToSend()).toEqual(side === 'server' ? [SEND_EOF] : []);
    protocol.receiveEof();
    expect(protocol.state).toBe(State.CLOSED);
    expect(protocol.closeCode).toBe(1001);
    expect(protocol.closeError?.message).toBe('sent 1001 (going); then received 1001');
  });

  test('while closing, pings are still answered and data frames delivered', () => {
    const protocol = make(side);
    protocol.sendClose(1000);
    protocol.dataToSend();
    expect(receive(protocol, [wire(side, '81 01 41'), wire(side, '89 00')])).toHaveLength(2);
    expect(framesSent(protocol)).toEqual([frame(Opcode.PONG, new Uint8Array(0))]);
    protocol.sendPing();
    expect(framesSent(protocol)).toHaveLength(1);
  });

  test('EOF before the closing handshake: 1006, nothing sent but EOF', () => {
    const protocol = make(side);
    protocol.receiveData(wire(side, '81 05 48656c'.padEnd(11, '0')).subarray(0, 4));
    protocol.receiveEof();
    expect(protocol.parserError?.message).toBe('unexpected end of stream');
    expect(protocol.dataToSend()).toEqual([SEND_EOF]);
    expect(protocol.state).toBe(State.CLOSED);
    expect(protocol.closeCode).toBe(CloseCode.ABNORMAL_CLOSURE);
    expect(protocol.closeReason).toBe('');
    expect(protocol.closeError?.ok).toBe(false);
    expect(protocol.closeExpected()).toBe(false);
  });

  test('EOF at a frame boundary is abnormal too', () => {
    const protocol = make(side);
    receive(protocol, [wire(side, '81 00')]);
    protocol.receiveEof();
    expect(protocol.closeCode).toBe(CloseCode.ABNORMAL_CLOSURE);
    protocol.receiveEof(); // idempotent
    expect(() => protocol.receiveData(hex('00'))).toThrow(InvalidStateError);
  });
});

describe.each(['client', 'server'] as const)('%s with holdErrorsBehindMessages', (side) => {
  const bytes = (...parts: string[]) => Uint8Array.from(parts.flatMap((part) => [...wire(side, part)]));
  // "one", then "two" in two fragments, then a reserved opcode.
  const input = bytes('81 03 6f6e65', '01 02 7477', '80 01 6f', '83 00');

  for (const [name, chunks] of splits(input)) {
    test(`a violation after messages waits until they are handled (${name})`, () => {
      const protocol = make(side, { holdErrorsBehindMessages: true });
      const events = receive(protocol, chunks);
      expect(events.map((event) => event.opcode)).toEqual([Opcode.TEXT, Opcode.TEXT, Opcode.CONT]);
      // Held: still open, nothing sent, the application may answer.
      expect(protocol.holdingError).toBe(true);
      expect(protocol.state).toBe(State.OPEN);
      expect(protocol.parserError).toBeNull();
      expect(protocol.dataToSend()).toEqual([]);
      protocol.sendText(utf8('re: two'));
      expect(framesSent(protocol)).toEqual([frame(Opcode.TEXT, utf8('re: two'))]);
      protocol.messagesHandled();
      expect(protocol.holdingError).toBe(false);
      expect(protocol.parserError).toBeInstanceOf(ProtocolError);
      assertConnectionFailing(protocol, CloseCode.PROTOCOL_ERROR);
    });
  }

  test('messages handled before the violation arrives: it fails at once', () => {
    const protocol = make(side, { holdErrorsBehindMessages: true });
    protocol.receiveData(bytes('81 03 6f6e65'));
    protocol.eventsReceived();
    protocol.messagesHandled();
    protocol.receiveData(bytes('83 00'));
    expect(protocol.holdingError).toBe(false);
    assertConnectionFailing(protocol, CloseCode.PROTOCOL_ERROR);
  });

  test('a violation with no message before it, or in the middle of a message, fails at once', () => {
    for (const violation of [bytes('83 00'), bytes('01 02 7477', 'c1 01 6f')]) {
      const protocol = make(side, { holdErrorsBehindMessages: true });
      protocol.receiveData(violation);
      protocol.eventsReceived();
      expect(protocol.holdingError).toBe(false);
      assertConnectionFailing(protocol, CloseCode.PROTOCOL_ERROR);
    }
  });

  test('invalid UTF-8 found early in an incomplete frame is held too', () => {
    const protocol = make(side, { holdErrorsBehindMessages: true });
    protocol.receiveData(bytes('81 03 6f6e65'));
    // A 10-byte text frame whose first chop is already invalid.
    protocol.receiveData(bytes('81 0a c328').subarray(0, side === 'client' ? 4 : 8));
    expect(protocol.holdingError).toBe(true);
    protocol.eventsReceived();
    protocol.messagesHandled();
    assertConnectionFailing(protocol, CloseCode.INVALID_DATA);
  });

  test('input behind a held error is discarded; EOF waits, then closes after the failure', () => {
    const protocol = make(side, { holdErrorsBehindMessages: true });
    protocol.receiveData(bytes('81 03 6f6e65', '83 00'));
    protocol.receiveData(bytes('81 03 6f6e65'));
    expect(protocol.eventsReceived()).toHaveLength(1);
    protocol.receiveEof();
    expect(protocol.state).toBe(State.OPEN);
    expect(protocol.dataToSend()).toEqual([]);
    protocol.messagesHandled();
    expect(protocol.eventsReceived()).toEqual([]);
    const sent = framesSent(protocol);
    expect(sent[0]).toEqual(frame(Opcode.CLOSE, Uint8Array.of(0x03, 0xea, ...utf8('invalid opcode: 0x3'))));
    expect(sent.slice(1)).toEqual([SEND_EOF]);
    expect(protocol.state).toBe(State.CLOSED);
    expect(protocol.parserError).toBeInstanceOf(ProtocolError);
  });

  test('without the option, a violation after a message fails at once', () => {
    const protocol = make(side);
    protocol.receiveData(bytes('81 03 6f6e65', '83 00'));
    expect(protocol.holdingError).toBe(false);
    expect(protocol.eventsReceived()).toHaveLength(1);
    expect(framesSent(protocol)[0]).toMatchObject({ opcode: Opcode.CLOSE });
  });
});

describe('sending', () => {
  test('client masks text with a fresh key per frame, without mutating the payload', () => {
    let counter = 0;
    const protocol = new Protocol('client', { random: (b) => b.fill(++counter) });
    const payload = utf8('Hi');
    protocol.sendText(payload);
    protocol.sendText(payload);
    expect(protocol.dataToSend()).toEqual([hex('81 82 01010101 4968'), hex('81 82 02020202 4a6b')]);
    expect(payload).toEqual(utf8('Hi'));
  });

  test('server sends unmasked frames; large payloads as header + payload without copying', () => {
    const protocol = server();
    protocol.sendBinary(hex('0102'));
    const big = new Uint8Array(70000);
    protocol.sendBinary(big);
    const [small, header, payload] = protocol.dataToSend();
    expect(small).toEqual(hex('82 02 0102'));
    expect(header).toEqual(hex('82 7f 0000000000011170'));
    expect(payload).toBe(big);
  });

  test('fragmentation rules are enforced on send', () => {
    const protocol = server();
    expect(() => protocol.sendContinuation(hex('00'), true)).toThrow(
      new ProtocolError('unexpected continuation frame'),
    );
    protocol.sendText(utf8('a'), false);
    expect(() => protocol.sendText(utf8('b'))).toThrow(new ProtocolError('expected a continuation frame'));
    expect(() => protocol.sendBinary(utf8('b'))).toThrow(new ProtocolError('expected a continuation frame'));
    protocol.sendPing(utf8('x')); // control frames may interleave
    protocol.sendContinuation(utf8('b'), false);
    protocol.sendContinuation(utf8('c'), true);
    protocol.sendBinary(hex('ff'));
    expect(framesSent(protocol)).toEqual([
      frame(Opcode.TEXT, utf8('a'), false),
      frame(Opcode.PING, utf8('x')),
      frame(Opcode.CONT, utf8('b'), false),
      frame(Opcode.CONT, utf8('c')),
      frame(Opcode.BINARY, hex('ff')),
    ]);
  });

  test('control frames over 125 bytes are refused', () => {
    const protocol = server();
    expect(() => protocol.sendPing(new Uint8Array(126))).toThrow(new ProtocolError('control frame too long'));
    expect(() => protocol.sendPong(new Uint8Array(126))).toThrow(ProtocolError);
    protocol.sendPing(new Uint8Array(125));
  });

  test('sendClose validates its arguments', () => {
    const protocol = server();
    expect(() => protocol.sendClose(undefined, 'reason')).toThrow(
      new ProtocolError('cannot send a reason without a code'),
    );
    expect(() => protocol.sendClose(1006)).toThrow(ProtocolError);
    expect(() => protocol.sendClose(1000, 'x'.repeat(124))).toThrow(ProtocolError);
    protocol.sendClose();
    expect(protocol.dataToSend()).toEqual([hex('88 00')]);
    expect(protocol.closeSent).toEqual({ code: 1005, reason: '' });
  });

  test('nothing can be sent once closing, except pings before the peer closed', () => {
    const protocol = server();
    protocol.sendClose(1000);
    expect(() => protocol.sendText(utf8('x'))).toThrow(new InvalidStateError('connection is closing'));
    expect(() => protocol.sendClose(1000)).toThrow(InvalidStateError);
    protocol.sendPong();
    protocol.receiveData(wire('server', '88 00'));
    expect(() => protocol.sendPing()).toThrow(InvalidStateError);
  });

  test('sending while connecting is refused', () => {
    const protocol = new Protocol('client', { state: State.CONNECTING });
    expect(() => protocol.sendText(utf8('x'))).toThrow(new InvalidStateError('connection is connecting'));
  });

  test('fail() sends a close frame once, truncating the reason on a code point', () => {
    const protocol = client();
    protocol.fail(CloseCode.INTERNAL_ERROR, `${'x'.repeat(121)}😀`);
    expect(protocol.state).toBe(State.CLOSING);
    assertConnectionFailing(protocol, CloseCode.INTERNAL_ERROR, 'x'.repeat(121));
    protocol.fail(CloseCode.PROTOCOL_ERROR);
    expect(protocol.dataToSend()).toEqual([]);
  });

  test('fail(1006) sends no close frame; a server still half-closes', () => {
    const c = client();
    c.fail(CloseCode.ABNORMAL_CLOSURE);
    expect(c.dataToSend()).toEqual([]);
    expect(c.closeExpected()).toBe(true);
    const s = server();
    s.fail(CloseCode.ABNORMAL_CLOSURE);
    expect(s.dataToSend()).toEqual([SEND_EOF]);
  });

  test('invalid limits are refused at construction', () => {
    expect(() => new Protocol('client', { maxMessageSize: -1 })).toThrow(RangeError);
    expect(() => new Protocol('client', { maxFragmentSize: 1.5 })).toThrow(RangeError);
  });

  test('an unexpected error in an extension fails with 1011 without details', () => {
    class Broken extends Protocol {
      constructor() {
        super('client', { random: ZERO_MASK });
        const extension: Extension = {
          name: 'broken',
          decode() {
            throw new TypeError('secret internal detail');
          },
          encode: (f) => f,
        };
        (this as unknown as { openConnection(e: Extension[]): void }).openConnection([extension]);
      }
    }
    const protocol = new Broken();
    protocol.receiveData(hex('81 00'));
    expect(protocol.parserError?.message).toBe('secret internal detail');
    const [close] = framesSent(protocol);
    expect(close).toEqual(frame(Opcode.CLOSE, hex('03f3')));
  });
});
