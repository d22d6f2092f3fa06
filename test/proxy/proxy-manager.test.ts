/**
 * ProxyManager through a real forward proxy (the npm `proxy` package, in
 * this process) on loopback: what the proxy was asked (absolute-form GET or
 * CONNECT), what the origins saw, how many pools there are, and how every
 * way a proxy can fail is reported.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectTimeoutError,
  LocationValueError,
  makeHeaders,
  MaxRetryError,
  ProxyError,
  ProxyManager,
  ProxySchemeUnknown,
  ReadTimeoutError,
} from '../../adapters/node/index.js';
import * as fetchEntry from '../../adapters/fetch/index.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';
import { testCertificates } from '../support/tls.js';
import { freePort, startProxy, type TestProxy } from './support.js';
import { fetchCause } from '../support/fetch-error.js';

let ca: string;
let httpA: TestServer;
let httpB: TestServer;
let httpsA: TestServer;
let httpsB: TestServer;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  ({ ca } = await testCertificates());
  httpA = await startServer();
  httpB = await startServer(undefined, { host: '127.0.0.2' });
  httpsA = await startServer(undefined, { tls: true });
  httpsB = await startServer(undefined, { tls: true, host: '127.0.0.2' });
});
afterAll(async () => {
  await Promise.all([httpA, httpB, httpsA, httpsB].map((server) => server.close()));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A proxy and a manager that are closed after the test, whatever happens in it. */
async function setup(proxyOptions: Parameters<typeof startProxy>[0] = {}, url?: (proxy: TestProxy) => string) {
  const proxy = await startProxy(proxyOptions);
  cleanups.push(() => proxy.close());
  return { proxy, url: url?.(proxy) ?? proxy.origin };
}
function track<T extends { clear(): Promise<void> }>(manager: T): T {
  cleanups.push(() => manager.clear());
  return manager;
}

