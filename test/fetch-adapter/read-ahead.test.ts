/**
 * A slot is freed when the exchange is done with the connection, never only
 * when the caller reads (issue #19): the fetch adapter reads each body ahead
 * (up to 1 MiB) and frees the slot once it has arrived, so responses nobody
 * reads (ky's retried 413s, an HTTPError kept for later) never starve the
 * line. Over Node's real fetch and real loopback servers, counted at the
 * server.
 */
import ky from 'ky';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/fetch/index.js';
import { READ_AHEAD_BYTES } from '../../src/read-ahead.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';
import { gate, type Gate } from './support.js';

let server: TestServer;
/** Holds the end of each `/slow/` body until the test lets it go; counts what is open at once. */
let g: Gate = gate();
/** `/ky/:id` attempts per id: the first two answer 413 (with `retry-after: 0`, which ky needs to retry a 413), the third 200. */
const attempts = new Map<string, number>();
/** Lets `/big-held` send its last bytes. */
let finishBig = deferred();
/** Resolves once `/big-held` has written all but its last bytes. */
let bigWritten = deferred();
const BIG = READ_AHEAD_BYTES + 64 * 1024;

beforeAll(async () => {
  server = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path.startsWith('/413')) {
      res.writeHead(413, { 'content-type': 'text/plain' }).end('too large, and nobody reads this');
      return;
    }
    if (path.startsWith('/ky/')) {
      const n = (attempts.get(path) ?? 0) + 1;
      attempts.set(path, n);
      if (n < 3) res.writeHead(413, { 'retry-after': '0' }).end('retry me');
      else res.end(`done ${path}`);
      return;
    }
    if (path.startsWith('/204')) return void res.writeHead(204).end();
    if (path.startsWith('/304')) return void res.writeHead(304).end();
    if (path.startsWith('/empty')) return void res.writeHead(200, { 'content-length': '0' }).end();
    if (path === '/big-held') {
      // Past the read-ahead bound, its last bytes only when the test says: the body cannot have arrived before then.
      res.writeHead(200, { 'content-length': String(BIG) });
      res.write(Buffer.alloc(BIG - 10, 'b'), () => bigWritten.resolve());
      await finishBig.promise;
      res.end(Buffer.alloc(10, 'e'));
      return;
    }
    if (path.startsWith('/slow/')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(`${path} head;`);
      await g.hold(path, () => void res.end(' tail'));
      return;
    }
    if (path.startsWith('/chunked')) {
      // No content-length: read ahead by the reader loop, not the runtime's arrayBuffer().
      res.write('chunk one;');
      res.end(' chunk two');
      return;
    }
    res.end(`ok ${path}`);
  });
});
afterAll(async () => {
  g.releaseAll();
  finishBig.resolve();
  await server.close();
});

/** A request on a connection of its own, answered at once: an event to wait for instead of a sleep. */
async function roundTrip(): Promise<void> {
  await (await fetch(server.url('/probe'), { headers: { connection: 'close' } })).text();
}

function hits(prefix: string): number {
  return server.requests.filter((r) => r.url.startsWith(prefix)).length;
}

describe('unread bodies never starve the line (default options)', () => {
  it('10 unread 413 responses through manager.fetch all arrive: 10 at the server', async () => {
    await using manager = new PoolManager();
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => manager.fetch(server.url(`/413?${i}`))));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(413));
    expect(hits('/413')).toBe(10);
    // Unread, and still readable.
    expect(responses.every((r) => !r.bodyUsed)).toBe(true);
    expect(await responses[9]?.text()).toBe('too large, and nobody reads this');
  });

  it('ky with its default options retries 413s it never reads, 8 calls over 6 slots: every attempt reaches the server', async () => {
    await using manager = new PoolManager();
    const api = ky.create({ fetch: manager.fetch });
    const ids = Array.from({ length: 8 }, (_, i) => String(i));
    const texts = await Promise.all(ids.map((id) => api.get(server.url(`/ky/${id}`)).text()));
    expect(texts).toEqual(ids.map((id) => `done /ky/${id}`));
    // Counted at the server: three attempts each, two of them 413s whose bodies ky never read.
    expect(hits('/ky/')).toBe(24);
    expect(ids.map((id) => attempts.get(`/ky/${id}`))).toEqual(Array(8).fill(3));
  });

  it('request() with preloadContent: false: unread bodies free their slots once arrived', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const responses = [];
    for (let i = 0; i < 4; i += 1) responses.push(await manager.request('GET', server.url(`/unread-stream/${i}`), { preloadContent: false }));
    expect(hits('/unread-stream/')).toBe(4);
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual([0, 1, 2, 3].map((i) => `ok /unread-stream/${i}`));
  });

  it('a chunked body (no content-length) is read ahead too, and keeps its bytes for the caller', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const first = await manager.fetch(server.url('/chunked/1'));
    const second = await manager.fetch(server.url('/chunked/2'));
    expect(hits('/chunked/')).toBe(2);
    expect(await first.text()).toBe('chunk one; chunk two');
    expect(await new Response(second.body).text()).toBe('chunk one; chunk two');
  });
});

