/**
 * What the Isolated Web App's script (pages/iwa.ts) adds to `window`, besides
 * the test page's helpers (page-api.ts), typed for direct-sockets.spec.ts.
 */

import type { directSocketsTransport } from '../../../src/transports/direct-sockets.js';
import type { SocketRecord } from './page-api.js';

/** `window.e2eDirectSockets`. */
export interface DirectSocketsHelpers {
  /** polysocket's `directSocketsTransport`. */
  readonly transport: typeof directSocketsTransport;
  /** `new WebSocket(url, protocols, { transport: directSocketsTransport() })`, recorded. */
  connect(url: string, protocols?: string[]): SocketRecord;
}

declare global {
  interface Window {
    e2eDirectSockets: DirectSocketsHelpers;
    iwaReady: boolean;
  }
}
