/**
 * proxyFromEnvironment: HTTP_PROXY / HTTPS_PROXY / NO_PROXY decide, per
 * request, direct or through which proxy; checked at two real proxies and
 * the origins.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocationValueError, makeHeaders, proxyFromEnvironment, ProxySchemeUnknown, type PoolManager } from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';
import { testCertificates } from '../support/tls.js';
import { startProxy, type TestProxy } from './support.js';

let ca: string;
let httpProxy: TestProxy;
let httpsProxy: TestProxy;
let plain: TestServer;
let secure: TestServer;
let plainDirect: TestServer;
let secureDirect: TestServer;
const managers: PoolManager[] = [];

beforeAll(async () => {
  ({ ca } = await testCertificates());
  httpProxy = await startProxy();
  httpsProxy = await startProxy({ auth: 'env:user' });
  plain = await startServer();
  secure = await startServer(undefined, { tls: true, host: '127.0.0.2' });
  plainDirect = await startServer(undefined, { host: '127.0.0.3' });
  secureDirect = await startServer(undefined, { tls: true, host: '127.0.0.3' });
});
afterAll(async () => {
  await Promise.all([httpProxy, httpsProxy, plain, secure, plainDirect, secureDirect].map((s) => s.close()));
});
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.clear()));
  httpProxy.seen.length = 0;
  httpsProxy.seen.length = 0;
});

function fromEnv(env: Record<string, string | undefined>, options: Parameters<typeof proxyFromEnvironment>[0] = {}): PoolManager {
  const manager = proxyFromEnvironment({ tls: { ca }, ...(typeof options === 'number' ? { numPools: options } : options), env });
  managers.push(manager);
  return manager;
}

/** Who saw what: each proxy's request lines. */
function seen(): { http: string[]; https: string[] } {
  const lines = (p: TestProxy): string[] => p.seen.map((s) => `${s.method} ${s.url}`);
  return { http: lines(httpProxy), https: lines(httpsProxy) };
}

