/**
 * The fleet budget's coordinators stay out of the main bundle: bundling
 * `import { PoolManager } from 'poolfetch'` (browser and workerd
 * conditions, the BUILT package) takes in no coordinator module, and the
 * Durable Object entry bundles for workerd with no Node import.
 */
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
let dir: string;

beforeAll(() => {
  if (!existsSync(join(root, 'dist/adapters/budget/redis.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  dir = mkdtempSync(join(tmpdir(), 'poolfetch-budget-bundle-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules/poolfetch'), 'dir');
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function inputs(source: string, conditions: string[]): Promise<string[]> {
  const entry = join(dir, `${conditions[0] ?? 'x'}-${Math.random().toString(36).slice(2)}.js`);
  writeFileSync(entry, source);
  const result = await esbuild.build({
    entryPoints: [entry], absWorkingDir: dir, bundle: true, format: 'esm', platform: 'neutral', conditions,
    mainFields: ['module', 'main'], write: false, metafile: true, logLevel: 'silent', minify: true,
  });
  return Object.keys(result.metafile.inputs);
}

describe('the fleet budget and the bundles', () => {
  for (const conditions of [['browser'], ['workerd', 'worker', 'browser']]) {
    it(`import { PoolManager } from 'poolfetch' (${conditions[0] ?? ''}) takes in no coordinator`, async () => {
      const files = await inputs("export { PoolManager } from 'poolfetch';\n", conditions);
      // workerd takes the fetch entry through its own condition (adapters/fetch/workerd.ts, with request-context leases), browsers through theirs.
      expect(files.some((f) => f.endsWith(conditions[0] === 'workerd' ? 'dist/adapters/fetch/workerd.js' : 'dist/adapters/fetch/browser.js'))).toBe(true);
      expect(files.filter((f) => f.includes('fleet-budget') || f.includes('/adapters/budget/'))).toEqual([]);
    });
  }

  it('poolfetch/budget/durable-object bundles for workerd with no Node import and no Redis code', async () => {
    const files = await inputs("export { PoolBudget, durableObjectBudget } from 'poolfetch/budget/durable-object';\n", ['workerd', 'worker', 'browser']);
    expect(files.some((f) => f.endsWith('dist/adapters/budget/durable-object.js'))).toBe(true);
    expect(files.filter((f) => f.startsWith('node:') || f.includes('/adapters/node/') || f.includes('redis'))).toEqual([]);
  });
});
