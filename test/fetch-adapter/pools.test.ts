/**
 * The fetch adapter's own logic under msw (msw/node intercepts
 * `globalThis.fetch`, which the adapter looks up on every call): per-origin
 * queues, `maxTotal`, `poolTimeout`, the LRU, aborts and slots held until a
 * body is done. The origins are loopback addresses that msw answers; nothing
 * reaches a socket.
 */
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EmptyPoolError, MaxRetryError, NewConnectionError, PoolManager, type PoolEvent } from '../../adapters/fetch/index.js';
import { deferred } from '../support/servers.js';
import { gate } from './support.js';
import { holdAll } from './held-origins.js';
import { fetchCause } from '../support/fetch-error.js';

/** A body whose text comes at once and whose end only once `end` resolves: it has not all arrived until then. */
function unfinished(text: string, end: Promise<void>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
    },
    async pull(controller) {
      await end;
      controller.close();
    },
  });
}

const A = 'http://127.0.0.1:9101';
const B = 'http://127.0.0.1:9102';
const C = 'http://127.0.0.1:9103';

const network = setupServer();
beforeAll(() => network.listen({ onUnhandledRequest: 'error' }));
afterEach(() => network.resetHandlers());
afterAll(() => network.close());

function nextEvent(target: EventTarget, type: string, origin: string): Promise<PoolEvent> {
  return new Promise((resolve) => {
    const listener = (event: Event): void => {
      if ((event as PoolEvent).origin !== origin) return;
      target.removeEventListener(type, listener);
      resolve(event as PoolEvent);
    };
    target.addEventListener(type, listener);
  });
}

describe('per-origin queue', () => {
  it('runs at most maxSize requests per origin and starts the rest in the order they were made', async () => {
    await using manager = new PoolManager({ maxSize: 2 });
    using g = gate();
    holdAll(network, g, A);
    const all = [0, 1, 2, 3, 4, 5].map((i) => manager.request('GET', `${A}/${i}`));
    await g.whenStarted(2);
    const pool = manager.connectionFromUrl(A);
    expect(pool.stats()).toMatchObject({ running: 2, queued: 4 });
    expect(g.started).toEqual([`${A}/0`, `${A}/1`]);
    for (let i = 2; i < 6; i += 1) {
      g.releaseOne();
      await g.whenStarted(i + 1);
      expect(g.started[i]).toBe(`${A}/${i}`);
    }
    g.releaseAll();
    const texts = await Promise.all(all.map(async (r) => (await r).text()));
    expect(texts).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(g.peak).toBe(2);
    expect(pool.numRequests).toBe(6);
    // No sockets to count here: numConnections is the peak number in flight.
    expect(pool.numConnections).toBe(2);
    expect(pool.stats()).toEqual({ running: 0, queued: 0, connected: 0, free: 0 });
  });

  it('defaults maxSize to 6, a browser’s own per-origin limit', async () => {
    await using manager = new PoolManager();
    using g = gate();
    holdAll(network, g, A);
    expect(manager.options.maxSize).toBe(6);
    const all = Array.from({ length: 8 }, (_, i) => manager.fetch(`${A}/${i}`));
    await g.whenStarted(6);
    expect(manager.stats()).toEqual([
      expect.objectContaining({ origin: A, running: 6, queued: 2 }),
    ]);
    g.releaseAll();
    // In order: the last two start only once earlier bodies have been read.
    for (const response of all) await (await response).text();
    expect(g.peak).toBe(6);
  });

  it('bounds all origins together with maxTotal, and each origin with maxSize', async () => {
    await using manager = new PoolManager({ maxSize: 2, maxTotal: 3 });
    using g = gate();
    holdAll(network, g, A, B, C);
    const all = [A, B, C].flatMap((origin) => [0, 1, 2].map((i) => manager.request('GET', `${origin}/${i}`)));
    await g.whenStarted(3);
    const running = manager.stats().reduce((sum, row) => sum + row.running, 0);
    expect(running).toBe(3);
    for (let i = 3; i < 9; i += 1) {
      g.releaseOne();
      await g.whenStarted(i + 1);
      expect(g.inFlight).toBeLessThanOrEqual(3);
    }
    g.releaseAll();
    await Promise.all(all);
    expect(g.peak).toBe(3);
    for (const origin of [A, B, C]) expect(g.peakOf(origin)).toBeLessThanOrEqual(2);
    expect(g.started).toHaveLength(9);
  });

  it('fails a request that waits longer than poolTimeout with EmptyPoolError, and sends nothing', async () => {
    await using manager = new PoolManager({ maxSize: 1, poolTimeout: 20 });
    using g = gate();
    holdAll(network, g, A);
    const first = manager.request('GET', `${A}/1`);
    await g.whenStarted(1);
    const error = await manager.request('GET', `${A}/2`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmptyPoolError);
    expect((error as Error).message).toContain(A);
    g.releaseAll();
    expect(await (await first).text()).toBe('1');
    expect(g.started).toEqual([`${A}/1`]);
  });
});

