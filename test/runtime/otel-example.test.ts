/**
 * examples/otel.mjs (OpenTelemetry's undici instrumentation over poolfetch,
 * with each request's wait for a slot) on every Node of the runtime matrix
 * past the floor: the instrumentation's own releases move to Node 22 and
 * later, so this is where it must keep working. Run from the repository
 * as the README says, so `poolfetch` resolves to the built package.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { beforeAll, describe, it } from 'vitest';
// @ts-expect-error a plain .mjs script without types
import { ensureRuntime, runtimes as matrix } from '../../scripts/runtimes.mjs';
import { expectOtelExampleOutput } from '../examples/otel-output.js';
import { expectFreshBuild } from '../support/built.js';

const root = resolve(import.meta.dirname, '../..');
const nodes = (matrix as Array<{ id: string; name: string; version: string }>).filter((r) => r.name === 'Node' && r.id !== 'node20');

beforeAll(() => {
  expectFreshBuild();
});

describe.each(nodes)('examples/otel.mjs on Node $version', (runtime) => {
  it('prints one span per request, with method, URL, status and the wait for a slot', () => {
    const binary = ensureRuntime(runtime) as string;
    expectOtelExampleOutput(execFileSync(binary, ['examples/otel.mjs'], { cwd: root, encoding: 'utf8' }));
  });
});
