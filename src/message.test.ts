import { describe, expect, test } from 'vitest';
import { MessageAssembler, messageData, toArrayBuffer } from './message.js';
import { frame, Opcode } from './protocol/frames.js';
import { concat, utf8 } from './testing/chunking.js';

/** `length` bytes counting up from `start`, modulo 256. */
function bytes(length: number, start = 0): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);
}

/** Push `fragments` as one message (first frame `opcode`, then continuations); the result of the last push. */
function assemble(assembler: MessageAssembler, opcode: Opcode, fragments: readonly Uint8Array[]) {
  const results = fragments.map((data, i) =>
    assembler.push(frame(i === 0 ? opcode : Opcode.CONT, data, i === fragments.length - 1)),
  );
  expect(results.slice(0, -1)).toEqual(results.slice(0, -1).map(() => null));
  return results.at(-1);
}

describe('MessageAssembler', () => {
  test('an unfragmented message is the frame payload itself, not a copy', () => {
    const assembler = new MessageAssembler();
    const text = utf8('Hello');
    const binary = bytes(3);
    const message = assembler.push(frame(Opcode.TEXT, text));
    expect(message).toEqual({ type: 'text', data: text });
    expect(message?.data).toBe(text);
    expect(assembler.push(frame(Opcode.BINARY, binary))?.data).toBe(binary);
  });

  test('an empty message', () => {
    const assembler = new MessageAssembler();
    expect(assembler.push(frame(Opcode.BINARY, new Uint8Array(0)))).toEqual({
      type: 'binary',
      data: new Uint8Array(0),
    });
  });

  test('fragments are joined in order, and the type is the first frame’s', () => {
    const assembler = new MessageAssembler();
    const message = assemble(assembler, Opcode.TEXT, [utf8('Hel'), utf8('l'), utf8('o')]);
    expect(message).toEqual({ type: 'text', data: utf8('Hello') });
    const binary = assemble(assembler, Opcode.BINARY, [bytes(2), bytes(3, 2)]);
    expect(binary).toEqual({ type: 'binary', data: bytes(5) });
  });

  test('empty fragments add nothing, wherever they are', () => {
    const assembler = new MessageAssembler();
    const empty = new Uint8Array(0);
    expect(assemble(assembler, Opcode.TEXT, [empty, utf8('ab'), empty, utf8('c'), empty])).toEqual({
      type: 'text',
      data: utf8('abc'),
    });
    expect(assemble(assembler, Opcode.BINARY, [empty, empty, empty])).toEqual({
      type: 'binary',
      data: empty,
    });
  });

  test('fragments below 1 KiB are packed (copied when pushed); larger ones are kept until the end', () => {
    const assembler = new MessageAssembler();
    const small = bytes(1023);
    const large = bytes(1024, 7);
    const expected = concat([small, large]);
    expect(assembler.push(frame(Opcode.BINARY, small, false))).toBeNull();
    expect(assembler.push(frame(Opcode.CONT, large, false))).toBeNull();
    // The assembler owns the fragments: changing them now shows what it kept.
    small.fill(0xee);
    const message = assembler.push(frame(Opcode.CONT, new Uint8Array(0), true));
    expect(message?.data).toEqual(expected);

    expect(assembler.push(frame(Opcode.BINARY, small, false))).toBeNull();
    expect(assembler.push(frame(Opcode.CONT, large, false))).toBeNull();
    large.fill(0xdd);
    expect(assembler.push(frame(Opcode.CONT, new Uint8Array(0), true))?.data).toEqual(
      concat([small, new Uint8Array(1024).fill(0xdd)]),
    );
  });

  test('many small fragments fill several blocks, interleaved with large ones, in order', () => {
    const assembler = new MessageAssembler();
    // 1-byte fragments, 1000-byte ones (16 of them overflow a 16 KiB block)
    // and 4 KiB ones, so that blocks are sealed full, part full and empty.
    const fragments: Uint8Array[] = [];
    let start = 0;
    for (const size of [1, 1, 1000, 1000, 4096, 1, ...Array<number>(40).fill(1000), 4096, 3, 1]) {
      fragments.push(bytes(size, start));
      start += size;
    }
    const expected = concat(fragments);
    const message = assemble(
      assembler,
      Opcode.BINARY,
      fragments.map((fragment) => fragment.slice()),
    );
    // Compared with Buffer.compare: toEqual is slow on tens of KiB of elements.
    expect(Buffer.compare(message?.data ?? new Uint8Array(0), expected)).toBe(0);
  });

  test('a million 1-byte fragments', () => {
    const assembler = new MessageAssembler();
    const one = new Uint8Array([0x61]);
    expect(assembler.push(frame(Opcode.TEXT, one, false))).toBeNull();
    for (let i = 1; i < 999_999; i++) assembler.push(frame(Opcode.CONT, one, false));
    const message = assembler.push(frame(Opcode.CONT, one, true));
    expect(message?.data.byteLength).toBe(1_000_000);
    expect(message?.data.every((byte) => byte === 0x61)).toBe(true);
  });

  test('control frames are ignored, also between the fragments of a message', () => {
    const assembler = new MessageAssembler();
    for (const opcode of [Opcode.PING, Opcode.PONG, Opcode.CLOSE]) {
      expect(assembler.push(frame(opcode, utf8('x')))).toBeNull();
    }
    expect(assembler.push(frame(Opcode.TEXT, utf8('He'), false))).toBeNull();
    expect(assembler.push(frame(Opcode.PING, utf8('ping')))).toBeNull();
    expect(assembler.push(frame(Opcode.PONG, utf8('pong')))).toBeNull();
    expect(assembler.push(frame(Opcode.CONT, utf8('llo'), true))).toEqual({
      type: 'text',
      data: utf8('Hello'),
    });
  });

  test('a continuation without a start is ignored, and starts nothing', () => {
    const assembler = new MessageAssembler();
    expect(assembler.push(frame(Opcode.CONT, utf8('a'), false))).toBeNull();
    expect(assembler.push(frame(Opcode.CONT, utf8('b'), true))).toBeNull();
    expect(assembler.push(frame(Opcode.TEXT, utf8('c')))).toEqual({ type: 'text', data: utf8('c') });
    // A completed message ends it too.
    expect(assembler.push(frame(Opcode.CONT, utf8('d'), true))).toBeNull();
  });

  test('reset() drops the message being collected', () => {
    const assembler = new MessageAssembler();
    expect(assembler.push(frame(Opcode.TEXT, utf8('dropped'), false))).toBeNull();
    expect(assembler.push(frame(Opcode.CONT, bytes(2000), false))).toBeNull();
    assembler.reset();
    expect(assembler.push(frame(Opcode.CONT, utf8('!'), true))).toBeNull();
    expect(assemble(assembler, Opcode.BINARY, [bytes(1), bytes(1, 1)])).toEqual({
      type: 'binary',
      data: bytes(2),
    });
    assembler.reset(); // nothing being collected: a no-op
    expect(assembler.push(frame(Opcode.TEXT, utf8('ok')))).toEqual({ type: 'text', data: utf8('ok') });
  });

  test('a new data frame drops an unfinished message', () => {
    const assembler = new MessageAssembler();
    expect(assembler.push(frame(Opcode.TEXT, utf8('dropped'), false))).toBeNull();
    expect(assemble(assembler, Opcode.BINARY, [bytes(2), bytes(2, 2)])).toEqual({
      type: 'binary',
      data: bytes(4),
    });
  });
});