describe('the LRU', () => {
  it('evicts the least recently used pool without cancelling its running or queued requests', async () => {
    await using manager = new PoolManager({ numPools: 2, maxSize: 1 });
    using g = gate();
    holdAll(network, g, A, B, C);
    const evicted = nextEvent(manager, 'poolevict', A);
    const closed = nextEvent(manager, 'poolclose', A);
    const onA = [manager.request('GET', `${A}/1`), manager.fetch(`${A}/2`)];
    await g.whenStarted(1);
    const keyA = manager.connectionFromUrl(A).key;
    const onB = manager.request('GET', `${B}/1`);
    const onC = manager.request('GET', `${C}/1`);
    await evicted;
    expect(manager.pools.size).toBe(2);
    expect(manager.pools.has(keyA)).toBe(false);
    g.releaseAll();
    const [a1, a2] = await Promise.all(onA);
    expect(await a1?.text()).toBe('1');
    // The retired pool closes once both bodies have arrived (read ahead), and the unread one stays readable.
    await closed;
    expect(await (a2 as Response).text()).toBe('2');
    await Promise.all([onB, onC]);
    expect(g.started.filter((p) => p.startsWith(A))).toEqual([`${A}/1`, `${A}/2`]);
    expect(manager.pools.size).toBe(2);
  });

  it('keeps pools.size at numPools however many origins it meets', async () => {
    for (let port = 9201; port < 9213; port += 1) network.use(http.get(`http://127.0.0.1:${port}/`, () => HttpResponse.text(String(port))));
    await using manager = new PoolManager({ numPools: 3 });
    for (let port = 9201; port < 9213; port += 1) {
      expect(await (await manager.fetch(`http://127.0.0.1:${port}/`)).text()).toBe(String(port));
      expect(manager.pools.size).toBe(Math.min(3, port - 9200));
    }
    expect(manager.pools.keys()).toEqual(['http://127.0.0.1:9210', 'http://127.0.0.1:9211', 'http://127.0.0.1:9212']);
  });

  it('clear() empties pools at once and resolves once running requests have finished', async () => {
    const manager = new PoolManager();
    using g = gate();
    holdAll(network, g, A, B);
    const running = [manager.request('GET', `${A}/1`), manager.request('GET', `${B}/1`)];
    await g.whenStarted(2);
    let cleared = false;
    const clearing = manager.clear().then(() => (cleared = true));
    expect(manager.pools.size).toBe(0);
    await Promise.resolve();
    expect(cleared).toBe(false);
    g.releaseAll();
    await Promise.all([...running, clearing]);
    expect(cleared).toBe(true);
  });

  it('await using empties pools when the block ends', async () => {
    network.use(http.get(`${A}/`, () => HttpResponse.text('ok')));
    let outer: PoolManager | undefined;
    {
      await using manager = new PoolManager();
      outer = manager;
      await manager.request('GET', `${A}/`);
      expect(manager.pools.size).toBe(1);
    }
    expect(outer.pools.size).toBe(0);
  });
});

