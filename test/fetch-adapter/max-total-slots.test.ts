/**
 * The synchronous slot fast path under `maxTotal` (src/connection-pool.ts
 * `#freeSlot`), which a Worker's every subrequest takes under `maxTotal: 6`:
 * both slots in the caller's turn when both are free. The cap must hold
 * across origins, and a request whose origin slot is free while `maxTotal`
 * is full must give that slot back before it joins the line, or the origin
 * is a slot short for good. Both tests failed with the fast path broken that
 * way (the cap ignored; the slot not given back). msw answers, held by a gate.
 */
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/fetch/index.js';
import { gate } from './support.js';
import { holdAll } from './held-origins.js';

const A = 'http://127.0.0.1:9111';
const B = 'http://127.0.0.1:9112';
const C = 'http://127.0.0.1:9113';

const network = setupServer();
beforeAll(() => network.listen({ onUnhandledRequest: 'error' }));
afterEach(() => network.resetHandlers());
afterAll(() => network.close());

describe('the slot fast path under maxTotal, with manager.fetch', () => {
  it('never sends more than maxTotal at once across origins, with manager.fetch', async () => {
    await using manager = new PoolManager({ maxSize: 6, maxTotal: 2 });
    using g = gate();
    holdAll(network, g, A, B, C);
    const all = [A, B, C].flatMap((origin) => [1, 2].map((i) => manager.fetch(`${origin}/${i}`).then((r) => r.text())));
    await g.whenStarted(2);
    // Every other call has had its turn: had the fast path ignored maxTotal, more would be at the gate.
    await new Promise((resolve) => setImmediate(resolve));
    expect(g.inFlight).toBe(2);
    g.releaseAll();
    expect(await Promise.all(all)).toEqual(['1', '2', '1', '2', '1', '2']);
    expect(g.peak).toBe(2);
  });

  it("gives the origin's slot back when maxTotal is full, so that origin is served once maxTotal frees", async () => {
    // poolTimeout: a slot kept by mistake fails the request instead of hanging the test.
    await using manager = new PoolManager({ maxSize: 1, maxTotal: 1, poolTimeout: 2000 });
    using g = gate();
    holdAll(network, g, A, B);
    const first = manager.fetch(`${A}/1`);
    await g.whenStarted(1);
    // B's slot is free, maxTotal is not: B waits in line, holding B's slot as a waiter (queued), not running.
    const second = manager.fetch(`${B}/1`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(manager.connectionFromUrl(B).stats()).toMatchObject({ running: 0, queued: 1 });
    g.releaseAll();
    expect(await (await first).text()).toBe('1');
    expect(await (await second).text()).toBe('1');
    // B's one slot is free again: two more, one after the other, each served.
    expect(await (await manager.fetch(`${B}/2`)).text()).toBe('2');
    expect(await (await manager.fetch(`${B}/3`)).text()).toBe('3');
    expect(g.started).toEqual([`${A}/1`, `${B}/1`, `${B}/2`, `${B}/3`]);
    expect(manager.stats().map(({ running, queued }) => ({ running, queued }))).toEqual([{ running: 0, queued: 0 }, { running: 0, queued: 0 }]);
  });
});
