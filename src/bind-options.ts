/**
 * A class factory that binds options: code that only ever calls
 * `new WebSocket(url, protocols)` (third-party libraries, a polyfilled
 * global) gets a transport, limits and headers chosen once by the app.
 */
import type { WebSocket, WebSocketOptions } from './websocket.js';

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
  const Bound = class extends (Base as typeof WebSocket) {
    constructor(url: string | URL, protocols?: string | string[], options: WebSocketOptions = {}) {
      super(url, protocols, { ...bound, ...options });
    }
  };
  // Keep the name browsers and stack traces show.
  Object.defineProperty(Bound, 'name', { value: Base.name });
  return Bound as unknown as C;
}
