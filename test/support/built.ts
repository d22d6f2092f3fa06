/**
 * For tests of the BUILT package (dist/, imported by name through
 * `exports`): `npm test` builds before it tests, but a lone
 * `npx vitest run` after editing src/ would quietly test the old build.
 * This refuses instead, naming the newer source file.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const ENTRIES = ['dist/adapters/node/index.js', 'dist/adapters/fetch/index.js'];

function newestSource(): { file: string; mtime: number } {
  let newest = { file: '', mtime: 0 };
  for (const folder of ['src', 'adapters']) {
    for (const name of readdirSync(join(root, folder), { recursive: true }).map(String)) {
      if (!name.endsWith('.ts') || name.includes('.test.')) continue;
      const file = join(folder, name);
      const mtime = statSync(join(root, file)).mtimeMs;
      if (mtime > newest.mtime) newest = { file, mtime };
    }
  }
  const manifest = statSync(join(root, 'package.json')).mtimeMs;
  return manifest > newest.mtime ? { file: 'package.json', mtime: manifest } : newest;
}

/** Throws unless dist/ exists and was built after the last change to src/, adapters/ or package.json. */
export function expectFreshBuild(): void {
  const missing = ENTRIES.filter((entry) => !existsSync(join(root, entry)));
  if (missing.length > 0) throw new Error(`${missing.join(', ')} missing: run \`npm run build\` before this test (npm test does)`);
  const built = Math.min(...ENTRIES.map((entry) => statSync(join(root, entry)).mtimeMs));
  const newest = newestSource();
  if (newest.mtime > built) {
    throw new Error(`dist/ is older than ${newest.file}: run \`npm run build\` before this test (npm test does), or it would test the old build`);
  }
}
