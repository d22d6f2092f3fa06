/**
 * manager.fetch is the browser's own fetch, side by side in real Chromium
 * (the BUILT bundle): the same error for a refused connection (a
 * TypeError with Chromium's message, the poolfetch error as its cause), the
 * same framing and default headers at a real server, and redirects left to
 * the browser (it answers `redirect: 'manual'` with an opaque redirect).
 */
import { expect, test } from '@playwright/test';
import net from 'node:net';
import { startServer, type TestServer } from '../../test/support/servers.js';
import { startPage, type PageServer } from './page.js';

let site: PageServer;
let api: TestServer;
let other: TestServer;
let closedUrl: string;

test.beforeAll(async () => {
  site = await startPage();
  other = await startServer(undefined, { cors: true });
  api = await startServer((req, res) => {
    if (req.url?.startsWith('/redirect') === true) res.writeHead(302, { location: other.url('/landed') }).end();
    else res.end('ok');
  }, { cors: true });
  const gone = net.createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(gone.address() as net.AddressInfo).port}/`;
  await new Promise((resolve) => gone.close(resolve));
});

test.afterAll(async () => {
  await Promise.all([site, api, other].map((s) => s.close()));
});

test.beforeEach(async ({ page }) => {
  await page.goto(site.url);
  await expect(page).toHaveTitle('ready');
});

test('a refused connection: the browser’s TypeError and message, the poolfetch error as cause', async ({ page }) => {
  const seen = await page.evaluate(async (url) => {
    const shape = (error: unknown) => {
      const e = error as Error & { cause?: { name?: string } };
      return { isTypeError: e instanceof TypeError, message: e.message, cause: e.cause?.name ?? null, isPoolfetch: window.poolfetch.isPoolfetchError(e.cause) };
    };
    const manager = new window.poolfetch.PoolManager();
    const browser = await fetch(url).then(() => null, shape);
    const ours = await manager.fetch(url).then(() => null, shape);
    await manager.destroy();
    return { browser, ours };
  }, closedUrl);
  expect(seen.browser).toEqual({ isTypeError: true, message: 'Failed to fetch', cause: null, isPoolfetch: false });
  expect(seen.ours).toEqual({ isTypeError: true, message: seen.browser?.message, cause: 'NewConnectionError', isPoolfetch: true });
});

test('the same framing and headers at the server, and redirects followed by the browser', async ({ page }) => {
  const result = await page.evaluate(async (origin) => {
    const manager = new window.poolfetch.PoolManager();
    const calls = async (fetch: typeof globalThis.fetch) => {
      await (await fetch(new Request(`${origin}/post`, { method: 'POST', body: 'héllo' }))).text();
      await (await fetch(`${origin}/form`, { method: 'POST', body: new URLSearchParams({ a: 'b' }) })).text();
      const redirected = await fetch(`${origin}/redirect`);
      return { redirected: redirected.redirected, url: redirected.url, status: redirected.status };
    };
    const browser = await calls(fetch);
    const ours = await calls(manager.fetch);
    await manager.destroy();
    return { browser, ours };
  }, api.origin);
  expect(result.browser).toEqual({ redirected: true, url: other.url('/landed'), status: 200 });
  expect(result.ours).toEqual(result.browser);
  const pick = (r: TestServer['requests'][number]) => ({
    url: r.url,
    body: r.body,
    framing: [r.headers['content-length'], r.headers['transfer-encoding'], r.headers['content-type']],
    defaults: [r.headers['user-agent'], r.headers.accept, r.headers['accept-language'], r.headers['accept-encoding']],
  });
  const posts = api.requests.filter((r) => r.method === 'POST').map(pick);
  expect(posts).toHaveLength(4);
  // The browser's own framing: a length for a string inside a Request and for URLSearchParams.
  expect(posts[0]?.framing[0]).toBe(String(new TextEncoder().encode('héllo').byteLength));
  expect(posts.slice(2)).toEqual(posts.slice(0, 2));
  // The redirect went once through each origin for both: the browser followed it.
  expect(other.requests.map((r) => r.url)).toEqual(['/landed', '/landed']);
});
