/**
 * The examples run right after the README's set-up (`npm ci`), with no
 * `npm run build`: `npm ci` runs the package's `prepare` script, which
 * builds dist/ (shown once on a clean clone: `git clone … && npm ci &&
 * node examples/events.mjs`). Here, without a network install: a copy of
 * the checkout with no dist/ and the repo's node_modules linked in, then
 * `npm run prepare` (what `npm ci` runs after installing), then the example
 * as the README says.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
// Not execFileSync: a build blocks for a minute, and a blocked worker misses vitest's calls ("Timeout calling onTaskUpdate").
const run = promisify(execFile);
let checkout: string;

beforeAll(() => {
  mkdirSync(join(root, '.tmp'), { recursive: true });
  checkout = mkdtempSync(join(root, '.tmp/after-install-'));
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'adapters', 'scripts', 'examples']) {
    cpSync(join(root, entry), join(checkout, entry), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'), 'dir');
});
afterAll(() => {
  if (checkout !== undefined) rmSync(checkout, { recursive: true, force: true });
});

describe('after npm ci', () => {
  // One TypeScript build: many seconds on a loaded machine.
  it('prepare builds dist/, and node examples/events.mjs runs', { timeout: 180_000 }, async () => {
    expect(existsSync(join(checkout, 'dist'))).toBe(false);
    await run('npm', ['run', 'prepare'], { cwd: checkout, encoding: 'utf8' });
    expect(existsSync(join(checkout, 'dist/adapters/node/index.js'))).toBe(true);
    const lines = (await run(process.execPath, ['examples/events.mjs'], { cwd: checkout, encoding: 'utf8' })).stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^poolcreate http:\/\/127\.0\.0\.1:\d+$/);
    expect(lines.at(-1)).toMatch(/^poolclose http:\/\/127\.0\.0\.1:\d+$/);
    // A second install with the build in place does not build again.
    const again = await run('npm', ['run', 'prepare'], { cwd: checkout, encoding: 'utf8' });
    expect(again.stderr).toMatch(/prepare: no build \(dist\/ is up to date\)/);
  });
});
