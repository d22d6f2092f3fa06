/**
 * The package as users get it: `npm pack` of the built package, unpacked
 * into a node_modules folder, then imported the way users will, by name,
 * from plain Node (both entries, and the condition that picks them) and
 * from a browser bundle. Catches what a symlinked checkout cannot: a file
 * left out of `files`, an export pointing at nothing in the tarball.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
let dir: string;
let installed: string;

beforeAll(() => {
  if (!existsSync(join(root, 'dist/adapters/fetch/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (npm test does)');
  }
  // Inside the repo, so the unpacked package finds its dependencies in the repo's node_modules, as it would in an app's.
  mkdirSync(join(root, '.tmp'), { recursive: true });
  dir = mkdtempSync(join(root, '.tmp/tarball-'));
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop() ?? '';
  installed = join(dir, 'app/node_modules/poolfetch');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', join(dir, name), '-C', installed, '--strip-components=1']);
  // The app's own package.json: without it, Node and esbuild would resolve 'poolfetch' to this repo (self-reference).
  writeFileSync(join(dir, 'app/package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
}, 60_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs an ES module in plain Node from the app folder and returns what it prints. */
function runInApp(source: string, conditions: string[] = []): string {
  const file = join(dir, 'app', `probe-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, source);
  return execFileSync('node', [...conditions.map((c) => `--conditions=${c}`), file], { cwd: join(dir, 'app'), encoding: 'utf8' }).trim();
}

const probe = `
import * as entry from 'poolfetch';
let proxy = 'constructed';
try { new entry.ProxyManager('http://127.0.0.1:3128'); } catch (error) { proxy = error.name; }
console.log(JSON.stringify({ url: import.meta.resolve('poolfetch'), proxy, names: Object.keys(entry).sort() }));
`;

describe('the packed tarball', () => {
  it('holds the built entries, the MIT LICENSE and no tests', () => {
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
    expect(existsSync(join(installed, 'dist/adapters/node/index.js'))).toBe(true);
    expect(existsSync(join(installed, 'dist/adapters/fetch/index.d.ts'))).toBe(true);
    const all = readdirSync(installed, { recursive: true }).map(String);
    expect(all.filter((f) => /\.test\.|(^|\/)test\//.test(f))).toEqual([]);
  });

  it('plain Node gets the undici entry, --conditions=worker the fetch entry, with the same names', () => {
    const node = JSON.parse(runInApp(probe)) as { url: string; proxy: string; names: string[] };
    const worker = JSON.parse(runInApp(probe, ['worker'])) as typeof node;
    expect(node.url).toMatch(/\/node_modules\/poolfetch\/dist\/adapters\/node\/index\.js$/);
    expect(node.proxy).toBe('constructed');
    expect(worker.url).toMatch(/\/node_modules\/poolfetch\/dist\/adapters\/fetch\/index\.js$/);
    expect(worker.proxy).toBe('NotSupportedError');
    expect(worker.names).toEqual(node.names);
    expect(node.names).toEqual(expect.arrayContaining(['PoolManager', 'ProxyManager', 'installFetch', 'makeHeaders', 'isPoolfetchError']));
  });

  it("the bun condition (Bun's own) gets the fetch entry, and poolfetch/node refuses it at import", () => {
    const bun = JSON.parse(runInApp(probe, ['bun'])) as { url: string; proxy: string };
    expect(bun.url).toMatch(/\/node_modules\/poolfetch\/dist\/adapters\/fetch\/index\.js$/);
    expect(bun.proxy).toBe('NotSupportedError');
    const forced = runInApp("await import('poolfetch/node').then(() => console.log('loaded'), (e) => console.log(e.name, e.message));", ['bun']);
    expect(forced).toMatch(/^NotSupportedError poolfetch\/node is the Node entry .*import 'poolfetch' instead/);
  });

  it('bundles for browsers from the tarball without node: imports', async () => {
    writeFileSync(join(dir, 'app/app.js'), "export { PoolManager, installFetch } from 'poolfetch';\n");
    const result = await esbuild.build({
      entryPoints: [join(dir, 'app/app.js')],
      absWorkingDir: join(dir, 'app'),
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.endsWith('node_modules/poolfetch/dist/adapters/fetch/browser.js'))).toBe(true);
    expect(result.outputFiles[0]?.text).not.toMatch(/["']node:[a-z_/]+["']/);
  });
});
