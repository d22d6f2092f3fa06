/**
 * `manager.fetch` on the Node entry answers from the dispatch exchange
 * (adapters/node/direct-fetch.ts, fetch-response.ts), not from undici's
 * fetch. Each body behaviour is checked side by side against Node's own
 * fetch on the same real server (the runtime's answer is the expectation),
 * and what the exchange adds (read-ahead, a body given up when it is
 * aborted or collected) is counted at the server.
 */
import { constants, brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPoolfetchError, PoolManager } from '../../adapters/node/index.js';
import { READ_AHEAD_BYTES } from '../../src/read-ahead.js';
import { collectGarbage } from '../support/gc.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';

let server: TestServer;
/** Paths whose body the server has finished writing. */
const finished: string[] = [];
/** Lets `/held` end. */
let endHeld = deferred();
/** Resolves with each socket's close that carried `/held`. */
let heldClosed = deferred();
const BIG = READ_AHEAD_BYTES + 256 * 1024;

beforeAll(async () => {
  server = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    res.on('finish', () => finished.push(path));
    if (path === '/204') return void res.writeHead(204).end();
    if (path === '/304') return void res.writeHead(304).end();
    if (path === '/json-bad') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{nope');
    if (path === '/typed') return void res.writeHead(200, { 'content-type': 'Text/Plain; Charset="UTF-8"' }).end('typed');
    if (path === '/bom') return void res.end(Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69, 0xff]));
    if (path === '/gzip') return void res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync('zipped body'));
    if (path === '/deflate') return void res.writeHead(200, { 'content-encoding': 'deflate' }).end(deflateSync('deflated body'));
    if (path === '/br') {
      return void res.writeHead(200, { 'content-encoding': 'br' }).end(brotliCompressSync('brotli body', { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }));
    }
    if (path === '/unknown-coding') return void res.writeHead(200, { 'content-encoding': 'x-mine' }).end('as it came');
    if (path.startsWith('/mid/')) {
      // Read ahead below the bound: all of it arrives whether or not anyone reads.
      return void res.end(Buffer.alloc(200 * 1024, 'm'));
    }
    if (path.startsWith('/big/')) return void res.end(Buffer.alloc(BIG, 'b'));
    if (path === '/cut') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part', () => req.socket.destroy());
      return;
    }
    if (path === '/held') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part;');
      req.socket.once('close', () => heldClosed.resolve());
      await endHeld.promise;
      res.end('last part');
      return;
    }
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(`ok ${req.url ?? ''}`);
  });
});
afterAll(async () => {
  await server.close();
});

/** Runs `scenario` against Node's own fetch and against manager.fetch; returns both outcomes. */
async function sideBySide<T>(scenario: (f: typeof fetch) => Promise<T>): Promise<{ node: T; ours: T }> {
  const node = await scenario(fetch);
  await using manager = new PoolManager();
  const ours = await scenario(manager.fetch.bind(manager) as typeof fetch);
  return { node, ours };
}

/** A rejection (or a throw) as class and message, or the value. */
async function outcome(run: () => unknown): Promise<unknown> {
  try {
    return { value: await run() };
  } catch (error) {
    return { error: (error as Error).constructor.name, message: (error as Error).message };
  }
}