describe('messageData', () => {
  test('text is UTF-8 decoded, whatever binaryType says', () => {
    const message = { type: 'text', data: utf8('héllo 😀') } as const;
    expect(messageData(message, 'blob')).toBe('héllo 😀');
    expect(messageData(message, 'arraybuffer')).toBe('héllo 😀');
  });

  test('text: UTF-8 decode strips one leading BOM', () => {
    const data = concat([Uint8Array.of(0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf), utf8('hi')]);
    expect(messageData({ type: 'text', data }, 'blob')).toBe('\uFEFFhi');
  });

  test('binary under "arraybuffer" is an ArrayBuffer of exactly the payload', () => {
    const data = bytes(10).subarray(2, 7);
    const result = messageData({ type: 'binary', data }, 'arraybuffer');
    expect(result).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(result as ArrayBuffer)).toEqual(bytes(5, 2));
  });

  test('binary under "blob" is a Blob of exactly the payload, without a type', async () => {
    const data = bytes(10).subarray(3);
    const result = messageData({ type: 'binary', data }, 'blob');
    expect(result).toBeInstanceOf(Blob);
    const blob = result as Blob;
    expect(blob.size).toBe(7);
    expect(blob.type).toBe('');
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes(7, 3));
  });

  test('an empty binary message', async () => {
    const data = new Uint8Array(0);
    expect((messageData({ type: 'binary', data }, 'arraybuffer') as ArrayBuffer).byteLength).toBe(0);
    expect((messageData({ type: 'binary', data }, 'blob') as Blob).size).toBe(0);
  });
});

describe('toArrayBuffer', () => {
  test('returns the backing buffer itself when the bytes fill it', () => {
    const data = bytes(8);
    expect(toArrayBuffer(data)).toBe(data.buffer);
  });

  test('copies a view that starts later or ends earlier than its buffer', () => {
    const whole = bytes(8);
    for (const view of [whole.subarray(1), whole.subarray(0, 7), whole.subarray(2, 5), whole.subarray(8)]) {
      const result = toArrayBuffer(view);
      expect(result).not.toBe(whole.buffer);
      expect(result.byteLength).toBe(view.byteLength);
      expect(new Uint8Array(result)).toEqual(view);
    }
    // A copy: later writes to the view don't show through.
    const result = toArrayBuffer(whole.subarray(1, 3));
    whole.fill(0);
    expect(new Uint8Array(result)).toEqual(Uint8Array.of(1, 2));
  });

  test('copies a Node.js Buffer from the shared pool: only its own bytes, not the pool', () => {
    const buffer = Buffer.from('pooled');
    // Small Buffer.from() allocations share one pool ArrayBuffer.
    expect(buffer.buffer.byteLength).toBeGreaterThan(buffer.byteLength);
    const result = toArrayBuffer(buffer);
    expect(result).not.toBe(buffer.buffer);
    expect(result.byteLength).toBe(6);
    expect(new Uint8Array(result)).toEqual(utf8('pooled'));
  });

  test('copies bytes backed by a SharedArrayBuffer into an ArrayBuffer', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(4));
    shared.set([1, 2, 3, 4]);
    const result = toArrayBuffer(shared);
    expect(result).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(result)).toEqual(Uint8Array.of(1, 2, 3, 4));
  });
});
