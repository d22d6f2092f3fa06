/**
 * Who follows a redirect on the fetch entry: the core, hop by hop (each hop
 * through its own origin's pool), where the runtime's fetch shows the 3xx of
 * `redirect: 'manual'`; the runtime itself where it answers with an opaque
 * redirect (browsers). The fetch entry guesses from the runtime's globals
 * (Deno, Bun, Node); the workerd entry declares it, so nothing depends on a
 * user-agent string (issue #22). Over Node's real fetch and two real
 * loopback servers, counted at the servers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchTransport, runtimeShowsRedirects } from '../../adapters/fetch/fetch-transport.js';
import { ConnectionPool, type SharedLimits } from '../../src/connection-pool.js';
import type { ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import { PoolManager as FetchPoolManager } from '../../adapters/fetch/pool-manager.js';
import { PoolManager as WorkerdPoolManager } from '../../adapters/fetch/workerd-pool-manager.js';
import { startServer, type TestServer } from '../support/servers.js';

describe('runtimeShowsRedirects: the runtimes whose fetch shows a 3xx to redirect: "manual"', () => {
  it('Deno, Bun and Node do', () => {
    expect(runtimeShowsRedirects({ Deno: {} })).toBe(true);
    expect(runtimeShowsRedirects({ Bun: {} })).toBe(true);
    expect(runtimeShowsRedirects({ process: { versions: { node: '20.19.0' } } })).toBe(true);
    // This process: Node.
    expect(runtimeShowsRedirects(globalThis as never)).toBe(true);
  });

  it('a browser (a document; Node with a DOM such as jsdom counts as one) does not', () => {
    expect(runtimeShowsRedirects({ document: {} })).toBe(false);
    expect(runtimeShowsRedirects({ document: {}, process: { versions: { node: '20.19.0' } } })).toBe(false);
  });

  it('workerd is not guessed from its user agent: its entry declares it', () => {
    const workerdGlobals = { navigator: { userAgent: 'Cloudflare-Workers' } };
    expect(runtimeShowsRedirects(workerdGlobals as never)).toBe(false);
  });
});

describe('the entry decides who follows', () => {
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

  /** The fetch entry as it is in a browser (the runtime follows). */
  class BrowserLike extends FetchPoolManager {
    protected override newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
      return new ConnectionPool(key, options, new FetchTransport(options, false), shared);
    }
  }

  const cases = [
    { name: 'the workerd entry (declared: workerd shows the 3xx)', make: () => new WorkerdPoolManager(), hopByHop: true },
    { name: 'the fetch entry in Node (guessed)', make: () => new FetchPoolManager(), hopByHop: true },
    { name: 'the fetch entry where the runtime follows', make: () => new BrowserLike(), hopByHop: false },
  ];

  for (const { name, make, hopByHop } of cases) {
    it(`${name}: ${hopByHop ? 'each hop through its own pool' : 'one pool, the runtime follows'}`, async () => {
      await using manager = make();
      const before = { a: a.requests.length, b: b.requests.length };
      const response = await manager.fetch(a.url('/go'));
      expect(await response.text()).toBe('landed');
      expect(response.redirected).toBe(true);
      expect(response.url).toBe(b.url('/landed'));
      // Each server saw its one request either way; what differs is whose pool sent it.
      expect(a.requests.length - before.a).toBe(1);
      expect(b.requests.length - before.b).toBe(1);
      const pools = manager.stats().map(({ origin, numRequests }) => ({ origin, numRequests }));
      expect(pools).toEqual(hopByHop ? [{ origin: a.origin, numRequests: 1 }, { origin: b.origin, numRequests: 1 }] : [{ origin: a.origin, numRequests: 1 }]);
    });
  }
});
