/**
 * The BUILT browser bundle in real Chromium against real loopback servers on
 * several ports (distinct origins, CORS): what the servers see is what the
 * pools allowed. Chromium itself would open 6 connections per origin, so
 * `maxSize: 2` is poolfetch's cap, not the browser's.
 */
import { expect, test, type Page, type Request } from '@playwright/test';
import { drive, gate, startProbe, type Gate, type Probe } from '../../test/fetch-adapter/support.js';
import { startServer, type TestServer } from '../../test/support/servers.js';
import { startPage, type PageServer } from './page.js';

import type { FetchEntry } from './page.js';
let site: PageServer;
let g: Gate;
/** Origins whose answers the test holds until it releases them, so the servers can count what is open at once. */
const held: TestServer[] = [];
/** Twelve more origins that answer at once, for the LRU. */
const quick: TestServer[] = [];
let flaky: TestServer;
let flakyHits = 0;
/** Sends headers and a first chunk at once, the rest of the body only when the test releases it. */
let streaming: TestServer;
let probe: Probe;

test.beforeAll(async () => {
  site = await startPage();
  probe = await startProbe({ cors: true });
  for (let i = 0; i < 3; i += 1) {
    const server: TestServer = await startServer(
      (req, res) => g.hold(`${server.origin}${req.url ?? ''}`, () => void res.end(req.url), server.origin),
      { cors: true },
    );
    held.push(server);
  }
  for (let i = 0; i < 12; i += 1) quick.push(await startServer(undefined, { cors: true }));
  streaming = await startServer(
    async (req, res) => {
      // nosniff: otherwise Chromium holds back a text/plain response until 512 bytes have come, to sniff it.
      res.writeHead(200, { 'content-type': 'text/plain', 'x-content-type-options': 'nosniff' });
      res.write(`${req.url ?? ''} head;`);
      await g.hold(req.url ?? '', () => void res.end(' tail'), 'streaming');
    },
    { cors: true },
  );
  flaky = await startServer(
    (_req, res) => {
      flakyHits += 1;
      if (flakyHits < 3) res.writeHead(503).end('busy');
      else res.setHeader('content-type', 'application/json').end(JSON.stringify({ ok: true }));
    },
    { cors: true },
  );
});

test.afterAll(async () => {
  g.releaseAll();
  await Promise.all([site, probe, ...held, ...quick, flaky, streaming].map((s) => s.close()));
});

test.beforeEach(async ({ page }) => {
  g = gate();
  await page.goto(site.url);
  await expect(page).toHaveTitle('ready');
});

test.afterEach(() => {
  g.releaseAll();
});

/**
 * The URLs Chromium sent (its own network log, not poolfetch's counters)
 * before the page's probe request. The page sends the probe a task after a
 * burst through the pools, and Chromium reports requests in the order they
 * were made, so this is everything the pools let out of the burst.
 */
async function sentBeforeProbe(page: Page): Promise<string[]> {
  const sent: string[] = [];
  const record = (request: Request): void => void sent.push(request.url());
  page.on('request', record);
  await page.waitForRequest(probe.url);
  page.off('request', record);
  return sent.slice(0, sent.indexOf(probe.url));
}

test('the bundle is the fetch entry for browsers, resolved from package.json exports', () => {
  expect(site.inputs.some((p) => p.endsWith('/dist/adapters/fetch/browser.js'))).toBe(true);
  expect(site.inputs.some((p) => p.includes('/adapters/node/') || p.includes('/undici/'))).toBe(false);
});

