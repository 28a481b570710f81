import { defineConfig } from 'vitest/config';

/**
 * The time scale of the tests: time bounds are what an idle machine needs,
 * times this factor. It scales the default test and hook timeouts (for
 * CPU-bound tests, such as the property-based ones) and, through
 * `inject('timeScale')`, the bounds of the tests that start processes
 * (Python, Deno, Bun, Vite) or move megabytes through JavaScript deflate.
 * The default leaves room for a 2-core machine that other work keeps busy
 * (a second test run, a build), where such tests run three to four times
 * slower; TEST_TIME_SCALE=N sets it. A larger scale only makes a hang take
 * longer to report.
 */
const DEFAULT_TIME_SCALE = 3;
const timeScale = Number(process.env['TEST_TIME_SCALE'] ?? DEFAULT_TIME_SCALE);
if (!(timeScale > 0)) {
  throw new Error(`TEST_TIME_SCALE must be a positive number, not '${process.env['TEST_TIME_SCALE']}'`);
}

declare module 'vitest' {
  interface ProvidedContext {
    /** See vitest.config.ts. */
    timeScale: number;
  }
}

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 20_000 * timeScale,
    hookTimeout: 20_000 * timeScale,
    // Interop tests spawn Python and Node peers; two cores.
    maxWorkers: 2,
    provide: { timeScale },
  },
});
