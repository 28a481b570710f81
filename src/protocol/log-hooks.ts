/**
 * What the core calls to log, and nothing that formats: the interface of a
 * prepared log (`ProtocolLog`, made by `createProtocolLog()` in logging.ts)
 * and the mark that tells one from a plain `Logger`.
 *
 * The core and the connection driver import only this module: they hold a
 * `ProtocolLog` or `undefined` and call it as `log?.frame('>', frame)`. The
 * formatting code and the message strings live in logging.ts, which only
 * the public classes and the entry points' option transforms reference, so
 * a bundle that never creates a log (`polysocket/lite`) leaves them out.
 */
import type { Frame } from './frames.js';
import type { Request, Response } from './http11.js';
import type { State } from './protocol.js';

/**
 * Where debug lines go. Structural, and a subset of `console`, so
 * `logger: console` works; so does a `pino` or `winston` logger, or
 * `{ debug: (line) => lines.push(line) }`. Failures go to `warn` and
 * internal errors to `error` when the logger has them, else to `debug`.
 * A logger that throws is ignored: logging never breaks a connection.
 */
export interface Logger {
  debug(message: string): void;
  warn?(message: string): void;
  error?(message: string): void;
}

/** `>` sent, `<` received. */
export type Direction = '>' | '<';

/**
 * Marks a prepared log, and says which: `protocol` (the core's events) or
 * `connection` (also the driver's). `Symbol.for`, so that two copies of
 * the library in one app agree.
 */
export const LOG: unique symbol = Symbol.for('polysocket.log') as never;

/**
 * The core's events, formatted and written by the implementation
 * (logging.ts). Also a `Logger` (writing lines as they are), so that it
 * travels in the `logger` option once prepared.
 */
export interface ProtocolLog extends Logger {
  readonly [LOG]: 'protocol' | 'connection';
  state(state: State): void;
  frame(direction: Direction, frame: Frame): void;
  head(direction: Direction, head: Request | Response): void;
  eof(direction: Direction): void;
  failing(code: number, reason: string): void;
  /** The opening handshake failed. */
  handshakeError(error: unknown): void;
  /** A bug surfaced (at the `error` level): not a peer's error. */
  internalError(error: unknown): void;
}

/**
 * The prepared log in `logger`, if it is one (the public classes and the
 * entry points turn a `Logger` into one); `undefined` otherwise.
 */
export function preparedLog(logger: Logger | null | undefined): ProtocolLog | undefined {
  return logger != null && LOG in logger ? (logger as ProtocolLog) : undefined;
}