test('the servers never see more than maxSize: 2 requests at once per origin', async ({ page }) => {
  const [a, b] = held.map((s) => s.origin);
  const issued = sentBeforeProbe(page);
  const run = page.evaluate(
    async ({ a, b, probe }) => {
      const manager = new window.poolfetch.PoolManager({ maxSize: 2 });
      const urls = [0, 1, 2, 3, 4, 5].flatMap((i) => [`${a}/${i}`, `${b}/${i}`]);
      const pending = urls.map(async (url) => (await manager.fetch(url)).text());
      // One task later, every request the pools let through has been handed to the network: the probe follows them.
      await new Promise((resolve) => setTimeout(resolve, 0));
      await fetch(probe);
      const texts = await Promise.all(pending);
      const rows = manager.stats().map(({ origin, numRequests, numConnections }) => ({ origin, numRequests, numConnections }));
      await manager.clear();
      return { texts, rows, size: manager.pools.size };
    },
    { a: a ?? '', b: b ?? '', probe: probe.url },
  );
  // What Chromium itself sent before the probe: only the pools' first two per origin.
  const before = await issued;
  expect(before.filter((url) => url.startsWith(`${a}/`))).toHaveLength(2);
  expect(before.filter((url) => url.startsWith(`${b}/`))).toHaveLength(2);
  await Promise.all([a, b].map((origin) => drive(g, 6, 2, origin)));
  g.releaseAll();
  const { texts, rows, size } = await run;
  expect(texts).toEqual([0, 1, 2, 3, 4, 5].flatMap((i) => [`/${i}`, `/${i}`]));
  expect(g.peakOf(a ?? '')).toBe(2);
  expect(g.peakOf(b ?? '')).toBe(2);
  // numConnections in a browser is the peak number in flight.
  expect(rows).toEqual([
    { origin: a, numRequests: 6, numConnections: 2 },
    { origin: b, numRequests: 6, numConnections: 2 },
  ]);
  expect(size).toBe(0);
});

test('a response holds its slot until its body has arrived, not merely until fetch() resolves', async ({ page }) => {
  type Held = { manager: InstanceType<FetchEntry['PoolManager']>; responses: Array<Promise<Response>> };
  const whileUnread = await page.evaluate(async (origin) => {
    const manager = new window.poolfetch.PoolManager({ maxSize: 2 });
    const responses = [1, 2, 3, 4, 5].map((i) => manager.fetch(`${origin}/${i}`));
    (window as unknown as { held: Held }).held = { manager, responses };
    // Both first fetches have resolved (headers and a first chunk are in); the server holds the rest of both bodies.
    await Promise.all(responses.slice(0, 2));
    return manager.connectionFromUrl(origin).stats();
  }, streaming.origin);
  expect(whileUnread).toMatchObject({ running: 2, queued: 3 });
  const run = page.evaluate(async () => {
    const { manager, responses } = (window as unknown as { held: Held }).held;
    const texts = await Promise.all(responses.map(async (response) => (await response).text()));
    await manager.clear();
    return texts;
  });
  // Each body stays open at the server until released; each release lets one more request in.
  await drive(g, 5, 2, 'streaming');
  g.releaseAll();
  expect(await run).toEqual([1, 2, 3, 4, 5].map((i) => `/${i} head; tail`));
  expect(g.peakOf('streaming')).toBe(2);
});

test('maxTotal holds across origins', async ({ page }) => {
  // Three per origin, within maxSize: maxTotal is the one cap that binds, so each release lets one more in.
  const origins = held.map((s) => s.origin);
  const issued = sentBeforeProbe(page);
  const run = page.evaluate(
    async ({ origins, probe }) => {
      const manager = new window.poolfetch.PoolManager({ maxSize: 3, maxTotal: 3 });
      const urls = origins.flatMap((origin) => [0, 1, 2].map((i) => `${origin}/${i}`));
      const pending = urls.map(async (url) => (await manager.fetch(url)).text());
      // One task later, every request the pools let through has been handed to the network: the probe follows them.
      await new Promise((resolve) => setTimeout(resolve, 0));
      await fetch(probe);
      const texts = await Promise.all(pending);
      await manager.clear();
      return texts;
    },
    { origins, probe: probe.url },
  );
  expect(await issued).toHaveLength(3);
  await drive(g, 9, 3);
  g.releaseAll();
  expect(await run).toHaveLength(9);
  expect(g.peak).toBe(3);
});

