/**
 * A Worker for the unread-body case (issue #19) in real workerd: the
 * README's module-level manager (`maxTotal: 6`) fetches more responses than
 * it has slots and reads none of them. Workers have no FinalizationRegistry
 * by default, so only reading ahead can free those slots; without it the
 * seventh fetch waits forever and workerd cancels the request as hung.
 * Bundled by run-workerd.ts like worker.ts, with the BUILT package.
 */
type FetchEntry = typeof import('../../adapters/fetch/index.js');

export function makeWorker(poolfetch: FetchEntry): { fetch(request: Request): Promise<Response> } {
  const manager = new poolfetch.PoolManager({ maxTotal: 6 });
  return {
    async fetch(request) {
      const url = new URL(request.url);
      const origin = url.searchParams.get('origin') ?? '';
      const count = Number(url.searchParams.get('count') ?? '10');
      const path = url.searchParams.get('path') ?? '/413';
      const method = url.searchParams.get('method') ?? 'GET';
      if (url.pathname !== '/unread') return new Response('unknown path', { status: 404 });
      // All at once, none read: more than maxTotal, so later ones need the slots of earlier unread ones.
      const responses = await Promise.all(Array.from({ length: count }, (_, i) => manager.fetch(`${origin}${path}?${i}`, { method })));
      const statuses = responses.map((r) => r.status);
      const unread = responses.every((r) => !r.bodyUsed);
      // Still readable afterwards.
      const last = method === 'HEAD' ? '' : await (responses.at(-1) as Response).text();
      return Response.json({ statuses, unread, last, stats: manager.stats() });
    },
  };
}
