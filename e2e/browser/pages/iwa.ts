/**
 * The page script of the Isolated Web App (support/iwa.ts bundles it): the
 * test page's helpers (main.ts: `window.polysocket`, `window.e2e`) plus
 * polysocket's Direct Sockets transport as `window.e2eDirectSockets`.
 */
import './main.js';
import { directSocketsTransport } from '../../../src/transports/direct-sockets.js';
import type { DirectSocketsHelpers } from '../support/page-api-iwa.js';

const helpers: DirectSocketsHelpers = {
  transport: directSocketsTransport,
  connect: (url, protocols = []) =>
    window.e2e.record(
      new window.polysocket.WebSocket(url, protocols, { transport: directSocketsTransport() }),
    ),
};

window.e2eDirectSockets = helpers;
window.iwaReady = true;
