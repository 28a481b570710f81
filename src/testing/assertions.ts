/** Assertion helpers named after RFC 6455 processes. */
import { expect } from 'vitest';
import { ByteQueue } from '../protocol/byte-queue.js';
import { serializeClose } from '../protocol/close.js';
import { type Frame, frame, Opcode, parseFrame } from '../protocol/frames.js';
import { type Protocol, SEND_EOF } from '../protocol/protocol.js';

/** Parse what `protocol` wants to write into frames, so tests compare frames, not bytes. */
export function framesSent(protocol: Protocol<unknown>): Array<Frame | typeof SEND_EOF> {
  const out: Array<Frame | typeof SEND_EOF> = [];
  const queue = new ByteQueue();
  for (const chunk of protocol.dataToSend()) {
    if (chunk === SEND_EOF) {
      out.push(SEND_EOF);
      continue;
    }
    queue.push(chunk.slice());
    for (;;) {
      const parsed = parseFrame(queue, { mask: protocol.side === 'client', maxSize: null });
      if (parsed === null) break;
      out.push({ ...parsed, data: parsed.data.slice() });
    }
  }
  expect(queue.length, 'writes hold whole frames').toBe(0);
  return out;
}

/** Incoming data caused "_Fail the WebSocket Connection_" (RFC 6455, 7.1.7) with a close frame. */
export function assertConnectionFailing(protocol: Protocol<unknown>, code: number, reason?: string): void {
  expect(protocol.eventsReceived(), 'no event is delivered').toEqual([]);
  const sent = framesSent(protocol);
  const close = sent[0];
  expect(close).not.toBe(SEND_EOF);
  const closeFrame = close as Frame;
  expect(closeFrame.opcode).toBe(Opcode.CLOSE);
  expect((closeFrame.data[0]! << 8) | closeFrame.data[1]!).toBe(code);
  if (reason !== undefined) expect(closeFrame).toEqual(frame(Opcode.CLOSE, serializeClose({ code, reason })));
  // A server closes the TCP connection first (7.1.1).
  expect(sent.slice(1)).toEqual(protocol.side === 'server' ? [SEND_EOF] : []);
}

/** The connection is closing after sending `code`; the peer's close or EOF is expected. */
export function assertConnectionClosing(protocol: Protocol<unknown>, code: number, reason = ''): void {
  const sent = framesSent(protocol);
  expect(sent[0]).toEqual(frame(Opcode.CLOSE, serializeClose({ code, reason })));
  expect(protocol.closeExpected()).toBe(true);
}