describe('manager.fetch on Node reads bodies as Node’s fetch does', () => {
  it('a second read, and a read after the stream was touched, reject with the runtime’s TypeError; bodyUsed follows', async () => {
    const { node, ours } = await sideBySide(async (f) => {
      const twice = await f(server.url('/twice'));
      const before = twice.bodyUsed;
      const first = await twice.text();
      const after = twice.bodyUsed;
      const second = await outcome(() => twice.text());
      const bodyAfterRead = twice.body instanceof ReadableStream;
      const cloneAfterRead = await outcome(() => twice.clone());
      const streamed = await f(server.url('/streamed'));
      const reader = (streamed.body as ReadableStream<Uint8Array>).getReader();
      const chunk = await reader.read();
      const usedMidStream = streamed.bodyUsed;
      const whileLocked = await outcome(() => streamed.arrayBuffer());
      await reader.cancel();
      return { before, first, after, second, bodyAfterRead, cloneAfterRead, chunk: new TextDecoder().decode(chunk.value), usedMidStream, whileLocked };
    });
    expect(ours).toEqual(node);
    expect(node.second).toMatchObject({ error: 'TypeError' });
  });

  it('response headers are immutable, with the runtime’s own error, on both of manager.fetch’s paths', async () => {
    const tries = async (f: typeof fetch, init?: RequestInit) => {
      const response = await f(server.url('/headers'), init);
      await response.text();
      const headers = response.headers;
      return {
        set: await outcome(() => headers.set('x-mine', '1')),
        append: await outcome(() => headers.append('x-mine', '1')),
        delete: await outcome(() => headers.delete('content-type')),
        type: headers.get('content-type'),
        isHeaders: headers instanceof Headers,
      };
    };
    const { node, ours } = await sideBySide((f) => tries(f));
    expect(ours).toEqual(node);
    // `cache: 'default'` sends the call through undici's fetch instead of the exchange.
    expect((await sideBySide((f) => tries(f, { cache: 'default' }))).ours).toEqual(node);
    expect(node.set).toMatchObject({ error: 'TypeError' });
  });

  it('the body is a byte stream, as fetch’s is: a BYOB reader reads it, and a clone’s too', async () => {
    const { node, ours } = await sideBySide(async (f) => {
      const byob = async (stream: ReadableStream<Uint8Array> | null) => {
        const reader = (stream as ReadableStream<Uint8Array>).getReader({ mode: 'byob' });
        let text = '';
        for (;;) {
          const { done, value } = await reader.read(new Uint8Array(4));
          if (done) return text;
          text += new TextDecoder().decode(value);
        }
      };
      const response = await f(server.url('/byob'));
      const copy = response.clone();
      return { original: await byob(response.body), copy: await byob(copy.body), used: response.bodyUsed };
    });
    expect(ours).toEqual(node);
    expect(node.original).toBe('ok /byob');
  });

  it('clone(): both copies read the whole body, in either order', async () => {
    const { node, ours } = await sideBySide(async (f) => {
      const response = await f(server.url('/cloned'));
      const copy = response.clone();
      const fromCopy = await copy.text();
      const fromOriginal = await response.text();
      const copyIsResponse = copy instanceof Response;
      const ownHeaders = copy.headers !== response.headers && copy.headers.get('content-type') === response.headers.get('content-type');
      return { fromCopy, fromOriginal, copyIsResponse, ownHeaders, used: [response.bodyUsed, copy.bodyUsed], url: copy.url, status: copy.status };
    });
    expect(ours).toEqual(node);
  });

  it('HEAD, 204 and 304: a null body that reads as empty, again and again', async () => {
    const { node, ours } = await sideBySide(async (f) => {
      const rows = [];
      for (const [path, method] of [['/head', 'HEAD'], ['/204', 'GET'], ['/304', 'GET']] as const) {
        const response = await f(server.url(path), { method });
        rows.push({ path, body: response.body, text: await response.text(), again: await response.text(), used: response.bodyUsed, clone: response.clone().body });
      }
      return rows;
    });
    expect(ours).toEqual(node);
    expect(node.map((row) => row.body)).toEqual([null, null, null]);
  });

  it('json() of a bad body, a BOM and bad UTF-8 in text(), a blob’s type from content-type', async () => {
    const { node, ours } = await sideBySide(async (f) => ({
      badJson: await outcome(async () => (await f(server.url('/json-bad'))).json()),
      bom: await (await f(server.url('/bom'))).text(),
      bomBytes: [...new Uint8Array(await (await f(server.url('/bom'))).arrayBuffer())],
      blobType: (await (await f(server.url('/typed'))).blob()).type,
      blobText: await (await (await f(server.url('/typed'))).blob()).text(),
    }));
    expect(ours).toEqual(node);
    expect(node.badJson).toMatchObject({ error: 'SyntaxError' });
  });

  it('gzip, deflate and br decoded, an unknown coding left as it came', async () => {
    const { node, ours } = await sideBySide(async (f) => {
      const texts: Record<string, string> = {};
      for (const path of ['/gzip', '/deflate', '/br', '/unknown-coding']) texts[path] = await (await f(server.url(path))).text();
      return texts;
    });
    expect(ours).toEqual(node);
    expect(node['/gzip']).toBe('zipped body');
  });

  it('the URL a response shows has no fragment', async () => {
    const { node, ours } = await sideBySide(async (f) => {
      const seen = server.requests.length;
      const response = await f(`${server.origin}/frag?x=1#part`);
      return { url: response.url, body: await response.text(), atServer: server.requests.slice(seen).map((r) => r.url) };
    });
    expect(ours).toEqual(node);
    expect(node.atServer).toEqual(['/frag?x=1']);
  });

  it('a bare trailing "?" is sent as undici’s fetch sends it (Node 20’s older fetch drops it)', async () => {
    await using manager = new PoolManager();
    const seen = server.requests.length;
    // `cache: 'default'` changes nothing on the wire but sends the call through undici's fetch.
    const direct = await manager.fetch(`${server.origin}/bare?`);
    const throughUndici = await manager.fetch(`${server.origin}/bare?`, { cache: 'default' });
    expect([await direct.text(), await throughUndici.text()]).toEqual(['ok /bare?', 'ok /bare?']);
    expect([direct.url, throughUndici.url]).toEqual([`${server.origin}/bare?`, `${server.origin}/bare?`]);
    expect(server.requests.slice(seen).map((r) => r.url)).toEqual(['/bare?', '/bare?']);
  });

  it('a connection broken mid-body: the read rejects with fetch’s TypeError, the poolfetch error as its cause', async () => {
    const causes: unknown[] = [];
    const { node, ours } = await sideBySide(async (f) =>
      outcome(async () => {
        const response = await f(server.url('/cut'));
        try {
          return await response.text();
        } catch (error) {
          causes.push((error as Error).cause);
          throw error;
        }
      }),
    );
    expect(ours).toEqual(node);
    expect(node).toEqual({ error: 'TypeError', message: 'terminated' });
    expect(isPoolfetchError(causes[1])).toBe(true);
  });

  it('an abort while the body is read rejects the read with the signal’s reason and closes the connection', async () => {
    const { node, ours } = await sideBySide(async (f) => {
      endHeld = deferred();
      heldClosed = deferred();
      const controller = new AbortController();
      const response = await f(server.url('/held'), { signal: controller.signal });
      const reading = outcome(() => response.text());
      const reason = new Error('stop reading');
      controller.abort(reason);
      const result = await reading;
      await heldClosed.promise;
      endHeld.resolve();
      return result;
    });
    expect(ours).toEqual(node);
    expect(node).toEqual({ error: 'Error', message: 'stop reading' });
  });
});

