/**
 * The fetch adapter over Node's real `fetch` against real loopback servers:
 * what only a server can see (how many requests are open at once while
 * bodies are read slowly), a cancelled body freeing its slot, and a refused
 * connection mapped to poolfetch's errors rather than `TypeError: fetch failed`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaxRetryError, NewConnectionError, PoolManager } from '../../adapters/fetch/index.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';
import { fetchCause } from '../support/fetch-error.js';

let server: TestServer;
/** `/slow/:id`: one chunk now, each next one only after the client has read the previous one. */
const readers = new Map<string, () => void>();
const CHUNKS = 4;

beforeAll(async () => {
  server = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/slow/')) {
      const id = url.pathname.slice('/slow/'.length);
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let i = 0; i < CHUNKS; i += 1) {
        const read = deferred();
        readers.set(id, read.resolve);
        res.write(`${id}:${i};`);
        await read.promise;
      }
      res.end();
      return;
    }
    if (url.pathname === '/endless') {
      res.writeHead(200);
      res.write('first chunk, and no more until the client goes away');
      await new Promise((resolve) => res.on('close', resolve));
      return;
    }
    res.end(`ok ${url.pathname}`);
  });
});
afterAll(async () => {
  await server.close();
});

/** Reads a body one chunk at a time, telling the server after each read that it may send the next. */
async function readSlowly(response: Response, id: string): Promise<string> {
  if (response.body === null) throw new Error(`no body for ${id}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += value;
    readers.get(id)?.();
  }
}

describe('the fetch adapter against a real server', () => {
  it('keeps the requests open at the server within maxSize while bodies stream slowly', async () => {
    await using manager = new PoolManager({ maxSize: 2 });
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const responses = ids.map((id) => manager.fetch(server.url(`/slow/${id}`)));
    // The first two fetches have resolved, their bodies not read: their slots are still taken.
    await Promise.all(responses.slice(0, 2));
    expect(manager.connectionFromUrl(server.origin).stats()).toMatchObject({ running: 2, queued: 4 });
    const texts = await Promise.all(responses.map(async (response, i) => readSlowly(await response, ids[i] ?? '')));
    expect(texts).toEqual(ids.map((id) => Array.from({ length: CHUNKS }, (_, i) => `${id}:${i};`).join('')));
    // Counted at the server: the two held bodies kept two requests open there at once, never more.
    expect(server.peakInFlight).toBe(2);
    const pool = manager.connectionFromUrl(server.origin);
    expect(pool.numRequests).toBe(6);
    expect(pool.numConnections).toBe(2);
  });

  it('frees the slot of a cancelled body, so the next request is sent', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const endless = await manager.fetch(server.url('/endless'));
    const reader = (endless.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);
    const next = manager.fetch(server.url('/after'));
    expect(manager.connectionFromUrl(server.origin).stats()).toMatchObject({ running: 1, queued: 1 });
    await reader.cancel();
    expect(await (await next).text()).toBe('ok /after');
  });
});

describe('a body nobody reads', () => {
  it('holds its slot until its request is aborted', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const controller = new AbortController();
    const unread = await manager.fetch(server.url('/endless'), { signal: controller.signal });
    const next = manager.fetch(server.url('/after-abort'));
    expect(manager.connectionFromUrl(server.origin).stats()).toMatchObject({ running: 1, queued: 1 });
    controller.abort();
    expect(await (await next).text()).toBe('ok /after-abort');
    expect(unread.bodyUsed).toBe(false);
  });
});

describe('network failures', () => {
  let closedUrl: string;
  beforeAll(async () => {
    const gone = await startServer();
    closedUrl = gone.url('/');
    await gone.close();
  });

  it('manager.fetch rejects with NewConnectionError, naming the URL, with the TypeError as cause', async () => {
    await using manager = new PoolManager();
    const error = fetchCause(await manager.fetch(closedUrl).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(NewConnectionError);
    // The runtime's code where it gave one (Node: ECONNREFUSED), as error.cause.code reads with its own fetch.
    expect(error).toMatchObject({ name: 'NewConnectionError', code: 'ECONNREFUSED', url: closedUrl });
    expect((error as Error).message).toContain(closedUrl);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it('manager.request retries, then rejects with MaxRetryError whose reason is NewConnectionError', async () => {
    await using manager = new PoolManager({ retries: 2 });
    const error = await manager.request('GET', closedUrl).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaxRetryError);
    expect((error as MaxRetryError).reason).toBeInstanceOf(NewConnectionError);
    expect(manager.connectionFromUrl(closedUrl).numRequests).toBe(3);
  });

  it('with retries: false, manager.request rejects with the NewConnectionError itself', async () => {
    await using manager = new PoolManager({ retries: false });
    await expect(manager.request('GET', closedUrl)).rejects.toBeInstanceOf(NewConnectionError);
  });
});
