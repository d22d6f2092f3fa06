#!/usr/bin/env node
/**
 * npm's `prepare` (run by `npm ci` and `npm install` in a checkout, and
 * for a git dependency): builds dist/ so the examples run right after the
 * README's `npm ci` (they import `poolfetch`, which resolves to dist/).
 * Skipped where there is nothing to do or it would get in the way:
 * - dist/ already newer than every source file (as test/support/built.ts
 *   judges it);
 * - `npm pack` (the tarball tests pack in parallel; `npm test` builds first,
 *   and rebuilding under them would empty dist/ while others read it);
 * - no TypeScript installed (`npm ci --omit=dev`): nothing to build with.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const entries = ['dist/adapters/node/index.js', 'dist/adapters/fetch/index.js'].map((entry) => join(root, entry));

function newestSource() {
  let newest = statSync(join(root, 'package.json')).mtimeMs;
  for (const folder of ['src', 'adapters']) {
    for (const name of readdirSync(join(root, folder), { recursive: true }).map(String)) {
      if (name.endsWith('.ts') && !name.includes('.test.')) newest = Math.max(newest, statSync(join(root, folder, name)).mtimeMs);
    }
  }
  return newest;
}

/** On stderr: `npm pack` prints the tarball's name on stdout, which scripts read. */
function skip(reason) {
  console.error(`prepare: no build (${reason})`);
  process.exit(0);
}

if (process.env.npm_command === 'pack') skip('npm pack packs the build that is there');
if (entries.every((entry) => existsSync(entry)) && Math.min(...entries.map((entry) => statSync(entry).mtimeMs)) >= newestSource()) {
  skip('dist/ is up to date');
}
if (!existsSync(join(root, 'node_modules/typescript/bin/tsc'))) skip('TypeScript is not installed (devDependencies omitted)');
const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
