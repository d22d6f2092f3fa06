/**
 * The page's script, bundled at start with esbuild. The page imports
 * `PoolManager` from `adapters/fetch/index.js` so it type-checks against the
 * source; the bundle takes the BUILT fetch entry (dist/) instead, the file
 * users get from `poolfetch` under the `browser` condition. `npm run build`
 * runs first when dist/ is missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, stop, type Plugin } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
export const BUILT_FETCH_ENTRY = `${root}dist/adapters/fetch/index.js`;

/** Resolves the page's imports of the fetch entry's source to the built file. */
const useBuiltEntry: Plugin = {
  name: 'poolfetch-built-fetch-entry',
  setup(b) {
    b.onResolve({ filter: /adapters\/fetch\/index\.js$/ }, () => ({ path: BUILT_FETCH_ENTRY }));
  },
};

export function ensureBuilt(log: (line: string) => void): void {
  if (existsSync(BUILT_FETCH_ENTRY)) return;
  log('dist/ is missing: running npm run build once (about 10 s)…');
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0 || !existsSync(BUILT_FETCH_ENTRY)) {
    throw new Error(`npm run build failed (exit ${String(result.status ?? result.signal)}); the page's panel needs ${BUILT_FETCH_ENTRY}`);
  }
}

export async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [`${root}demo/page/app.ts`],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    plugins: [useBuiltEntry],
  });
  // esbuild's service process is not needed any more; a Ctrl-C on the process group should not find it.
  await stop();
  const file = result.outputFiles[0];
  if (file === undefined) throw new Error('esbuild produced no output for demo/page/app.ts');
  if (/\bfrom\s*["']node:|require\(["']node:/.test(file.text)) throw new Error('The page bundle imports node: modules');
  return file.text;
}
