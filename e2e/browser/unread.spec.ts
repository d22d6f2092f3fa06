/**
 * Unread bodies in real Chromium (issue #19): the BUILT browser bundle reads
 * each body ahead and frees its slot once the body has arrived, so bodies
 * nobody reads never starve the line, with default options. Counted at
 * real loopback servers (cross-origin, CORS).
 */
import { expect, test } from '@playwright/test';
import { startServer, type TestServer } from '../../test/support/servers.js';
import { startPage, type PageServer } from './page.js';

let site: PageServer;
let api: TestServer;
/** `/ky/:id` attempts per id: 413 twice (with `retry-after: 0`, which ky needs to retry a 413), then 200. */
const attempts = new Map<string, number>();

test.beforeAll(async () => {
  site = await startPage();
  api = await startServer(
    (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path.startsWith('/413')) return void res.writeHead(413, { 'content-type': 'text/plain' }).end('nobody reads this');
      if (path.startsWith('/204')) return void res.writeHead(204).end();
      if (path.startsWith('/ky/')) {
        const n = (attempts.get(path) ?? 0) + 1;
        attempts.set(path, n);
        if (n < 3) return void res.writeHead(413, { 'retry-after': '0' }).end('retry me');
        return void res.end(`done ${path}`);
      }
      res.end(`ok ${path}`);
    },
    { cors: true },
  );
});

test.afterAll(async () => {
  await Promise.all([site.close(), api.close()]);
});

test.beforeEach(async ({ page }) => {
  await page.goto(site.url);
  await expect(page).toHaveTitle('ready');
});

const gets = (prefix: string): number => api.requests.filter((r) => r.method === 'GET' && r.url.startsWith(prefix)).length;

test('10 unread 413 responses through manager.fetch, default options: all answered, 10 at the server', async ({ page }) => {
  const result = await page.evaluate(async (origin) => {
    const manager = new window.poolfetch.PoolManager();
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => manager.fetch(`${origin}/413?${i}`)));
    const statuses = responses.map((r) => r.status);
    const unread = responses.every((r) => !r.bodyUsed);
    // Still readable after the others went through.
    const last = await responses[9]?.text();
    // Bodies that cannot exist free the slot with the headers: one slot, three in a row.
    const one = new window.poolfetch.PoolManager({ maxSize: 1 });
    const empty = [];
    for (let i = 0; i < 3; i += 1) empty.push((await one.fetch(`${origin}/204?${i}`)).status);
    await manager.clear();
    await one.clear();
    return { statuses, unread, last, empty };
  }, api.origin);
  expect(result.statuses).toEqual(Array(10).fill(413));
  expect(result.unread).toBe(true);
  expect(result.last).toBe('nobody reads this');
  expect(result.empty).toEqual([204, 204, 204]);
  expect(gets('/413')).toBe(10);
  expect(gets('/204')).toBe(3);
});

test('ky with its default options retries 413s it never reads: 8 calls over 6 slots, every attempt at the server', async ({ page }) => {
  const texts = await page.evaluate(async (origin) => {
    const manager = new window.poolfetch.PoolManager();
    const client = window.ky.create({ fetch: manager.fetch });
    const all = await Promise.all(Array.from({ length: 8 }, (_, i) => client.get(`${origin}/ky/${i}`).text()));
    await manager.clear();
    return all;
  }, api.origin);
  expect(texts).toEqual(Array.from({ length: 8 }, (_, i) => `done /ky/${i}`));
  expect(gets('/ky/')).toBe(24);
});
