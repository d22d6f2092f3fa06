/**
 * `poolfetch/budget/redis` against a real redis-server (started here on a
 * free loopback port) and a fleet of real Node processes, each with its own
 * PoolManager and the same budget, driving one loopback origin that counts
 * requests in flight.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterEach, afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetUnavailableError, PoolManager, type BudgetEvent } from '../../adapters/node/index.js';
import { redisBudget } from '../../adapters/budget/redis.js';
import { killLeftovers, measured, overtakes, startOrigin, startProcess, type Driven } from './processes.js';
import { haveRedis, startRedis, type RedisServer } from './redis-server.js';

const CHILD = join(import.meta.dirname, 'redis-child.ts');

/** Scripts Redis itself has run since its statistics were last reset (every budget call but PING is one). */
async function scriptsRun(redis: RedisServer): Promise<number> {
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    const info = String(await client.sendCommand(['INFO', 'commandstats']));
    return Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0);
  } finally {
    await client.quit();
  }
}

async function resetStats(redis: RedisServer): Promise<void> {
  const client = createClient({ url: redis.url });
  await client.connect();
  await client.sendCommand(['CONFIG', 'RESETSTAT']);
  await client.quit();
}

interface Plan {
  name: string;
  count: number;
  everyMs: number;
  limit: number;
  ttl: number;
  slices?: false | { uses: number; ms: number };
  callers?: number;
  path?: string;
  warmOrigin?: string;
}

interface Result {
  name: string;
  statuses: Array<number | string>;
}

/** A fleet member: a Node process running test/budget/redis-child.ts. */
interface Member {
  process: Driven;
  /** Resolves once it has warmed up and waits for `go()`. */
  ready: Promise<void>;
  go(): void;
  result: Promise<Result>;
}

afterEach(killLeftovers);

function runChild(redis: RedisServer, origin: string, plan: Plan): Member {
  const member = startProcess(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({ slices: false, ...plan, redisUrl: redis.url, origin: plan.path === undefined ? origin : `${origin}${plan.path}` })], { stdin: true, perTest: true });
  const result = member.exited.then(({ code, signal }) => {
    const line = member.output().split('\n').find((l) => l.startsWith('{'));
    if (code !== 0 || line === undefined) throw new Error(`child ${plan.name} exited ${String(code ?? signal)}: ${member.output()}`);
    return JSON.parse(line) as Result;
  });
  return { process: member, ready: member.printed((output) => output.includes('ready\n')), go: () => member.child.stdin?.end('go\n'), result };
}

/** Starts the members together once all have warmed up (and `beforeGo` has run); resolves with their results. */
async function together(fleet: Member[], beforeGo?: () => Promise<unknown>): Promise<Result[]> {
  await Promise.all(fleet.map((m) => m.ready));
  await beforeGo?.();
  for (const m of fleet) m.go();
  return Promise.all(fleet.map((m) => m.result));
}

