/**
 * The public `Protocol` (`polysocket/protocol`): the core's class, whose
 * constructor also takes any `logger` (the core's takes only a prepared
 * one, see log-hooks.ts). A subclass for the reason `ClientProtocol` is one:
 * the WHATWG bundles build on the core's class and leave the formatting out.
 */
import { withProtocolLog } from './logging.js';
import { Protocol as CoreProtocol, type ProtocolOptions, type Side } from './protocol.js';

/**
 * Sans-I/O implementation of a WebSocket connection: see the core's class
 * (protocol.ts) for its theory of operation.
 *
 * @typeParam HandshakeEvent - `Response` for clients, `Request` for servers.
 */
export class Protocol<HandshakeEvent = never> extends CoreProtocol<HandshakeEvent> {
  /**
   * @throws RangeError if a limit is not a non-negative integer or `null`.
   * @throws TypeError if `logger` has no `debug` method.
   */
  constructor(side: Side, options: ProtocolOptions = {}) {
    super(side, withProtocolLog(options));
  }

  /**
   * `instanceof Protocol` holds for every protocol, `ClientProtocol` and
   * `ServerProtocol` included (they extend the core's class); a subclass of
   * this one tests its own instances as usual.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asked about, maybe a subclass
    // biome-ignore lint/complexity/noUselessThisAlias: a name for it
    const asked: unknown = this;
    return asked === Protocol
      ? value instanceof CoreProtocol
      : Function.prototype[Symbol.hasInstance].call(asked, value);
  }
}
