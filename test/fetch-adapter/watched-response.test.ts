/**
 * The Response the fetch adapter hands back is the runtime's own, watched
 * in place (src/watch-body.ts): every way of reading it must behave as fetch
 * says and free its slot exactly once, `destroy()` must stop it at every
 * stage although the request was sent without a signal, and a response
 * nobody reads must give its slot back once it is garbage-collected.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClosedPoolError, PoolManager } from '../../adapters/fetch/index.js';
import { collectGarbage } from '../support/gc.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';
import { fetchCause } from '../support/fetch-error.js';

let server: TestServer;
let answerHanging = deferred();
let hangArrived = deferred();
/** Resolves when the server sees an `/endless` exchange closed by the client. */
let endlessClosed = deferred();
/** Exchanges of `/unended` the server saw closed by the client. */
let unendedClosed = 0;
/** Lets `/held` send the rest of its body. */
const finishHeld = deferred();

beforeAll(async () => {
  server = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/json':
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ok: true, big: 'x'.repeat(100_000) }));
        return;
      case '/form':
        res.setHeader('content-type', 'application/x-www-form-urlencoded');
        res.end('a=1&b=two');
        return;
      case '/bom':
        res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('héllo')]));
        return;
      case '/endless':
        res.writeHead(200);
        res.write('first chunk, and no more until the client goes away');
        await new Promise((resolve) => res.on('close', resolve));
        endlessClosed.resolve();
        return;
      case '/unended':
        res.writeHead(200);
        res.write('first chunk; the rest never comes');
        await new Promise((resolve) => res.on('close', resolve));
        unendedClosed += 1;
        return;
      case '/held':
        res.writeHead(200);
        res.write('first chunk;');
        await finishHeld.promise;
        res.end(' the rest');
        return;
      case '/hang':
        hangArrived.resolve();
        await answerHanging.promise;
        res.end('late');
        return;
      default:
        res.end(`ok ${url.pathname}`);
    }
  });
});
afterAll(async () => {
  answerHanging.resolve();
  finishHeld.resolve();
  await server.close();
});

function running(manager: PoolManager): number {
  return manager.connectionFromUrl(server.origin).stats().running;
}

describe('a watched fetch response', () => {
  it('is the runtime’s Response, with its url, status and headers', async () => {
    await using manager = new PoolManager();
    const response = await manager.fetch(server.url('/json'));
    expect(response).toBeInstanceOf(Response);
    expect(response.url).toBe(server.url('/json'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(Object.keys(response)).toEqual([]);
    await response.arrayBuffer();
  });

  it.each([
    ['text', (r: Response) => r.text(), (v: unknown) => expect(v).toBe('ok /text')],
    ['json', (r: Response) => r.json(), (v: unknown) => expect(v).toMatchObject({ ok: true })],
    ['arrayBuffer', (r: Response) => r.arrayBuffer(), (v: unknown) => expect(new TextDecoder().decode(v as ArrayBuffer)).toBe('ok /arrayBuffer')],
    ['bytes', (r: Response) => (r as Response & { bytes(): Promise<Uint8Array> }).bytes(), (v: unknown) => expect(new TextDecoder().decode(v as Uint8Array)).toBe('ok /bytes')],
    ['blob', (r: Response) => r.blob(), (v: unknown) => expect((v as Blob).size).toBe('ok /blob'.length)],
    ['formData', (r: Response) => r.formData(), (v: unknown) => expect([...(v as FormData).entries()]).toEqual([['a', '1'], ['b', 'two']])],
    ['body', (r: Response) => new Response(r.body).text(), (v: unknown) => expect(v).toBe('ok /body')],
  ])('%s() reads it and frees the slot once', async (name, read, check) => {
    await using manager = new PoolManager({ maxSize: 1 });
    const path = name === 'json' ? '/json' : name === 'formData' ? '/form' : `/${name}`;
    const response = await manager.fetch(server.url(path));
    check(await read(response));
    expect(response.bodyUsed).toBe(true);
    expect(running(manager)).toBe(0);
    // A second read fails as fetch's does, and frees nothing twice.
    await expect(response.text()).rejects.toBeInstanceOf(TypeError);
    expect(running(manager)).toBe(0);
    expect(await (await manager.fetch(server.url('/next'))).text()).toBe('ok /next');
  });

  it('hands out its own buffer: a 100 kB body arrives whole, in a buffer of exactly its size', async () => {
    await using manager = new PoolManager();
    const buffer = await (await manager.fetch(server.url('/json'))).arrayBuffer();
    const text = new TextDecoder().decode(buffer);
    expect(buffer.byteLength).toBe(Buffer.byteLength(text));
    expect((JSON.parse(text) as { big: string }).big).toHaveLength(100_000);
  });

  it('text() decodes UTF-8 and drops a byte order mark, as fetch does', async () => {
    await using manager = new PoolManager();
    expect(await (await manager.fetch(server.url('/bom'))).text()).toBe('héllo');
  });

  it.each([['the copy', 'the original'], ['the original', 'the copy']])(
    'clone() gives two readable copies (%s read first), and frees the slot',
    async (first) => {
      await using manager = new PoolManager({ maxSize: 1 });
      const response = await manager.fetch(server.url('/cloned'));
      const copy = response.clone();
      expect(copy.url).toBe(server.url('/cloned'));
      expect(copy.status).toBe(200);
      const [a, b] = first === 'the copy' ? [copy, response] : [response, copy];
      expect(await a.text()).toBe('ok /cloned');
      expect(running(manager)).toBe(0);
      expect(await b.text()).toBe('ok /cloned');
    },
  );

  it('clone() of which only the copy is read still frees the slot', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const response = await manager.fetch(server.url('/cloned'));
    expect(await response.clone().json().catch(() => 'not json')).toBe('not json');
    expect(running(manager)).toBe(0);
    expect(response.bodyUsed).toBe(false);
  });

  it('body, once asked for, is the stream the other methods read', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const response = await manager.fetch(server.url('/stream-then-text'));
    expect(response.body).toBeInstanceOf(ReadableStream);
    expect(response.bodyUsed).toBe(false);
    expect(await response.text()).toBe('ok /stream-then-text');
    expect(running(manager)).toBe(0);
  });
});

