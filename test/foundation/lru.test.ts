/**
 * The LRU bound on pools (urllib3's RecentlyUsedContainer, test_many_urls),
 * against real servers on 12 loopback addresses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';
import { closeAll, gate, nextEvent, recordEvents, startOrigins } from './helpers.js';

let origins: TestServer[];

beforeAll(async () => {
  origins = await startOrigins(12);
});
afterAll(async () => {
  await closeAll(origins);
});

const keyOf = (server: TestServer): string => `http://${server.host}:${server.port}`;

describe('LRU of pools', () => {
  it('keeps pools.size at numPools for 12 origins and evicts the least recently used first', async () => {
    const manager = new PoolManager(10);
    const events = recordEvents(manager);
    for (const [i, server] of origins.entries()) {
      const r = await manager.request('GET', server.url(`/${i}`));
      expect(r.status).toBe(200);
      expect(manager.pools.size).toBe(Math.min(i + 1, 10));
    }
    expect(manager.pools.size).toBe(10);
    // The first two origins left, in the order they were last used.
    expect(events.filter((e) => e.startsWith('poolevict'))).toEqual([
      `poolevict ${keyOf(origins[0] as TestServer)}`,
      `poolevict ${keyOf(origins[1] as TestServer)}`,
    ]);
    expect(manager.pools.keys()).toEqual(origins.slice(2).map(keyOf));
    expect(manager.pools.has(keyOf(origins[0] as TestServer))).toBe(false);
    expect(manager.stats().map((row) => row.origin)).toEqual(origins.slice(2).map(keyOf));
    await manager.close();
    // Every pool, evicted or not, closed its sockets.
    await Promise.all(origins.map((server) => server.whenNoConnections()));
    expect(origins.reduce((n, server) => n + server.openConnections, 0)).toBe(0);
  });

  it('a request protects its pool: the least recently USED pool leaves, not the oldest', async () => {
    const manager = new PoolManager(10);
    const evicted: string[] = [];
    manager.addEventListener('poolevict', (event) => evicted.push((event as { key: string } & Event).key));
    for (const server of origins.slice(0, 10)) await manager.request('GET', server.url());
    // Use the oldest pool again: now the second one is the least recently used.
    await manager.request('GET', (origins[0] as TestServer).url('/again'));
    await manager.request('GET', (origins[10] as TestServer).url());
    expect(evicted).toEqual([keyOf(origins[1] as TestServer)]);
    expect(manager.pools.has(keyOf(origins[0] as TestServer))).toBe(true);
    expect(manager.connectionFromUrl((origins[0] as TestServer).url()).numRequests).toBe(2);
    // connectionFromUrl counts as a use too.
    manager.connectionFromUrl((origins[2] as TestServer).url());
    await manager.request('GET', (origins[11] as TestServer).url());
    expect(evicted).toEqual([keyOf(origins[1] as TestServer), keyOf(origins[3] as TestServer)]);
    expect(manager.pools.size).toBe(10);
    await manager.close();
  });

  it('an evicted pool makes a fresh pool when its origin comes back', async () => {
    const manager = new PoolManager(1);
    const first = origins[0] as TestServer;
    const pool = manager.connectionFromUrl(first.url());
    await manager.request('GET', first.url());
    await manager.request('GET', (origins[1] as TestServer).url());
    expect(manager.pools.size).toBe(1);
    await manager.request('GET', first.url());
    const again = manager.connectionFromUrl(first.url());
    expect(again).not.toBe(pool);
    expect(pool.numRequests).toBe(1);
    expect(again.numRequests).toBe(1);
    expect(pool.closed).toBe(true);
    await manager.close();
  });
});

describe('eviction under a running request', () => {
  it('closes the evicted pool only after its request finished successfully', async () => {
    const slowGate = gate();
    const slow = await startServer(slowGate.handler, { host: '127.0.0.20' });
    const manager = new PoolManager(10);
    const events = recordEvents(manager);
    try {
      const slowKey = keyOf(slow);
      const evictedEvent = nextEvent(manager, 'poolevict', slowKey);
      const closedEvent = nextEvent(manager, 'poolclose', slowKey);
      const running = manager.request('GET', slow.url('/slow'));
      await slowGate.arrived(1);
      const slowPool = manager.connectionFromUrl(slow.url());
      expect(slowPool.stats().running).toBe(1);

      // Ten other origins push the slow pool out while its request is still running.
      for (const server of origins.slice(0, 10)) await manager.request('GET', server.url());
      await evictedEvent;
      expect(manager.pools.has(slowKey)).toBe(false);
      expect(manager.pools.size).toBe(10);
      expect(slowPool.stats().running).toBe(1);
      expect(events).not.toContain(`poolclose ${slowKey}`);
      expect(slow.openConnections).toBe(1);

      slowGate.release();
      const response = await running;
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('done /slow');
      await closedEvent;
      const slowEvents = events.filter((e) => e.endsWith(` ${slowKey}`));
      expect(slowEvents).toEqual([`poolcreate ${slowKey}`, `poolevict ${slowKey}`, `poolclose ${slowKey}`]);
      await slow.whenNoConnections();
      expect(slow.openConnections).toBe(0);
      expect(slowPool.numRequests).toBe(1);
    } finally {
      slowGate.release();
      await manager.close();
      await slow.close();
    }
  });

  it('a streamed body holds its evicted pool open until it is read, and the pool closes after it', async () => {
    // Headers and a first chunk at once; the rest only when the test says: the body is unfinished across the eviction.
    const rest = deferred();
    const server = await startServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first,');
      await rest.promise;
      res.end('last');
    }, { host: '127.0.0.21' });
    const manager = new PoolManager(1);
    const [b] = origins as [TestServer];
    try {
      const streamed = await manager.request('GET', server.url('/stream'), { preloadContent: false });
      const key = keyOf(server);
      const order: string[] = [];
      const closed = nextEvent(manager, 'poolclose', key).then(() => order.push('poolclose'));
      const pool = manager.connectionFromUrl(server.url());
      await manager.request('GET', b.url());
      expect(manager.pools.has(key)).toBe(false);
      expect(pool.stats().running).toBe(1);
      // Its socket is still open at the server while the body is unfinished.
      expect(server.openConnections).toBe(1);
      rest.resolve();
      expect(await streamed.text()).toBe('first,last');
      order.push('read');
      await closed;
      // Closed after the body was read, never before: reading needed the server, closing would have been at once.
      expect(order).toEqual(['read', 'poolclose']);
      await server.whenNoConnections();
    } finally {
      rest.resolve();
      await manager.close();
      await server.close();
    }
  });
});

describe('a retiring pool revived', () => {
  it('comes back into the LRU as the same pool (poolevict then poolrevive), keeps its counters and its cap', async () => {
    const held = gate();
    const server = await startServer(held.handler, { host: '127.0.0.22' });
    const manager = new PoolManager({ numPools: 1, maxSize: 1 });
    const events = recordEvents(manager);
    const [other] = origins as [TestServer];
    try {
      const key = keyOf(server);
      const first = manager.request('GET', server.url('/1'));
      await held.arrived(1);
      const pool = manager.connectionFromUrl(server.url());
      // Another origin evicts it while its request runs: it is retiring, out of pools and stats().
      await manager.request('GET', other.url());
      expect(manager.pools.keys()).toEqual([keyOf(other)]);
      expect(manager.stats().map((row) => row.key)).toEqual([keyOf(other)]);
      // Its origin again: the same pool comes back, and the other is evicted.
      const second = manager.request('GET', server.url('/2'));
      expect(manager.pools.keys()).toEqual([key]);
      expect(manager.connectionFromUrl(server.url())).toBe(pool);
      expect(events.filter((e) => e.endsWith(` ${key}`))).toEqual([`poolcreate ${key}`, `poolevict ${key}`, `poolrevive ${key}`]);
      expect(events).toContain(`poolevict ${keyOf(other)}`);
      // maxSize 1 still holds across the eviction: the second request waits for the first.
      expect(pool.stats()).toMatchObject({ running: 1, queued: 1 });
      held.release();
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
      expect(server.peakInFlight).toBe(1);
      expect(server.requests.map((r) => r.url)).toEqual(['/1', '/2']);
      expect(pool.numRequests).toBe(2);
      expect(manager.stats()).toEqual([expect.objectContaining({ key, numRequests: 2, running: 0, queued: 0 })]);
      expect(events).not.toContain(`poolclose ${key}`);
    } finally {
      held.release();
      await manager.close();
      await server.close();
    }
  });

  it('a pool that closed before its origin came back is not revived: a new pool is made', async () => {
    const manager = new PoolManager(1);
    const events = recordEvents(manager);
    const [a, b] = origins as [TestServer, TestServer];
    try {
      await manager.request('GET', a.url());
      const closed = nextEvent(manager, 'poolclose', keyOf(a));
      await manager.request('GET', b.url());
      await closed;
      await manager.request('GET', a.url());
      expect(events.filter((e) => e.endsWith(` ${keyOf(a)}`))).toEqual([
        `poolcreate ${keyOf(a)}`,
        `poolevict ${keyOf(a)}`,
        `poolclose ${keyOf(a)}`,
        `poolcreate ${keyOf(a)}`,
      ]);
    } finally {
      await manager.close();
    }
  });
});
