/**
 * The published types stand alone: the packed tarball, unpacked into a
 * scratch app, compiled by tsc as three kinds of project compile it, with
 * `skipLibCheck: false` (an unresolved name in our .d.ts is an error, not a
 * silent `any`) and every strict flag:
 * - Node only: lib es2022, types ["node"], no DOM lib, NodeNext resolution
 *   (the `node` condition: the undici entry);
 * - a browser: lib es2022 + dom, no Node types, bundler resolution (the
 *   fetch entry);
 * - a Worker: lib es2022 + webworker, the `worker` condition.
 * The consumers (test/types/consumers/) also assert that headers, bodies and
 * listeners are not `any`, and that bad values are refused.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFreshBuild } from './support/built.js';

const root = resolve(import.meta.dirname, '..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
// Not execFileSync for tsc: seconds each, and a blocked worker misses vitest's calls ("Timeout calling onTaskUpdate").
const run = promisify(execFile);
let dir: string;
let app: string;

beforeAll(() => {
  expectFreshBuild();
  // Inside the repo, so the app finds typescript, @types/node and poolfetch's own dependencies (undici's types) as an app would.
  mkdirSync(join(root, '.tmp'), { recursive: true });
  dir = mkdtempSync(join(root, '.tmp/types-'));
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop() ?? '';
  app = join(dir, 'app');
  mkdirSync(join(app, 'node_modules/poolfetch'), { recursive: true });
  execFileSync('tar', ['-xzf', join(dir, name), '-C', join(app, 'node_modules/poolfetch'), '--strip-components=1']);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'types-app', private: true, type: 'module' }));
  for (const file of ['node.ts', 'web.ts']) copyFileSync(join(root, 'test/types/consumers', file), join(app, file));
}, 60_000);
afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const strict = {
  target: 'es2022',
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: false,
  noEmit: true,
};

/** Runs tsc on one project config; resolves with its output (empty when it compiles). */
async function compile(name: string, compilerOptions: Record<string, unknown>, file: string): Promise<{ status: number; output: string }> {
  writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions: { ...strict, ...compilerOptions }, files: [file] }, null, 2));
  try {
    await run(process.execPath, [tsc, '-p', `tsconfig.${name}.json`, '--pretty', 'false'], { cwd: app, encoding: 'utf8' });
    return { status: 0, output: '' };
  } catch (error) {
    const { code, stdout } = error as { code: number; stdout: string };
    return { status: code, output: stdout };
  }
}

describe('the packed .d.ts in consumer projects (tsc, skipLibCheck false)', () => {
  // tsc takes seconds per project on a loaded machine.
  it('a Node-only project: lib es2022, types ["node"], no DOM', { timeout: 60_000 }, async () => {
    const result = await compile('node', { lib: ['es2022'], types: ['node'], module: 'nodenext', moduleResolution: 'nodenext' }, 'node.ts');
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('a browser project: lib es2022 + dom, no Node types', { timeout: 60_000 }, async () => {
    const result = await compile('dom', { lib: ['es2022', 'dom', 'dom.iterable'], types: [], module: 'esnext', moduleResolution: 'bundler' }, 'web.ts');
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('a Worker project: lib es2022 + webworker, the worker condition', { timeout: 60_000 }, async () => {
    const result = await compile('worker', { lib: ['es2022', 'webworker'], types: [], module: 'esnext', moduleResolution: 'bundler', customConditions: ['worker'] }, 'web.ts');
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });
});