/** What the echo handler of an origin saw, from the response body. */
async function echoed(response: { json(): unknown }): Promise<{ method: string; url: string; headers: Record<string, string> }> {
  return (await response.json()) as { method: string; url: string; headers: Record<string, string> };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('pools', () => {
  it('keeps ONE pool for every http target and one per https target: 1, 1, 2, 3 (urllib3 test_proxy_pooling)', async () => {
    const { proxy, url } = await setup();
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    await manager.request('GET', httpA.url('/a'));
    expect(manager.pools.size).toBe(1);
    await manager.request('GET', httpB.url('/b'));
    expect(manager.pools.size).toBe(1);
    await manager.request('GET', httpsA.url('/c'));
    expect(manager.pools.size).toBe(2);
    await manager.request('GET', httpsB.url('/d'));
    expect(manager.pools.size).toBe(3);
    // Again: nothing new.
    await manager.request('GET', httpsA.url('/e'));
    await manager.request('GET', httpB.url('/f'));
    expect(manager.pools.size).toBe(3);

    expect(proxy.seen.map(({ method, url: seen }) => `${method} ${seen}`)).toEqual([
      `GET ${httpA.url('/a')}`,
      `GET ${httpB.url('/b')}`,
      `CONNECT 127.0.0.1:${httpsA.port}`,
      `CONNECT 127.0.0.2:${httpsB.port}`,
      // The tunnel to A is kept alive and reused: no second CONNECT.
      `GET ${httpB.url('/f')}`,
    ]);
    // The https origins saw ordinary origin-form requests; the http ones came through the proxy.
    expect(httpsA.requests.map((r) => r.url)).toEqual(['/c', '/e']);
    expect(httpA.requests.at(-1)?.headers['via']).toMatch(/proxy/);
    expect(httpsA.requests.at(-1)?.headers['via']).toBeUndefined();
    expect(httpsA.requests.at(-1)?.headers['host']).toBe(`127.0.0.1:${httpsA.port}`);
  });

  it('connectionFromHost returns those pools: the proxy pool for http, the tunnel pool for https', async () => {
    const { url } = await setup();
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    await manager.request('GET', httpA.url());
    await manager.request('GET', httpB.url());
    await manager.request('GET', httpsA.url());
    const forward = manager.connectionFromHost('127.0.0.1', httpA.port);
    expect(manager.connectionFromHost('127.0.0.2', httpB.port)).toBe(forward);
    expect(manager.connectionFromHost('anything.invalid')).toBe(forward);
    expect(forward.origin).toBe(url);
    expect(forward.key).toBe(`${url} (proxy)`);
    expect(forward.numRequests).toBe(2);
    const tunnel = manager.connectionFromHost('127.0.0.1', httpsA.port, 'https');
    expect(tunnel.origin).toBe(`https://127.0.0.1:${httpsA.port}`);
    expect(tunnel.numRequests).toBe(1);
    expect(manager.pools.size).toBe(2);
    // The proxy pool serves any http URL, as a pool of the manager's.
    const r = await forward.request('GET', httpB.url('/direct-from-pool'));
    expect((await echoed(r)).url).toBe('/direct-from-pool');
  });

  it('bounds the sockets to the proxy by maxSize across every http target, since they share one pool', async () => {
    const { proxy, url } = await setup();
    const manager = track(new ProxyManager(url, { maxSize: 2 }));
    const targets = [httpA, httpB, httpA, httpB, httpA, httpB].map((server, i) => server.url(`/shared-${i}`));
    const responses = await Promise.all(targets.map((target) => manager.request('GET', target)));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(proxy.seen).toHaveLength(6);
    expect(proxy.connections).toBeGreaterThan(0);
    expect(proxy.connections).toBeLessThanOrEqual(2);
    expect(manager.connectionFromHost('127.0.0.2', httpB.port).numRequests).toBe(6);
  });

  it('applies the LRU bound to proxy and tunnel pools alike', async () => {
    const { url } = await setup();
    const manager = track(new ProxyManager(url, { numPools: 2, tls: { ca } }));
    const evicted: string[] = [];
    manager.addEventListener('poolevict', (event) => evicted.push((event as unknown as { key: string }).key));
    await manager.request('GET', httpA.url());
    await manager.request('GET', httpsA.url());
    await manager.request('GET', httpsB.url());
    expect(evicted).toEqual([`${url} (proxy)`]);
    expect(manager.pools.size).toBe(2);
  });

  it('clear() and await using empty the pools and close every socket to the proxy', async () => {
    const { proxy, url } = await setup();
    // Fresh origins: the shared ones may still hold tunnels a closed proxy of another test left half-open.
    const origin = await startServer(undefined, { tls: true, host: '127.0.0.3' });
    cleanups.push(() => origin.close());
    let outer: ProxyManager;
    {
      await using manager = new ProxyManager(url, { tls: { ca } });
      outer = manager;
      await manager.request('GET', httpA.url());
      await manager.request('GET', origin.url());
      expect(manager.pools.size).toBe(2);
      expect(proxy.connections).toBe(2);
      expect(origin.openConnections).toBeGreaterThan(0);
    }
    expect(outer.pools.size).toBe(0);
    // The proxy ends its side of the tunnel when ours closes: that is the event to wait for.
    await origin.whenNoConnections();
    expect(origin.openConnections).toBe(0);
  });

  it('follows redirects hop by hop through the proxy, each hop in its own pool', async () => {
    const { proxy, url } = await setup();
    const hop = await startServer((_req, res) => {
      res.writeHead(302, { location: httpsB.url('/landed') }).end();
    });
    cleanups.push(() => hop.close());
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    const r = await manager.request('GET', hop.url('/start'));
    expect(r.status).toBe(200);
    expect(r.redirects).toEqual([httpsB.url('/landed')]);
    expect(proxy.seen.map((s) => s.method)).toEqual(['GET', 'CONNECT']);
    expect(manager.pools.size).toBe(2);
    const f = await manager.fetch(hop.url('/again'));
    expect(f.redirected).toBe(true);
    expect((await echoed(f)).url).toBe('/landed');
  });

  it('tunnels to and forwards for IPv6 origins, bracketed in CONNECT and in the absolute form', async () => {
    const { proxy, url } = await setup();
    const v6 = await startServer(undefined, { host: '::1' });
    const v6s = await startServer(undefined, { host: '::1', tls: true });
    cleanups.push(() => v6.close(), () => v6s.close());
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    expect((await echoed(await manager.request('GET', v6.url('/six')))).headers['host']).toBe(`[::1]:${v6.port}`);
    expect((await echoed(await manager.request('GET', v6s.url('/six')))).url).toBe('/six');
    expect(proxy.seen.map(({ method, url: seen }) => `${method} ${seen}`)).toEqual([`GET http://[::1]:${v6.port}/six`, `CONNECT [::1]:${v6s.port}`]);
    expect(manager.connectionFromHost('::1', v6s.port, 'https').numRequests).toBe(1);
  });

  it('manager.fetch goes through the same pools', async () => {
    const { proxy, url } = await setup();
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    const plain = await manager.fetch(httpA.url('/f?q=1'));
    expect((await echoed(plain)).url).toBe('/f?q=1');
    const secure = await manager.fetch(httpsA.url('/g'), { method: 'POST', body: 'x' });
    expect((await echoed(secure)).method).toBe('POST');
    expect(proxy.seen.map(({ method, url: seen }) => `${method} ${seen}`)).toEqual([
      `GET ${httpA.url('/f?q=1')}`,
      `CONNECT 127.0.0.1:${httpsA.port}`,
    ]);
    expect(manager.pools.size).toBe(2);
  });
});

describe('headers for the proxy', () => {
  it('sends proxyHeaders on forwarded requests and on CONNECT, and never to an https origin', async () => {
    const { proxy, url } = await setup({ auth: 'user:pass' });
    const manager = track(
      new ProxyManager(url, {
        tls: { ca },
        proxyHeaders: { ...makeHeaders({ proxyBasicAuth: 'user:pass' }), 'x-proxy-token': 'tok' },
        headers: { 'x-everyone': 'yes' },
      }),
    );
    const plain = await manager.request('GET', httpA.url('/p'));
    expect(plain.status).toBe(200);
    const secure = await manager.request('GET', httpsA.url('/s'));
    expect(secure.status).toBe(200);
    const [forwarded, connect] = proxy.seen;
    expect(forwarded?.method).toBe('GET');
    expect(forwarded?.headers['proxy-authorization']).toBe('Basic dXNlcjpwYXNz');
    expect(forwarded?.headers['x-proxy-token']).toBe('tok');
    expect(forwarded?.headers['host']).toBe(`127.0.0.1:${httpA.port}`);
    expect(connect?.method).toBe('CONNECT');
    expect(connect?.headers['proxy-authorization']).toBe('Basic dXNlcjpwYXNz');
    expect(connect?.headers['x-proxy-token']).toBe('tok');
    expect(connect?.headers['x-everyone']).toBeUndefined();
    const atOrigin = (await echoed(secure)).headers;
    expect(atOrigin['x-everyone']).toBe('yes');
    expect(atOrigin['proxy-authorization']).toBeUndefined();
    expect(atOrigin['x-proxy-token']).toBeUndefined();
    expect(httpsA.requests.at(-1)?.headers['proxy-authorization']).toBeUndefined();
    // The proxy drops Proxy-Authorization (hop-by-hop) before the http origin.
    expect((await echoed(plain)).headers['proxy-authorization']).toBeUndefined();
  });

  it('never lets a proxy-authorization request header into a tunnel', async () => {
    const { url } = await setup();
    const manager = track(new ProxyManager(url, { tls: { ca }, headers: { 'proxy-authorization': 'Basic bWU6c2VjcmV0' } }));
    const r = await manager.request('GET', httpsB.url('/t'), { headers: { 'proxy-authorization': 'Basic b3RoZXI6c2VjcmV0' } });
    expect((await echoed(r)).headers['proxy-authorization']).toBeUndefined();
    const f = await manager.fetch(httpsB.url('/t'));
    expect((await echoed(f)).headers['proxy-authorization']).toBeUndefined();
  });

  it('turns percent-encoded credentials in the proxy URL into Proxy-Authorization', async () => {
    const { proxy, url } = await setup({ auth: 'us@er:p:ss wörd' }, (p) => p.origin.replace('//', '//us%40er:p%3Ass%20w%C3%B6rd@'));
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    expect(manager.proxy).toBe(`http://127.0.0.1:${proxy.port}`);
    expect((await manager.request('GET', httpA.url())).status).toBe(200);
    expect((await manager.request('GET', httpsA.url())).status).toBe(200);
    const expected = `Basic ${Buffer.from('us@er:p:ss wörd').toString('base64')}`;
    expect(proxy.seen.map((s) => s.headers['proxy-authorization'])).toEqual([expected, expected]);
    expect(manager.pools.keys().join(' ')).not.toContain('us%40er');
  });

  it('lets proxyHeaders win over credentials in the URL', async () => {
    const { proxy, url } = await setup({ auth: 'right:one' }, (p) => p.origin.replace('//', '//wrong:one@'));
    const manager = track(new ProxyManager(url, { proxyHeaders: makeHeaders({ proxyBasicAuth: 'right:one' }) }));
    expect((await manager.request('GET', httpA.url())).status).toBe(200);
    expect(proxy.seen[0]?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('right:one').toString('base64')}`);
  });
});

describe('failures', () => {
  it('407 on CONNECT: ProxyError that says authentication was required, with the status, and no credentials', async () => {
    const { url } = await setup({ auth: 'user:pass' }, (p) => p.origin.replace('//', '//user:WRONG-secret@'));
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    const error = await rejection(manager.request('GET', httpsA.url('/x')));
    expect(error).toBeInstanceOf(ProxyError);
    expect(error.message).toMatch(/authentication required/i);
    expect(error.message).toContain('407');
    expect(error.message).toContain(`CONNECT 127.0.0.1:${httpsA.port}`);
    expect(error.message).toContain(`(GET ${httpsA.url('/x')})`);
    expect((error as ProxyError).status).toBe(407);
    expect((error as ProxyError).code).toBe('POOLFETCH_PROXY');
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain('WRONG-secret');
    expect(httpsA.requests.every((r) => r.url !== '/x')).toBe(true);
    // Through fetch too, as a ProxyError rather than undici's `TypeError: fetch failed`.
    const viaFetch = fetchCause(await rejection(manager.fetch(httpsA.url('/y'))));
    expect(viaFetch).toBeInstanceOf(ProxyError);
    expect((viaFetch as ProxyError).status).toBe(407);
  });

  it('407 to a forwarded request: ProxyError with the status, not a response', async () => {
    const { url } = await setup({ auth: 'user:pass' });
    const manager = track(new ProxyManager(url));
    const error = await rejection(manager.request('GET', httpA.url('/x')));
    expect(error).toBeInstanceOf(ProxyError);
    expect(error.message).toMatch(/authentication required.*Basic realm="proxy"/i);
    expect((error as ProxyError).status).toBe(407);
    const viaFetch = fetchCause(await rejection(manager.fetch(httpA.url('/x'))));
    expect((viaFetch as ProxyError).status).toBe(407);
  });

  it('a proxy that refuses the connection: ProxyError whose cause is the connect error', async () => {
    const port = await freePort();
    const manager = track(new ProxyManager(`http://user:hunter2@127.0.0.1:${port}`, { tls: { ca } }));
    for (const target of [httpA.url('/r'), httpsA.url('/r')]) {
      const error = await rejection(manager.request('GET', target));
      expect(error).toBeInstanceOf(ProxyError);
      expect(error.message).toContain(`Cannot connect to proxy http://127.0.0.1:${port}`);
      expect(error.message).toContain(`(GET ${target})`);
      expect(error.message).not.toContain('hunter2');
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      const viaFetch = fetchCause(await rejection(manager.fetch(target))) as Error;
      expect(viaFetch).toBeInstanceOf(ProxyError);
      expect((viaFetch.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    }
  });

  it.each([502, 503, 403])('a CONNECT answered with %i: ProxyError with that status', async (status) => {
    const { url } = await setup({ connectStatus: status });
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    const error = await rejection(manager.request('GET', httpsA.url()));
    expect(error).toBeInstanceOf(ProxyError);
    expect((error as ProxyError).status).toBe(status);
    expect(error.message).toContain(`answered ${status} Refused to CONNECT`);
  });

  it('a CONNECT answered with a reset: ProxyError', async () => {
    const { url } = await setup({ resetConnect: true });
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    const error = await rejection(manager.request('GET', httpsA.url()));
    expect(error).toBeInstanceOf(ProxyError);
    expect(error.message).toMatch(/broke the connection|closed the connection/);
    expect((error as ProxyError).status).toBeUndefined();
  });

  it('bad proxy URLs fail at construction with the class that names the problem', () => {
    expect(() => new ProxyManager('socks5://127.0.0.1:1080')).toThrow(ProxySchemeUnknown);
    expect(() => new ProxyManager('socks5://127.0.0.1:1080')).toThrow(/socks5/);
    expect(() => new ProxyManager('ftp://127.0.0.1')).toThrow(ProxySchemeUnknown);
    expect(() => new ProxyManager('http://')).toThrow(LocationValueError);
    expect(() => new ProxyManager('not a url')).toThrow(LocationValueError);
    expect(() => new ProxyManager('http://user:s3cret@')).toThrow(LocationValueError);
    let thrown: unknown;
    try {
      new ProxyManager('http://user:s3cret@');
    } catch (error) {
      thrown = error;
    }
    expect(String((thrown as Error).message)).not.toContain('s3cret');
    expect(() => new ProxyManager('http://user:%zz@127.0.0.1:3128')).toThrow(/percent-encoding/);
    expect(() => new ProxyManager(42 as unknown as string)).toThrow(TypeError);
    expect(() => new ProxyManager('http://127.0.0.1:3128', { proxyTls: 'yes' as never })).toThrow(/proxyTls must be an object/);
    expect(() => new ProxyManager('http://127.0.0.1:3128', { proxyTls: { verify: false } as never })).toThrow(/Unknown proxyTls option "verify"/);
    expect(() => new ProxyManager('http://127.0.0.1:3128', { proxyHeaders: { 'x-a': 'b\r\nx-c: d' } })).toThrow(/CR, LF/);
    expect(() => new ProxyManager('http://127.0.0.1:3128', { numPools: 0 })).toThrow(/numPools/);
    expect(() => new ProxyManager('http://127.0.0.1:3128', { bogus: 1 } as never)).toThrow(/Unknown PoolManager option "bogus"/);
    expect(new ProxyManager('http://127.0.0.1:3128', 5).options.numPools).toBe(5);
  });

  it('the fetch entry still refuses to proxy', () => {
    expect(() => new fetchEntry.ProxyManager('http://127.0.0.1:3128')).toThrow(fetchEntry.NotSupportedError);
    expect(() => fetchEntry.proxyFromEnvironment()).toThrow(fetchEntry.NotSupportedError);
  });
});

describe('timeouts through the proxy', () => {
  it('a proxy that accepts but never answers CONNECT: ConnectTimeoutError, wrapped in MaxRetryError when retrying', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => {
      // Accept and say nothing.
    });
    const sockets = new Set<import('node:net').Socket>();
    silent.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const port = (silent.address() as import('node:net').AddressInfo).port;
    const manager = track(new ProxyManager(`http://127.0.0.1:${port}`, { tls: { ca }, timeout: { connect: 200 } }));
    const error = await rejection(manager.request('GET', httpsA.url(), { retries: false }));
    expect(error).toBeInstanceOf(ConnectTimeoutError);
    expect((error as ConnectTimeoutError).timeout).toBe(200);
    const retried = await rejection(manager.request('GET', httpsA.url(), { retries: 1 }));
    expect(retried).toBeInstanceOf(MaxRetryError);
    expect((retried as MaxRetryError).reason).toBeInstanceOf(ConnectTimeoutError);
  });

  it('an origin that never answers: ReadTimeoutError, forwarded or tunnelled', async () => {
    const { url } = await setup();
    const hang = deferred();
    cleanups.push(async () => hang.resolve());
    const slowHttp = await startServer(async (_req, res) => {
      await hang.promise;
      res.end('late');
    });
    const slowHttps = await startServer(
      async (_req, res) => {
        await hang.promise;
        res.end('late');
      },
      { tls: true },
    );
    cleanups.push(() => slowHttp.close(), () => slowHttps.close());
    const manager = track(new ProxyManager(url, { tls: { ca }, timeout: { read: 200 } }));
    // undici's read timers tick about once a second, so each of these takes about that long.
    const error = await rejection(manager.request('GET', slowHttp.url('/slow'), { retries: false }));
    expect(error).toBeInstanceOf(ReadTimeoutError);
    expect(error.message).toContain(slowHttp.url('/slow'));
    const retried = await rejection(manager.request('GET', slowHttps.url('/slow'), { retries: { read: 1, total: 5 } }));
    expect(retried).toBeInstanceOf(MaxRetryError);
    expect((retried as MaxRetryError).reason).toBeInstanceOf(ReadTimeoutError);
    expect(retried.message).toContain(slowHttps.url('/slow'));
    expect(slowHttps.requests.length).toBe(2);
  });
});

describe('an https:// proxy', () => {
  it('verifies the proxy with proxyTls and the origin with tls', async () => {
    const { proxy, url } = await setup({ tls: true });
    expect(url.startsWith('https://')).toBe(true);
    const manager = track(new ProxyManager(url, { proxyTls: { ca }, tls: { ca }, proxyHeaders: makeHeaders({ proxyBasicAuth: 'a:b' }) }));
    const plain = await manager.request('GET', httpA.url('/over-tls'));
    expect((await echoed(plain)).url).toBe('/over-tls');
    const secure = await manager.request('GET', httpsB.url('/tls-in-tls'));
    expect((await echoed(secure)).url).toBe('/tls-in-tls');
    expect((await echoed(secure)).headers['proxy-authorization']).toBeUndefined();
    expect(proxy.seen.map((s) => s.method)).toEqual(['GET', 'CONNECT']);
    expect(proxy.seen.every((s) => s.headers['proxy-authorization'] === 'Basic YTpi')).toBe(true);
  });

  it('refuses a proxy whose certificate it cannot verify: ProxyError naming proxyTls', async () => {
    const { url } = await setup({ tls: true });
    // `tls` is for the origins only: it does not make the proxy trusted.
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    for (const target of [httpA.url(), httpsA.url()]) {
      const error = await rejection(manager.request('GET', target));
      expect(error).toBeInstanceOf(ProxyError);
      expect(error.message).toMatch(/TLS verification of proxy https:\/\/127\.0\.0\.1:\d+ failed.*proxyTls/);
    }
  });

  it('refuses an origin behind the proxy whose certificate names another host, without hanging', async () => {
    const { url } = await setup();
    // The test certificate names 127.0.0.1-3, localhost and ::1: not 127.0.0.4.
    const misnamed = await startServer(undefined, { tls: true, host: '127.0.0.4' });
    cleanups.push(() => misnamed.close());
    const manager = track(new ProxyManager(url, { tls: { ca } }));
    const error = await rejection(manager.request('GET', misnamed.url('/wrong-name'), { retries: false }));
    expect(error.name).toBe('NewConnectionError');
    expect(error.message).toMatch(/127\.0\.0\.4/);
    expect(misnamed.requests).toEqual([]);
  });

  it('refuses an origin behind the proxy whose certificate it cannot verify, as a direct pool would', async () => {
    const { url } = await setup();
    const manager = track(new ProxyManager(url));
    const error = await rejection(manager.request('GET', httpsA.url('/untrusted'), { retries: false }));
    expect(error.name).toBe('NewConnectionError');
    expect(error.message).toMatch(/TLS verification of https:\/\/127\.0\.0\.1/);
  });
});
