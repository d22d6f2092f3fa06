/**
 * The entry the `browser` export condition picks (adapters/fetch/browser.ts):
 * the fetch entry without the redirect follower, since a browser follows
 * redirects itself. Run here in Node, whose fetch would show the 3xx: the
 * browser entry still leaves every hop to the runtime (one pool, the one
 * the request started in), where the fetch entry follows hop by hop through
 * each origin's pool. Over Node's real fetch and two real loopback servers,
 * counted at the servers. The rest of what the fetch entry does (maxSize 6,
 * `tls` refused) is the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as browserEntry from '../../adapters/fetch/browser.js';
import * as fetchEntry from '../../adapters/fetch/index.js';
import { NotSupportedError } from '../../src/errors.js';
import { startServer, type TestServer } from '../support/servers.js';

let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  b = await startServer((_req, res) => {
    res.end('landed');
  }, { host: '127.0.0.2' });
  a = await startServer((_req, res) => {
    res.writeHead(302, { location: b.url('/landed') });
    res.end();
  });
});

afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
});

describe('the browser entry', () => {
  it('exports the same names as the fetch entry', () => {
    expect(Object.keys(browserEntry).sort()).toEqual(Object.keys(fetchEntry).sort());
    expect(browserEntry.PoolManager).not.toBe(fetchEntry.PoolManager);
  });

  const cases = [
    { name: 'the browser entry: the runtime follows, even where its fetch would show the 3xx', make: () => new browserEntry.PoolManager(), hopByHop: false },
    { name: 'the fetch entry in Node: each hop through its own pool', make: () => new fetchEntry.PoolManager(), hopByHop: true },
  ];

  for (const { name, make, hopByHop } of cases) {
    it(`${name} (request() and fetch())`, async () => {
      await using manager = make();
      const before = { a: a.requests.length, b: b.requests.length };
      const response = await manager.fetch(a.url('/go'));
      expect([response.status, await response.text(), response.redirected, response.url]).toEqual([200, 'landed', true, b.url('/landed')]);
      const answer = await manager.request('GET', a.url('/again'));
      expect([answer.status, await answer.text(), answer.url]).toEqual([200, 'landed', b.url('/landed')]);
      // Each server saw both requests either way; what differs is whose pool sent them.
      expect([a.requests.length - before.a, b.requests.length - before.b]).toEqual([2, 2]);
      const pools = manager.stats().map(({ origin, numRequests }) => ({ origin, numRequests }));
      expect(pools).toEqual(hopByHop ? [{ origin: a.origin, numRequests: 2 }, { origin: b.origin, numRequests: 2 }] : [{ origin: a.origin, numRequests: 2 }]);
    });
  }

  it("keeps the fetch entry's defaults: 6 per origin, tls refused with NotSupportedError", async () => {
    await using manager = new browserEntry.PoolManager();
    expect(manager.options.maxSize).toBe(6);
    expect(() => new browserEntry.PoolManager({ tls: { ca: 'PEM' } })).toThrow(NotSupportedError);
    expect(() => manager.connectionFromUrl(a.url('/'), { tls: { ca: 'PEM' } })).toThrow(/tls option needs the Node entry/);
    expect(manager.pools.size).toBe(0);
  });
});
