import { defineConfig } from 'vite';

// Library build: one entry per package export. Declarations come from
// `tsc -p tsconfig.build.json`.
export default defineConfig({
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    minify: false,
    lib: {
      entry: {
        index: 'src/index.ts',
        lite: 'src/lite.ts',
        node: 'src/node.ts',
        polyfill: 'src/polyfill.ts',
        protocol: 'src/protocol/index.ts',
        'direct-sockets': 'src/transports/direct-sockets.ts',
        'chrome-sockets': 'src/transports/chrome-sockets.ts',
        streams: 'src/transports/streams.ts',
        webtransport: 'src/transports/webtransport.ts',
        proxy: 'src/transports/proxy.ts',
        deno: 'src/transports/deno.ts',
        bun: 'src/transports/bun.ts',
        'electron/main': 'src/electron/main.ts',
        'electron/preload': 'src/electron/preload.ts',
        'electron/renderer': 'src/electron/renderer.ts',
      },
      formats: ['es'],
    },
    rollupOptions: {
      external: [/^node:/, /^eventemitter3$/, /^pako$/],
    },
  },
});