describe.skipIf(!haveRedis)('redisBudget: a fleet of Node processes over one redis-server', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('4 processes, limit 3: never more than 3 in flight, every request succeeds, served in the order issued (no slices)', { timeout: 60_000 }, async () => {
    // Issued over about 500 ms (20 each, one every 25 ms), served over about 2 s (limit 3, 80 ms each): a deep line
    // whose issue window is wider than the margin below, so a line served out of order shows as an overtake.
    const origin = await startOrigin(80);
    try {
      const fleet = ['a', 'b', 'c', 'd'].map((name) => runChild(redis, origin.origin, { name, count: 20, everyMs: 25, limit: 3, ttl: 5000, slices: false }));
      const results = await together(fleet, () => resetStats(redis));
      for (const r of results) expect(r.statuses).toEqual(Array.from({ length: 20 }, () => 200));
      expect(measured(origin.arrivals)).toHaveLength(80);
      // Without slices every request asks and gives back: two scripts each at Redis.
      expect(await scriptsRun(redis)).toBeGreaterThanOrEqual(2 * 80);
      expect(origin.peak).toBe(3);
      // Served in the order issued across the fleet: none overtaken by a request issued 400 ms or more after it,
      // while the line is about 2 s long. The margin is the time from a call to its ask reaching Redis plus from the
      // grant to the request reaching the origin, in four processes sharing two busy cores.
      expect(overtakes(measured(origin.arrivals), 400)).toBe(0);
    } finally {
      await origin.close();
    }
  });

  it('with local slices (8 uses, 100 ms): still never above the limit, fewer calls to Redis, and order holds within the slice bound', { timeout: 60_000 }, async () => {
    const origin = await startOrigin(80);
    try {
      const fleet = ['a', 'b', 'c', 'd'].map((name) => runChild(redis, origin.origin, { name, count: 20, everyMs: 25, limit: 3, ttl: 5000, slices: { uses: 8, ms: 100 } }));
      const results = await together(fleet, () => resetStats(redis));
      for (const r of results) expect(r.statuses).toEqual(Array.from({ length: 20 }, () => 200));
      expect(origin.peak).toBe(3);

      // A slice lets a process's newer requests go before older ones elsewhere: per lease, at most 8 uses in 100 ms.
      // Bound: none overtaken by more than limit x uses requests issued 400 ms or more after it.
      const worst = overtakes(measured(origin.arrivals), 400);
      expect(worst).toBeLessThanOrEqual(3 * 8);
    } finally {
      await origin.close();
    }
  });

  it('a busy process (50 callers in closed loops, limit 10) with slices: Redis runs far fewer than the two scripts per request it runs without', { timeout: 60_000 }, async () => {
    const origin = await startOrigin(5);
    try {
      const counts: Record<string, number> = {};
      for (const slices of [false, { uses: 8, ms: 1000 }] as const) {
        // The shape the bench measures: the process holds the whole budget, and its own line is 40 long.
        const fleet = [runChild(redis, origin.origin, { name: 'a', count: 400, everyMs: 0, callers: 50, limit: 10, ttl: 5000, slices })];
        const results = await together(fleet, () => resetStats(redis));
        for (const r of results) expect(r.statuses).toEqual(Array.from({ length: 400 }, () => 200));
        counts[slices === false ? 'without' : 'with'] = await scriptsRun(redis);
      }
      expect(origin.peak).toBe(10);
      // Counted by Redis itself (INFO commandstats). Without slices: an ask and a release per request. With: a
      // freed lease serves the next request waiting in its process, up to 8, so most requests cost no script.
      expect(counts.without).toBeGreaterThanOrEqual(2 * 400);
      expect(counts.with).toBeLessThan(0.6 * 400);
    } finally {
      await origin.close();
    }
  });

  it('kill -9 of a holder: its leases come back after the TTL, and the others then go', { timeout: 60_000 }, async () => {
    const origin = await startOrigin(0);
    const elsewhere = await startOrigin(0);
    const ttl = 1500;
    try {
      const holder = runChild(redis, origin.origin, { name: 'holder', count: 2, everyMs: 0, limit: 2, ttl, path: '/hold' });
      holder.result.catch(() => {});
      // Started and warmed up (elsewhere: this origin's budget is about to be full) before the kill, so it asks at once.
      const next = runChild(redis, origin.origin, { name: 'next', count: 4, everyMs: 0, limit: 2, ttl, warmOrigin: elsewhere.origin });
      await Promise.all([holder.ready, next.ready]);
      holder.go();
      await origin.arrived(3);
      expect(origin.inFlight).toBe(2);
      const killedAt = Date.now();
      await holder.process.stop('SIGKILL');
      next.go();
      expect((await next.result).statuses).toEqual([200, 200, 200, 200]);
      const served = origin.arrivals.filter((a) => a.child === 'next');
      expect(served).toHaveLength(4);
      // Renewed every ttl/3 (give or take a busy event loop's lag, allowed up to another ttl/3), the dead holder's
      // leases outlived it by at least a third of the TTL: nothing gave them back when it died but their expiry.
      expect(Math.min(...served.map((a) => a.arrived)) - killedAt).toBeGreaterThanOrEqual(ttl / 3);
    } finally {
      await elsewhere.close();
      await origin.close();
    }
  });
});

