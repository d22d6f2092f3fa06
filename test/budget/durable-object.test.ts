/**
 * `poolfetch/budget/durable-object` in real workerd: three Worker services
 * (three isolates, a small fleet) bind one `PoolBudget` namespace and drive
 * one loopback origin that counts requests in flight. The BUILT package
 * (`npm run build` first).
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durableObjectBudget } from '../../adapters/budget/durable-object.js';
import { overtakes, startOrigin } from './processes.js';
import { startFleet, type WorkerdFleet } from './workerd-fleet.js';

/** One request to a Worker of the fleet (no keep-alive, so no socket outlives the test): its status line from the Worker. */
function call(url: string, params: Record<string, string | number>): Promise<string> {
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
  return new Promise((resolve, reject) => {
    http.get(`${url}/?${query}`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

const NAMES = ['w1', 'w2', 'w3'];

describe('durableObjectBudget: three Worker isolates sharing one PoolBudget namespace in workerd', () => {
  let fleet: WorkerdFleet;
  beforeAll(async () => {
    fleet = await startFleet(NAMES);
  }, 60_000);
  afterAll(async () => {
    await fleet?.close();
  });

  it('limit 3 across the isolates: never more than 3 in flight, every request succeeds, served in the order issued', { timeout: 60_000 }, async () => {
    // Issued over about 600 ms (one every 20 ms), served over about 1.5 s (limit 3, 150 ms each): the line is
    // deep and its issue window wider than the margin below, so a line served out of order shows as an overtake.
    const origin = await startOrigin(150);
    try {
      const calls: Array<Promise<string>> = [];
      for (let seq = 0; seq < 10; seq += 1) {
        for (const name of NAMES) {
          calls.push(call(fleet.urls.get(name) as string, { target: `${origin.origin}/${name}/${seq}`, limit: 3, ttl: 5000, seq, issued: Date.now() }));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      expect(await Promise.all(calls)).toEqual(Array.from({ length: 30 }, () => '200'));
      expect(origin.arrivals).toHaveLength(30);
      expect(origin.peak).toBe(3);
      expect(new Set(origin.arrivals.map((a) => a.child))).toEqual(new Set(NAMES));
      // In order across the isolates: none overtaken by a request issued 400 ms or more after it.
      expect(overtakes(origin.arrivals, 400)).toBe(0);
    } finally {
      await origin.close();
    }
  });

  it('manager.fetch in a Worker: the lease is back at the object by the time the handler has read the body and returned', { timeout: 60_000 }, async () => {
    const origin = await startOrigin(0);
    try {
      for (let seq = 0; seq < 5; seq += 1) {
        // A TTL far beyond the test: a release workerd cancelled would leave the lease held at the object. Each
        // release reaches the object 100 ms after it is made, as from a Worker far from it.
        const name = NAMES[seq % NAMES.length] as string;
        const status = await call(fleet.urls.get(name) as string, { target: `${origin.origin}/fetch/${seq}`, api: 'fetch', limit: 1, ttl: 600_000, slowRelease: 100, seq, issued: Date.now() });
        expect(status).toBe('200');
        expect(JSON.parse(await call(fleet.urls.get(name) as string, { ping: origin.origin }))).toEqual({ leases: 0, waiting: 0 });
      }
      expect(origin.arrivals).toHaveLength(5);
    } finally {
      await origin.close();
    }
  });

  it('a request that ends while waiting for its lease gives up its place: the next one is served when the holder is done, not after the TTL of a lease nobody uses', { timeout: 60_000 }, async () => {
    const origin = await startOrigin(0);
    const ttl = 10_000;
    const params = { limit: 1, ttl };
    try {
      const holder = call(fleet.urls.get('w1') as string, { ...params, target: `${origin.origin}/hold/holder`, seq: 0 });
      await origin.arrived(1);
      // Its handler returns at once, leaving the request waiting in the object's line.
      expect(await call(fleet.urls.get('w2') as string, { ...params, target: `${origin.origin}/abandoned`, seq: 1, abandon: 1 })).toBe('abandoned');
      await until(async () => (JSON.parse(await call(fleet.urls.get('w2') as string, { ping: origin.origin })) as { waiting: number }).waiting === 1);
      const next = call(fleet.urls.get('w2') as string, { ...params, target: `${origin.origin}/next`, seq: 2 });
      await until(async () => (JSON.parse(await call(fleet.urls.get('w2') as string, { ping: origin.origin })) as { waiting: number }).waiting === 2);
      const releasedAt = Date.now();
      origin.releaseHeld();
      expect(await holder).toBe('200');
      expect(await next).toBe('200');
      expect(origin.arrivals.map((a) => a.path)).toEqual(['/hold/holder', '/next']);
      // The ended request is found by the others' heartbeat within 1.5 s; a lease granted to it would have held the budget for the TTL.
      expect((origin.arrivals[1]?.arrived ?? Infinity) - releasedAt).toBeLessThan(ttl / 2);
      const stats = JSON.parse(await call(fleet.urls.get('w2') as string, { ...params, stats: 1 })) as { stats: Array<{ budget?: { mode: string; waiting: number } }>; events: string[] };
      expect(stats.events).toEqual([]);
      expect(stats.stats[0]?.budget).toMatchObject({ mode: 'fleet', waiting: 0 });
      expect(JSON.parse(await call(fleet.urls.get('w1') as string, { ping: origin.origin }))).toEqual({ leases: 0, waiting: 0 });
    } finally {
      origin.releaseHeld();
      await origin.close();
    }
  });

  it('a restarted object keeps its leases: after kill -9 of workerd, the lease of a request that never ended holds the budget until its TTL runs out', { timeout: 60_000 }, async () => {
    const origin = await startOrigin(0);
    const ttl = 3000;
    try {
      const holding = call(fleet.urls.get('w1') as string, { target: `${origin.origin}/hold/w1`, limit: 1, ttl, seq: 0, issued: Date.now() }).catch(() => 'cut');
      await origin.arrived(1);
      const killedAt = Date.now();
      await fleet.kill();
      expect(await holding).toBe('cut');
      await fleet.start();
      const next = await call(fleet.urls.get('w2') as string, { target: `${origin.origin}/after/w2`, limit: 1, ttl, seq: 1, issued: Date.now() });
      expect(next).toBe('200');
      const after = origin.arrivals.find((a) => a.child === 'w2');
      // A fresh object would have granted at once; the stored lease (renewed at most ttl/3 before the kill) blocked it.
      expect((after?.arrived ?? 0) - killedAt).toBeGreaterThanOrEqual(ttl / 3);
    } finally {
      await origin.close();
    }
  });
});

describe('durableObjectBudget: the PoolBudget objects in a workerd of their own, stopped (SIGKILL) while the Workers live', () => {
  let fleet: WorkerdFleet;
  beforeAll(async () => {
    fleet = await startFleet(NAMES, { separate: true });
  }, 60_000);
  afterAll(async () => {
    await fleet?.close();
  });

  for (const onUnavailable of ['local', 'fail'] as const) {
    it(`onUnavailable '${onUnavailable}': events, stats().budget and what a request gets, until the object is back`, { timeout: 60_000 }, async () => {
      const origin = await startOrigin(0);
      const w1 = fleet.urls.get('w1') as string;
      // Retried for 300 ms before the object counts as unavailable (it stays down longer here).
      const params = { limit: 2, ttl: 5000, onUnavailable, retryFor: 300 };
      const stats = async (): Promise<{ stats: Array<{ budget?: { mode: string } }>; events: string[] }> => JSON.parse(await call(w1, { ...params, stats: 1 })) as never;
      try {
        expect(await call(w1, { ...params, target: `${origin.origin}/before`, seq: 0 })).toBe('200');
        await fleet.stopBudget();
        const during = await call(w1, { ...params, target: `${origin.origin}/during`, seq: 1 });
        // The first probe is due 100 ms after the failure (the documented backoff); nothing happens meanwhile to await.
        const probeDue = new Promise((resolve) => setTimeout(resolve, 150));
        if (onUnavailable === 'local') {
          expect(during).toBe('200');
          expect(origin.arrivals.map((a) => a.path)).toEqual(['/before', '/during']);
        } else {
          expect(during).toMatch(/BudgetUnavailableError/);
          expect(origin.arrivals.map((a) => a.path)).toEqual(['/before']);
        }
        let seen = await stats();
        expect(seen.events).toEqual(['budgetunavailable']);
        expect(seen.stats[0]?.budget?.mode).toBe(onUnavailable);
        await fleet.startBudget();
        await probeDue;
        // The next request probes (the probe's timer died with the request that set it) and goes through the object.
        expect(await call(w1, { ...params, target: `${origin.origin}/after`, seq: 2 })).toBe('200');
        seen = await stats();
        expect(seen.events).toEqual(['budgetunavailable', 'budgetrestored']);
        expect(seen.stats[0]?.budget?.mode).toBe('fleet');
        expect(origin.arrivals.at(-1)?.path).toBe('/after');
        // Its lease went back to the restarted object.
        expect(JSON.parse(await call(w1, { ping: origin.origin }))).toEqual({ leases: 0, waiting: 0 });
      } finally {
        await origin.close();
      }
    });
  }
});

/** Resolves once `check` holds, asking again every 20 ms (what the object holds is seen only by asking it). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('durableObjectBudget: a restarted PoolBudget keeps its line', () => {
  let fleet: WorkerdFleet;
  beforeAll(async () => {
    fleet = await startFleet(NAMES, { separate: true });
  }, 60_000);
  afterAll(async () => {
    await fleet?.close();
  });

  it('three requests waiting in line (one per isolate), the objects SIGKILLed and restarted, a newcomer after them: served in arrival order, never above the limit', { timeout: 60_000 }, async () => {
    const origin = await startOrigin(0);
    // A TTL long enough that no renewal falls in the test; calls retried while the objects are down.
    const params = { limit: 1, ttl: 60_000, retryFor: 20_000 };
    const url = (name: string): string => fleet.urls.get(name) as string;
    const waiting = async (n: number): Promise<boolean> => (JSON.parse(await call(url('w1'), { ping: origin.origin })) as { waiting: number }).waiting === n;
    try {
      const holder = call(url('w1'), { ...params, target: `${origin.origin}/hold/holder`, seq: 0, issued: Date.now() });
      await origin.arrived(1);
      const calls: Array<Promise<string>> = [];
      for (const [seq, name] of [[1, 'w2'], [2, 'w3'], [3, 'w1']] as const) {
        calls.push(call(url(name), { ...params, target: `${origin.origin}/line/${seq}`, seq, issued: Date.now() }));
        await until(() => waiting(seq));
      }
      await fleet.stopBudget();
      await fleet.startBudget();
      // At once: the three waiting calls, cut by the kill, are being tried again (50 ms doubling).
      calls.push(call(url('w2'), { ...params, target: `${origin.origin}/line/4`, seq: 4, issued: Date.now() }));
      await until(() => waiting(4));
      origin.releaseHeld();
      expect(await holder).toBe('200');
      expect(await Promise.all(calls)).toEqual(['200', '200', '200', '200']);
      expect(origin.arrivals.map((a) => a.path)).toEqual(['/hold/holder', '/line/1', '/line/2', '/line/3', '/line/4']);
      expect(origin.peak).toBe(1);
      expect(JSON.parse(await call(url('w1'), { ping: origin.origin }))).toEqual({ leases: 0, waiting: 0 });
    } finally {
      origin.releaseHeld();
      await origin.close();
    }
  });
});

describe('durableObjectBudget options', () => {
  it('bad options: a TypeError naming the value', () => {
    const namespace = { idFromName: (name: string) => name, get: () => ({ fetch: () => Promise.reject(new Error('unused')) }) };
    expect(() => durableObjectBudget({} as never, { limit: 1 })).toThrow(/durableObjectBudget namespace must be a Durable Object namespace binding/);
    expect(() => durableObjectBudget(namespace, { limit: 1, retryFor: -5 })).toThrow(TypeError);
    expect(() => durableObjectBudget(namespace, { limit: 1, retryFor: -5 })).toThrow(/durableObjectBudget retryFor must be a non-negative integer number of milliseconds, got -5/);
    expect(() => durableObjectBudget(namespace, { limit: 1, retryfor: 5 } as never)).toThrow(/Unknown durableObjectBudget option "retryfor"/);
  });
});
