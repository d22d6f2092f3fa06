/**
 * The request's URL is copied when the call is made (issue 24): a caller
 * who changes their `URL` object after the call changes nothing that is
 * sent or reported. Each request waits in line behind a held slot while
 * the URL is changed to point at another server (another loopback
 * address), which must see nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters } from '../semantics/support.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';

describe.each(adapters)('a URL object changed after the call ($name adapter)', (adapter) => {
  let first: TestServer;
  let other: TestServer;
  let gate = deferred();
  beforeAll(async () => {
    first = await startServer(async (req, res) => {
      if (req.url === '/hold') await gate.promise;
      res.end(`first ${req.url ?? ''}`);
    });
    other = await startServer((req, res) => {
      res.end(`other ${req.url ?? ''}`);
    }, { host: '127.0.0.2' });
  });
  afterAll(async () => {
    await Promise.all([first.close(), other.close()]);
  });

  /** Holds the pool's one slot with a request the server answers when told. */
  async function holding(manager: ReturnType<typeof adapter.make>): Promise<{ held: Promise<unknown> }> {
    gate = deferred();
    const held = manager.request('GET', first.url('/hold'));
    const seen = first.requests.length;
    for (let turn = 0; turn < 1000 && first.requests.length === seen; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    // Wrapped: an async function returning the promise itself would wait for it.
    return { held };
  }

  const moveAway = (url: URL): void => {
    url.hostname = '127.0.0.2';
    url.port = String(other.port);
    url.pathname = '/moved';
  };

  it('request(): what is sent and reported is the URL as it was at the call', async () => {
    const manager = adapter.make({ maxSize: 1, retries: false });
    const { held } = await holding(manager);
    const url = new URL(first.url('/asked'));
    const pending = manager.request('GET', url);
    moveAway(url);
    gate.resolve();
    await held;
    const response = await pending;
    expect(await response.text()).toBe('first /asked');
    expect(response.url).toBe(first.url('/asked'));
    expect(other.requests).toHaveLength(0);
    await manager.destroy();
  });

  it('fetch(): the same', async () => {
    const manager = adapter.make({ maxSize: 1, retries: false });
    const { held } = await holding(manager);
    const url = new URL(first.url('/fetched'));
    const pending = manager.fetch(url);
    moveAway(url);
    gate.resolve();
    await held;
    const response = await pending;
    expect(await response.text()).toBe('first /fetched');
    expect(other.requests).toHaveLength(0);
    await manager.destroy();
  });

  it('pool.request() and connectionFromUrl(): the pool and what it sends keep the URL of the call', async () => {
    const manager = adapter.make({ maxSize: 1, retries: false });
    const url = new URL(first.url('/pooled'));
    const pool = manager.connectionFromUrl(url);
    moveAway(url);
    expect(pool.origin).toBe(first.origin);
    const { held } = await holding(manager);
    const asked = new URL(first.url('/pooled'));
    const pending = pool.request('GET', asked);
    moveAway(asked);
    gate.resolve();
    await held;
    const response = await pending;
    expect(await response.text()).toBe('first /pooled');
    expect(response.url).toBe(first.url('/pooled'));
    expect(other.requests).toHaveLength(0);
    expect(manager.stats().map((row) => row.origin)).toEqual([first.origin]);
    await manager.destroy();
  });
});
