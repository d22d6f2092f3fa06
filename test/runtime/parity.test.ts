/**
 * One test body, two runtimes' adapters (hono-style runtime tests): the
 * package imported by name under plain Node gets the `node` condition, the
 * undici entry with real sockets; `poolfetch/fetch` under the same Node gets
 * the fetch entry, a per-origin queue over Node's own `fetch`. Code written
 * against `PoolManager` must behave the same on both; the few places where
 * the runtimes really differ (who owns sockets) are asserted per runtime.
 * Imports the BUILT package, by name through `exports` (the package's own
 * name resolves to this repo): `npm run build` first, as `npm test` does;
 * run alone on a stale or missing dist/, it fails saying so.
 */
import ky from 'ky';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drive, gate, type Gate } from '../fetch-adapter/support.js';
import { expectFreshBuild } from '../support/built.js';
import { startServer, type TestServer } from '../support/servers.js';
import { fetchCause } from '../support/fetch-error.js';

type Entry = typeof import('../../adapters/fetch/index.js');

interface Runtime {
  readonly name: string;
  readonly specifier: string;
  /** True where the pools own real sockets (Node): numConnections counts them. */
  readonly ownsSockets: boolean;
}

const runtimes: Runtime[] = [
  { name: "import 'poolfetch' under Node (node condition: undici)", specifier: 'poolfetch', ownsSockets: true },
  { name: "import 'poolfetch/fetch' under Node (fetch adapter)", specifier: 'poolfetch/fetch', ownsSockets: false },
];

let g: Gate;
let plain: TestServer;
let other: TestServer;
let third: TestServer;
let held: TestServer;
let closedUrl: string;

beforeAll(async () => {
  expectFreshBuild();
  plain = await startServer((req, res) => {
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/landed' }).end();
      return;
    }
    res.setHeader('server', 'parity');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url }));
  });
  other = await startServer(undefined, { host: '127.0.0.2' });
  third = await startServer(undefined, { host: '127.0.0.3' });
  held = await startServer((req, res) => g.hold(req.url ?? '', () => void res.end(req.url), 'held'));
  const gone = await startServer();
  closedUrl = gone.url('/');
  await gone.close();
});
afterAll(async () => {
  g?.releaseAll();
  await Promise.all([plain, other, third, held].map((s) => s?.close()));
});