describe('slots are held until the body is done', () => {
  it('keeps the slot while a fetch body has not all arrived, and frees it when it has', async () => {
    let hits = 0;
    const rest = deferred();
    network.use(http.get(`${A}/:n`, ({ params }) => {
      hits += 1;
      return new HttpResponse(unfinished(`body ${String(params.n)}`, params.n === '1' ? rest.promise : Promise.resolve()));
    }));
    await using manager = new PoolManager({ maxSize: 1 });
    const first = await manager.fetch(`${A}/1`);
    const pool = manager.connectionFromUrl(A);
    expect(pool.stats()).toMatchObject({ running: 1, queued: 0 });
    const second = manager.fetch(`${A}/2`);
    await Promise.resolve();
    expect(pool.stats()).toMatchObject({ running: 1, queued: 1 });
    expect(hits).toBe(1);
    rest.resolve();
    expect(await first.text()).toBe('body 1');
    expect(await (await second).text()).toBe('body 2');
    expect(hits).toBe(2);
  });

  // Cancelling is tested against a real server (real-server.test.ts): msw's mocked bodies never settle cancel().

  it('frees the slot when the body fails mid-stream', async () => {
    network.use(
      http.get(`${A}/broken`, () => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('partial'));
          },
          pull(controller) {
            controller.error(new Error('stream broke'));
          },
        });
        return new HttpResponse(body);
      }),
      http.get(`${A}/ok`, () => HttpResponse.text('ok')),
    );
    await using manager = new PoolManager({ maxSize: 1 });
    const broken = await manager.fetch(`${A}/broken`);
    const next = manager.fetch(`${A}/ok`);
    await expect(broken.text()).rejects.toThrow();
    expect(await (await next).text()).toBe('ok');
  });

  it('with preloadContent: false, holds the slot until the stream has all arrived', async () => {
    const rest = deferred();
    network.use(http.get(`${A}/:n`, ({ params }) => new HttpResponse(unfinished(String(params.n), params.n === '1' ? rest.promise : Promise.resolve()))));
    await using manager = new PoolManager({ maxSize: 1 });
    const first = await manager.request('GET', `${A}/1`, { preloadContent: false });
    const pool = manager.connectionFromUrl(A);
    const second = manager.request('GET', `${A}/2`);
    await Promise.resolve();
    expect(pool.stats()).toMatchObject({ running: 1, queued: 1 });
    rest.resolve();
    expect(await first.text()).toBe('1');
    expect((await second).data).toEqual(new TextEncoder().encode('2'));
  });
});

