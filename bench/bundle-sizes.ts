/**
 * What each library adds to a browser bundle: a one-line entry that imports
 * it, bundled by esbuild for the browser (`platform: 'browser'`, so the
 * `browser` export condition picks the entry), minified, then gzipped at
 * level 9. poolfetch is measured the way a user's bundler meets it: as a
 * package named `poolfetch` in node_modules, resolved through its
 * `exports`, from the current `src/` and `adapters/` compiled file by file
 * into that package's `dist/` (esbuild's transpile: the minified bundle is
 * byte for byte the one built from tsc's output, and it takes a fraction of
 * a second, where `dist/` may be stale). The peers are the versions
 * installed in node_modules.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const appDir = `${root}.tmp/bench/bundle-app`;

export interface BundleRow {
  /** What the entry imports, as a user writes it. */
  name: string;
  entry: string;
  version: string;
  minified: number;
  gzipped: number;
}

export interface BundleResult {
  rows: BundleRow[];
  /** The esbuild version that bundled them. */
  esbuild: string;
}

/** The poolfetch row first; the peers a web app would weigh it against after it. */
const ENTRIES: Array<{ name: string; pkg: string; entry: string }> = [
  { name: 'poolfetch (PoolManager)', pkg: 'poolfetch', entry: "export { PoolManager } from 'poolfetch';" },
  { name: 'ky', pkg: 'ky', entry: "export { default } from 'ky';" },
  { name: 'axios', pkg: 'axios', entry: "export { default } from 'axios';" },
  { name: 'quick-lru', pkg: 'quick-lru', entry: "export { default } from 'quick-lru';" },
];

export const POOLFETCH_BUNDLE = 'poolfetch (PoolManager)';

/** Compiles the current sources into a node_modules/poolfetch (with the repository's package.json) that the app resolves by name. */
async function installPoolfetchCopy(): Promise<string> {
  const pkgDir = `${appDir}/node_modules/poolfetch`;
  rmSync(pkgDir, { recursive: true, force: true });
  mkdirSync(pkgDir, { recursive: true });
  const sources = ['src', 'adapters'].flatMap((dir) =>
    readdirSync(`${root}${dir}`, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
      .map((f) => `${dir}/${f}`),
  );
  await build({ entryPoints: sources.map((f) => `${root}${f}`), outbase: root, outdir: `${pkgDir}/dist`, format: 'esm', target: 'es2022', logLevel: 'error' });
  copyFileSync(`${root}package.json`, `${pkgDir}/package.json`);
  return pkgDir;
}

function versionOf(pkgDir: string): string {
  return (JSON.parse(readFileSync(`${pkgDir}/package.json`, 'utf8')) as { version: string }).version;
}

export async function runBundleSizes(): Promise<BundleResult> {
  mkdirSync(appDir, { recursive: true });
  // Its own package.json, or esbuild takes `poolfetch` for the repository's self-reference (its package.json is above).
  writeFileSync(`${appDir}/package.json`, JSON.stringify({ name: 'bench-bundle-app', private: true, type: 'module' }));
  const poolfetchDir = await installPoolfetchCopy();
  const rows: BundleRow[] = [];
  for (const e of ENTRIES) {
    const file = `${appDir}/${e.pkg}.js`;
    writeFileSync(file, `${e.entry}\n`);
    const result = await build({
      entryPoints: [file],
      absWorkingDir: appDir,
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      legalComments: 'none',
      write: false,
      logLevel: 'error',
    });
    const code = result.outputFiles[0]?.contents ?? new Uint8Array(0);
    if (e.pkg === 'poolfetch' && /["']node:/.test(new TextDecoder().decode(code))) throw new Error('the browser bundle of poolfetch imports node:*');
    rows.push({
      name: e.name,
      entry: e.entry,
      version: versionOf(e.pkg === 'poolfetch' ? poolfetchDir : `${root}node_modules/${e.pkg}`),
      minified: code.length,
      gzipped: gzipSync(code, { level: 9 }).length,
    });
  }
  const { version } = (await import('esbuild')) as { version: string };
  return { rows, esbuild: version };
}
