/**
 * A Cloudflare Worker that fans out to several upstream URLs through
 * poolfetch. A Worker invocation may hold only six connections open at once,
 * so the manager caps in-flight requests across all origins with
 * `maxTotal: 6`; the rest queue per origin instead of failing.
 *
 *   GET /?url=http://127.0.0.1:9001/a&url=http://127.0.0.1:9002/b…
 *   → { results: [{ url, status, bytes }], pools: manager.stats() }
 *
 * Build and run it locally in workerd (see config.capnp):
 *   npm run build && node examples/worker/build.mjs
 *   node_modules/workerd/bin/workerd serve examples/worker/config.capnp
 */
/* global Response */
import { PoolManager } from 'poolfetch';

export default {
  async fetch(request) {
    const targets = new URL(request.url).searchParams.getAll('url');
    if (targets.length === 0) {
      return new Response('pass one or more ?url= parameters\n', { status: 400 });
    }
    // One manager per invocation: the six-connection limit is per invocation too.
    const manager = new PoolManager({ numPools: 8, maxTotal: 6 });
    try {
      const results = await Promise.all(
        targets.map(async (url) => {
          try {
            const response = await manager.request('GET', url, { timeout: 10_000 });
            return { url, status: response.status, bytes: response.data.byteLength };
          } catch (error) {
            return { url, error: `${error.name}: ${error.message}` };
          }
        }),
      );
      return Response.json({ results, pools: manager.stats() });
    } finally {
      await manager.close();
    }
  },
};
