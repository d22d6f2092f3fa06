/**
 * Pools under pressure, on both adapters against real loopback servers:
 * thousands of callers on two connections, and more origins than `numPools`
 * visited all at once. What is bounded is counted at the servers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolEvent } from '../../adapters/node/index.js';
import { adapters } from '../semantics/support.js';
import { startServer, type Handler, type TestServer } from '../support/servers.js';
import { closeAll, startOrigins } from './helpers.js';

/** Answers after a few turns of the event loop, so requests overlap at the server. */
const slowish: Handler = async (_req, res) => {
  for (let i = 0; i < 3; i += 1) await new Promise((resolve) => setImmediate(resolve));
  res.end('ok');
};

describe.each(adapters)('pressure ($name adapter)', (adapter) => {
  let server: TestServer;
  let origins: TestServer[];

  beforeAll(async () => {
    server = await startServer(slowish);
    // 20 origins, each its own loopback address (the fetch adapter's runtime pools sockets per origin too).
    origins = await startOrigins(20, slowish, 30);
  });
  afterAll(async () => {
    await server.close();
    await closeAll(origins);
  });

  it('5,000 requests waiting on maxSize 2, half of them sharing one signal: all answered, exactly 2 at once at the server, no warning', async () => {
    const manager = adapter.make({ maxSize: 2 });
    const before = server.requests.length;
    const shared = new AbortController();
    try {
      const statuses = await Promise.all(
        Array.from({ length: 5000 }, (_, i) => {
          const signal = i % 2 === 0 ? shared.signal : undefined;
          return i % 4 < 2
            ? manager.request('GET', server.url(`/r${i}`), signal === undefined ? {} : { signal }).then((r) => r.status)
            : manager.fetch(server.url(`/f${i}`), signal === undefined ? {} : { signal }).then(async (r) => {
                await r.arrayBuffer();
                return r.status;
              });
        }),
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(5000);
      expect(server.requests.length - before).toBe(5000);
      expect(server.peakInFlight).toBe(2);
      if (adapter.name === 'node') expect(server.peakConnections).toBe(2);
      else expect(server.peakConnections).toBeGreaterThanOrEqual(2);
    } finally {
      await manager.clear();
    }
  }, 120_000);

  it('3,000 manager.fetch calls sharing one signal: no listener piles up on it, no warning', async () => {
    // The runtime's fetch keeps a listener on the signal it is handed until GC and warns past
    // 1,500 (Node's undici): the pool must hand it a signal of the exchange's own.
    const manager = adapter.make({ maxSize: 4 });
    const shared = new AbortController();
    const before = server.requests.length;
    try {
      for (let batch = 0; batch < 30; batch += 1) {
        await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const response = await manager.fetch(server.url(`/s${batch}-${i}`), { signal: shared.signal });
            await response.arrayBuffer();
          }),
        );
      }
      expect(server.requests.length - before).toBe(3000);
      // The caller's abort still reaches a request in flight through the exchange's own signal.
      const held = manager.fetch(server.url('/held'), { signal: shared.signal });
      shared.abort(new Error('stop'));
      await expect(held).rejects.toThrow('stop');
    } finally {
      await manager.clear();
    }
  }, 120_000);

  it('destroy() with 10,000 requests waiting: every one rejects with ClosedPoolError, none reaches the server', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
    const held = await startServer(async (_req, res) => {
      arrived();
      await gate;
      res.end('late');
    });
    const manager = adapter.make({ maxSize: 1 });
    const pool = manager.connectionFromUrl(held.url());
    try {
      const first = manager.request('GET', held.url('/first')).catch((error: unknown) => error);
      const waiting = Array.from({ length: 10_000 }, (_, i) => manager.request('GET', held.url(`/w${i}`)).catch((error: unknown) => error));
      await firstArrived;
      expect(manager.stats()[0]?.queued).toBe(10_000);
      await manager.destroy();
      const errors = await Promise.all(waiting);
      expect(errors.every((error) => error instanceof Error && error.name === 'ClosedPoolError')).toBe(true);
      // The one in flight is cut off too; nothing that waited was sent.
      expect(await first).toBeInstanceOf(Error);
      expect(held.requests.map((r) => r.url)).toEqual(['/first']);
      // The waiters were turned away in the line, not each handed the slot and refused by the transport.
      expect(pool.numRequests).toBe(1);
    } finally {
      release();
      await held.close();
    }
  }, 120_000);

  it('600 requests over 20 origins, numPools 5, maxSize 3: no origin ever sees more than 3 at once, pools revive instead of doubling', async () => {
    const manager = adapter.make({ numPools: 5, maxSize: 3 });
    const counts = { poolcreate: 0, poolevict: 0, poolrevive: 0, poolclose: 0 };
    for (const type of Object.keys(counts) as Array<keyof typeof counts>) {
      manager.addEventListener(type, () => (counts[type] += 1));
    }
    const live = new Map<string, number>();
    let doubled = false;
    manager.addEventListener('poolcreate', (event) => {
      const { origin } = event as PoolEvent;
      // A second pool for an origin while the first is not closed would break the cap.
      if ((live.get(origin) ?? 0) > 0) doubled = true;
      live.set(origin, (live.get(origin) ?? 0) + 1);
    });
    manager.addEventListener('poolclose', (event) => {
      const { origin } = event as PoolEvent;
      live.set(origin, (live.get(origin) ?? 0) - 1);
    });
    const before = origins.map((o) => o.requests.length);
    try {
      const statuses = await Promise.all(
        Array.from({ length: 600 }, (_, i) => {
          const origin = origins[i % 20] as TestServer;
          return i % 2 === 0
            ? manager.request('GET', origin.url(`/${i}`)).then((r) => r.status)
            : manager.fetch(origin.url(`/${i}`)).then(async (r) => {
                await r.arrayBuffer();
                return r.status;
              });
        }),
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(600);
      expect(origins.map((o, i) => o.requests.length - (before[i] as number))).toEqual(Array.from({ length: 20 }, () => 30));
      const peaks = origins.map((o) => o.peakInFlight);
      expect(Math.max(...peaks)).toBe(3);
      expect(doubled).toBe(false);
      expect(counts.poolrevive).toBeGreaterThan(0);
      expect(manager.pools.size).toBe(5);
      if (adapter.name === 'node') {
        // Sockets are the Node adapter's own: at most maxSize per origin, counted at the servers
        // (a socket the client has closed counts no more, though the server may not have closed its side yet).
        expect(Math.max(...origins.map((o) => o.peakUnendedConnections))).toBeLessThanOrEqual(3);
      }
    } finally {
      await manager.clear();
    }
    if (adapter.name === 'node') {
      await Promise.all(origins.map((o) => o.whenNoConnections()));
      expect(origins.map((o) => o.openConnections)).toEqual(Array.from({ length: 20 }, () => 0));
    }
    // Every pool made was closed: the 5 live ones by clear(), the retiring ones as they emptied.
    expect(counts.poolclose).toBe(counts.poolcreate);
  }, 60_000);
});
