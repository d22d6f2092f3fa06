/**
 * examples/otel.mjs, run as the README says (`node examples/otel.mjs`),
 * here on this machine's Node (20, the floor); test/runtime/otel-example.test.ts
 * runs it on Node 22 and 24 in the runtime matrix.
 */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';
import { expectOtelExampleOutput } from './otel-output.js';
import { ensureBuilt } from './support.js';

describe('examples/otel', () => {
  it('prints one span per request, with method, URL, status and the wait for a slot', () => {
    ensureBuilt();
    expectOtelExampleOutput(execFileSync(process.execPath, ['examples/otel.mjs'], { encoding: 'utf8' }));
  });
});
