/**
 * Vite (8, rolldown) builds a browser app that imports poolfetch by name,
 * with no configuration, from the BUILT package (`npm run build` first).
 * `import 'poolfetch'` gets the fetch entry. `import 'poolfetch/node'` must
 * not smuggle undici into the page: Vite passes an `exports` target of
 * `null` over and takes `default`, so under its `production` condition the
 * map names a module that throws at load, saying to import `poolfetch`.
 * Each build runs `vite build` in a child process, as a user's would.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const vite = join(root, 'node_modules/vite/bin/vite.js');
let dir: string;

beforeAll(() => {
  if (!existsSync(join(root, 'dist/adapters/fetch/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (npm test does)');
  }
  dir = mkdtempSync(join(tmpdir(), 'poolfetch-vite-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules/poolfetch'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * `vite build` of a one-line app in library mode (so its exports survive
 * and Node can import the chunk); resolution is Vite's defaults for a
 * browser build. A plugin records every module Vite loaded, as esbuild's
 * metafile would. Returns the chunk's path and text, and those modules.
 */
function viteBuild(name: string, source: string): { file: string; code: string; inputs: string[] } {
  writeFileSync(join(dir, `${name}.js`), source);
  writeFileSync(
    join(dir, `${name}.config.mjs`),
    [
      "import { writeFileSync } from 'node:fs';",
      'const ids = [];',
      'export default {',
      "  logLevel: 'warn',",
      `  plugins: [{ name: 'inputs', transform(_code, id) { ids.push(id); return null; }, buildEnd() { writeFileSync('${name}.inputs.json', JSON.stringify(ids)); } }],`,
      `  build: { outDir: 'out-${name}', lib: { entry: '${name}.js', formats: ['es'], fileName: '${name}' } },`,
      '};',
    ].join('\n'),
  );
  execFileSync(process.execPath, [vite, 'build', '--config', `${name}.config.mjs`], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
  const out = join(dir, `out-${name}`);
  const chunk = readdirSync(out).find((f) => f.endsWith('.js'));
  if (chunk === undefined) throw new Error(`vite wrote no chunk in ${out}`);
  const file = join(out, chunk);
  const inputs = (JSON.parse(readFileSync(join(dir, `${name}.inputs.json`), 'utf8')) as string[]).map((id) => id.split('?')[0] ?? id);
  return { file, code: readFileSync(file, 'utf8'), inputs };
}

const fromNode = (inputs: string[]): string[] => inputs.filter((id) => id.includes('/undici/') || id.includes('/adapters/node/'));

describe('Vite', () => {
  it("builds import 'poolfetch' with the fetch entry: no undici, no node: import", async () => {
    const { file, code, inputs } = viteBuild('right', "export { PoolManager, ProxyManager } from 'poolfetch';\n");
    expect(inputs).toContain(join(root, 'dist/adapters/fetch/browser.js'));
    expect(fromNode(inputs)).toEqual([]);
    expect(code).not.toMatch(/["']node:[a-z_/]+["']/);
    const entry = (await import(pathToFileURL(file).href)) as typeof import('../adapters/fetch/index.js');
    expect(() => new entry.ProxyManager('http://127.0.0.1:3128')).toThrow(/poolfetch\/node/);
    expect(new entry.PoolManager().options.maxSize).toBe(6);
  });

  it("turns import 'poolfetch/node' into a module that throws at load, naming 'poolfetch'", async () => {
    const { file, code, inputs } = viteBuild('wrong', "export { PoolManager } from 'poolfetch/node';\n");
    expect(inputs).toContain(join(root, 'dist/adapters/refuse-node.js'));
    expect(fromNode(inputs)).toEqual([]);
    expect(code).not.toMatch(/["']node:[a-z_/]+["']/);
    await expect(import(pathToFileURL(file).href)).rejects.toMatchObject({
      name: 'NotSupportedError',
      message: expect.stringContaining("import 'poolfetch' instead"),
    });
  });
});
