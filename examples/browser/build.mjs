/**
 * Bundles main.mjs for browsers with esbuild: `poolfetch` resolves through
 * its `browser` export condition to the fetch entry, ky from node_modules.
 * Output: examples/browser/dist/main.bundle.js, which index.html loads.
 */
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('main.mjs', import.meta.url).pathname],
  outfile: new URL('dist/main.bundle.js', import.meta.url).pathname,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  logLevel: 'warning',
});