describe('proxyFromEnvironment', () => {
  it('sends http targets via HTTP_PROXY, https targets via HTTPS_PROXY, and NO_PROXY targets direct', async () => {
    const manager = fromEnv(
      {
        HTTP_PROXY: httpProxy.origin,
        HTTPS_PROXY: httpsProxy.origin.replace('//', '//env:user@'),
        NO_PROXY: 'localhost, 127.0.0.3',
      },
    );
    expect((await manager.request('GET', plain.url('/via-http-proxy'))).status).toBe(200);
    expect((await manager.request('GET', secure.url('/via-https-proxy'))).status).toBe(200);
    expect((await manager.request('GET', plainDirect.url('/direct'))).status).toBe(200);
    expect((await manager.request('GET', secureDirect.url('/direct'))).status).toBe(200);
    expect(seen()).toEqual({
      http: [`GET ${plain.url('/via-http-proxy')}`],
      https: [`CONNECT 127.0.0.2:${secure.port}`],
    });
    expect(plain.requests.at(-1)?.headers['via']).toMatch(/proxy/);
    expect(plainDirect.requests.at(-1)?.headers['via']).toBeUndefined();
    expect(secure.requests.at(-1)?.headers['proxy-authorization']).toBeUndefined();
    expect(httpsProxy.seen[0]?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('env:user').toString('base64')}`);
    expect(manager.pools.keys().sort()).toEqual(
      [
        `${httpProxy.origin} (proxy)`,
        `https://127.0.0.2:${secure.port} tls#1`,
        `http://127.0.0.3:${plainDirect.port}`,
        `https://127.0.0.3:${secureDirect.port} tls#1`,
      ].sort(),
    );
    // fetch takes the same routes.
    for (const target of [secure.url('/f'), plainDirect.url('/f')]) {
      const response = await manager.fetch(target);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    expect(seen().https).toHaveLength(1);
    expect(seen().http).toHaveLength(1);
  });

  it('prefers the lower-case names, even set to blank (which means none)', async () => {
    const manager = fromEnv({ http_proxy: httpProxy.origin, HTTP_PROXY: 'http://127.0.0.1:9', no_proxy: '', NO_PROXY: '*' });
    expect((await manager.request('GET', plain.url('/lower'))).status).toBe(200);
    expect(seen().http).toEqual([`GET ${plain.url('/lower')}`]);
    const blank = fromEnv({ http_proxy: '   ', HTTP_PROXY: httpProxy.origin });
    expect((await blank.request('GET', plain.url('/blank'))).status).toBe(200);
    const upper = fromEnv({ HTTP_PROXY: httpProxy.origin });
    expect((await upper.request('GET', plain.url('/upper'))).status).toBe(200);
    expect(seen().http).toEqual([`GET ${plain.url('/lower')}`, `GET ${plain.url('/upper')}`]);
  });

  it('never sends an https target to the http proxy when HTTPS_PROXY is unset (as curl and Python)', async () => {
    const manager = fromEnv({ HTTP_PROXY: httpProxy.origin });
    expect((await manager.request('GET', secure.url('/direct'))).status).toBe(200);
    expect(seen()).toEqual({ http: [], https: [] });
  });

  it('sends everything direct with NO_PROXY=* or with no proxy variables at all', async () => {
    for (const env of [{ HTTP_PROXY: httpProxy.origin, HTTPS_PROXY: httpsProxy.origin, NO_PROXY: '*' }, {}]) {
      const manager = fromEnv(env);
      expect((await manager.request('GET', plain.url())).status).toBe(200);
      expect((await manager.request('GET', secure.url())).status).toBe(200);
    }
    expect(seen()).toEqual({ http: [], https: [] });
  });

  it('reads a proxy without a scheme as http://, and honours NO_PROXY host:port', async () => {
    const manager = fromEnv({ http_proxy: `127.0.0.1:${httpProxy.port}`, no_proxy: `127.0.0.3:${plainDirect.port}` });
    await manager.request('GET', plain.url('/a'));
    await manager.request('GET', plainDirect.url('/b'));
    expect(seen().http).toEqual([`GET ${plain.url('/a')}`]);
  });

  it('ignores HTTP_PROXY under CGI (httpoxy), but not http_proxy', async () => {
    const cgi = fromEnv({ REQUEST_METHOD: 'GET', HTTP_PROXY: httpProxy.origin });
    await cgi.request('GET', plain.url('/cgi'));
    expect(seen().http).toEqual([]);
    const lower = fromEnv({ REQUEST_METHOD: 'GET', http_proxy: httpProxy.origin });
    await lower.request('GET', plain.url('/cgi-lower'));
    expect(seen().http).toEqual([`GET ${plain.url('/cgi-lower')}`]);
  });

  it('passes proxyHeaders to the proxies it uses', async () => {
    const manager = fromEnv(
      { HTTPS_PROXY: httpsProxy.origin },
      { proxyHeaders: makeHeaders({ proxyBasicAuth: 'env:user' }) },
    );
    expect((await manager.request('GET', secure.url('/h'))).status).toBe(200);
    expect(httpsProxy.seen[0]?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('env:user').toString('base64')}`);
  });

  it('reads process.env when no env is given', async () => {
    const saved = { ...process.env };
    try {
      process.env['http_proxy'] = httpProxy.origin;
      process.env['no_proxy'] = '127.0.0.3';
      const manager = proxyFromEnvironment();
      managers.push(manager);
      await manager.request('GET', plain.url('/process-env'));
      await manager.request('GET', plainDirect.url('/process-env'));
    } finally {
      process.env = saved;
    }
    expect(seen().http).toEqual([`GET ${plain.url('/process-env')}`]);
  });

  it('reports bad proxy variables when a request would use them, naming them without credentials (issue 24)', async () => {
    const socks = proxyFromEnvironment({ env: { HTTPS_PROXY: 'socks5://127.0.0.1:1080' } });
    expect(() => socks.connectionFromUrl('https://example.test/')).toThrow(ProxySchemeUnknown);
    expect(() => socks.connectionFromUrl('https://example.test/')).toThrow(/HTTPS_PROXY/);
    // http targets are not its business.
    expect(socks.connectionFromUrl('http://example.test/').origin).toBe('http://example.test:80');
    const bad = proxyFromEnvironment({ env: { HTTP_PROXY: 'http://user:pw-secret@' } });
    const error = await bad.request('GET', 'http://example.test/').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocationValueError);
    expect(String(error)).toMatch(/HTTP_PROXY names a proxy poolfetch cannot use/);
    expect(String(error)).not.toMatch(/pw-secret/);
    await Promise.all([socks.destroy(), bad.destroy()]);
    expect(() => proxyFromEnvironment({ env: 'HTTP_PROXY=x' as never })).toThrow(/env must be an object/);
    expect(() => proxyFromEnvironment({ nope: 1 } as never)).toThrow(/Unknown PoolManager option "nope"/);
  });
});
