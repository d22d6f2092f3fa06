/**
 * On Node, `manager.fetch` answers with a global `Response` in front of
 * undici's (adapters/node/undici-transport.ts `FetchedResponse`): the global
 * base holds no body and no headers, so every member a caller reads must
 * come from undici's response.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/form') {
      res.setHeader('content-type', 'application/x-www-form-urlencoded');
      res.end('a=1&b=two');
      return;
    }
    if (url.pathname === '/cookies') {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      res.end('two cookies');
      return;
    }
    if (url.pathname === '/json') {
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
      return;
    }
    res.end(`ok ${url.pathname}`);
  });
});
afterAll(async () => {
  await server.close();
});

function running(manager: PoolManager): number {
  return manager.connectionFromUrl(server.origin).stats().running;
}

describe('manager.fetch on Node', () => {
  it('answers with the global Response, Headers and status', async () => {
    await using manager = new PoolManager();
    const response = await manager.fetch(server.url('/json'));
    expect(response).toBeInstanceOf(Response);
    expect(response.headers).toBeInstanceOf(Headers);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.statusText).toBe('OK');
    expect(response.type).toBe('basic');
    expect(response.url).toBe(server.url('/json'));
    expect(response.redirected).toBe(false);
    expect(response.body).toBeInstanceOf(ReadableStream);
    expect(response.bodyUsed).toBe(false);
    expect(await response.json()).toEqual({ ok: true });
    expect(response.bodyUsed).toBe(true);
  });

  it('keeps repeated set-cookie headers apart', async () => {
    await using manager = new PoolManager();
    const response = await manager.fetch(server.url('/cookies'));
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    await response.text();
  });

  it.each([
    ['text', (r: Response) => r.text(), 'ok /text'],
    ['arrayBuffer', async (r: Response) => new TextDecoder().decode(await r.arrayBuffer()), 'ok /arrayBuffer'],
    ['bytes', async (r: Response) => new TextDecoder().decode(await r.bytes()), 'ok /bytes'],
    ['blob', async (r: Response) => (await r.blob()).text(), 'ok /blob'],
    ['body', (r: Response) => new Response(r.body).text(), 'ok /body'],
  ])('%s() reads the body, once', async (name, read, expected) => {
    // The slot itself is freed once undici has received the whole answer, read or not (README).
    await using manager = new PoolManager({ maxSize: 1 });
    const response = await manager.fetch(server.url(`/${name}`));
    expect(await read(response)).toBe(expected);
    expect(response.bodyUsed).toBe(true);
    expect(running(manager)).toBe(0);
    await expect(response.text()).rejects.toBeInstanceOf(TypeError);
  });

  it('formData() gives the global FormData', async () => {
    await using manager = new PoolManager();
    const form = await (await manager.fetch(server.url('/form'))).formData();
    expect(form).toBeInstanceOf(FormData);
    expect([...form.entries()]).toEqual([['a', '1'], ['b', 'two']]);
  });

  it('clone() gives a second Response of the same kind, both readable', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    const response = await manager.fetch(server.url('/cloned'));
    const copy = response.clone();
    expect(copy).toBeInstanceOf(Response);
    expect(copy.url).toBe(server.url('/cloned'));
    expect(copy.headers.get('content-length')).toBe(response.headers.get('content-length'));
    expect(await copy.text()).toBe('ok /cloned');
    expect(await response.text()).toBe('ok /cloned');
    expect(running(manager)).toBe(0);
  });
});
