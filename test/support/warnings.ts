/**
 * Fails a test during which the process emitted a warning
 * (MaxListenersExceededWarning, TimeoutOverflowWarning, ...): any process
 * warning in a test is a failure, whatever the test asserts otherwise. Node
 * emits warnings on a later tick, so one that comes late is charged to the
 * next test or, after the last, to the file. Each file runs in its own
 * process (vitest.config.ts), so none is charged to another file.
 */
import { afterAll, afterEach, expect } from 'vitest';

const warnings: string[] = [];
process.on('warning', (warning) => {
  warnings.push(`${warning.name}: ${warning.message}`);
});

function expectNoWarnings(): void {
  expect(warnings.splice(0), 'process warnings').toEqual([]);
}

afterEach(expectNoWarnings);
afterAll(expectNoWarnings);
