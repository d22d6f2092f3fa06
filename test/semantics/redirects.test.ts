/**
 * Redirects, after urllib3's test/with_dummyserver/test_poolmanager.py,
 * against real local servers: 127.0.0.1 and 127.0.0.2 are two hosts. The
 * core follows each hop through its own origin's pool, on both entries
 * (Node's fetch shows the 3xx of `redirect: 'manual'`; in a browser the
 * browser follows and the fetch entry sees the last hop).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocationValueError, MaxRetryError, URLSchemeUnknown } from '../../src/errors.js';
import { startServer, type TestServer } from '../support/servers.js';
import { testCertificates } from '../support/tls.js';
import { adapters, routesServer, type Adapter, type Echo } from './support.js';
import { fetchCause } from '../support/fetch-error.js';

let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  a = await routesServer();
  b = await routesServer({ host: '127.0.0.2' });
});
afterAll(async () => {
  await a.close();
  await b.close();
});

const redirectTo = (server: TestServer, target: string, status = 303): string =>
  server.url(`/redirect?status=${status}&target=${encodeURIComponent(target)}`);

describe.each(adapters)('redirects ($name adapter)', (adapter) => {
  it('follows a redirect to its target (test_redirect)', async () => {
    await using http = adapter.make();
    const r = await http.request('GET', redirectTo(a, a.url('/echo?x=1')));
    expect(r.status).toBe(200);
    expect(r.url).toBe(a.url('/echo?x=1'));
    expect(r.redirects).toEqual([a.url('/echo?x=1')]);
    expect(((await r.json()) as Echo).url).toBe('/echo?x=1');
  });

  it('follows two redirects and lists the hops (test_redirect_twice)', async () => {
    await using http = adapter.make();
    const r = await http.request('GET', redirectTo(a, redirectTo(a, a.url('/echo'))));
    expect(r.status).toBe(200);
    expect(r.url).toBe(a.url('/echo'));
    // The fetch adapter only learns where the runtime ended up.
    expect(r.redirects).toEqual(adapter.followsRedirects ? [a.url('/echo')] : [redirectTo(a, a.url('/echo')), a.url('/echo')]);
  });

  it('resolves a relative Location against the URL that answered (test_redirect_to_relative_url)', async () => {
    await using http = adapter.make();
    const r = await http.request('GET', a.url(`/dir/redirect?status=302&target=${encodeURIComponent('../echo?rel=1')}`));
    expect(r.status).toBe(200);
    expect(((await r.json()) as Echo).url).toBe('/echo?rel=1');
  });

  it('returns the 3xx with redirect: false, per request or per manager (test_redirects_disabled_*)', async () => {
    await using http = adapter.make();
    const r = await http.request('GET', redirectTo(a, a.url('/echo')), { redirect: false });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe(a.url('/echo'));
    expect(r.redirects).toEqual([]);
    await using off = adapter.make({ redirect: false });
    expect((await off.request('GET', redirectTo(a, a.url('/echo')))).status).toBe(303);
    await using zero = adapter.make({ redirect: 0 });
    expect((await zero.request('GET', redirectTo(a, a.url('/echo')))).status).toBe(303);
    expect((await http.request('GET', redirectTo(a, a.url('/echo')), { retries: { redirect: false } })).status).toBe(303);
  });

  it('turns a POST into a body-less GET on 301, 302 and 303 (test_303_redirect_makes_request_lose_body)', async () => {
    await using http = adapter.make();
    for (const status of [301, 302, 303]) {
      const r = await http.request('POST', redirectTo(a, a.url('/echo'), status), { json: { secret: 'body' } });
      const echo = (await r.json()) as Echo;
      expect(echo.method, `after ${status}`).toBe('GET');
      expect(echo.body).toBe('');
      expect(echo.headers['content-type']).toBeUndefined();
      expect(echo.headers['content-length']).toBeUndefined();
    }
  });

  it('keeps method and body on 307 and 308', async () => {
    await using http = adapter.make();
    for (const status of [307, 308]) {
      const r = await http.request('PUT', redirectTo(a, a.url('/echo'), status), { body: 'payload', headers: { 'content-type': 'text/x-test' } });
      const echo = (await r.json()) as Echo;
      expect(echo.method, `after ${status}`).toBe('PUT');
      expect(echo.body).toBe('payload');
      expect(echo.headers['content-type']).toBe('text/x-test');
    }
  });

  it('follows a redirect to another host (test_cross_host_redirect)', async () => {
    await using http = adapter.make();
    const r = await http.request('GET', redirectTo(a, b.url('/echo')));
    expect(r.status).toBe(200);
    expect(r.url).toBe(b.url('/echo'));
  });

  it('strips authorization, cookie and proxy-authorization when the origin changes (test_redirect_cross_host_remove_headers)', async () => {
    await using http = adapter.make();
    const headers = { authorization: 'Bearer s3cret', cookie: 'session=1', 'proxy-authorization': 'Basic eDp5', 'x-kept': 'yes' };
    const cross = (await (await http.request('GET', redirectTo(a, b.url('/echo')), { headers })).json()) as Echo;
    expect(cross.headers.authorization).toBeUndefined();
    expect(cross.headers.cookie).toBeUndefined();
    expect(cross.headers['x-kept']).toBe('yes');
    // Both adapters drop it: the Node adapter's core, and the runtime's fetch (undici) in the fetch adapter.
    expect(cross.headers['proxy-authorization']).toBeUndefined();
    // ... which means something only because the first hop did get all three.
    const direct = (await (await http.request('GET', a.url('/echo'), { headers })).json()) as Echo;
    expect([direct.headers.authorization, direct.headers.cookie, direct.headers['proxy-authorization']]).toEqual(['Bearer s3cret', 'session=1', 'Basic eDp5']);
    // Another port on the same host is another origin too.
    const otherPort = await routesServer();
    try {
      const port = (await (await http.request('GET', redirectTo(a, otherPort.url('/echo')), { headers })).json()) as Echo;
      expect(port.headers.authorization).toBeUndefined();
    } finally {
      await http.clear();
      await otherPort.close();
    }
  });

  it('keeps credentials on a same-origin redirect (test_redirect_cross_host_no_remove_headers, same host)', async () => {
    await using http = adapter.make();
    const headers = { authorization: 'Bearer s3cret', cookie: 'session=1' };
    const same = (await (await http.request('GET', redirectTo(a, '/echo'), { headers })).json()) as Echo;
    expect(same.headers.authorization).toBe('Bearer s3cret');
    expect(same.headers.cookie).toBe('session=1');
  });

  it('gives manager.fetch a redirected Response with the final url', async () => {
    await using http = adapter.make();
    const res = await http.fetch(redirectTo(a, b.url('/echo'), 302));
    expect(res.status).toBe(200);
    expect(res.redirected).toBe(true);
    expect(res.url).toBe(b.url('/echo'));
    expect(((await res.json()) as Echo).url).toBe('/echo');
    const credentials = { authorization: 'Bearer s3cret', 'x-kept': 'yes' };
    const crossed = (await (await http.fetch(redirectTo(a, b.url('/echo'), 307), { headers: credentials })).json()) as Echo;
    expect(crossed.headers.authorization).toBeUndefined();
    expect(crossed.headers['x-kept']).toBe('yes');
    const plain = await http.fetch(a.url('/echo'));
    expect(plain.redirected).toBe(false);
    expect(plain.url).toBe(a.url('/echo'));
    await plain.arrayBuffer();
    const manual = await http.fetch(redirectTo(a, '/echo'), { redirect: 'manual' });
    // Node's fetch shows the 3xx of a manual redirect (a browser gives an opaque one).
    expect(manual.status).toBe(303);
    await manual.arrayBuffer();
  });

  it('throws MaxRetryError saying "too many redirects" past the hop limit (test_too_many_redirects)', async () => {
    await using http = adapter.make();
    const before = a.requests.length;
    const limit = adapter.followsRedirects ? 20 : 10;
    const error = await http.request('GET', a.url('/loop')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaxRetryError);
    expect((error as MaxRetryError).reason?.message).toMatch(/too many redirects/);
    expect(a.requests.length - before).toBe(limit + 1);
    // manager.fetch keeps fetch's own limit, 20 hops, and its error contract.
    const beforeFetch = a.requests.length;
    const fetchError = fetchCause(await http.fetch(a.url('/loop')).catch((e: unknown) => e));
    expect(fetchError).toBeInstanceOf(MaxRetryError);
    expect((fetchError as MaxRetryError).reason?.message).toMatch(/too many redirects \(more than 20\)/);
    expect(a.requests.length - beforeFetch).toBe(21);
  });

  it('fails a 307 with a stream body clearly, never sending an empty body', async () => {
    await using http = adapter.make();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('once'));
        controller.close();
      },
    });
    const before = a.requests.length;
    const error = await http.request('POST', redirectTo(a, a.url('/echo'), 307), { body }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/ReadableStream body cannot be sent again|spent/);
    // The first hop went out; the second never did.
    expect(a.requests.slice(before).map((r) => r.url.split('?')[0])).toEqual(['/redirect']);
  });

  it('refuses a Location whose scheme is not http or https (test_unknown_scheme)', async () => {
    await using http = adapter.make();
    const target = redirectTo(a, 'ftp://127.0.0.1/file');
    if (adapter.followsRedirects) {
      // The runtime refuses it; all the core sees is a failed fetch.
      await expect(http.request('GET', target, { retries: false })).rejects.toThrow(/Failed to fetch/);
    } else {
      const error = await http.request('GET', target).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(URLSchemeUnknown);
      expect((error as Error).message).toContain("'ftp'");
      expect(fetchCause(await http.fetch(target).catch((e: unknown) => e))).toBeInstanceOf(URLSchemeUnknown);
    }
  });
});

describe('redirects: what only the core follows (Node adapter)', () => {
  const node = adapters.find((adapter) => adapter.name === 'node') as Adapter;

  it('sends each hop through its own origin\'s pool', async () => {
    await using http = node.make();
    await http.request('GET', redirectTo(a, redirectTo(b, a.url('/echo'))));
    expect(http.pools.size).toBe(2);
    expect(http.connectionFromHost('127.0.0.1', a.port).numRequests).toBe(2);
    expect(http.connectionFromHost('127.0.0.2', b.port).numRequests).toBe(1);
  });

  it('turns a PUT into GET on 301 in request() (fetch keeps it, as the fetch standard says)', async () => {
    await using http = node.make();
    const viaRequest = (await (await http.request('PUT', redirectTo(a, a.url('/echo'), 301), { body: 'x' })).json()) as Echo;
    expect(viaRequest.method).toBe('GET');
    const viaFetch = (await (await http.fetch(redirectTo(a, a.url('/echo'), 301), { method: 'PUT', body: 'x' })).json()) as Echo;
    expect(viaFetch.method).toBe('PUT');
    expect(viaFetch.body).toBe('x');
  });

  it('hands back the 3xx from manager.fetch too when the manager says redirect: false', async () => {
    await using http = node.make({ redirect: false });
    const response = await http.fetch(redirectTo(a, a.url('/echo'), 302));
    expect(response.status).toBe(302);
    expect(response.redirected).toBe(false);
    await response.body?.cancel();
  });

  it('honours a lower hop limit, and retries.redirect over the redirect option', async () => {
    await using http = node.make({ redirect: 2 });
    const before = a.requests.length;
    await expect(http.request('GET', a.url('/loop'))).rejects.toThrow(/too many redirects \(more than 2\)/);
    expect(a.requests.length - before).toBe(3);
    await expect(http.request('GET', a.url('/loop'), { retries: { redirect: 1 } })).rejects.toBeInstanceOf(MaxRetryError);
  });

  it('returns the last 3xx when raiseOnRedirect is false or retries.redirect is false (test_raise_on_redirect)', async () => {
    await using http = node.make();
    const r = await http.request('GET', redirectTo(a, redirectTo(a, a.url('/echo'))), {
      retries: { total: false, redirect: 1, raiseOnRedirect: false },
    });
    expect(r.status).toBe(303);
    expect(r.redirects).toHaveLength(1);
    const off = await http.request('GET', redirectTo(a, '/echo'), { retries: { redirect: false } });
    expect(off.status).toBe(303);
  });

  it('does not spend the total retries on redirects', async () => {
    await using http = node.make({ retries: 1 });
    const r = await http.request('GET', redirectTo(a, redirectTo(a, redirectTo(a, '/echo'))));
    expect(r.status).toBe(200);
    expect(r.redirects).toHaveLength(3);
  });

  it('refuses to replay a spent stream body on 307, with an error that says why', async () => {
    await using http = node.make();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('once'));
        controller.close();
      },
    });
    await expect(http.request('POST', redirectTo(a, a.url('/echo'), 307), { body })).rejects.toThrow(
      /Cannot follow the 307 redirect .* ReadableStream/,
    );
    const fetchBody = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(new Uint8Array([1])), c.close()) });
    await expect(http.fetch(redirectTo(a, a.url('/echo'), 308), { method: 'POST', body: fetchBody, duplex: 'half' } as RequestInit)).rejects.toThrow(
      /Cannot follow the 308 redirect .* stream/,
    );
    // 303 drops the body, so a stream is no obstacle there.
    const dropped = new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(new Uint8Array([1])), c.close()) });
    expect((await http.request('POST', redirectTo(a, a.url('/echo'), 303), { body: dropped })).status).toBe(200);
  });

  it('strips credentials on an https → http redirect to the same host', async () => {
    const { ca } = await testCertificates();
    const secure = await startServer(
      (_req, res) => {
        res.writeHead(302, { location: a.url('/echo') });
        res.end();
      },
      { tls: true },
    );
    try {
      await using http = node.make({ tls: { ca } });
      const r = await http.request('GET', secure.url('/'), { headers: { authorization: 'Bearer s3cret', 'x-kept': '1' } });
      const echo = (await r.json()) as Echo;
      expect(r.url).toBe(a.url('/echo'));
      expect(echo.headers.authorization).toBeUndefined();
      expect(echo.headers['x-kept']).toBe('1');
    } finally {
      await secure.close();
    }
  });

  it('throws LocationValueError naming an unusable Location, and frees the connection', async () => {
    const bad = await startServer((_req, res) => {
      res.writeHead(302, { location: 'http://[::1' });
      res.end('moved');
    });
    try {
      await using http = node.make();
      const error = await http.request('GET', bad.url('/')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LocationValueError);
      expect((error as Error).message).toContain('"http://[::1"');
      expect(fetchCause(await http.fetch(bad.url('/')).catch((e: unknown) => e))).toBeInstanceOf(LocationValueError);
      expect(http.connectionFromUrl(bad.url('/')).stats().running).toBe(0);
    } finally {
      await bad.close();
    }
  });

  it('a pool does not follow a redirect to another origin: it returns the 3xx', async () => {
    await using http = node.make();
    const pool = http.connectionFromUrl(a.url('/'));
    const r = await pool.request('GET', redirectTo(a, b.url('/echo')));
    expect(r.status).toBe(303);
    const same = await pool.request('GET', redirectTo(a, '/echo'));
    expect(same.status).toBe(200);
  });

  it('frees the connection of each hop when the last body is streamed (test_redirect_without_preload_releases_connection)', async () => {
    await using http = node.make({ maxSize: 1 });
    const r = await http.request('GET', redirectTo(a, a.url('/echo')), { preloadContent: false });
    expect(r.status).toBe(200);
    expect(JSON.parse(await r.text())).toMatchObject({ url: '/echo' });
    expect(http.connectionFromUrl(a.url('/')).stats()).toMatchObject({ running: 0, queued: 0 });
  });
});
