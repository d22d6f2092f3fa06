/**
 * A pool and a manager are both a `Requester`; `manager.fetch` is a standard
 * fetch through the same pools; `stats()` and the pool events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectionPool,
  HostChangedError,
  PoolManager,
  type PoolEvent,
  type Requester,
} from '../../adapters/node/index.js';
import type { TestServer } from '../support/servers.js';
import { closeAll, recordEvents, startOrigins } from './helpers.js';
import { fetchCause } from '../support/fetch-error.js';

let servers: [TestServer, TestServer, TestServer];

beforeAll(async () => {
  servers = (await startOrigins(
    3,
    (req, res) => {
      res.setHeader('server', 'poolfetch-test');
      res.setHeader('content-type', 'application/json');
      // startServer has read the body already (into `requests`).
      res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host }));
    },
    70,
  )) as typeof servers;
});
afterAll(async () => {
  await closeAll(servers);
});

/** Code written against the interface, as a library would take it. */
async function getJson(requester: Requester, url: string): Promise<{ method: string; url: string; host: string }> {
  const viaRequest = await requester.request('GET', url);
  const viaFetch = await requester.fetch(url, { headers: { accept: 'application/json' } });
  expect(viaFetch).toBeInstanceOf(Response);
  const fetched = (await viaFetch.json()) as { url: string };
  const requested = (await viaRequest.json()) as { method: string; url: string; host: string };
  expect(fetched.url).toBe(requested.url);
  return requested;
}

