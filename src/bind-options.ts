/**
 * WebSocket classes with options decided ahead of the call: the entry
 * points' defaults (transport, compression) and the app's own
 * (`bindOptions`), so that code that only ever calls
 * `new WebSocket(url, protocols)` (third-party libraries, a polyfilled
 * global) gets what the app chose.
 */
import { defineReadyStates, type WebSocket, type WebSocketOptions } from './websocket.js';

/**
 * A subclass of `Base` whose constructor passes its options through
 * `transform`. The readyState constants are own properties of the subclass,
 * as on the platform's interface object, and its name stays `WebSocket`.
 *
 * @internal
 */
export function deriveWebSocket<C extends typeof WebSocket>(
  Base: C,
  transform: (options: WebSocketOptions) => WebSocketOptions,
): C {
  const Derived = class extends (Base as typeof WebSocket) {
    constructor(url: string | URL, protocols?: string | string[], options: WebSocketOptions = {}) {
      super(url, protocols, transform(options));
    }
  };
  Object.defineProperty(Derived, 'name', { value: Base.name });
  defineReadyStates(Derived);
  return Derived as unknown as C;
}

/**
 * Return a subclass of `Base` whose constructor merges `defaults` under the
 * options given per call (per-call options win).
 *
 * ```ts
 * const TunnelledWebSocket = bindOptions(WebSocket, { transport: webTransportTransport({ gateway }) });
 * const ws = new TunnelledWebSocket('ws://chat.internal:8080/');
 * ```
 *
 * @param Base - The entry point's `WebSocket` class (or a subclass).
 * @param defaults - Options applied to every connection.
 */
export function bindOptions<C extends typeof WebSocket>(Base: C, defaults: WebSocketOptions): C {
  const bound = { ...defaults };
  return deriveWebSocket(Base, (options) => ({ ...bound, ...options }));
}
