/**
 * The Node entry on node:diagnostics_channel: pool events on
 * `poolfetch:pool:*` in the order urllib3's LRU makes them, each request's
 * wait for a slot on `poolfetch:request:slot` (0 when a slot was free, at
 * least as long as the server held the slot's previous request otherwise),
 * passwords hidden, each message before undici's `undici:request:create` of
 * the same method and URL (how a tracer ties the two), and nothing timed
 * while nobody subscribes.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import type { PoolChannelMessage, SlotChannelMessage } from '../../src/observer.js';
import { gate, type Gate } from '../fetch-adapter/support.js';
import { startServer, type TestServer } from '../support/servers.js';

let a: TestServer;
let b: TestServer;
let held: TestServer;
let g: Gate;

beforeAll(async () => {
  a = await startServer();
  b = await startServer(undefined, { host: '127.0.0.2' });
  held = await startServer((req, res) => g.hold(req.url ?? '', () => void res.end('ok')));
});
afterAll(async () => {
  await Promise.all([a, b, held].map((s) => s.close()));
});

/** Subscribes to `names` for the test's duration; returns what arrived, in order. */
function record<T>(names: string[]): { seen: Array<{ name: string; message: T }>; [Symbol.dispose](): void } {
  const seen: Array<{ name: string; message: T }> = [];
  const listeners = names.map((name) => {
    const listener = (message: unknown): void => void seen.push({ name, message: message as T });
    diagnosticsChannel.subscribe(name, listener);
    return () => diagnosticsChannel.unsubscribe(name, listener);
  });
  return { seen, [Symbol.dispose]: () => listeners.forEach((unsubscribe) => unsubscribe()) };
}

describe('poolfetch:pool:*', () => {
  it('publishes create, evict, close in LRU order with key and origin', async () => {
    using log = record<PoolChannelMessage>(['poolfetch:pool:create', 'poolfetch:pool:evict', 'poolfetch:pool:revive', 'poolfetch:pool:close']);
    const manager = new PoolManager({ numPools: 1 });
    await (await manager.request('GET', a.url('/'))).text();
    await (await manager.request('GET', b.url('/'))).text();
    await manager.clear();
    expect(log.seen).toEqual([
      { name: 'poolfetch:pool:create', message: { type: 'poolcreate', key: a.origin, origin: a.origin } },
      { name: 'poolfetch:pool:evict', message: { type: 'poolevict', key: a.origin, origin: a.origin } },
      { name: 'poolfetch:pool:create', message: { type: 'poolcreate', key: b.origin, origin: b.origin } },
      { name: 'poolfetch:pool:close', message: { type: 'poolclose', key: a.origin, origin: a.origin } },
      { name: 'poolfetch:pool:close', message: { type: 'poolclose', key: b.origin, origin: b.origin } },
    ]);
  });
});

describe('poolfetch:request:slot', () => {
  it("reports each request's wait: 0 with a free slot, else at least as long as the slot's holder was held", async () => {
    using log = record<SlotChannelMessage>(['poolfetch:request:slot']);
    await using manager = new PoolManager({ maxSize: 1 });
    using _held = (g = gate());
    const first = manager.request('GET', held.url('/first'));
    await g.whenStarted(1);
    const second = manager.request('GET', held.url('/second'));
    // request() joins the line in the same turn: from here on the second is waiting for the slot.
    expect(manager.stats()[0]?.queued).toBe(1);
    const inLine = performance.now();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.seen).toHaveLength(1);
    // The server still holds the first: the second cannot have its slot before this moment.
    const heldFor = performance.now() - inLine;
    g.releaseAll();
    expect(await (await first).text()).toBe('ok');
    expect(await (await second).text()).toBe('ok');
    const [one, two] = log.seen.map((entry) => entry.message);
    expect(one).toEqual({ method: 'GET', url: held.url('/first'), origin: held.origin, key: held.origin, waitMs: 0 });
    expect(two).toMatchObject({ method: 'GET', url: held.url('/second'), origin: held.origin, key: held.origin });
    expect(two?.waitMs).toBeGreaterThanOrEqual(heldFor);
    expect(held.requests.map((r) => r.url)).toEqual(['/first', '/second']);
  });

  it('never shows a password', async () => {
    using log = record<SlotChannelMessage>(['poolfetch:request:slot']);
    await using manager = new PoolManager();
    const url = new URL(a.url('/private'));
    url.username = 'user';
    url.password = 's3cret';
    await (await manager.request('GET', url)).text();
    expect(JSON.stringify(log.seen)).not.toContain('s3cret');
    expect(a.requests.at(-1)?.headers.authorization).toBe(`Basic ${Buffer.from('user:s3cret').toString('base64')}`);
  });

  it('precedes each undici:request:create of the same method and URL, queued or not, request() and fetch()', async () => {
    // What a tracer ties together (examples/otel.mjs): every undici request poolfetch makes had its slot
    // message first. undici may create its request later, when its own connection frees up.
    const order: string[] = [];
    const onSlot = (message: unknown): void => {
      const { method, url } = message as SlotChannelMessage;
      order.push(`slot ${method} ${url}`);
    };
    const onCreate = (message: unknown): void => {
      const { request } = message as { request: { method: string; origin: string | URL; path: string } };
      order.push(`create ${request.method} ${new URL(request.path, request.origin).href}`);
    };
    diagnosticsChannel.subscribe('poolfetch:request:slot', onSlot);
    diagnosticsChannel.subscribe('undici:request:create', onCreate);
    try {
      await using manager = new PoolManager({ maxSize: 1 });
      const urls = [0, 1, 2].map((i) => a.url(`/queued/${i}`));
      await Promise.all([
        ...urls.map(async (url) => (await manager.request('POST', url, { body: 'x' })).text()),
        manager.fetch(a.url('/fetched')).then((response) => response.text()),
      ]);
      const sent = [...urls.map((url) => `POST ${url}`), `GET ${a.url('/fetched')}`];
      // The server saw each once; each create comes after its slot.
      expect(a.requests.filter((r) => r.url.startsWith('/queued/') || r.url === '/fetched')).toHaveLength(4);
      expect(order.filter((line) => line.startsWith('slot ')).map((line) => line.slice(5)).sort()).toEqual([...sent].sort());
      expect(order.filter((line) => line.startsWith('create ')).map((line) => line.slice(7)).sort()).toEqual([...sent].sort());
      for (const request of sent) expect(order.indexOf(`slot ${request}`)).toBeLessThan(order.indexOf(`create ${request}`));
    } finally {
      diagnosticsChannel.unsubscribe('poolfetch:request:slot', onSlot);
      diagnosticsChannel.unsubscribe('undici:request:create', onCreate);
    }
  });

  it('reads no clock and builds nothing while nobody subscribes', async () => {
    await using manager = new PoolManager();
    // Only poolfetch's own reads count: undici's fetch reads the clock as an earlier test's body ends.
    const original = performance.now.bind(performance);
    const readers: string[] = [];
    const now = vi.spyOn(performance, 'now').mockImplementation(() => {
      const stack = new Error('clock read').stack ?? '';
      if (!stack.includes('/node_modules/undici/')) readers.push(stack);
      return original();
    });
    try {
      await (await manager.request('GET', a.url('/quiet'))).text();
      expect(readers).toEqual([]);
      using _log = record<SlotChannelMessage>(['poolfetch:request:slot']);
      await (await manager.request('GET', a.url('/watched'))).text();
      expect(readers.length).toBeGreaterThan(0);
    } finally {
      now.mockRestore();
    }
  });
});
