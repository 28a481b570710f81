import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Interop tests spawn Python and Node peers; two cores.
    maxWorkers: 2,
  },
});
