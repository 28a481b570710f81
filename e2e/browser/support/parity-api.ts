/**
 * The parity page (pages/parity.ts): its scenarios and what it puts on
 * `window`, typed for parity.spec.ts. No DOM code here: the spec imports the
 * scenario names to declare one test each.
 */

/** The scenarios, in the order the spec runs them. */
export const PARITY_SCENARIOS = [
  'interface: constants, prototype members and their descriptors',
  'constructor: invalid URLs and protocols throw, valid ones set url',
  'echo: text (UTF-8, empty, lone surrogates, coerced values)',
  "echo: binary with binaryType 'arraybuffer' (ArrayBuffer, typed arrays, views, Blob)",
  "echo: binary with binaryType 'blob' (the default)",
  'binaryType: invalid values are ignored; switching between messages',
  'messages from the server: text, binary, empty, fragmented, compressed, after a ping',
  'a burst of 200 messages arrives in order',
  'large messages: 4 MiB binary, 4 MiB text, 1 MiB Blob, 1 MiB view; binaryType arraybuffer and blob',
  'close from the client: no code, 1000, 3000, 4999 with a 123-byte reason, a reason alone, clamped codes',
  'close from the server: 1000, 1001, 1011, 3000, 4999 with a 123-byte reason, no code, after a message',
  'close() while connecting',
  'invalid close() and send() arguments',
  'send() while connecting throws InvalidStateError',
  'send() after close() only grows bufferedAmount',
  'a message arriving after close() was called',
  'handshake rejected with 403',
  'handshake with a wrong Sec-WebSocket-Accept',
  'the server vanishes: TCP FIN without a close frame',
  'the server vanishes: TCP RST',
  'the server vanishes in the middle of a frame',
  'the server vanishes in the middle of a fragmented message',
  'invalid UTF-8 in a text message from the server',
  'a protocol violation from a server that keeps TCP open: error and close 1006 without waiting',
  'subprotocols: the server selects one of those offered',
  'subprotocols: the server selects none of those offered',
  'subprotocols: the server selects one that was not offered',
  'subprotocols: the server sends one though none was offered',
  'event handler attributes and listeners',
  'documented differences: where Chromium departs from WebIDL and WPT',
] as const;

/** One scenario. */
export type ParityScenario = (typeof PARITY_SCENARIOS)[number];

/** Which `WebSocket` a run uses. */
export type ParityImpl = 'native' | 'polysocket';

/** Where the servers are. */
export interface ParityConfig {
  /** The parity server: `ws://127.0.0.1:<port>` (no trailing slash). */
  readonly server: string;
  /** The WebTransport gateway polysocket goes through. */
  readonly gateway: string;
  readonly certificateHash: string;
  /** Longest wait for any one event. */
  readonly timeoutMs: number;
}

/** A thrown exception: which call, and its name and message. */
export interface ParityException {
  readonly label: string;
  readonly call: string;
  readonly name: string;
  readonly message: string;
}

/** What a run recorded. */
export interface ParityTrace {
  /** One line per constructor call, method call, event and wait, grouped by socket in creation order. */
  readonly lines: string[];
  /** Every exception thrown by a constructor or method (the lines have only the name). */
  readonly exceptions: ParityException[];
}

/** `window.parity`. */
export interface ParityApi {
  run(scenario: ParityScenario, impl: ParityImpl, config: ParityConfig): Promise<ParityTrace>;
}

declare global {
  interface Window {
    parity: ParityApi;
    parityReady: boolean;
  }
}
