/**
 * No secret in anything a user can print (issue 24): managers, pools, pool
 * keys, `stats()`, events, responses and errors (causes and properties
 * included), each searched after `util.inspect(x, { depth: Infinity,
 * showHidden: true })` for the password and for its base64 (what
 * `Proxy-Authorization: Basic` and `Authorization: Basic` carry). The
 * credentials are still used: the proxy sees them.
 * And an unusable proxy in the environment (`socks5://`) is reported when a
 * request would use it, naming the variable, while NO_PROXY and direct
 * targets work.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyManager, proxyFromEnvironment, type PoolEvent, type PoolManager } from '../../adapters/node/index.js';
import { ProxySchemeUnknown, isPoolfetchError } from '../../src/errors.js';
import { freePort, startProxy, type TestProxy } from '../proxy/support.js';
import { startServer, type TestServer } from '../support/servers.js';
import { startRawServer, type RawServer } from './support.js';

const PASSWORD = 's3cr3t-Pa55';
const BASE64 = Buffer.from(`user:${PASSWORD}`).toString('base64');

/** Every way a user might print `value`. */
function printed(value: unknown): string {
  let json = '';
  try {
    json = JSON.stringify(value) ?? '';
  } catch {
    // Circular: inspect shows it anyway.
  }
  return [inspect(value, { depth: Infinity, showHidden: true }), inspect(value, { depth: Infinity, showHidden: true, getters: true }), String(value), json].join('\n');
}

function expectNoSecret(label: string, value: unknown): void {
  const text = printed(value);
  expect(text.includes(PASSWORD), `${label} shows the password:\n${text.slice(0, 2000)}`).toBe(false);
  expect(text.includes(BASE64), `${label} shows the password in base64:\n${text.slice(0, 2000)}`).toBe(false);
}

/** Everything a manager lets a user reach and print, after it has served `urls`. */
function printables(manager: PoolManager, urls: string[]): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [['manager', manager], ['manager.pools.keys()', manager.pools.keys()], ['manager.stats()', manager.stats()]];
  for (const url of urls) {
    const pool = manager.connectionFromUrl(url);
    out.push([`pool for ${url}`, pool], [`pool.poolKey for ${url}`, pool.poolKey], [`pool.stats() for ${url}`, pool.stats()]);
  }
  return out;
}

let origin: TestServer;
let proxy: TestProxy;
let refusing: TestProxy;
let tunnelRefusing: TestProxy;
let resetting: RawServer;
beforeAll(async () => {
  origin = await startServer();
  proxy = await startProxy({ auth: `user:${PASSWORD}` });
  refusing = await startProxy({ auth: 'someone:else' });
  tunnelRefusing = await startProxy({ connectStatus: 407 });
  resetting = await startRawServer({ '/reset': ({ socket }) => socket.resetAndDestroy() });
});
afterAll(async () => {
  await Promise.all([origin.close(), proxy.close(), refusing.close(), tunnelRefusing.close(), resetting.close()]);
});

const withPassword = (url: string): string => url.replace('://', `://user:${PASSWORD}@`);

describe('ProxyManager with credentials in the proxy URL', () => {
  it('uses them (the proxy sees Proxy-Authorization) and shows them nowhere: manager, pools, keys, stats, events, responses', async () => {
    const manager = new ProxyManager(withPassword(proxy.origin), { retries: false });
    const events: PoolEvent[] = [];
    for (const type of ['poolcreate', 'poolevict', 'poolrevive', 'poolclose'] as const) manager.addEventListener(type, (event) => events.push(event));
    const response = await manager.request('GET', origin.url('/through'));
    expect(response.status).toBe(200);
    const fetched = await manager.fetch(origin.url('/fetched'));
    expect(fetched.status).toBe(200);
    await fetched.text();
    expect(proxy.seen.map((s) => s.headers['proxy-authorization'])).toContain(`Basic ${BASE64}`);
    for (const [label, value] of printables(manager, [origin.url('/'), 'https://127.0.0.1:1/'])) expectNoSecret(label, value);
    expectNoSecret('response', response);
    expectNoSecret('fetched', fetched);
    await manager.clear();
    expect(events.length).toBeGreaterThan(0);
    expectNoSecret('events', events);
    await manager.destroy();
  });

  it('two proxies with different credentials stay two routes: each proxy sees its own', async () => {
    const other = await startProxy({ auth: 'user:another-one' });
    try {
      const first = new ProxyManager(withPassword(proxy.origin), { retries: false });
      const second = new ProxyManager(other.origin.replace('://', '://user:another-one@'), { retries: false });
      await first.request('GET', origin.url('/one'));
      await second.request('GET', origin.url('/two'));
      expect(other.seen.at(-1)?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('user:another-one').toString('base64')}`);
      expect(proxy.seen.at(-1)?.headers['proxy-authorization']).toBe(`Basic ${BASE64}`);
      expect(first.pools.keys()).not.toEqual(second.pools.keys());
      await Promise.all([first.destroy(), second.destroy()]);
    } finally {
      await other.close();
    }
  });

  it('errors say nothing of them: a refused proxy URL at construction (bad port, bad host, bad scheme)', () => {
    for (const url of [
      `http://user:${PASSWORD}@127.0.0.1:99999`,
      `http://user:${PASSWORD}@[not-an-address/`,
      `socks5://user:${PASSWORD}@127.0.0.1:1080`,
      `http://user:${PASSWORD}@`,
    ]) {
      let thrown: unknown;
      try {
        new ProxyManager(url);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, url).toBeInstanceOf(Error);
      expectNoSecret(`error for ${url.replace(PASSWORD, '***')}`, thrown);
    }
  });

  it('errors say nothing of them: 407 on a forwarded request and on CONNECT, an unreachable proxy, through request() and fetch()', async () => {
    const port = await freePort();
    const cases: Array<[string, string, string]> = [
      ['407 forwarded', refusing.origin, origin.url('/x')],
      ['407 on CONNECT', tunnelRefusing.origin, 'https://127.0.0.1:1/'],
      ['unreachable', `http://127.0.0.1:${port}`, origin.url('/y')],
    ];
    for (const [what, proxyOrigin, target] of cases) {
      const manager = new ProxyManager(withPassword(proxyOrigin), { retries: false });
      const viaRequest = await manager.request('GET', target).catch((e: unknown) => e);
      const viaFetch = await manager.fetch(target).catch((e: unknown) => e);
      expect(isPoolfetchError(viaRequest), what).toBe(true);
      expect(viaFetch, what).toBeInstanceOf(Error);
      expectNoSecret(`${what}: request() error`, viaRequest);
      expectNoSecret(`${what}: fetch() error`, viaFetch);
      for (const [label, value] of printables(manager, [target])) expectNoSecret(`${what}: ${label}`, value);
      await manager.destroy();
    }
  });
});

