/**
 * Redirects as the runtime's fetch follows them, counted at two real hosts
 * (127.0.0.1 and 127.0.0.2): the same hops, methods and bodies, credentials
 * left behind on another origin, fetch's limit of 20 hops, `manual` and
 * `error` modes, and a Location that is not http(s) a TypeError that is
 * never sent again. Under Node both entries follow hop by hop, each hop
 * through its own origin's pool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { URLSchemeUnknown } from '../../src/errors.js';
import { startServer, type TestServer } from '../support/servers.js';
import { entries, errorShape, recorder, runtimeSide, type Fetch } from './support.js';

let a: TestServer;
let b: TestServer;
const record = recorder();

/** `/to?status=N&target=URL` redirects; `/loop` redirects to itself; anything else answers 200. */
async function handler(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
  const seen = await record.take(req);
  const url = new URL(seen.url, 'http://placeholder');
  if (url.pathname === '/to') {
    res.writeHead(Number(url.searchParams.get('status')), { location: url.searchParams.get('target') ?? '/' }).end('moved');
  } else if (url.pathname === '/loop') {
    res.writeHead(302, { location: '/loop' }).end();
  } else {
    res.end('arrived');
  }
}

beforeAll(async () => {
  a = await startServer(handler, { collectBody: false });
  b = await startServer(handler, { collectBody: false, host: '127.0.0.2' });
});
afterAll(async () => {
  await a.close();
  await b.close();
});

const to = (server: TestServer, status: number, target: string): string => server.url(`/to?status=${status}&target=${encodeURIComponent(target)}`);

/** What the servers saw of one call, and what the caller got. */
async function hops(fetch: Fetch, url: string, init?: RequestInit): Promise<{ seen: unknown[]; outcome: unknown }> {
  record.seen.length = 0;
  let outcome: unknown;
  try {
    const response = await fetch(url, init);
    outcome = { status: response.status, redirected: response.redirected, url: response.url, location: response.headers.get('location'), text: await response.text() };
  } catch (error) {
    outcome = errorShape(error);
  }
  const seen = record.seen.map((s) => [s.headers.host, s.method, s.url.split('?')[0], s.headers.authorization, s.headers['x-kept'], s.body.toString()]);
  return { seen, outcome };
}

describe.each(entries)('redirects: manager.fetch ($name) against the runtime’s fetch', (entry) => {
  const scenarios: Array<[string, () => [string, RequestInit?]]> = [
    ['a 302 to another origin, credentials left behind', () => [to(a, 302, b.url('/end')), { headers: { authorization: 'Bearer s3cret', 'x-kept': 'yes' } }]],
    ['a 307 on the same origin keeps method, body and credentials', () => [to(a, 307, '/end'), { method: 'PUT', body: 'payload', headers: { authorization: 'Bearer s3cret' } }]],
    ['a 301 turns a POST into a GET without its body', () => [to(a, 301, '/end'), { method: 'POST', body: 'payload' }]],
    ['a 303 turns a PUT into a GET', () => [to(a, 303, b.url('/end')), { method: 'PUT', body: 'payload' }]],
    ['three hops across two origins', () => [to(a, 302, to(b, 302, a.url('/end')))]],
    ['redirect: manual hands back the 3xx with its Location', () => [to(a, 302, b.url('/end')), { redirect: 'manual' }]],
    ['redirect: error rejects', () => [to(a, 302, '/end'), { redirect: 'error' }]],
    ['more than 20 hops reject, after 21 requests', () => [a.url('/loop')]],
    ['a Location that is not http(s) rejects, sent once', () => [to(a, 302, 'ftp://127.0.0.1/file')]],
  ];
  it.each(scenarios)('%s', async (_name, args) => {
    const runtime = await hops(runtimeSide().fetch, ...args());
    const side = entry.make();
    try {
      const ours = await hops(side.fetch, ...args());
      expect(ours).toEqual(runtime);
    } finally {
      await side.close();
    }
  });

  it('the runtime’s answers themselves, as the Fetch standard says', async () => {
    const cross = await hops(runtimeSide().fetch, to(a, 302, b.url('/end')), { headers: { authorization: 'Bearer s3cret' } });
    expect(cross.seen).toEqual([
      [`127.0.0.1:${a.port}`, 'GET', '/to', 'Bearer s3cret', undefined, ''],
      [`127.0.0.2:${b.port}`, 'GET', '/end', undefined, undefined, ''],
    ]);
    expect((await hops(runtimeSide().fetch, a.url('/loop'))).seen).toHaveLength(21);
    expect((await hops(runtimeSide().fetch, to(a, 302, '/end'), { redirect: 'manual' })).outcome).toMatchObject({ status: 302, location: '/end' });
  });

  it('sends each hop through its own origin’s pool, and a non-http(s) Location is URLSchemeUnknown, not retried', async () => {
    const side = entry.make({ retries: 3 });
    try {
      await (await side.fetch(to(a, 302, to(b, 302, a.url('/end'))))).text();
      const manager = side.manager;
      expect(manager?.connectionFromUrl(a.url()).numRequests).toBe(2);
      expect(manager?.connectionFromUrl(b.url()).numRequests).toBe(1);
      record.seen.length = 0;
      const error = await side.fetch(to(a, 302, 'file:///etc/passwd')).catch((e: unknown) => e);
      expect((error as Error).cause).toBeInstanceOf(URLSchemeUnknown);
      const viaRequest = await manager?.request('GET', to(a, 302, 'file:///etc/passwd')).catch((e: unknown) => e);
      expect(viaRequest).toBeInstanceOf(URLSchemeUnknown);
      // One request each: a refused Location is never sent again, whatever the retries.
      expect(record.seen).toHaveLength(2);
    } finally {
      await side.close();
    }
  });
});
