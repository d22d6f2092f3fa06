/**
 * Bundles worker.mjs for workerd with esbuild: `poolfetch` resolves through
 * its `workerd` export condition to the fetch entry. Output:
 * examples/worker/dist/worker.bundle.js, which config.capnp embeds.
 */
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('worker.mjs', import.meta.url).pathname],
  outfile: new URL('dist/worker.bundle.js', import.meta.url).pathname,
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  conditions: ['workerd', 'worker', 'browser'],
  target: 'es2022',
  logLevel: 'warning',
});