describe('Requester', () => {
  it('one function taking a Requester works with a manager and with a pool', async () => {
    const [a] = servers;
    const manager = new PoolManager();
    try {
      expect(await getJson(manager, a.url('/via-manager'))).toEqual({ method: 'GET', url: '/via-manager', host: `${a.host}:${a.port}` });
      const pool = manager.connectionFromUrl(a.url());
      expect(pool).toBeInstanceOf(ConnectionPool);
      expect(await getJson(pool, a.url('/via-pool'))).toMatchObject({ method: 'GET', url: '/via-pool' });
      // Both went through the same pool: 2 requests each way.
      expect(pool.numRequests).toBe(4);
      expect(manager.pools.size).toBe(1);
    } finally {
      await manager.close();
    }
  });

  it('a pool given another origin\'s URL throws HostChangedError (request and fetch) and sends nothing', async () => {
    const [a, b] = servers;
    const manager = new PoolManager();
    try {
      const pool = manager.connectionFromUrl(a.url());
      const before = b.requests.length;
      const error = await pool.request('POST', b.url('/elsewhere'), { body: 'x' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HostChangedError);
      expect((error as HostChangedError).origin).toBe(pool.origin);
      expect((error as HostChangedError).url).toBe(b.url('/elsewhere'));
      expect((error as HostChangedError).method).toBe('POST');
      expect((error as Error).message).toContain(b.url('/elsewhere'));
      expect(fetchCause(await pool.fetch(b.url('/elsewhere')).catch((e: unknown) => e))).toBeInstanceOf(HostChangedError);
      expect(fetchCause(await pool.fetch(new Request(b.url('/elsewhere'))).catch((e: unknown) => e))).toBeInstanceOf(HostChangedError);
      // Same host, other port or scheme: another origin too.
      await expect(pool.request('GET', `https://${a.host}:${a.port}/`)).rejects.toThrow(HostChangedError);
      await expect(pool.request('GET', `http://${a.host}:${a.port + 1}/`)).rejects.toThrow(HostChangedError);
      expect(b.requests.length).toBe(before);
      expect(pool.numRequests).toBe(0);
      // The same origin, spelt differently, is accepted.
      const ok = await pool.request('GET', `HTTP://${a.host}:${a.port}/same`);
      expect(ok.status).toBe(200);
    } finally {
      await manager.close();
    }
  });

  it('a pool does not follow a redirect to another origin: it returns the 3xx', async () => {
    const [redirecting] = await startOrigins(1, (_req, res) => {
      res.writeHead(302, { location: servers[1].url('/target') }).end();
    }, 73);
    const manager = new PoolManager();
    try {
      const pool = manager.connectionFromUrl((redirecting as TestServer).url());
      const r = await pool.request('GET', (redirecting as TestServer).url('/'));
      expect(r.status).toBe(302);
      const viaManager = await manager.request('GET', (redirecting as TestServer).url('/'));
      expect(viaManager.status).toBe(200);
      expect(viaManager.redirects).toEqual([servers[1].url('/target')]);
    } finally {
      await manager.close();
      await (redirecting as TestServer).close();
    }
  });
});

describe('manager.fetch', () => {
  it('returns a standard Response through the same pools (numRequests grows)', async () => {
    const [a, b] = servers;
    const manager = new PoolManager();
    try {
      await manager.request('GET', a.url('/first'));
      const pool = manager.connectionFromUrl(a.url());
      expect(pool.numRequests).toBe(1);
      const response = await manager.fetch(a.url('/fetched?x=1'), { method: 'POST', body: 'hello', headers: { 'x-test': 'yes' } });
      expect(response).toBeInstanceOf(globalThis.Response);
      expect(response.ok).toBe(true);
      expect(response.status).toBe(200);
      expect(response.headers.get('server')).toBe('poolfetch-test');
      expect(response.url).toBe(a.url('/fetched?x=1'));
      expect(await response.json()).toMatchObject({ method: 'POST', url: '/fetched?x=1' });
      expect(a.requests.at(-1)?.headers['x-test']).toBe('yes');
      expect(a.requests.at(-1)?.body).toBe('hello');
      expect(pool.numRequests).toBe(2);
      expect(manager.pools.size).toBe(1);
      // A Request object and a URL object work too; another origin gets its own pool.
      const viaRequest = await manager.fetch(new Request(b.url('/req')));
      expect(await viaRequest.json()).toMatchObject({ url: '/req' });
      const viaUrl = await manager.fetch(new URL(a.url('/url')));
      expect(await viaUrl.json()).toMatchObject({ url: '/url' });
      expect(pool.numRequests).toBe(3);
      expect(manager.pools.size).toBe(2);
      // Bound: it can be passed around like the global fetch.
      const { fetch } = manager;
      const bound = await fetch(a.url('/bound'));
      expect(bound.status).toBe(200);
      // Read every body: an unread one holds its connection, and close() waits for it.
      expect(await bound.json()).toMatchObject({ url: '/bound' });
    } finally {
      await manager.close();
    }
  });
});

describe('stats() and events', () => {
  it('has one row per live pool, least recently used first', async () => {
    const [a, b] = servers;
    // The servers are shared by the file: count this test's sockets from here.
    const [aBefore, bBefore] = [a.totalConnections, b.totalConnections];
    const manager = new PoolManager();
    try {
      await manager.request('GET', a.url());
      await manager.request('GET', b.url());
      await manager.request('POST', b.url('/headers'), { body: 'x' });
      await manager.request('HEAD', b.url('/cookies'));
      const rows = manager.stats();
      expect(rows).toEqual([
        { key: `http://${a.host}:${a.port}`, origin: `http://${a.host}:${a.port}`, numRequests: 1, numConnections: 1, openConnections: expect.any(Number) as number, running: 0, queued: 0 },
        { key: `http://${b.host}:${b.port}`, origin: `http://${b.host}:${b.port}`, numRequests: 3, numConnections: expect.any(Number) as number, openConnections: expect.any(Number) as number, running: 0, queued: 0 },
      ]);
      // Sockets opened, and open now (none has closed: keep-alive), as the servers counted them.
      const opened = [a.totalConnections - aBefore, b.totalConnections - bBefore];
      expect(opened[0]).toBe(1);
      expect(rows.map((row) => [row.numConnections, row.openConnections])).toEqual([[opened[0], opened[0]], [opened[1], opened[1]]]);
      // The seed: connectionFromHost finds the pool and its count.
      expect(manager.connectionFromHost(b.host, b.port).numRequests).toBe(3);
      const pool = manager.connectionFromHost(a.host, a.port);
      // a's one socket is open and idle.
      expect(pool.stats()).toEqual({ running: 0, queued: 0, connected: 1, free: 1 });
    } finally {
      await manager.close();
    }
  });

  it('dispatches poolcreate, poolevict and poolclose with the key and origin', async () => {
    const [a, b, c] = servers;
    const manager = new PoolManager(2);
    const events = recordEvents(manager);
    const origins: string[] = [];
    manager.addEventListener('poolcreate', (event) => origins.push((event as PoolEvent).origin));
    const key = (s: TestServer): string => `http://${s.host}:${s.port}`;
    await manager.request('GET', a.url());
    await manager.request('GET', a.url());
    await manager.request('GET', b.url());
    await manager.request('GET', c.url());
    const evictedClosed = new Promise<void>((resolve) => {
      if (events.includes(`poolclose ${key(a)}`)) resolve();
      manager.addEventListener('poolclose', () => resolve());
    });
    await evictedClosed;
    // The third pool pushes the least recently used one out as it is added, then is announced.
    expect(events.slice(0, 4)).toEqual([`poolcreate ${key(a)}`, `poolcreate ${key(b)}`, `poolevict ${key(a)}`, `poolcreate ${key(c)}`]);
    expect(events).toContain(`poolclose ${key(a)}`);
    expect(origins).toEqual([key(a), key(b), key(c)]);
    await manager.close();
    expect(events.filter((e) => e.startsWith('poolclose')).sort()).toEqual([`poolclose ${key(a)}`, `poolclose ${key(b)}`, `poolclose ${key(c)}`].sort());
    expect(events.filter((e) => e.startsWith('poolcreate'))).toHaveLength(3);
  });
});
