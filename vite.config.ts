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
      },
      formats: ['es'],
    },
    rollupOptions: {
      external: [/^node:/, /^@noble\/hashes/, /^eventemitter3$/, /^pako$/],
    },
  },
});
