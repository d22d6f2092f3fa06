import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'adapters/**/*.test.ts', 'test/**/*.test.ts'],
    // The runtime matrix runs in its own step (vitest.matrix.config.ts).
    exclude: ['**/node_modules/**', 'test/runtime/matrix.test.ts', 'test/runtime/otel-example.test.ts'],
    // Every file: no socket left open, no process warning.
    setupFiles: ['test/support/handles.ts', 'test/support/warnings.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Each file in its own process, so one file's open handles cannot hide in another's count.
    pool: 'forks',
  },
});
