/**
 * The background script of the Chrome App (support/chrome-app.ts bundles it
 * as a classic script): the test page's helpers (main.ts: `window.polysocket`,
 * `window.e2e`) plus polysocket's chrome.sockets.tcp transport as
 * `window.e2eChromeSockets`.
 */
import './main.js';
import { chromeSocketsTransport } from '../../../src/transports/chrome-sockets.js';
import type { ChromeSocketsHelpers } from '../support/page-api-chrome-app.js';

const helpers: ChromeSocketsHelpers = {
  transport: chromeSocketsTransport,
  connect: (url, protocols = []) =>
    window.e2e.record(
      new window.polysocket.WebSocket(url, protocols, { transport: chromeSocketsTransport() }),
    ),
};

window.e2eChromeSockets = helpers;
window.chromeAppReady = true;
