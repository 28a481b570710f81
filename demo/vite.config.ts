import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

// The demo page (demo/index.html). `npm run demo` (scripts/demo.ts) starts
// this dev server with a plugin that serves /config.json: the echo/chat
// server's URL and the gateway's URL and certificate hash, fresh each run.
// The page imports polysocket by its package names, aliased to the sources
// (the library build is the root vite.config.ts). It is served from
// http://127.0.0.1, a secure context, which WebTransport requires.
const root = fileURLToPath(new URL('../', import.meta.url));
const source = (path: string) => fileURLToPath(new URL(`../src/${path}`, import.meta.url));

/**
 * The web app manifest of an Isolated Web App, so that the page can also
 * be installed as a dev-mode IWA, where Direct Sockets (`TCPSocket`) exist:
 * `--enable-features=IsolatedWebApps,IsolatedWebAppDevMode
 * --install-isolated-web-app-from-url=<this server>` (Chromium installs it
 * only with both features enabled).
 */
function isolatedWebAppManifest(): Plugin {
  const manifest = JSON.stringify({
    name: 'polysocket demo',
    short_name: 'polysocket',
    version: '0.1.0',
    start_url: '/',
    scope: '/',
    display: 'standalone',
    icons: [{ src: '/icon.png', sizes: '256x256', type: 'image/png' }],
    // Chromium 150 refuses TCPSocket to 127.0.0.1 without 'direct-sockets-private'
    // (InvalidAccessError: Access to local network is blocked), whatever the
    // granted permissions, and warns that it will need 'local-network' and
    // 'loopback-network' with it; newer versions ignore 'direct-sockets-private'.
    permissions_policy: {
      'cross-origin-isolated': ['self'],
      'direct-sockets': ['self'],
      'direct-sockets-private': ['self'],
      'local-network': ['self'],
      'loopback-network': ['self'],
    },
  });
  return {
    name: 'polysocket-demo-iwa-manifest',
    configureServer(server) {
      server.middlewares.use('/.well-known/manifest.webmanifest', (_request, response) => {
        response.setHeader('content-type', 'application/manifest+json');
        response.end(manifest);
      });
    },
  };
}

export default defineConfig({
  plugins: [isolatedWebAppManifest()],
  root: fileURLToPath(new URL('./', import.meta.url)),
  cacheDir: `${root}build/vite-demo`,
  logLevel: 'warn',
  clearScreen: false,
  resolve: {
    alias: [
      { find: /^polysocket$/, replacement: source('index.ts') },
      { find: /^polysocket\/direct-sockets$/, replacement: source('transports/direct-sockets.ts') },
    ],
  },
  server: {
    host: '127.0.0.1',
    // A demo, not a workbench: no reloads while a connection is open.
    hmr: false,
    watch: null,
    fs: { allow: [root] },
  },
  // Pre-bundle polysocket's dependencies up front, so that the first visit
  // doesn't reload the page when Vite discovers them.
  optimizeDeps: {
    entries: [],
    include: ['eventemitter3', 'pako'],
    noDiscovery: true,
  },
});
