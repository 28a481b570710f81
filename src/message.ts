/**
 * From frames to the `data` of a `MessageEvent`.
 *
 * Theory of operation
 * -------------------
 * The core has validated everything by the time a data frame reaches this
 * module: fragments come in order, text is valid UTF-8, sizes are within
 * `maxMessageSize`. `MessageAssembler` only collects fragments and
 * concatenates them once, when the final one arrives. The payload is turned
 * into a `string`, `Blob` or `ArrayBuffer` by `messageData()` when the event
 * is dispatched, because the WHATWG algorithm reads `binaryType` in the task
 * that fires the event, not when the bytes arrive.
 *
 * Event timing: `websocket.ts` dispatches every message event in a task of
 * its own (see `scheduleTask()`), so microtasks queued by one `onmessage`
 * handler run before the next message event, as in browsers.
 */
import { type Frame, Opcode } from './protocol/frames.js';

/** What `binaryType` may be: how binary messages are delivered. (Declared here, not taken from lib.dom, so that Node projects without the DOM lib can use these types.) */
export type BinaryType = 'blob' | 'arraybuffer';

/** A complete message: its type and its payload, owned by the receiver. */
export interface Message {
  readonly type: 'text' | 'binary';
  readonly data: Uint8Array;
}

/** Fragments at least this large are kept as they are; smaller ones are packed into blocks. */
const PACK_LIMIT = 1024;
const BLOCK_SIZE = 16 * 1024;

/**
 * Collects the frames of one message at a time.
 *
 * Memory stays proportional to the bytes of the message, not to its number
 * of fragments: small fragments are copied into shared blocks rather than
 * kept as one array each (a peer sending a message as a million 1-byte
 * fragments would otherwise cost ~100 bytes of memory per byte; empty ones
 * cost nothing).
 */
export class MessageAssembler {
  #type: Message['type'] | null = null;
  #fragments: Uint8Array[] = [];
  #size = 0;
  /** Block that small fragments are packed into, and how much of it is used. */
  #block: Uint8Array | null = null;
  #blockUsed = 0;

  /**
   * Add a data frame; returns the message when `frame` completes it.
   * Control frames are ignored (the caller handles them).
   */
  push(frame: Frame): Message | null {
    switch (frame.opcode) {
      case Opcode.TEXT:
      case Opcode.BINARY:
        this.reset();
        this.#type = frame.opcode === Opcode.TEXT ? 'text' : 'binary';
        break;
      case Opcode.CONT:
        if (this.#type === null) return null; // the core never lets this happen
        break;
      default:
        return null;
    }
    if (frame.fin && this.#size === 0) {
      const message = { type: this.#type, data: frame.data };
      this.reset();
      return message;
    }
    this.#append(frame.data);
    if (!frame.fin) return null;
    this.#seal();
    const data = new Uint8Array(this.#size);
    let offset = 0;
    for (const fragment of this.#fragments) {
      data.set(fragment, offset);
      offset += fragment.byteLength;
    }
    const message = { type: this.#type, data };
    this.reset();
    return message;
  }

  /** Drop the message being collected, if any. */
  reset(): void {
    this.#type = null;
    // Not a new array per message: most messages have no fragments.
    if (this.#fragments.length > 0) this.#fragments = [];
    this.#size = 0;
    this.#block = null;
    this.#blockUsed = 0;
  }

  #append(data: Uint8Array): void {
    const length = data.byteLength;
    if (length === 0) return;
    this.#size += length;
    if (length >= PACK_LIMIT) {
      this.#seal();
      this.#fragments.push(data);
      return;
    }
    if (this.#block === null || this.#blockUsed + length > this.#block.byteLength) {
      this.#seal();
      this.#block = new Uint8Array(BLOCK_SIZE);
    }
    this.#block.set(data, this.#blockUsed);
    this.#blockUsed += length;
  }

  /** Move the packed bytes into the fragment list; a mostly empty block is copied to fit. */
  #seal(): void {
    const block = this.#block;
    if (block === null) return;
    const used = this.#blockUsed;
    if (used > 0)
      this.#fragments.push(used < block.byteLength / 2 ? block.slice(0, used) : block.subarray(0, used));
    this.#block = null;
    this.#blockUsed = 0;
  }
}

let decoder: TextDecoder | undefined;

/**
 * The `data` of the message event for `message` under `binaryType`.
 *
 * https://websockets.spec.whatwg.org/#feedback-from-the-protocol: "If type
 * indicates that the data is Text, then initialize event's data attribute to
 * the result of running UTF-8 decode on data." (UTF-8 decode strips a leading
 * BOM.) For binary data, "If binaryType is "blob", then initialize event's
 * data attribute to a new Blob object ... If binaryType is "arraybuffer",
 * then initialize event's data attribute to a new ArrayBuffer object".
 */
export function messageData(message: Message, binaryType: BinaryType): string | Blob | ArrayBuffer {
  if (message.type === 'text') {
    decoder ??= new TextDecoder('utf-8');
    return decoder.decode(message.data);
  }
  return binaryType === 'blob' ? new Blob([toArrayBuffer(message.data)]) : toArrayBuffer(message.data);
}

/** An `ArrayBuffer` holding exactly `bytes`: the backing buffer itself when it fits, else a copy. */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const buffer = bytes.buffer;
  if (buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength) {
    return buffer;
  }
  // Not bytes.slice(): on a Node.js Buffer (a Uint8Array subclass), slice()
  // is a view of the whole, possibly pooled, ArrayBuffer.
  return new Uint8Array(bytes).buffer;
}