describe('manager.fetch on Node: a slot is freed once the body has arrived', () => {
  it(`bodies up to ${READ_AHEAD_BYTES} bytes arrive unread, so unread responses never hold the line`, async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const responses = [];
    for (let i = 0; i < 3; i += 1) responses.push(await manager.fetch(server.url(`/mid/${i}`)));
    // Three exchanges on one slot, none read: each had to end before the next was sent.
    expect(finished.filter((p) => p.startsWith('/mid/'))).toEqual(['/mid/0', '/mid/1', '/mid/2']);
    expect(responses.every((r) => !r.bodyUsed)).toBe(true);
    expect((await responses[2]?.arrayBuffer())?.byteLength).toBe(200 * 1024);
  });

  it('a larger body holds its slot until it is read; a response collected unread gives its slot back', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const seen = server.requests.length;
    let big: Response | undefined = await manager.fetch(server.url('/big/0'));
    // Only the status is kept of the second response: nothing holds the response itself.
    const next = manager.fetch(server.url('/big/1')).then((response) => response.status);
    // The first body cannot all arrive unread, so the second request waits for the slot. An absence
    // cannot be awaited: a little time for it to go wrong.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests.slice(seen).map((r) => r.url)).toEqual(['/big/0']);
    expect((await big.arrayBuffer()).byteLength).toBe(BIG);
    big = undefined;
    // Read: the slot went on to the second, which nobody reads and nobody keeps.
    expect(await next).toBe(200);
    const third = manager.fetch(server.url('/big/2'));
    await collectGarbage(() => server.requests.slice(seen).length === 3);
    expect(server.requests.slice(seen).map((r) => r.url)).toEqual(['/big/0', '/big/1', '/big/2']);
    expect((await (await third).arrayBuffer()).byteLength).toBe(BIG);
  });
});