test('the LRU keeps pools.size at numPools across 12 origins', async ({ page }) => {
  const origins = quick.map((s) => s.origin);
  const { sizes, evicted, keys } = await page.evaluate(
    async (origins) => {
      const manager = new window.poolfetch.PoolManager({ numPools: 4 });
      const evicted: string[] = [];
      manager.addEventListener('poolevict', (event) => evicted.push((event as unknown as { origin: string }).origin));
      const sizes: number[] = [];
      for (const origin of origins) {
        const response = await manager.fetch(`${origin}/`);
        await response.text();
        sizes.push(manager.pools.size);
      }
      const keys = manager.pools.keys();
      await manager.clear();
      return { sizes, evicted, keys };
    },
    origins,
  );
  expect(sizes).toEqual([1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
  expect(evicted).toEqual(origins.slice(0, 8));
  expect(keys).toEqual(origins.slice(8));
  for (const server of quick) expect(server.requests.filter((r) => r.method === 'GET')).toHaveLength(1);
});

test('ky through manager.fetch, with its retries and hooks', async ({ page }) => {
  flakyHits = 0;
  const seenBefore = flaky.requests.length;
  const result = await page.evaluate(
    async (url) => {
      const manager = new window.poolfetch.PoolManager({ maxSize: 2 });
      const statuses: number[] = [];
      const api = window.ky.create({
        fetch: manager.fetch,
        retry: { limit: 2, delay: () => 0 },
        hooks: {
          beforeRequest: [(request) => request.headers.set('x-hook', 'ky')],
          afterResponse: [(_request, _options, response) => void statuses.push(response.status)],
          beforeError: [
            (error) => {
              void error.response.body?.cancel();
              return error;
            },
          ],
        },
      });
      const body = await api.get(url).json();
      const pool = manager.connectionFromUrl(url);
      const after = { numRequests: pool.numRequests, ...pool.stats() };
      await manager.clear();
      return { body, statuses, after };
    },
    `${flaky.origin}/flaky`,
  );
  expect(result.body).toEqual({ ok: true });
  expect(result.statuses).toEqual([503, 503, 200]);
  expect(result.after).toMatchObject({ numRequests: 3, running: 0, queued: 0 });
  const gets = flaky.requests.slice(seenBefore).filter((r) => r.method === 'GET');
  expect(gets.map((r) => r.headers['x-hook'])).toEqual(['ky', 'ky', 'ky']);
});

test('installFetch routes the page’s fetch (and ky) through the pools until restored', async ({ page }) => {
  const url = quick[0]?.url('/installed') ?? '';
  const result = await page.evaluate(
    async (url) => {
      const { PoolManager, installFetch } = window.poolfetch;
      const manager = new PoolManager();
      const original = window.fetch;
      const restore = installFetch(manager);
      await (await fetch(url)).text();
      await window.ky.get(url, { retry: 0 }).text();
      const through = manager.connectionFromUrl(url).numRequests;
      restore();
      await (await fetch(url)).text();
      const after = manager.connectionFromUrl(url).numRequests;
      await manager.clear();
      return { through, after, restored: window.fetch === original };
    },
    url,
  );
  expect(result).toEqual({ through: 2, after: 2, restored: true });
});

test('abort: a queued request is never sent, a running one frees its slot', async ({ page }) => {
  const origin = held[0]?.origin ?? '';
  g.releaseAll();
  const queued = await page.evaluate(
    async (origin) => {
      const manager = new window.poolfetch.PoolManager({ maxSize: 1 });
      const first = manager.fetch(`${origin}/first`).then((r) => r.text());
      const controller = new AbortController();
      const second = manager.fetch(`${origin}/second`, { signal: controller.signal }).then(
        () => 'sent',
        (error: Error) => error.name,
      );
      controller.abort();
      const outcome = await second;
      const stats = manager.connectionFromUrl(origin).stats();
      await first;
      const third = await (await manager.fetch(`${origin}/third`)).text();
      await manager.clear();
      return { outcome, stats, third };
    },
    origin,
  );
  expect(queued.outcome).toBe('AbortError');
  expect(queued.stats).toMatchObject({ running: 1, queued: 0 });
  expect(queued.third).toBe('/third');
  expect(g.started).toEqual([`${origin}/first`, `${origin}/third`]);

  // A running request: the server holds it until the page has aborted it.
  g = gate();
  await page.evaluate((origin) => {
    const manager = new window.poolfetch.PoolManager({ maxSize: 1 });
    const controller = new AbortController();
    const running = manager.fetch(`${origin}/held`, { signal: controller.signal }).then(
      () => 'answered',
      (error: Error) => error.name,
    );
    Object.assign(window, { abortTest: { manager, controller, running } });
  }, origin);
  await g.whenStarted(1);
  const aborting = page.evaluate(async (origin) => {
    const { manager, controller, running } = (window as unknown as {
      abortTest: { manager: InstanceType<FetchEntry['PoolManager']>; controller: AbortController; running: Promise<string> };
    }).abortTest;
    controller.abort();
    const outcome = await running;
    const next = await (await manager.fetch(`${origin}/next`)).text();
    await manager.clear();
    return { outcome, next };
  }, origin);
  // /next reaches the server only once the aborted request has given its only slot back.
  await g.whenStarted(2);
  g.releaseAll();
  expect(await aborting).toEqual({ outcome: 'AbortError', next: '/next' });
  expect(g.started).toEqual([`${origin}/held`, `${origin}/next`]);
});
