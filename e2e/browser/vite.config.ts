import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Serves the browser end-to-end test pages (e2e/browser/pages/), which
// import polysocket's browser entry straight from src/ (Vite transpiles
// TypeScript and resolves the `.js` specifiers to the `.ts` files).
// http://127.0.0.1 is a secure context, which WebTransport requires
// (a Playwright about:blank page is not, and has no WebTransport global).
// The library build is the root vite.config.ts.
const root = fileURLToPath(new URL('../../', import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('./pages/', import.meta.url)),
  cacheDir: `${root}build/vite-e2e`,
  logLevel: 'warn',
  clearScreen: false,
  server: {
    host: '127.0.0.1',
    strictPort: true,
    // No reloads in the middle of a test.
    hmr: false,
    watch: null,
    fs: { allow: [root] },
  },
  // Pre-bundle the dependencies up front: discovering them on first load
  // would reload the page while a test runs.
  optimizeDeps: {
    entries: [],
    include: ['eventemitter3', 'pako'],
    noDiscovery: true,
  },
});
