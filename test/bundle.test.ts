/**
 * Bundles an app that imports `poolfetch` by name, the way a user's bundler
 * does (package.json `exports` and its conditions), from the BUILT package
 * (`npm run build` first): for browsers, for Cloudflare Workers (`workerd`)
 * and for Node. Checks which entry each picked, that the browser and Worker
 * bundles import nothing from Node, and reports their minified+gzipped size.
 */
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
/**
 * A ceiling on the browser entry, minified and gzipped with p-queue and
 * quick-lru, so growth is noticed: it was 13.7 KiB when first measured and
 * 15.8 KiB once urllib3's Retry and fetch's redirect rules landed. The
 * issue's target is 8 KiB; p-queue with its dependencies alone is 4.3 KiB,
 * and the shared request loop (retries, redirects, body and option checks)
 * most of the rest. The figure is printed on every run.
 */
const BROWSER_CEILING = 20 * 1024;

let dir: string;

beforeAll(() => {
  if (!existsSync(join(root, 'dist/adapters/fetch/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (npm test does)');
  }
  // A throwaway app whose node_modules/poolfetch is this package, so it is resolved by name through `exports`.
  dir = mkdtempSync(join(tmpdir(), 'poolfetch-bundle-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules/poolfetch'), 'dir');
  writeFileSync(
    join(dir, 'app.js'),
    [
      "import { PoolManager, installFetch } from 'poolfetch';",
      'const manager = new PoolManager({ maxSize: 2, maxTotal: 6 });',
      'installFetch(manager);',
      'export default { fetch: (request) => manager.fetch(request.url) };',
    ].join('\n'),
  );
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function bundle(options: esbuild.BuildOptions): Promise<{ code: string; inputs: string[]; gzipped: number }> {
  const result = await esbuild.build({
    entryPoints: [join(dir, 'app.js')],
    absWorkingDir: dir,
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    ...options,
  });
  const code = result.outputFiles?.[0]?.text ?? '';
  const inputs = Object.keys(result.metafile?.inputs ?? {}).map((p) => resolve(dir, p));
  return { code, inputs, gzipped: gzipSync(code, { level: 9 }).length };
}

const fetchEntry = join(root, 'dist/adapters/fetch/index.js');
const nodeEntry = join(root, 'dist/adapters/node/index.js');
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KiB`;

function expectNoNodeImports(code: string, inputs: string[]): void {
  expect(code).not.toMatch(/["']node:[a-z_/]+["']/);
  expect(code).not.toMatch(/\bundici\b/);
  expect(inputs.filter((p) => p.includes('/undici/') || p.includes('/adapters/node/'))).toEqual([]);
}

describe('bundling poolfetch', () => {
  it('for browsers (--platform=browser): the fetch entry, no node: or undici import, within the size ceiling', async () => {
    const { code, inputs, gzipped } = await bundle({ platform: 'browser' });
    expect(inputs).toContain(fetchEntry);
    expectNoNodeImports(code, inputs);
    expect(inputs.some((p) => p.includes('/node_modules/p-queue/'))).toBe(true);
    expect(inputs.some((p) => p.includes('/node_modules/quick-lru/'))).toBe(true);
    console.log(`browser bundle: ${kib(code.length)} minified, ${kib(gzipped)} minified+gzipped (p-queue and quick-lru included)`);
    expect(gzipped).toBeLessThanOrEqual(BROWSER_CEILING);
  });

  it('for Cloudflare Workers (the workerd condition): the fetch entry, no node: or undici import', async () => {
    const { code, inputs, gzipped } = await bundle({
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser'],
      mainFields: ['module', 'main'],
    });
    expect(inputs).toContain(fetchEntry);
    expectNoNodeImports(code, inputs);
    console.log(`workerd bundle: ${kib(code.length)} minified, ${kib(gzipped)} minified+gzipped`);
    expect(gzipped).toBeLessThanOrEqual(BROWSER_CEILING);
  });

  it('refuses poolfetch/node in an esbuild browser or Worker bundle, at build time', async () => {
    writeFileSync(join(dir, 'wrong.js'), "export { PoolManager } from 'poolfetch/node';\n");
    // esbuild (and wrangler, which is esbuild) sets no development/production condition: it meets the null.
    for (const conditions of [['browser'], ['workerd', 'worker'], ['worker']]) {
      const attempt = esbuild.build({
        entryPoints: [join(dir, 'wrong.js')],
        absWorkingDir: dir,
        bundle: true,
        write: false,
        platform: 'neutral',
        conditions,
        logLevel: 'silent',
      });
      const failure = (await attempt.catch((e: unknown) => e)) as esbuild.BuildFailure;
      expect(failure.errors?.[0]?.text, conditions.join()).toBe('Could not resolve "poolfetch/node"');
      expect(failure.errors[0]?.notes.map((n) => n.text).join(' ')).toContain('explicitly disabled by the package author');
    }
  });

  it('where a bundler passes null over (development/production set, as Vite does), poolfetch/node throws at load, naming poolfetch', async () => {
    writeFileSync(join(dir, 'wrong.js'), "export { PoolManager } from 'poolfetch/node';\n");
    const { code, inputs } = await bundle({ entryPoints: [join(dir, 'wrong.js')], platform: 'browser', conditions: ['production'] });
    expect(inputs).toContain(join(root, 'dist/adapters/refuse-node.js'));
    expectNoNodeImports(code, inputs);
    expect(code).toContain("import 'poolfetch' instead");
  });

  it('for Node (--platform=node): the undici entry', async () => {
    const { inputs } = await bundle({ platform: 'node', external: ['undici', 'p-queue', 'quick-lru'] });
    expect(inputs).toContain(nodeEntry);
    expect(inputs).not.toContain(fetchEntry);
  });
});
