/**
 * The inbox: bytes from the transport on their way to the protocol, and
 * messages on their way to the application.
 *
 * Parsing is paced by delivery. While FEED_PENDING_LIMIT messages or more
 * wait to be delivered, new chunks wait here unparsed: a socket read hands
 * over up to a few MiB at once, thousands of small messages, and parsing them
 * all ahead would keep thousands of frames, messages and tasks alive at once
 * (costly to the garbage collector: half the time of a receive loop of small
 * messages went there). They are parsed once fewer messages wait, so about
 * FEED_PENDING_LIMIT plus one chunk's worth of messages are queued at most.
 * Parsing later than the bytes arrive is what a slower network would do;
 * nothing reorders. Large messages never wait behind the pacing.
 *
 * Read flow control: the transport is paused while more than
 * READ_PAUSE_BYTES received bytes wait (unparsed, or in messages not yet
 * delivered), so that its own backpressure slows the peer, and resumed below
 * half of it.
 */
import type { Message } from '../message.js';
import type { Transport } from '../transports/transport.js';

/**
 * Most bytes given to the protocol at once while parsing is paced by
 * delivery: what one socket read returns on Node. It bounds how many
 * messages wait at any time.
 */
const FEED_LIMIT = 64 * 1024;
/** Chunks are parsed as they arrive while fewer messages than this wait to be delivered. */
const FEED_PENDING_LIMIT = 256;
/**
 * Reading pauses while more than this many bytes of received messages wait
 * to be delivered (and resumes below half of it): a fast peer cannot make us
 * hold more than about this much on top of the message being received.
 */
const READ_PAUSE_BYTES = 4 * 2 ** 20;

export class Inbox {
  readonly #transport: Transport;
  /** Give a chunk to the protocol (and run the driver steps). */
  readonly #receive: (chunk: Uint8Array) => void;
  /** The transport's end, once every chunk before it was parsed. */
  readonly #end: () => void;
  /** Every message handed to the front end so far was delivered (before more is parsed). */
  readonly #allDelivered: () => void;
  /** Reading pauses above this many bytes waiting, and resumes at half of it. */
  readonly #pauseBytes: number;
  /** Transport chunks not given to the protocol yet, in order. */
  #input: Uint8Array[] = [];
  /** Bytes received and not delivered yet: chunks in `#input` and messages waiting. */
  #undelivered = 0;
  /** Messages handed to the front end and not delivered yet. */
  #pending = 0;
  #paused = false;
  /** The transport's end arrived behind chunks still in `#input`: handled once they are. */
  #endPending = false;
  /** The transport's end was handled: no more input. */
  #ended = false;
  /** The transport closed. */
  #closed = false;

  constructor(
    transport: Transport,
    receive: (chunk: Uint8Array) => void,
    end: () => void,
    allDelivered: () => void = () => {},
    pauseBytes = READ_PAUSE_BYTES,
  ) {
    this.#transport = transport;
    this.#receive = receive;
    this.#end = end;
    this.#allDelivered = allDelivered;
    this.#pauseBytes = pauseBytes;
  }

  /** No chunk waits to be parsed and the input is open: the next bytes go to the protocol at once. */
  get idle(): boolean {
    return this.#input.length === 0 && !this.#ended && !this.#endPending && !this.#closed;
  }

  /** Bytes from the transport. */
  data(chunk: Uint8Array): void {
    if (this.#ended || this.#endPending) return;
    this.#input.push(chunk);
    this.#undelivered += chunk.byteLength;
    if (this.#pending < FEED_PENDING_LIMIT && this.#input.length === 1) this.#feed();
    else this.#updateFlow();
  }

  /** The transport's end: handled now, or once the chunks before it are parsed. */
  end(): void {
    if (this.#ended) return;
    if (this.#input.length > 0) {
      this.#endPending = true;
      return;
    }
    this.#ended = true;
    this.#end();
  }

  /** A message was handed to the front end. */
  queued(message: Message): void {
    this.#undelivered += message.data.byteLength;
    this.#pending++;
    this.#updateFlow();
  }

  /** A message handed to the front end was delivered (or dropped): parse what waits. */
  delivered(message: Message): void {
    this.#pending--;
    this.#undelivered -= message.data.byteLength;
    if (this.#pending === 0) this.#allDelivered();
    if (this.#pending < FEED_PENDING_LIMIT && !this.#closed) this.#feed();
    else this.#updateFlow();
  }

  /**
   * The transport closed: parse what arrived before it, without pacing
   * (the messages still reach the front end, in order).
   */
  close(): void {
    this.#closed = true;
    this.#endPending = false;
    for (const chunk of this.#input.splice(0)) {
      this.#undelivered -= chunk.byteLength;
      this.#receive(chunk);
    }
  }

  /**
   * Parse the chunks waiting while fewer than FEED_PENDING_LIMIT messages
   * wait, FEED_LIMIT bytes at a time (a transport may hand over larger
   * chunks than a socket read); then handle a pending end.
   */
  #feed(): void {
    const input = this.#input;
    while (this.#pending < FEED_PENDING_LIMIT && input.length > 0) {
      let chunk = input[0]!;
      if (chunk.byteLength > FEED_LIMIT) {
        input[0] = chunk.subarray(FEED_LIMIT);
        chunk = chunk.subarray(0, FEED_LIMIT);
      } else {
        input.shift();
      }
      this.#undelivered -= chunk.byteLength;
      this.#receive(chunk);
    }
    this.#updateFlow();
    if (input.length === 0 && this.#endPending) {
      this.#endPending = false;
      this.end();
    }
  }

  /** Pause the transport above the pause threshold waiting, resume below half of it. */
  #updateFlow(): void {
    if (this.#closed) return;
    if (!this.#paused && this.#undelivered > this.#pauseBytes) {
      this.#paused = true;
      this.#transport.pause();
    } else if (this.#paused && this.#undelivered <= this.#pauseBytes / 2) {
      this.#paused = false;
      this.#transport.resume();
    }
  }
}
