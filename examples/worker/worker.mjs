/**
 * The README's Cloudflare Worker: ONE module-level manager for every request
 * the isolate serves (that is the point of a pool in a Worker), `maxTotal: 6`
 * across all origins. Concurrent incoming requests share its slots; each
 * waits in poolfetch's line, in order, in its own request's context.
 *
 *   GET /?url=http://127.0.0.1:9001/a&url=http://127.0.0.1:9002/b…[&read=text|json|request|none]
 *   → { results: [{ url, status, bytes }], pools: manager.stats() }
 *   GET /stats → manager.stats()
 *
 * `read=none` leaves each body unread: its slot is freed once the body has
 * arrived (read ahead), or at the latest when this incoming request ends.
 *
 * Build and run it locally in workerd (see config.capnp):
 *   npm run build && node examples/worker/build.mjs
 *   node_modules/workerd/bin/workerd serve examples/worker/config.capnp
 */
/* global Response */
import { PoolManager } from 'poolfetch';

// A Worker may have only six connections open at once: with maxTotal the wait for a seventh is
// poolfetch's, in order, visible in stats(), bounded by poolTimeout.
const manager = new PoolManager({ maxTotal: 6 });

const readers = {
  text: async (url) => {
    const response = await manager.fetch(url);
    return { url, status: response.status, bytes: (await response.text()).length };
  },
  json: async (url) => {
    const response = await manager.fetch(url);
    return { url, status: response.status, bytes: JSON.stringify(await response.json()).length };
  },
  request: async (url) => {
    const response = await manager.request('GET', url, { timeout: 10_000 });
    return { url, status: response.status, bytes: response.data.byteLength };
  },
  none: async (url) => {
    const response = await manager.fetch(url);
    return { url, status: response.status };
  },
};

export default {
  async fetch(request) {
    const query = new URL(request.url).searchParams;
    if (new URL(request.url).pathname === '/stats') return Response.json(manager.stats());
    const targets = query.getAll('url');
    const read = readers[query.get('read') ?? 'text'];
    if (targets.length === 0 || read === undefined) {
      return new Response('pass one or more ?url= parameters, and read=text|json|request|none\n', { status: 400 });
    }
    const results = await Promise.all(
      targets.map((url) =>
        read(url).catch((error) => ({ url, error: `${error.name}: ${error.message}` })),
      ),
    );
    return Response.json({ results, pools: manager.stats() });
  },
};