for (const runtime of runtimes) {
  describe(runtime.name, () => {
    let poolfetch: Entry;
    beforeAll(async () => {
      // A variable specifier: resolved at run time through package.json `exports`, as a user's import is.
      const specifier = runtime.specifier;
      poolfetch = (await import(specifier)) as Entry;
    });

    it('is the entry the exports map promises', () => {
      const attempt = (): unknown => new poolfetch.ProxyManager('http://127.0.0.1:3128');
      if (runtime.ownsSockets) expect(attempt).not.toThrow();
      else expect(attempt).toThrow(poolfetch.NotSupportedError);
    });

    it('request() and fetch() go through one pool per origin', async () => {
      await using manager = new poolfetch.PoolManager(10);
      const r = await manager.request('GET', plain.url('/a'));
      expect(r.status).toBe(200);
      expect(r.headers.get('server')).toBe('parity');
      expect(await r.json()).toEqual({ method: 'GET', url: '/a' });
      const response = await manager.fetch(other.url('/b'), { method: 'POST', body: 'x' });
      expect(await response.json()).toMatchObject({ method: 'POST', url: '/b' });
      expect(manager.pools.size).toBe(2);
      expect(manager.connectionFromUrl(plain.origin).numRequests).toBe(1);
      expect(manager.connectionFromUrl(plain.origin).numConnections).toBeGreaterThan(0);
    });

    it('follows a redirect to the final URL', async () => {
      await using manager = new poolfetch.PoolManager();
      const r = await manager.request('GET', plain.url('/redirect'));
      expect(r.status).toBe(200);
      expect(r.url).toBe(plain.url('/landed'));
      expect(await r.json()).toMatchObject({ url: '/landed' });
    });

    it('never has more than maxSize requests open at the server', async () => {
      g = gate();
      await using manager = new poolfetch.PoolManager({ maxSize: 2 });
      const all = [1, 2, 3, 4, 5, 6].map((i) => manager.request('GET', held.url(`/${i}`)));
      await g.whenStarted(2, 'held');
      expect(manager.connectionFromUrl(held.origin).stats()).toMatchObject({ running: 2, queued: 4 });
      await drive(g, 6, 2, 'held');
      g.releaseAll();
      expect(await Promise.all(all.map(async (r) => (await r).text()))).toEqual(['/1', '/2', '/3', '/4', '/5', '/6']);
      expect(g.peakOf('held')).toBe(2);
      const pool = manager.connectionFromUrl(held.origin);
      expect(pool.numRequests).toBe(6);
      // Node: sockets opened (at most maxSize); fetch: the peak number in flight.
      expect(pool.numConnections).toBe(2);
    });

    it('keeps pools.size at numPools, and an eviction does not fail the running request', async () => {
      g = gate();
      await using manager = new poolfetch.PoolManager({ numPools: 2 });
      const running = manager.request('GET', held.url('/slow'));
      await g.whenStarted(1);
      await manager.request('GET', plain.url('/'));
      await manager.request('GET', other.url('/'));
      expect(manager.pools.size).toBe(2);
      expect(manager.pools.has(held.origin)).toBe(false);
      g.releaseAll();
      expect(await (await running).text()).toBe('/slow');
    });

    it('poolTimeout gives EmptyPoolError; an abort while queued sends nothing', async () => {
      g = gate();
      await using manager = new poolfetch.PoolManager({ maxSize: 1, poolTimeout: 20 });
      const first = manager.request('GET', held.url('/first'));
      await g.whenStarted(1);
      await expect(manager.request('GET', held.url('/late'))).rejects.toBeInstanceOf(poolfetch.EmptyPoolError);
      const controller = new AbortController();
      const aborted = manager.fetch(held.url('/aborted'), { signal: controller.signal });
      controller.abort();
      await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
      g.releaseAll();
      await first;
      expect(g.started).toEqual(['/first']);
    });

    it('a refused connection is NewConnectionError (fetch) and MaxRetryError after retries (request)', async () => {
      await using manager = new poolfetch.PoolManager({ retries: 1 });
      const fetched = await manager.fetch(closedUrl).catch((e: unknown) => e);
      expect(fetchCause(fetched)).toBeInstanceOf(poolfetch.NewConnectionError);
      const requested = await manager.request('GET', closedUrl).catch((e: unknown) => e);
      expect(requested).toBeInstanceOf(poolfetch.MaxRetryError);
      expect((requested as InstanceType<Entry['MaxRetryError']>).reason).toBeInstanceOf(poolfetch.NewConnectionError);
    });

    it('ky through manager.fetch and after installFetch', async () => {
      await using manager = new poolfetch.PoolManager();
      const api = ky.create({ fetch: manager.fetch, retry: 0 });
      expect(await api.get(third.url('/ky')).json()).toMatchObject({ url: '/ky' });
      const restore = poolfetch.installFetch(manager);
      try {
        expect(await ky.get(third.url('/installed'), { retry: 0 }).json()).toMatchObject({ url: '/installed' });
      } finally {
        restore();
      }
      expect(manager.connectionFromUrl(third.origin).numRequests).toBe(2);
    });

    it('await using empties pools and closes them (and, where it owns them, their sockets)', async () => {
      const closed: string[] = [];
      let disposed: InstanceType<Entry['PoolManager']> | undefined;
      {
        await using manager = new poolfetch.PoolManager();
        manager.addEventListener('poolclose', (event) => closed.push(event.origin));
        disposed = manager;
        await manager.request('GET', other.url('/'));
        expect(manager.pools.size).toBe(1);
        expect(closed).toEqual([]);
      }
      // Both entries: the pool left and was closed by the time the block ended.
      expect(disposed.pools.size).toBe(0);
      expect(closed).toEqual([other.origin]);
      if (runtime.ownsSockets) {
        // The undici entry's sockets are its own: closed with the pool.
        await other.whenNoConnections();
        expect(other.openConnections).toBe(0);
      } else {
        // Node's own fetch keeps its sockets; the closed pool still answers, through a new pool.
        const again = await disposed.request('GET', other.url('/again'));
        expect(again.status).toBe(200);
        expect(disposed.pools.size).toBe(1);
        await disposed.clear();
        expect(closed).toEqual([other.origin, other.origin]);
      }
    });
  });
}