describe('destroy() with requests sent without a signal', () => {
  it('fails a text() still reading, and the server sees the connection go', async () => {
    const manager = new PoolManager();
    const response = await manager.fetch(server.url('/endless'));
    const reading = response.text();
    await manager.destroy();
    await expect(reading).rejects.toBeInstanceOf(ClosedPoolError);
    await endlessClosed.promise;
    endlessClosed = deferred();
  });

  it('errors a body being streamed', async () => {
    const manager = new PoolManager();
    const reader = ((await manager.fetch(server.url('/endless'))).body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);
    await manager.destroy();
    await expect(reader.read()).rejects.toBeInstanceOf(ClosedPoolError);
    await endlessClosed.promise;
    endlessClosed = deferred();
  });

  it('fails a body nobody has read yet', async () => {
    const manager = new PoolManager();
    const response = await manager.fetch(server.url('/endless'));
    await manager.destroy();
    await expect(response.text()).rejects.toBeInstanceOf(ClosedPoolError);
    await endlessClosed.promise;
    endlessClosed = deferred();
  });

  it('stops the wait for headers at once, and drops the answer when it comes', async () => {
    const manager = new PoolManager();
    const waiting = manager.fetch(server.url('/hang'));
    await hangArrived.promise;
    await manager.destroy();
    expect(fetchCause(await waiting.catch((e: unknown) => e))).toBeInstanceOf(ClosedPoolError);
    answerHanging.resolve();
    answerHanging = deferred();
    hangArrived = deferred();
  });
});

describe('a response nobody reads, whose body never fully arrives', () => {
  // A body that has all arrived frees its slot at once (test/fetch-adapter/read-ahead.test.ts); these never end.
  it('gives its slot back once it is garbage-collected, and its connection is closed', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const closedBefore = unendedClosed;
    await (async () => {
      await manager.fetch(server.url('/unended'));
    })();
    expect(running(manager)).toBe(1);
    await collectGarbage(() => running(manager) === 0);
    expect(running(manager)).toBe(0);
    expect(await (await manager.fetch(server.url('/after-gc'))).text()).toBe('ok /after-gc');
    await vi.waitUntil(() => unendedClosed > closedBefore);
  });

  it('gives its slot back once a stream taken from it is dropped unread, too', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    await (async () => {
      const response = await manager.fetch(server.url('/unended'));
      expect(response.body).toBeInstanceOf(ReadableStream);
    })();
    expect(running(manager)).toBe(1);
    await collectGarbage(() => running(manager) === 0);
    expect(running(manager)).toBe(0);
  });

  it('keeps its slot while a stream taken from it is still held, until the body has arrived', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const body = await (async () => (await manager.fetch(server.url('/held'))).body as ReadableStream<Uint8Array>)();
    await collectGarbage(() => false, 5);
    expect(running(manager)).toBe(1);
    finishHeld.resolve();
    expect(await new Response(body).text()).toBe('first chunk; the rest');
    expect(running(manager)).toBe(0);
  });
});

describe('the signal handed to fetch', () => {
  // Node's fetch keeps its listener on a signal until the request is garbage-collected: one
  // long-lived signal shared by every request piles them up (MaxListenersExceededWarning)
  // and costs each request more than the pool's own work.
  it('is none for a fetch without a caller signal, and a new one for each request()', async () => {
    const seen: Array<AbortSignal | null | undefined> = [];
    const recording: typeof fetch = (input, init) => {
      seen.push(init?.signal);
      return fetch(input, init);
    };
    await using manager = new PoolManager({ fetch: recording });
    for (let i = 0; i < 3; i += 1) await (await manager.fetch(server.url('/plain'))).text();
    expect(seen).toEqual([undefined, undefined, undefined]);
    seen.length = 0;
    for (let i = 0; i < 3; i += 1) await (await manager.request('GET', server.url('/plain'))).text();
    expect(seen.every((signal) => signal instanceof AbortSignal)).toBe(true);
    expect(new Set(seen).size).toBe(3);
  });

  it('is one of the exchange’s own when the caller gives one, which the caller’s abort reaches while the body is open', async () => {
    const seen: Array<AbortSignal | null | undefined> = [];
    const recording: typeof fetch = (input, init) => {
      seen.push(init?.signal);
      return fetch(input, init);
    };
    await using manager = new PoolManager({ fetch: recording });
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const response = await manager.fetch(server.url('/plain'), { signal: controller.signal });
    expect(seen[0]).toBeInstanceOf(AbortSignal);
    // Not the caller's: fetch would keep its listener on that one until GC.
    expect(seen[0]).not.toBe(controller.signal);
    expect(seen[0]?.aborted).toBe(false);
    controller.abort(reason);
    expect(seen[0]?.aborted).toBe(true);
    expect(seen[0]?.reason).toBe(reason);
    await expect(response.text()).rejects.toBe(reason);
  });
});