describe('credentials in a request URL', () => {
  it('are sent as Authorization and shown nowhere: errors (retried and not), the manager, its pools', async () => {
    const manager = new (await import('../../adapters/node/index.js')).PoolManager({ retries: 1 });
    const error = await manager.request('GET', withPassword(resetting.url('/reset'))).catch((e: unknown) => e);
    expect(isPoolfetchError(error)).toBe(true);
    expect(resetting.received.at(-1)?.headers['authorization']).toBe(`Basic ${BASE64}`);
    expectNoSecret('error', error);
    const viaFetch = await manager.fetch(withPassword(resetting.url('/reset'))).catch((e: unknown) => e);
    expectNoSecret('fetch error', viaFetch);
    const bad = await manager.request('GET', `http://user:${PASSWORD}@[bad/`).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Error);
    expectNoSecret('bad URL error', bad);
    for (const [label, value] of printables(manager, [resetting.url('/')])) expectNoSecret(label, value);
    await manager.destroy();
  });
});

describe('proxyFromEnvironment', () => {
  it('with credentials in HTTP_PROXY: used, and shown nowhere', async () => {
    const manager = proxyFromEnvironment({ env: { HTTP_PROXY: withPassword(proxy.origin) }, retries: false });
    expect((await manager.request('GET', origin.url('/env'))).status).toBe(200);
    expect(proxy.seen.at(-1)?.headers['proxy-authorization']).toBe(`Basic ${BASE64}`);
    for (const [label, value] of printables(manager, [origin.url('/')])) expectNoSecret(label, value);
    await manager.destroy();
  });

  it('HTTP_PROXY=socks5://…: the manager is made; a request that would use it fails naming the variable, NO_PROXY targets work', async () => {
    const direct = await startServer(undefined, { host: '127.0.0.2' });
    try {
      const manager = proxyFromEnvironment({
        env: { HTTP_PROXY: `socks5://user:${PASSWORD}@127.0.0.1:1080`, NO_PROXY: '127.0.0.2' },
        retries: false,
      });
      const error = await manager.request('GET', origin.url('/proxied')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProxySchemeUnknown);
      expect(String(error)).toMatch(/HTTP_PROXY names a proxy with unsupported scheme 'socks5'/);
      expectNoSecret('socks5 error', error);
      const viaFetch = await manager.fetch(origin.url('/proxied')).catch((e: unknown) => e);
      expect(viaFetch).toBeInstanceOf(Error);
      expect(String((viaFetch as Error).cause ?? viaFetch)).toMatch(/HTTP_PROXY/);
      expect(origin.requests.filter((r) => r.url === '/proxied')).toHaveLength(0);
      // NO_PROXY: straight to the server.
      expect((await manager.request('GET', direct.url('/bypassed'))).status).toBe(200);
      expect(direct.requests.map((r) => r.url)).toEqual(['/bypassed']);
      for (const [label, value] of printables(manager, [direct.url('/')])) expectNoSecret(label, value);
      await manager.destroy();
    } finally {
      await direct.close();
    }
  });

  it('lower-case http_proxy with a bad port is named as such when used', async () => {
    const manager = proxyFromEnvironment({ env: { http_proxy: `http://user:${PASSWORD}@127.0.0.1:99999` }, retries: false });
    const error = await manager.request('GET', origin.url('/p')).catch((e: unknown) => e);
    expect(String(error)).toMatch(/http_proxy names a proxy poolfetch cannot use/);
    expectNoSecret('bad port error', error);
    await manager.destroy();
  });
});
