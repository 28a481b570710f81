/**
 * Installs `globalThis.WebSocket` (and `CloseEvent`) from the Node.js entry
 * point when the runtime has none, e.g. Node.js 20 and Electron's main
 * process. Runtimes with a native `WebSocket` keep it.
 *
 * The only module of the package with side effects: `import 'polysocket/polyfill'`.
 */
import { CloseEvent, WebSocket } from './node.js';

function install(name: string, value: unknown): void {
  if (typeof (globalThis as Record<string, unknown>)[name] === 'function') return;
  // Like the platform's own interface objects: writable, configurable, not enumerable.
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

install('WebSocket', WebSocket);
install('CloseEvent', CloseEvent);
