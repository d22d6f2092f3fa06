/**
 * The `budget` option in the core and `FleetBudget` (src/fleet-budget.ts),
 * over an in-memory coordinator: several managers, each with its own
 * `FleetBudget` on one coordinator, stand for several processes. Requests
 * go to real loopback servers that count what is in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  BudgetUnavailableError, ClosedPoolError, EmptyPoolError, PoolManager, type BudgetEvent,
} from '../../adapters/node/index.js';
import { FleetBudget } from '../../src/fleet-budget.js';
import type { TestServer } from '../support/servers.js';
import { closeAll, gate, startOrigins } from '../foundation/helpers.js';
import { MemoryCoordinator } from './memory-coordinator.js';

const opened: Array<{ close(): Promise<void> }> = [];
function track<T extends { close(): Promise<void> }>(thing: T): T {
  opened.push(thing);
  return thing;
}
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

function budget(coordinator: MemoryCoordinator, options: Record<string, unknown>): FleetBudget {
  return track(new FleetBudget(coordinator, { ttl: 30_000, ...options }, 'testBudget'));
}

function nextEvent(target: EventTarget, type: string): Promise<BudgetEvent> {
  return new Promise((resolve) => target.addEventListener(type, (event) => resolve(event as BudgetEvent), { once: true }));
}

describe('budget: the cap across managers', () => {
  it('three managers sharing a limit of 3 never have more than 3 requests at the origin, and every request succeeds', async () => {
    const held = gate();
    const [server] = (await startOrigins(1, held.handler, 80)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const managers = [1, 2, 3].map(() => track(new PoolManager({ maxSize: 10, budget: budget(coordinator, { limit: 3 }) })));
    const requests = managers.flatMap((m, i) => Array.from({ length: 10 }, (_, j) => m.request('GET', server.url(`/${i}-${j}`))));
    await held.arrived(3);
    // Every manager has its requests queued behind the fleet's 3 leases, none sent past them.
    expect(server.inFlight).toBe(3);
    expect(coordinator.line.length).toBeGreaterThan(0);
    held.release();
    const responses = await Promise.all(requests);
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 30 }, () => 200));
    expect(server.requests).toHaveLength(30);
    expect(server.peakInFlight).toBe(3);
    // Every lease went back.
    expect(coordinator.held(server.origin)).toBe(0);
  });

  it('limit as a function of the origin caps each origin by its own number', async () => {
    const held = gate();
    const servers = await startOrigins(2, held.handler, 81);
    for (const s of servers) track(s);
    const [a, b] = servers as [TestServer, TestServer];
    const coordinator = new MemoryCoordinator();
    const limits = new Map([[a.origin, 1], [b.origin, 2]]);
    const manager = track(new PoolManager({ maxSize: 10, budget: budget(coordinator, { limit: (origin: string) => limits.get(origin) ?? 0 }) }));
    const requests = [a, b].flatMap((s) => Array.from({ length: 6 }, (_, i) => manager.request('GET', s.url(`/${i}`))));
    await held.arrived(3);
    expect([a.inFlight, b.inFlight]).toEqual([1, 2]);
    held.release();
    await Promise.all(requests);
    expect([a.peakInFlight, b.peakInFlight]).toEqual([1, 2]);
    // A limit function that returns a bad number is a TypeError naming the origin and the value.
    const bad = track(new PoolManager({ budget: budget(new MemoryCoordinator(), { limit: () => 0 }) }));
    await expect(bad.request('GET', a.url('/'))).rejects.toThrow(new TypeError(`testBudget limit("${a.origin}") must be a positive integer, got 0`));
  });

  it('a lease is held until the body is read, as the slot is (request with preloadContent false, and fetch)', async () => {
    const [server] = (await startOrigins(1, undefined, 82)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const manager = track(new PoolManager({ budget: budget(coordinator, { limit: 1, slices: false }) }));
    const first = await manager.request('GET', server.url('/a'), { preloadContent: false });
    const second = manager.request('GET', server.url('/b'));
    // The first body is unread: its lease is held and the second waits in the coordinator's line.
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.requests).toHaveLength(1);
    await new Response(first.body).text();
    expect((await second).status).toBe(200);
    const response = await manager.fetch(server.url('/c'));
    const third = manager.fetch(server.url('/d'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.requests).toHaveLength(3);
    await response.text();
    expect((await third).status).toBe(200);
    await (await third).text();
    expect(server.requests).toHaveLength(4);
    expect(coordinator.held(server.origin)).toBe(0);
  });
});

describe('budget: waiting for a lease', () => {
  it('poolTimeout covers the wait for a lease: EmptyPoolError, and the ask leaves the coordinator\'s line', async () => {
    const held = gate();
    const [server] = (await startOrigins(1, held.handler, 83)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const manager = track(new PoolManager({ poolTimeout: 50, budget: budget(coordinator, { limit: 1, slices: false }) }));
    const first = manager.request('GET', server.url('/1'));
    await held.arrived(1);
    await expect(manager.request('GET', server.url('/2'), { retries: false })).rejects.toThrow(EmptyPoolError);
    expect(coordinator.line).toHaveLength(0);
    held.release();
    expect((await first).status).toBe(200);
    expect(server.requests).toHaveLength(1);
    expect(coordinator.held(server.origin)).toBe(0);
  });

  it('the caller\'s signal takes a request out of the wait with its reason', async () => {
    const held = gate();
    const [server] = (await startOrigins(1, held.handler, 84)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const holder = track(new PoolManager({ budget: budget(coordinator, { limit: 1 }) }));
    const manager = track(new PoolManager({ budget: budget(coordinator, { limit: 1 }) }));
    const first = holder.request('GET', server.url('/1'));
    await held.arrived(1);
    const controller = new AbortController();
    const second = manager.request('GET', server.url('/2'), { signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    expect(coordinator.line).toHaveLength(1);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(second).rejects.toBe(reason);
    expect(coordinator.line).toHaveLength(0);
    held.release();
    await first;
    expect(server.requests).toHaveLength(1);
    expect(coordinator.held(server.origin)).toBe(0);
  });

  it('a lease granted after its waiter left is given back at once', async () => {
    const coordinator = new MemoryCoordinator();
    coordinator.holdGrants = true;
    const fleet = budget(coordinator, { limit: 2 });
    const controller = new AbortController();
    const waiting = fleet.acquire('http://127.0.0.1:1', { signal: controller.signal });
    controller.abort(new Error('left'));
    await expect(waiting).rejects.toThrow('left');
    // The coordinator granted it anyway (the grant raced the exit): it must come straight back.
    expect(coordinator.held('http://127.0.0.1:1')).toBe(1);
    coordinator.flushHeld();
    await new Promise((resolve) => setImmediate(resolve));
    expect(coordinator.counts.release).toBe(1);
    expect(coordinator.held('http://127.0.0.1:1')).toBe(0);
  });

  it('destroy() fails a request waiting for a lease with ClosedPoolError, never sent', async () => {
    const held = gate();
    const [server] = (await startOrigins(1, held.handler, 85)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const holder = track(new PoolManager({ budget: budget(coordinator, { limit: 1 }) }));
    const manager = new PoolManager({ budget: budget(coordinator, { limit: 1 }) });
    const first = holder.request('GET', server.url('/1'));
    await held.arrived(1);
    const second = manager.request('GET', server.url('/2'), { retries: false });
    await new Promise((resolve) => setImmediate(resolve));
    expect(coordinator.line).toHaveLength(1);
    await manager.destroy();
    await expect(second).rejects.toThrow(ClosedPoolError);
    held.release();
    expect((await first).status).toBe(200);
    expect(server.requests).toHaveLength(1);
    expect(coordinator.line).toHaveLength(0);
  });
});

describe('budget: local slices', () => {
  it('a freed lease serves the next local waiter, up to slices.uses requests, then goes back', async () => {
    const [server] = (await startOrigins(1, undefined, 86)) as [TestServer];
    track(server);
    const sliced = new MemoryCoordinator();
    const plain = new MemoryCoordinator();
    const a = track(new PoolManager({ budget: budget(sliced, { limit: 2, slices: { uses: 4, ms: 60_000 } }) }));
    const b = track(new PoolManager({ budget: budget(plain, { limit: 2, slices: false }) }));
    // Four callers, ten requests each, one after another: a busy process with a steady line.
    for (const manager of [a, b]) {
      await Promise.all(Array.from({ length: 4 }, async (_, caller) => {
        for (let i = 0; i < 10; i += 1) expect((await manager.request('GET', server.url(`/${caller}/${i}`))).status).toBe(200);
      }));
    }
    // Without slices every request asks and gives back; with them a lease serves up to 4 requests before it goes back.
    expect(plain.counts.acquire).toBe(40);
    expect(plain.counts.release).toBe(40);
    expect(sliced.counts.release).toBeGreaterThanOrEqual(10);
    expect(sliced.counts.release).toBeLessThan(20);
    expect(sliced.counts.acquire + sliced.counts.withdraw).toBeLessThan(40);
    expect(server.peakInFlight).toBeLessThanOrEqual(2);
    expect(sliced.held(server.origin) + plain.held(server.origin)).toBe(0);
  });

  it('while the budget is full, a waiter counts on a held lease\'s slice; once the slice is over (slices.ms), it asks', async () => {
    const held = gate();
    const [server] = (await startOrigins(1, held.handler, 87)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const other = track(new PoolManager({ budget: budget(coordinator, { limit: 2, slices: false }) }));
    const manager = track(new PoolManager({ budget: budget(coordinator, { limit: 2, slices: { uses: 100, ms: 300 } }) }));
    const requests = [other.request('GET', server.url('/other')), manager.request('GET', server.url('/1'))];
    await held.arrived(2);
    // The budget is full: this one asks and waits in the coordinator's line.
    requests.push(manager.request('GET', server.url('/2')));
    await new Promise((resolve) => setImmediate(resolve));
    expect(coordinator.counts.acquire).toBe(3);
    expect(coordinator.line).toHaveLength(1);
    // This one counts on the held lease of /1 (uses left in its slice): no ask.
    requests.push(manager.request('GET', server.url('/3')));
    await new Promise((resolve) => setImmediate(resolve));
    expect(coordinator.counts.acquire).toBe(3);
    // Once the slice is over it asks, in the line behind /2.
    await coordinator.nextAcquire();
    expect(coordinator.line).toHaveLength(2);
    expect(server.requests).toHaveLength(2);
    held.release();
    expect((await Promise.all(requests)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(server.peakInFlight).toBe(2);
  });

  it('while the budget is not full, nobody waits for a slice: every request asks and is answered at once', async () => {
    const held = gate();
    const [server] = (await startOrigins(1, held.handler, 92)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const manager = track(new PoolManager({ budget: budget(coordinator, { limit: 5, slices: { uses: 100, ms: 60_000 } }) }));
    const requests = [];
    for (let i = 1; i <= 4; i += 1) {
      // One at a time, each while the ones before hold their leases (with slices left in them).
      requests.push(manager.request('GET', server.url(`/${i}`)));
      await held.arrived(i);
    }
    expect(coordinator.counts.acquire).toBe(4);
    held.release();
    await Promise.all(requests);
  });
});

describe('budget: crash safety', () => {
  it('renews held leases with one call per origin per ttl/3, whatever the number of requests', async () => {
    const held = gate();
    const [server] = (await startOrigins(1, held.handler, 88)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const manager = track(new PoolManager({ budget: budget(coordinator, { limit: 5, ttl: 1000 }) }));
    const requests = Array.from({ length: 5 }, (_, i) => manager.request('GET', server.url(`/${i}`)));
    await held.arrived(5);
    await coordinator.nextRenew();
    expect(coordinator.renewals).toHaveLength(1);
    expect(coordinator.renewals[0]).toHaveLength(5);
    held.release();
    await Promise.all(requests);
  });

  it('a lease lost at the coordinator is an event and a counter; the request already sent goes on', async () => {
    const held = gate();
    const [server] = (await startOrigins(1, held.handler, 89)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const fleet = budget(coordinator, { limit: 1, ttl: 1000 });
    const manager = track(new PoolManager({ budget: fleet }));
    const request = manager.request('GET', server.url('/1'));
    await held.arrived(1);
    coordinator.expireAll();
    const [onBudget, onManager] = await Promise.all([nextEvent(fleet, 'budgetleaselost'), nextEvent(manager, 'budgetleaselost')]);
    expect(onBudget.origin).toBe(server.origin);
    expect(onManager.origin).toBe(server.origin);
    expect(manager.stats()[0]?.budget).toEqual({ mode: 'fleet', leases: 1, waiting: 0, lost: 1 });
    held.release();
    const response = await request;
    expect(await response.text()).toBe('done /1');
    // A lost lease is not given back (it is not the holder's any more).
    expect(coordinator.counts.release).toBe(0);
  });
});

describe('budget: when the coordinator is down', () => {
  it("onUnavailable 'local' (the default): requests go under the process's own caps, and it probes until restored", async () => {
    const [server] = (await startOrigins(1, undefined, 90)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const fleet = budget(coordinator, { limit: 1 });
    const manager = track(new PoolManager({ maxSize: 3, budget: fleet }));
    coordinator.down = true;
    const unavailable = nextEvent(manager, 'budgetunavailable');
    const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => manager.request('GET', server.url(`/${i}`))));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect((await unavailable).error).toEqual(new Error('coordinator down'));
    expect(manager.stats()[0]?.budget?.mode).toBe('local');
    // Under the process's own cap (maxSize 3), no longer the fleet's 1.
    expect(server.peakInFlight).toBeLessThanOrEqual(3);
    const restored = nextEvent(manager, 'budgetrestored');
    coordinator.down = false;
    await restored;
    expect(fleet.mode).toBe('fleet');
    const acquires = coordinator.counts.acquire;
    expect((await manager.request('GET', server.url('/after'))).status).toBe(200);
    expect(coordinator.counts.acquire).toBe(acquires + 1);
  });

  it("onUnavailable 'fail': BudgetUnavailableError, nothing sent, then requests go again once restored", async () => {
    const [server] = (await startOrigins(1, undefined, 91)) as [TestServer];
    track(server);
    const coordinator = new MemoryCoordinator();
    const manager = track(new PoolManager({ budget: budget(coordinator, { limit: 1, onUnavailable: 'fail' }) }));
    coordinator.down = true;
    const error: unknown = await manager.request('GET', server.url('/1'), { retries: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetUnavailableError);
    expect((error as BudgetUnavailableError).code).toBe('POOLFETCH_BUDGET_UNAVAILABLE');
    // fetch's contract wraps it in a TypeError (where the fetch entry does so) with it as the cause.
    const fetchError: unknown = await manager.fetch(server.url('/2')).catch((e: unknown) => e);
    expect(fetchError instanceof BudgetUnavailableError || (fetchError as Error).cause instanceof BudgetUnavailableError).toBe(true);
    expect(server.requests).toHaveLength(0);
    expect(manager.stats()[0]?.budget?.mode).toBe('fail');
    const restored = nextEvent(manager, 'budgetrestored');
    coordinator.down = false;
    await restored;
    expect((await manager.request('GET', server.url('/3'))).status).toBe(200);
    expect(server.requests).toHaveLength(1);
  });
});

describe('budget: bad options', () => {
  it('a TypeError naming the option and the value', () => {
    const c = new MemoryCoordinator();
    expect(() => new FleetBudget(c, { limit: 0 }, 'redisBudget')).toThrow(new TypeError('redisBudget limit must be a positive integer, got 0'));
    expect(() => new FleetBudget(c, { limit: 1, ttl: 10 }, 'redisBudget')).toThrow(new TypeError('redisBudget ttl must be an integer number of milliseconds >= 1000, got 10'));
    expect(() => new FleetBudget(c, { limit: 1, onUnavailable: 'ignore' }, 'redisBudget')).toThrow(/redisBudget onUnavailable must be 'local' or 'fail', got/);
    expect(() => new FleetBudget(c, { limit: 1, slices: { uses: 0 } }, 'redisBudget')).toThrow(/redisBudget slices.uses must be a positive integer, got 0/);
    expect(() => new FleetBudget(c, { limit: 1, lease: 1 }, 'redisBudget')).toThrow(/Unknown redisBudget option "lease"/);
    expect(() => new PoolManager({ budget: { limit: 1 } as never })).toThrow(/budget must be a budget, got/);
  });
});

void closeAll;

describe('budget: a request that ends under its wait (onEnded, as the workerd entry passes it)', () => {
  it('waiting: out of the line unsettled, its ask withdrawn at the coordinator, the next waiter served; granted before anyone noticed: the lease goes back', async () => {
    const coordinator = new MemoryCoordinator();
    const b = budget(coordinator, { limit: 1, slices: false });
    const origin = 'http://127.0.0.1:1';
    const first = await b.acquire(origin, {});
    let dropEnded: (() => void) | undefined;
    let settled = false;
    void b.acquire(origin, { onEnded: (drop) => (dropEnded = drop) }).then(() => (settled = true), () => (settled = true));
    const next = b.acquire(origin, {});
    await new Promise((resolve) => setImmediate(resolve));
    expect(coordinator.line.length).toBe(2);
    dropEnded?.();
    await new Promise((resolve) => setImmediate(resolve));
    // Withdrawn at the coordinator: only the live waiter is still in its line.
    expect(coordinator.line.length).toBe(1);
    await first.release();
    const lease = await next;
    expect(coordinator.held(origin)).toBe(1);
    expect(settled).toBe(false);
    // An ended request served before its end was noticed: the lease its continuation never took goes back.
    let dropServed: (() => void) | undefined;
    const served = b.acquire(origin, { onEnded: (drop) => (dropServed = drop) });
    await lease.release();
    await served;
    expect(coordinator.held(origin)).toBe(1);
    dropServed?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(coordinator.held(origin)).toBe(0);
  });
});
