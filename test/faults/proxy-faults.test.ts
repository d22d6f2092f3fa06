/**
 * Proxy faults (Node's ProxyManager): a proxy that answers CONNECT with 407
 * or 502, or resets it. Nothing reached the origin, so nothing is sent
 * twice; what the PROXY received is asserted: one CONNECT per request,
 * never a retry, and a forwarded POST exactly once. The slot is freed (the
 * next request fails the same way instead of waiting for a slot), no
 * connection is left at the proxy after clear(), and neither the proxy's
 * nor the target's password shows in the error.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProxyError, ProxyManager } from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';
import { startProxy, type ProxyOptions, type TestProxy } from '../proxy/support.js';
import { everythingShown } from './support.js';
import { fetchCause } from '../support/fetch-error.js';

const SECRET = 's3cr3t';
let origin: TestServer;
let plainOrigin: TestServer;
const proxies: TestProxy[] = [];

beforeAll(async () => {
  origin = await startServer(undefined, { tls: true });
  plainOrigin = await startServer();
});
afterAll(async () => {
  await origin.close();
  await plainOrigin.close();
});
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

const cases: Array<[string, ProxyOptions, number | undefined]> = [
  ['answers CONNECT with 407', { connectStatus: 407 }, 407],
  ['answers CONNECT with 502', { connectStatus: 502 }, 502],
  ['resets CONNECT', { resetConnect: true }, undefined],
];

describe.each(cases)('a proxy that %s', (_name, options, status) => {
  it('ProxyError for POST and GET, one CONNECT each, nothing at the origin; the slot is freed; nothing left after clear()', async () => {
    const proxy = await startProxy(options);
    proxies.push(proxy);
    const manager = new ProxyManager(proxy.origin.replace('://', `://proxyuser:${SECRET}@`), { maxSize: 1, poolTimeout: 5_000 });
    const target = origin.url('/fault').replace('://', `://user:${SECRET}@`);
    const before = origin.requests.length;
    for (const [i, method] of ['POST', 'GET', 'POST'].entries()) {
      const error = await manager.request(method, target, { body: method === 'POST' ? 'payload' : null }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProxyError);
      expect((error as ProxyError).status).toBe(status);
      expect(everythingShown(error)).not.toContain(SECRET);
      // Not retried: one CONNECT per request. The third request got a slot: the first two gave theirs back.
      expect(proxy.seen.filter((s) => s.method === 'CONNECT')).toHaveLength(i + 1);
    }
    const fetched = await manager.fetch(target, { method: 'POST', body: 'payload' }).catch((e: unknown) => e);
    expect(fetchCause(fetched)).toBeInstanceOf(ProxyError);
    expect(proxy.seen.filter((s) => s.method === 'CONNECT')).toHaveLength(4);
    expect(origin.requests.length).toBe(before);
    await manager.clear();
    await proxy.whenNoConnections();
    expect(proxy.openConnections).toBe(0);
  });

  it('a forwarded (http) POST that the proxy answers 502 reaches it once and is handed back, not retried', async () => {
    const proxy = await startProxy(options);
    proxies.push(proxy);
    const manager = new ProxyManager(proxy.origin, { maxSize: 1, poolTimeout: 5_000, retries: { total: 3, statusForcelist: [502] } });
    const r = await manager.request('POST', plainOrigin.url('/forwarded'), { body: 'payload' });
    expect(r.status).toBe(502);
    expect(proxy.seen.filter((s) => s.method === 'POST')).toHaveLength(1);
    // A GET answered 502 is retried: statusForcelist applies to idempotent methods only.
    await expect(manager.request('GET', plainOrigin.url('/forwarded'), { retries: { total: 2, statusForcelist: [502] } })).rejects.toThrow(/too many 502/);
    expect(proxy.seen.filter((s) => s.method === 'GET')).toHaveLength(3);
    await manager.clear();
    await proxy.whenNoConnections();
  });
});
