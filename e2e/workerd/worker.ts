/**
 * The Worker the workerd test runs. It takes the poolfetch module as an
 * argument so that it type-checks against the source while the bundle
 * (made by run-workerd.ts) imports the BUILT package by name under the
 * `workerd` condition. The manager at module scope is the README's Cloudflare
 * Worker example: one manager for every request the isolate serves, with
 * `maxTotal: 6` because a Worker may hold only six connections open at once.
 */
type FetchEntry = typeof import('../../adapters/fetch/index.js');

export function makeWorker(poolfetch: FetchEntry): { fetch(request: Request): Promise<Response> } {
  const { PoolManager } = poolfetch;
  const manager = new PoolManager({ maxTotal: 6 });

  // What the pools hand to the runtime: the fetch adapter looks globalThis.fetch up on every call,
  // so a wrapper installed here sees each request as it leaves poolfetch for workerd's network.
  const sent: string[] = [];
  const runtimeFetch = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    sent.push(input instanceof Request ? input.url : String(input));
    return runtimeFetch(input, init);
  }) as typeof fetch;

  /**
   * Fetches every URL through `through`, reading each body. A task after the
   * burst it tells the test's probe how many requests had left the pools by
   * then, and answers with what the pools counted.
   */
  async function fetchAll(through: InstanceType<FetchEntry['PoolManager']>, urls: string[], probe: string | null): Promise<Response> {
    const before = sent.length;
    const pending = urls.map(async (url) => (await through.fetch(url)).text());
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (probe !== null) await (await runtimeFetch(`${probe}?sent=${sent.length - before}`)).text();
    const texts = await Promise.all(pending);
    return Response.json({ texts, stats: through.stats() });
  }

  /** An error as code written for fetch sees it. */
  const shape = (error: unknown): Record<string, unknown> => {
    const e = error as Error & { cause?: { name?: unknown; code?: unknown } };
    return { isTypeError: e instanceof TypeError, message: e.message, causeName: e.cause?.name ?? null, isPoolfetch: poolfetch.isPoolfetchError(e.cause) };
  };

  /**
   * manager.fetch beside workerd's own fetch: a redirect to another origin
   * (followed hop by hop by poolfetch, since workerd shows the 3xx of
   * `redirect: 'manual'`), and a refused connection.
   */
  async function contract(redirect: string, closed: string): Promise<Response> {
    await using own = new PoolManager();
    const outcome = async (fetch: typeof globalThis.fetch) => {
      const response = await fetch(redirect);
      return { status: response.status, redirected: response.redirected, url: response.url, text: await response.text() };
    };
    const manual = await runtimeFetch(redirect, { redirect: 'manual' });
    await manual.body?.cancel();
    return Response.json({
      manual: { status: manual.status, location: manual.headers.get('location') },
      runtime: await outcome(runtimeFetch),
      ours: await outcome(own.fetch),
      pools: own.stats().map(({ origin, numRequests }) => ({ origin, numRequests })),
      refusedRuntime: await runtimeFetch(closed).then(() => null, shape),
      refusedOurs: await own.fetch(closed).then(() => null, shape),
    });
  }

  return {
    async fetch(request) {
      const url = new URL(request.url);
      const origins = url.searchParams.getAll('origin');
      const each = Number(url.searchParams.get('each') ?? '1');
      const urls = origins.flatMap((origin) => Array.from({ length: each }, (_, i) => `${origin}/${i}`));
      const probe = url.searchParams.get('probe');
      switch (url.pathname) {
        case '/entry':
          try {
            new poolfetch.ProxyManager('http://127.0.0.1:3128');
            return Response.json({ entry: 'node' });
          } catch (error) {
            return Response.json({ entry: 'fetch', name: (error as Error).name, message: (error as Error).message });
          }
        case '/shared':
          return fetchAll(manager, urls, probe);
        case '/contract':
          return contract(url.searchParams.get('redirect') ?? '', url.searchParams.get('closed') ?? '');
        case '/own': {
          const maxTotal = url.searchParams.get('maxTotal');
          await using own = new PoolManager({
            maxSize: Number(url.searchParams.get('maxSize') ?? '6'),
            ...(maxTotal === null ? {} : { maxTotal: Number(maxTotal) }),
          });
          return await fetchAll(own, urls, probe);
        }
        default:
          return new Response('unknown path', { status: 404 });
      }
    },
  };
}
