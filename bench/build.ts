/**
 * Builds what the bench measures with esbuild, from the current sources:
 * the node and fetch entries as ES modules (dependencies left as imports,
 * like the published package), and the browser bundle. Measuring through
 * tsx would add its `keepNames` wrapper to every closure the core makes.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
export const outDir = `${root}.tmp/bench`;

export interface Built {
  nodeEntry: string;
  fetchEntry: string;
  browserBundle: string;
}

export async function buildForBench(): Promise<Built> {
  mkdirSync(outDir, { recursive: true });
  const common = { bundle: true, format: 'esm', target: 'es2022', logLevel: 'error', legalComments: 'none' } as const;
  await build({
    ...common,
    entryPoints: { node: `${root}adapters/node/index.ts`, fetch: `${root}adapters/fetch/index.ts` },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    platform: 'node',
    // Read by the profile summary (profile.ts) to name the source line of each function; not loaded at run time.
    sourcemap: true,
    packages: 'external',
  });
  await build({
    ...common,
    // What a browser's bundler picks through the `browser` export condition.
    entryPoints: { browser: `${root}adapters/fetch/browser.ts` },
    outdir: outDir,
    platform: 'browser',
    minify: true,
  });
  return { nodeEntry: `${outDir}/node.mjs`, fetchEntry: `${outDir}/fetch.mjs`, browserBundle: `${outDir}/browser.js` };
}

/** Bundles Node entries as ES modules (`name.mjs` in `outdir`), dependencies left as imports. */
export async function bundleForNode(entryPoints: Record<string, string>, outdir: string): Promise<void> {
  await build({ entryPoints, outdir, outExtension: { '.js': '.mjs' }, bundle: true, format: 'esm', target: 'es2022', platform: 'node', packages: 'external', logLevel: 'error' });
}

/** The node entry of another commit, built from `git archive` (nothing checked out) into `dir`: the path of its module. */
export async function buildNodeEntryAt(ref: string, dir: string): Promise<string> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(`${dir}/src`, { recursive: true });
  execSync(`git archive ${ref} adapters src | tar -x -C ${dir}/src`, { cwd: root });
  await bundleForNode({ node: `${dir}/src/adapters/node/index.ts` }, dir);
  return `${dir}/node.mjs`;
}

/** Imports the built entries. */
export async function loadEntries(built: Built): Promise<{ node: typeof import('../adapters/node/index.js'); fetch: typeof import('../adapters/fetch/index.js') }> {
  const { pathToFileURL } = await import('node:url');
  return {
    node: (await import(pathToFileURL(built.nodeEntry).href)) as typeof import('../adapters/node/index.js'),
    fetch: (await import(pathToFileURL(built.fetchEntry).href)) as typeof import('../adapters/fetch/index.js'),
  };
}
