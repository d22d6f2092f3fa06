/**
 * The fetch adapter's own ends of life, over Node's real fetch and a real
 * loopback server: `destroy()` aborts what is in flight (fetch has no
 * sockets to close), per-pool TLS settings are refused as loudly as the
 * manager's, and a caller's long-lived signal collects no listeners.
 */
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClosedPoolError, NotSupportedError, PoolManager } from '../../adapters/fetch/index.js';
import { answerEndlessly, deferred, startServer, type TestServer } from '../support/servers.js';

let server: TestServer;
/** Resolves when the server sees the `/endless` exchange closed by the client. */
const endlessClosed = deferred();

beforeAll(async () => {
  server = await startServer(async (req, res) => {
    if (req.url === '/endless') {
      await answerEndlessly(res);
      endlessClosed.resolve();
      return;
    }
    res.end('ok');
  });
});
afterAll(async () => {
  await server.close();
});

describe('fetch adapter lifecycle', () => {
  it('destroy() aborts a body being streamed and fires poolclose', async () => {
    const manager = new PoolManager();
    const closed: string[] = [];
    manager.addEventListener('poolclose', (event) => closed.push((event as Event & { origin: string }).origin));
    const response = await manager.request('GET', server.url('/endless'), { preloadContent: false });
    const reading = response.text();
    await manager.destroy();
    await expect(reading).rejects.toBeInstanceOf(ClosedPoolError);
    expect(manager.pools.size).toBe(0);
    expect(closed).toEqual([`http://127.0.0.1:${server.port}`]);
    // Idle keep-alive sockets of Node's fetch may linger; the one that matters is this exchange's.
    await endlessClosed.promise;
  });

  it('refuses per-pool tls settings, which a browser could not apply', () => {
    const manager = new PoolManager();
    expect(() => manager.connectionFromUrl('https://127.0.0.1:8443/', { tls: { ca: 'x' } })).toThrow(NotSupportedError);
    expect(manager.pools.size).toBe(0);
  });

  it('adds no listener to a caller signal that outlives its requests (read timeout set)', async () => {
    const manager = new PoolManager({ timeout: { read: 5_000 } });
    const controller = new AbortController();
    for (let i = 0; i < 20; i += 1) {
      const r = await manager.request('GET', server.url('/'), { signal: controller.signal });
      expect(await r.text()).toBe('ok');
    }
    expect(getEventListeners(controller.signal, 'abort').length).toBeLessThanOrEqual(1);
    await manager.close();
  });

  it('adds no listener to a caller signal that outlives its request() calls (no timeout)', async () => {
    const manager = new PoolManager();
    const controller = new AbortController();
    for (let i = 0; i < 20; i += 1) {
      const r = await manager.request('GET', server.url('/'), { signal: controller.signal });
      expect(await r.text()).toBe('ok');
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await manager.close();
  });
});
