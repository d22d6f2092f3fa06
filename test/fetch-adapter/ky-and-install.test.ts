/**
 * ky through the pools, both ways the README shows (`ky.create({ fetch:
 * manager.fetch })` and plain ky after `installFetch`), with ky's own
 * retries and hooks still doing their job; and the fetch entry's refusals.
 */
import ky, { type HTTPError } from 'ky';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { installFetch, NewConnectionError, NotSupportedError, PoolManager, ProxyManager, proxyFromEnvironment } from '../../adapters/fetch/index.js';
import { gate } from './support.js';
import { fetchCause } from '../support/fetch-error.js';

const A = 'http://127.0.0.1:9301';

const network = setupServer();
beforeAll(() => network.listen({ onUnhandledRequest: 'error' }));
afterEach(() => network.resetHandlers());
afterAll(() => network.close());

describe('ky through manager.fetch', () => {
  it('keeps ky’s retries and hooks, and every attempt goes through the pool', async () => {
    const seen: Array<string | null> = [];
    network.use(
      http.get(`${A}/flaky`, ({ request }) => {
        seen.push(request.headers.get('x-hook'));
        return seen.length < 3 ? new HttpResponse('busy', { status: 503 }) : HttpResponse.json({ ok: true });
      }),
    );
    await using manager = new PoolManager();
    const afterResponse: number[] = [];
    const beforeRetry: number[] = [];
    const api = ky.create({
      fetch: manager.fetch,
      retry: { limit: 2, delay: () => 0 },
      hooks: {
        beforeRequest: [(request) => request.headers.set('x-hook', 'set by ky')],
        beforeRetry: [({ retryCount }) => void beforeRetry.push(retryCount)],
        afterResponse: [(_request, _options, response) => void afterResponse.push(response.status)],
        // ky keeps an HTTPError's body unread (for the caller to read); cancelling it frees the slot now rather than at GC.
        beforeError: [
          (error) => {
            void error.response.body?.cancel();
            return error;
          },
        ],
      },
    });
    expect(await api.get(`${A}/flaky`).json()).toEqual({ ok: true });
    expect(seen).toEqual(['set by ky', 'set by ky', 'set by ky']);
    expect(afterResponse).toEqual([503, 503, 200]);
    expect(beforeRetry).toEqual([1, 2]);
    expect(manager.connectionFromUrl(A).numRequests).toBe(3);
    expect(manager.connectionFromUrl(A).stats()).toMatchObject({ running: 0, queued: 0 });
  });

  it('is capped by maxSize like any other caller', async () => {
    await using manager = new PoolManager({ maxSize: 2 });
    using g = gate();
    network.use(http.get(`${A}/:n`, ({ params }) => g.hold(String(params.n), () => HttpResponse.text(String(params.n)))));
    const api = ky.create({ fetch: manager.fetch, retry: 0 });
    const all = ['1', '2', '3', '4', '5'].map((n) => api.get(`${A}/${n}`).text());
    await g.whenStarted(2);
    expect(manager.connectionFromUrl(A).stats()).toMatchObject({ running: 2, queued: 3 });
    g.releaseAll();
    expect(await Promise.all(all)).toEqual(['1', '2', '3', '4', '5']);
    expect(g.peak).toBe(2);
  });

  it('sees HTTPError for a 404 and NewConnectionError for a network failure', async () => {
    network.use(
      http.get(`${A}/missing`, () => new HttpResponse('no', { status: 404 })),
      http.get(`${A}/down`, () => HttpResponse.error()),
    );
    await using manager = new PoolManager({ maxSize: 1 });
    const api = ky.create({ fetch: manager.fetch, retry: 0 });
    const error = (await api.get(`${A}/missing`).catch((e: unknown) => e)) as HTTPError;
    expect(error).toMatchObject({ name: 'HTTPError', response: { status: 404 } });
    // The unread body of an HTTPError was read ahead: its one slot is free for the next request, and the body still readable.
    const again = (await api.get(`${A}/missing`).catch((e: unknown) => e)) as HTTPError;
    expect(again).toMatchObject({ name: 'HTTPError', response: { status: 404 } });
    expect(await error.response.text()).toBe('no');
    expect(await again.response.text()).toBe('no');
    expect(manager.connectionFromUrl(A).stats().running).toBe(0);
    const down = await api.get(`${A}/down`).catch((e: unknown) => e);
    expect(fetchCause(down)).toBeInstanceOf(NewConnectionError);
  });
});

describe('installFetch', () => {
  it('routes plain fetch and ky through the pools until restored', async () => {
    let hits = 0;
    network.use(http.all(`${A}/*`, () => {
      hits += 1;
      return HttpResponse.text('ok');
    }));
    await using manager = new PoolManager();
    const before = globalThis.fetch;
    const restore = installFetch(manager);
    try {
      expect(globalThis.fetch).not.toBe(before);
      expect(await (await fetch(`${A}/plain`)).text()).toBe('ok');
      expect(await ky.post(`${A}/ky`, { json: { a: 1 }, retry: 0 }).text()).toBe('ok');
      expect(manager.connectionFromUrl(A).numRequests).toBe(2);
    } finally {
      restore();
    }
    expect(globalThis.fetch).toBe(before);
    await (await fetch(`${A}/after`)).text();
    expect(hits).toBe(3);
    expect(manager.connectionFromUrl(A).numRequests).toBe(2);
  });

  it('stacks: a manager installed over another sends once, through the top one', async () => {
    network.use(http.get(`${A}/x`, () => HttpResponse.text('ok')));
    await using outer = new PoolManager();
    await using inner = new PoolManager();
    const restoreOuter = installFetch(outer);
    const restoreInner = installFetch(inner);
    try {
      expect(await (await fetch(`${A}/x`)).text()).toBe('ok');
    } finally {
      restoreInner();
      restoreOuter();
    }
    expect(inner.connectionFromUrl(A).numRequests).toBe(1);
    expect(outer.pools.size).toBe(0);
  });
});

describe('what the fetch entry refuses', () => {
  it('ProxyManager throws NotSupportedError naming the Node entry', () => {
    const attempt = (): unknown => new ProxyManager('http://127.0.0.1:3128');
    expect(attempt).toThrow(NotSupportedError);
    expect(attempt).toThrow(/poolfetch\/node/);
    expect(() => proxyFromEnvironment()).toThrow(/poolfetch\/node/);
  });

  it('the tls option throws NotSupportedError naming the Node entry', () => {
    expect(() => new PoolManager({ tls: { rejectUnauthorized: false } })).toThrow(/poolfetch\/node/);
  });
});