describe('abort', () => {
  it('a queued request.signal abort rejects with the reason and never sends the request', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    using g = gate();
    holdAll(network, g, A);
    const first = manager.request('GET', `${A}/1`);
    await g.whenStarted(1);
    const controller = new AbortController();
    const queued = manager.request('GET', `${A}/2`, { signal: controller.signal });
    const queuedFetch = manager.fetch(`${A}/3`, { signal: controller.signal });
    await Promise.resolve();
    expect(manager.connectionFromUrl(A).stats().queued).toBe(2);
    controller.abort();
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    await expect(queuedFetch).rejects.toMatchObject({ name: 'AbortError' });
    expect(manager.connectionFromUrl(A).stats().queued).toBe(0);
    g.releaseAll();
    await first;
    // A later request goes straight through: the aborted ones left no slot behind.
    await manager.request('GET', `${A}/4`);
    expect(g.started).toEqual([`${A}/1`, `${A}/4`]);
  });

  it('a request waiting under maxTotal can be aborted or time out, and gives its origin slot back', async () => {
    await using manager = new PoolManager({ maxTotal: 1, maxSize: 1, poolTimeout: 50 });
    using g = gate();
    holdAll(network, g, A, B);
    const first = manager.request('GET', `${A}/1`);
    await g.whenStarted(1);
    const controller = new AbortController();
    const aborted = manager.request('GET', `${B}/1`, { signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    expect(manager.connectionFromUrl(B).stats()).toMatchObject({ running: 0, queued: 1 });
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    const timedOut = await manager.request('GET', `${B}/2`).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(EmptyPoolError);
    expect((timedOut as Error).message).toContain('maxTotal 1');
    expect(manager.connectionFromUrl(B).stats()).toMatchObject({ running: 0, queued: 0 });
    g.releaseAll();
    await first;
    expect(await (await manager.request('GET', `${B}/3`)).text()).toBe('3');
    expect(g.started).toEqual([`${A}/1`, `${B}/3`]);
  });

  it('an already-aborted signal sends nothing', async () => {
    await using manager = new PoolManager();
    using g = gate();
    holdAll(network, g, A);
    const reason = new Error('not wanted');
    await expect(manager.fetch(`${A}/1`, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(manager.request('GET', `${A}/1`, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(g.started).toEqual([]);
  });

  it('aborting a running fetch frees its slot for the next one', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    using g = gate();
    holdAll(network, g, A);
    const controller = new AbortController();
    const running = manager.fetch(`${A}/1`, { signal: controller.signal });
    await g.whenStarted(1);
    const next = manager.fetch(`${A}/2`);
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    await g.whenStarted(2);
    expect(g.started).toEqual([`${A}/1`, `${A}/2`]);
    g.releaseAll();
    expect(await (await next).text()).toBe('2');
  });
});

describe('network errors become poolfetch errors, not a bare TypeError', () => {
  it('fetch rejects with NewConnectionError; request retries, then MaxRetryError with it as reason', async () => {
    let hits = 0;
    network.use(http.get(`${A}/down`, () => {
      hits += 1;
      return HttpResponse.error();
    }));
    await using manager = new PoolManager({ retries: 2 });
    const fetched = await manager.fetch(`${A}/down`).catch((e: unknown) => e);
    expect(fetchCause(fetched)).toBeInstanceOf(NewConnectionError);
    expect(fetchCause(fetched)).toMatchObject({ method: 'GET', url: `${A}/down`, cause: expect.any(TypeError) });
    const requested = await manager.request('GET', `${A}/down`).catch((e: unknown) => e);
    expect(requested).toBeInstanceOf(MaxRetryError);
    expect((requested as MaxRetryError).reason).toBeInstanceOf(NewConnectionError);
    expect(hits).toBe(4);
    expect(manager.connectionFromUrl(A).stats()).toMatchObject({ running: 0, queued: 0 });
  });
});

describe('which fetch is called', () => {
  it('looks globalThis.fetch up on every call, so a fetch installed after the manager applies', async () => {
    await using manager = new PoolManager();
    const original = globalThis.fetch;
    const seen: string[] = [];
    globalThis.fetch = async (input) => {
      seen.push(String(input));
      return new Response('stub');
    };
    try {
      expect(await (await manager.fetch(`${A}/x`)).text()).toBe('stub');
    } finally {
      globalThis.fetch = original;
    }
    expect(seen).toEqual([`${A}/x`]);
  });

  it('calls the fetch option instead of the global when given', async () => {
    const seen: string[] = [];
    await using manager = new PoolManager({
      fetch: async (input, init) => {
        seen.push(`${init?.method ?? 'GET'} ${String(input)}`);
        return new Response('own fetch');
      },
    });
    expect((await manager.request('POST', `${A}/y`, { body: 'b' })).status).toBe(200);
    expect(await (await manager.fetch(`${A}/z`)).text()).toBe('own fetch');
    expect(seen).toEqual([`POST ${A}/y`, `GET ${A}/z`]);
  });
});