describe('bodies that cannot exist free the slot with the headers', () => {
  it.each([
    ['HEAD', '/head'],
    ['GET', '/204'],
    ['GET', '/304'],
    ['GET', '/empty'],
  ])('%s %s: the slot is free as soon as the response is', async (method, path) => {
    await using manager = new PoolManager({ maxSize: 1 });
    for (let i = 0; i < 3; i += 1) {
      const response = await manager.fetch(server.url(`${path}?${i}`), { method });
      // At once, in the same turn: not once a read of an empty body has come back.
      expect(manager.connectionFromUrl(server.origin).stats()).toMatchObject({ running: 0, queued: 0 });
      expect(response.bodyUsed).toBe(false);
    }
    expect(hits(path)).toBe(3);
  });

  it('request() with preloadContent: false, HEAD: free at once', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const response = await manager.request('HEAD', server.url('/head-stream'), { preloadContent: false });
    expect(manager.connectionFromUrl(server.origin).stats()).toMatchObject({ running: 0 });
    expect(await response.text()).toBe('');
  });
});

describe('a body larger than the read-ahead bound', () => {
  it('holds its slot until the caller reads it: the next request reaches the server only then', async () => {
    finishBig = deferred();
    bigWritten = deferred();
    await using manager = new PoolManager({ maxSize: 1 });
    const big = await manager.fetch(server.url('/big-held'));
    const next = manager.fetch(server.url('/after-big'));
    await bigWritten.promise;
    finishBig.resolve();
    // A round trip on another connection: by its end the last bytes were on the first one long since.
    await roundTrip();
    expect(manager.connectionFromUrl(server.origin).stats()).toMatchObject({ running: 1, queued: 1 });
    expect(hits('/after-big')).toBe(0);
    const bytes = new Uint8Array(await big.arrayBuffer());
    expect(bytes.byteLength).toBe(BIG);
    expect(bytes.at(-1)).toBe('e'.charCodeAt(0));
    expect(await (await next).text()).toBe('ok /after-big');
    expect(hits('/after-big')).toBe(1);
  });

  it('frees its slot when cancelled unread', async () => {
    finishBig = deferred();
    bigWritten = deferred();
    await using manager = new PoolManager({ maxSize: 1 });
    const big = await manager.fetch(server.url('/big-held'));
    const next = manager.fetch(server.url('/after-cancel'));
    await bigWritten.promise;
    await big.body?.cancel();
    expect(await (await next).text()).toBe('ok /after-cancel');
    finishBig.resolve();
  });
});

describe('a slot is held until the body has arrived, not only until the headers have', () => {
  it.each([
    ['request(), preloaded', (m: PoolManager, url: string) => m.request('GET', url).then((r) => r.text())],
    ['request(), preloadContent: false, unread', (m: PoolManager, url: string) => m.request('GET', url, { preloadContent: false }).then(() => 'unread')],
    ['manager.fetch, unread', (m: PoolManager, url: string) => m.fetch(url).then(() => 'unread')],
  ])('%s: three on maxSize 1, whose bodies end slowly, are at the server one at a time', async (_name, call) => {
    g = gate();
    await using manager = new PoolManager({ maxSize: 1 });
    const all = [1, 2, 3].map((i) => call(manager, server.url(`/slow/${i}`)));
    for (let i = 1; i <= 3; i += 1) {
      await g.whenStarted(i);
      // Its head went out at once: two round trips on other connections later, the client has long had it.
      await roundTrip();
      await roundTrip();
      expect(g.started).toHaveLength(i);
      g.releaseOne();
    }
    const texts = await Promise.all(all);
    expect(texts.every((t) => t === 'unread' || /^\/slow\/\d head; tail$/.test(t))).toBe(true);
    // Counted at the server: each next request came only once the body before it had all arrived.
    expect(g.peak).toBe(1);
    expect(g.started).toEqual(['/slow/1', '/slow/2', '/slow/3']);
  });
});
