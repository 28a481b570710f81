/**
 * What the Chrome App's background script (pages/chrome-app.ts) adds to
 * `window`, besides the test page's helpers (page-api.ts), typed for
 * chrome-sockets.spec.ts.
 */

import type { chromeSocketsTransport } from '../../../src/transports/chrome-sockets.js';
import type { SocketRecord } from './page-api.js';

/** `window.e2eChromeSockets`. */
export interface ChromeSocketsHelpers {
  /** polysocket's `chromeSocketsTransport`. */
  readonly transport: typeof chromeSocketsTransport;
  /** `new WebSocket(url, protocols, { transport: chromeSocketsTransport() })`, recorded. */
  connect(url: string, protocols?: string[]): SocketRecord;
}

declare global {
  interface Window {
    e2eChromeSockets: ChromeSocketsHelpers;
    chromeAppReady: boolean;
  }
}
