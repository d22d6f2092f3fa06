/**
 * A Worker whose module-level manager has `maxTotal: 3`, below the six
 * connections workerd itself lets one incoming request open: a slot that
 * poolfetch's line both hands to a waiter and counts free would let a
 * fourth subrequest through, and workerd's own cap would not hide it (with
 * `maxTotal: 6` it does, within one request). Bundled by run-workerd.ts
 * with the BUILT package.
 *
 *   GET /fan?url=…&url=…&read=text|request|none → { statuses, stats }
 *   GET /stats → manager.stats()
 */
type FetchEntry = typeof import('../../adapters/fetch/index.js');

export const SMALL_CAP = 3;

export function makeWorker(poolfetch: FetchEntry): { fetch(request: Request): Promise<Response> } {
  const manager = new poolfetch.PoolManager({ maxTotal: SMALL_CAP });
  const readers: Record<string, (url: string) => Promise<number>> = {
    text: async (url) => {
      const response = await manager.fetch(url);
      await response.text();
      return response.status;
    },
    request: async (url) => (await manager.request('GET', url)).status,
    none: async (url) => (await manager.fetch(url)).status,
  };
  return {
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === '/stats') return Response.json(manager.stats());
      const read = readers[url.searchParams.get('read') ?? 'text'];
      if (url.pathname !== '/fan' || read === undefined) return new Response('unknown', { status: 404 });
      const statuses = await Promise.all(url.searchParams.getAll('url').map((target) => read(target).catch(() => 0)));
      return Response.json({ statuses, stats: manager.stats() });
    },
  };
}
