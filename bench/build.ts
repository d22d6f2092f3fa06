/**
 * Builds what the bench measures with esbuild, from the current sources:
 * the node and fetch entries as ES modules (dependencies left as imports,
 * like the published package), and the browser bundle. Measuring through
 * tsx would add its `keepNames` wrapper to every closure the core makes.
 */
import { mkdirSync } from 'node:fs';
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
    entryPoints: { browser: `${root}adapters/fetch/index.ts` },
    outdir: outDir,
    platform: 'browser',
    minify: true,
  });
  return { nodeEntry: `${outDir}/node.mjs`, fetchEntry: `${outDir}/fetch.mjs`, browserBundle: `${outDir}/browser.js` };
}

/** Imports the built entries. */
export async function loadEntries(built: Built): Promise<{ node: typeof import('../adapters/node/index.js'); fetch: typeof import('../adapters/fetch/index.js') }> {
  const { pathToFileURL } = await import('node:url');
  return {
    node: (await import(pathToFileURL(built.nodeEntry).href)) as typeof import('../adapters/node/index.js'),
    fetch: (await import(pathToFileURL(built.fetchEntry).href)) as typeof import('../adapters/fetch/index.js'),
  };
}
