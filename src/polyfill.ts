/**
 * Installs `globalThis.WebSocket` (and `CloseEvent`), and `WebSocketStream`
 * (and `WebSocketError`), from the Node.js entry point when the runtime has
 * none, e.g. Node.js 20 and Electron's main
 * process. Runtimes with a native `WebSocket` keep it.
 *
 * The only module of the package with side effects: `import 'polysocket/polyfill'`.
 */
import { CloseEvent, WebSocket, WebSocketError, WebSocketStream } from './node.js';

function install(name: string, value: unknown): void {
  if (typeof (globalThis as Record<string, unknown>)[name] === 'function') return;
  // Like the platform's own interface objects: writable, configurable, not enumerable.
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

install('WebSocket', WebSocket);
install('CloseEvent', CloseEvent);
// Together or not at all: a native WebSocketStream rejects with its own WebSocketError.
if (typeof (globalThis as Record<string, unknown>)['WebSocketStream'] !== 'function') {
  install('WebSocketStream', WebSocketStream);
  Object.defineProperty(globalThis, 'WebSocketError', {
    value: WebSocketError,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