describe.skipIf(!haveRedis)('redisBudget: when Redis stops', () => {
  for (const onUnavailable of ['local', 'fail'] as const) {
    it(`onUnavailable '${onUnavailable}'`, { timeout: 30_000 }, async () => {
      const redis = await startRedis();
      const origin = await startOrigin(0);
      const client = createClient({ url: redis.url, socket: { reconnectStrategy: 50 } });
      client.on('error', () => {});
      await client.connect();
      const budget = redisBudget(client, { limit: 2, ttl: 3000, onUnavailable, callTimeout: 300 });
      const manager = new PoolManager({ budget });
      const events: string[] = [];
      for (const type of ['budgetunavailable', 'budgetrestored']) manager.addEventListener(type, (e) => events.push((e as BudgetEvent).type));
      try {
        expect((await manager.request('GET', `${origin.origin}/before`)).status).toBe(200);
        await redis.stop();
        const unavailable = new Promise<BudgetEvent>((resolve) => manager.addEventListener('budgetunavailable', (e) => resolve(e as BudgetEvent), { once: true }));
        const during = manager.request('GET', `${origin.origin}/during`, { retries: false });
        if (onUnavailable === 'local') {
          expect((await during).status).toBe(200);
          expect(origin.arrivals.map((a) => a.seq)).toHaveLength(2);
        } else {
          await expect(during).rejects.toBeInstanceOf(BudgetUnavailableError);
          expect(origin.arrivals).toHaveLength(1);
        }
        await unavailable;
        expect(manager.stats()[0]?.budget?.mode).toBe(onUnavailable);
        const restored = new Promise((resolve) => manager.addEventListener('budgetrestored', resolve, { once: true }));
        await redis.start();
        await restored;
        expect(events).toEqual(['budgetunavailable', 'budgetrestored']);
        expect((await manager.request('GET', `${origin.origin}/after`)).status).toBe(200);
        expect(manager.stats()[0]?.budget?.mode).toBe('fleet');
        // Back on Redis: the lease of /after went back to the server.
        const leases = await client.sendCommand(['ZCARD', `poolfetch:budget:{${origin.origin}}:leases`]);
        expect(leases).toBe(0);
      } finally {
        await manager.close();
        await budget.close();
        await client.quit().catch(() => {});
        await origin.close();
        await redis.close();
      }
    });
  }

  it('bad options: a TypeError naming the value', () => {
    expect(() => redisBudget({} as never, { limit: 1 })).toThrow(/redisBudget client must be a node-redis client/);
    const fake = { sendCommand: async () => null, duplicate: () => { throw new Error('unused'); } };
    expect(() => redisBudget(fake as never, { limit: 1, callTimeout: 0 })).toThrow(/redisBudget callTimeout must be a positive integer number of milliseconds, got 0/);
    expect(() => redisBudget(fake as never, { limit: 1, prefx: 'x' } as never)).toThrow(/Unknown redisBudget option "prefx"/);
  });
});

describe.skipIf(!haveRedis)('redisBudget over an ioredis client', () => {
  it('two managers, each with its own ioredis client, limit 2: never more than 2 in flight at the origin, every request served, every lease back in Redis', { timeout: 30_000 }, async () => {
    const redis = await startRedis();
    const origin = await startOrigin(30);
    const clients = [new Redis(redis.url), new Redis(redis.url)];
    const budgets = clients.map((client) => redisBudget(client, { limit: 2, ttl: 5000, slices: false }));
    const managers = budgets.map((budget) => new PoolManager({ maxSize: 10, budget }));
    try {
      await resetStats(redis);
      const statuses = await Promise.all(managers.flatMap((manager, m) => Array.from({ length: 6 }, (_, i) =>
        manager.request('GET', `${origin.origin}/${m}/${i}`, { headers: { 'x-child': String(m), 'x-seq': String(i), 'x-issued': String(Date.now()) } }).then((r) => r.status))));
      expect(statuses).toEqual(Array.from({ length: 12 }, () => 200));
      expect(origin.arrivals).toHaveLength(12);
      expect(origin.peak).toBe(2);
      // Through Redis: an ask and a release per request, and no lease left.
      expect(await scriptsRun(redis)).toBeGreaterThanOrEqual(2 * 12);
      expect(await clients[0]?.call('ZCARD', `poolfetch:budget:{${origin.origin}}:leases`)).toBe(0);
    } finally {
      for (const manager of managers) await manager.close();
      for (const budget of budgets) await budget.close();
      for (const client of clients) await client.quit();
      await origin.close();
      await redis.close();
    }
  });
});
