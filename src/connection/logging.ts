/**
 * The `logger` option of the `WebSocket` and `WebSocketStream`: the
 * driver's log lines (`x` the transport, `%` keepalive, `-` a timeout, `!`
 * a failure, `=` the outcome) on top of the core's. Kept out of
 * connection.ts, like compression.ts, so that `polysocket/lite`, whose
 * classes never prepare a logger, leaves the formatting out of a bundle:
 * `polysocket` and `polysocket/node` pass their options through
 * `applyLogging`.
 */
import type { WebSocketFailureKind } from '../failure.js';
import { LOG, type Logger, preparedLog } from '../protocol/log-hooks.js';
import { describeClose, ProtocolLogger, redactUrl, withCause } from '../protocol/logging.js';
import type { ConnectionLog, ConnectionOptions } from './connection.js';

/** The driver's log: the core's lines and its own (see `ConnectionLog`). */
export class ConnectionLogger extends ProtocolLogger implements ConnectionLog {
  override readonly [LOG] = 'connection' as const;

  transport(event: 'opening' | 'opened' | 'closing' | 'closed', detail?: string): void {
    const line =
      event === 'opening'
        ? `opening transport to ${redactUrl(detail ?? '')}`
        : event === 'closing'
          ? 'closing transport'
          : `transport ${event}`;
    this.write(`x ${line}${event === 'opening' || detail === undefined ? '' : `: ${detail}`}`);
  }

  keepalive(event: 'ping' | 'pong', latencyMs?: number | null): void {
    this.write(
      event === 'ping'
        ? '% sending keepalive ping'
        : `% received keepalive pong (latency ${latencyMs?.toFixed(3)} ms)`,
    );
  }

  closeTimeout(timeoutMs: number): void {
    this.write(`- timed out after ${timeoutMs} ms waiting for the transport to close (closeTimeoutMs)`);
  }

  failure(kind: WebSocketFailureKind, detail: string, cause: unknown): void {
    this.write(`! connection failed (${kind}): ${withCause(detail, cause)}`, 'warn');
  }

  outcome(code: number, reason: string, wasClean: boolean): void {
    this.write(`= closed ${describeClose({ code, reason })} [${wasClean ? 'clean' : 'not clean'}]`);
  }
}

/**
 * Turn `options.logger` into the driver's log (`null` and `undefined` stay:
 * no logging), as the entry points that bundle the formatting do.
 *
 * @throws TypeError if `logger` has no `debug` method.
 */
export function applyLogging<O extends ConnectionOptions>(options: O): O {
  const logger: Logger | null | undefined = options.logger;
  if (logger === undefined || logger === null || preparedLog(logger)?.[LOG] === 'connection') return options;
  return { ...options, logger: new ConnectionLogger(logger) };
}
