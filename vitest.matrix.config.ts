import { defineConfig } from 'vitest/config';

/**
 * The runtime matrix (test/runtime/matrix.test.ts, and examples/otel.mjs on
 * Node 22 and 24 in test/runtime/otel-example.test.ts) on its own: `npm test`
 * runs it as a step after the unit tests, `npm run test:runtimes` alone.
 * It runs other runtimes as child processes, so it is kept out of the
 * default run, where it would add five runtimes to every `npx vitest run`.
 */
export default defineConfig({
  test: {
    include: ['test/runtime/matrix.test.ts', 'test/runtime/otel-example.test.ts'],
    setupFiles: ['test/support/handles.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
