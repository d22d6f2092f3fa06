/**
 * Disposal: `await using`, `clear()` and `close()` empty `pools` at once and
 * close every socket (counted at the server). Ports urllib3's
 * test_manager_clear and test_contextmanager.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClosedPoolError, PoolManager } from '../../adapters/node/index.js';
import type { TestServer } from '../support/servers.js';
import { closeAll, gate, recordEvents, startOrigins } from './helpers.js';

let servers: TestServer[];

beforeAll(async () => {
  servers = await startOrigins(3, undefined, 30);
});
afterAll(async () => {
  await closeAll(servers);
});

/** Sends a few concurrent requests to every server, so each has several keep-alive sockets open. */
async function useAll(manager: PoolManager): Promise<void> {
  await Promise.all(servers.flatMap((server) => [1, 2, 3].map((i) => manager.request('GET', server.url(`/${i}`)))));
}

async function expectNoServerSockets(): Promise<void> {
  await Promise.all(servers.map((server) => server.whenNoConnections()));
  expect(servers.map((server) => server.openConnections)).toEqual([0, 0, 0]);
}

describe('disposal', () => {
  it('await using: pools.size 0 and no socket left after the block', async () => {
    let outer: PoolManager | undefined;
    let pools: ReturnType<PoolManager['connectionFromUrl']>[] = [];
    {
      await using manager = new PoolManager(10);
      outer = manager;
      await useAll(manager);
      pools = servers.map((server) => manager.connectionFromUrl(server.url()));
      expect(manager.pools.size).toBe(3);
      expect(servers.reduce((n, s) => n + s.openConnections, 0)).toBeGreaterThanOrEqual(3);
    }
    expect(outer.pools.size).toBe(0);
    expect(pools.every((pool) => pool.closed)).toBe(true);
    await expectNoServerSockets();
  });

  it('clear(): pools.size 0 at once, resolves when every pool closed, and the manager stays usable', async () => {
    const manager = new PoolManager(5);
    const events = recordEvents(manager);
    await useAll(manager);
    const pool = manager.connectionFromUrl((servers[0] as TestServer).url());
    const cleared = manager.clear();
    expect(manager.pools.size).toBe(0);
    await cleared;
    expect(events.filter((e) => e.startsWith('poolclose')).length).toBe(3);
    // clear() is not an eviction.
    expect(events.some((e) => e.startsWith('poolevict'))).toBe(false);
    await expectNoServerSockets();

    // A cleared pool refuses new work (test_manager_clear: ClosedPoolError).
    await expect(pool.request('GET', (servers[0] as TestServer).url())).rejects.toThrow(ClosedPoolError);

    // The manager makes a new pool on demand.
    const r = await manager.request('GET', (servers[0] as TestServer).url('/after'));
    expect(r.status).toBe(200);
    expect(manager.pools.size).toBe(1);
    expect(manager.connectionFromUrl((servers[0] as TestServer).url())).not.toBe(pool);
    await manager.close();
    expect(manager.pools.size).toBe(0);
    await expectNoServerSockets();
  });

  it('close(): same as clear()', async () => {
    const manager = new PoolManager(10);
    await useAll(manager);
    await manager.close();
    expect(manager.pools.size).toBe(0);
    expect(manager.stats()).toEqual([]);
    await expectNoServerSockets();
  });

  it('the context manager (test_contextmanager): pools gone and closed after the block', async () => {
    const server = servers[0] as TestServer;
    let pool: ReturnType<PoolManager['connectionFromUrl']>;
    let outer: PoolManager;
    {
      await using p = new PoolManager(1);
      outer = p;
      pool = p.connectionFromUrl(server.url());
      expect(p.pools.size).toBe(1);
    }
    expect(outer.pools.size).toBe(0);
    expect(pool.closed).toBe(true);
    await expect(pool.request('GET', server.url())).rejects.toThrow(ClosedPoolError);
  });

  it('clear() waits for a running request and lets it finish', async () => {
    const held = gate();
    const [server] = await startOrigins(1, held.handler, 40);
    const manager = new PoolManager(10);
    try {
      const running = manager.request('GET', (server as TestServer).url('/held'));
      await held.arrived(1);
      let cleared = false;
      const clearing = manager.clear().then(() => {
        cleared = true;
      });
      expect(manager.pools.size).toBe(0);
      expect(cleared).toBe(false);
      held.release();
      const response = await running;
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('done /held');
      await clearing;
      expect(cleared).toBe(true);
      await (server as TestServer).whenNoConnections();
    } finally {
      held.release();
      await manager.close();
      await (server as TestServer).close();
    }
  });

  it('destroy(): does not wait for an unread streamed body, closes its socket and says poolclose', async () => {
    const manager = new PoolManager(10);
    const server = servers[0] as TestServer;
    let closed = 0;
    manager.addEventListener('poolclose', () => (closed += 1));
    const unread = await manager.request('GET', server.url('/stream'), { preloadContent: false });
    expect(unread.body).not.toBeNull();
    await manager.destroy();
    expect(manager.pools.size).toBe(0);
    expect(closed).toBe(1);
    await expectNoServerSockets();
  });
});
