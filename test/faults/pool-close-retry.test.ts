/**
 * Closing one pool refuses the retries that would come back to it at once,
 * not after their backoff: `pool.close()` and `pool.destroy()` (and a
 * manager's `clear()` for the pool's own `request()`s) cut a retry
 * wait (a `Retry-After` of an hour here) of the requests last sent through
 * that pool with `ClosedPoolError`, as `manager.clear()` and `destroy()` do
 * for the manager's. A wait whose retry would go elsewhere (its pool was
 * evicted, or another pool was closed) is left alone. Both adapters, counted
 * at a real server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedPoolError } from '../../src/errors.js';
import type { Clock } from '../../src/types.js';
import { adapters } from '../semantics/support.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';

/** 503 with `Retry-After: 3600` on /busy until `calm()` is called, then 200. */
async function busyServer(host?: string): Promise<{ server: TestServer; calm(): void }> {
  let calm = false;
  const server = await startServer((req, res) => {
    if (req.url === '/busy' && !calm) res.writeHead(503, { 'retry-after': '3600' }).end();
    else res.end('ok');
  }, host === undefined ? {} : { host });
  return {
    server,
    calm: () => {
      calm = true;
    },
  };
}

/**
 * A clock whose waits end only when the test says (`wake()`) or their signal
 * aborts; `asleep` resolves with the delay asked for once a wait begins.
 */
function heldClock(): { clock: Pick<Clock, 'sleep'>; asleep: Promise<number>; wake(): void } {
  const asleep = deferred<number>();
  let wake = (): void => {
    throw new Error('nothing is waiting');
  };
  return {
    asleep: asleep.promise,
    wake: () => wake(),
    clock: {
      sleep: (ms, signal) =>
        new Promise<void>((resolve, reject) => {
          if (signal?.aborted === true) {
            reject(signal.reason);
            return;
          }
          wake = resolve;
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
          asleep.resolve(ms);
        }),
    },
  };
}

/** Whether `promise` has settled after the event loop has turned a few times (nothing else is pending on it). */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let turn = 0; turn < 20 && !settled; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe.each(adapters)('closing a pool cuts the retry waits of its requests ($name adapter)', (adapter) => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  const serve = async (host?: string): Promise<TestServer> => (await busy(host)).server;
  const busy = async (host?: string): Promise<{ server: TestServer; calm(): void }> => {
    const started = await busyServer(host);
    servers.push(started.server);
    return started;
  };

  it.each(['pool.request()', 'manager.request()'] as const)('%s waiting out Retry-After: 1 h, then pool.close(): ClosedPoolError at once, sent once', async (api) => {
    const server = await serve();
    const held = heldClock();
    const manager = adapter.make({ retries: { total: 2 }, clock: held.clock });
    const pool = manager.connectionFromUrl(server.url());
    const pending = (api === 'pool.request()' ? pool.request('GET', server.url('/busy')) : manager.request('GET', server.url('/busy'))).catch((e: unknown) => e);
    // The server's own Retry-After, an hour, is what the request waits out.
    expect(await held.asleep).toBe(3_600_000);
    await pool.close();
    expect(await settledSoon(pending)).toBe(true);
    const error = await pending;
    expect(error).toBeInstanceOf(ClosedPoolError);
    expect(String(error)).toContain(`The pool for ${server.origin} was closed while this request waited to retry`);
    expect(server.requests.map((r) => r.url)).toEqual(['/busy']);
    await manager.destroy();
  });

  it('a request waiting to retry a refused connection (nothing listens): pool.close() ends it at once', async () => {
    // A port nothing listens on: a server started, its port noted, and closed.
    const gone = await startServer();
    const url = gone.url('/refused');
    await gone.close();
    const held = heldClock();
    const manager = adapter.make({ retries: { total: 2 }, clock: held.clock });
    const pool = manager.connectionFromUrl(url);
    const pending = pool.request('POST', url, { body: 'x' }).catch((e: unknown) => e);
    await held.asleep;
    await pool.close();
    expect(await settledSoon(pending)).toBe(true);
    expect(String(await pending)).toContain('was closed while this request waited to retry');
    expect(await pending).toBeInstanceOf(ClosedPoolError);
    await manager.destroy();
  });

  it('a request waiting to retry a body cut short (a read error while preloading): pool.close() ends it at once', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only ten..', () => res.socket?.destroy());
    });
    servers.push(server);
    const held = heldClock();
    const manager = adapter.make({ retries: { total: 2 }, clock: held.clock });
    const pool = manager.connectionFromUrl(server.url());
    const pending = pool.request('GET', server.url('/cut')).catch((e: unknown) => e);
    await held.asleep;
    await pool.close();
    expect(await settledSoon(pending)).toBe(true);
    expect(String(await pending)).toContain('was closed while this request waited to retry');
    expect(server.requests).toHaveLength(1);
    await manager.destroy();
  });

  it.each([
    ['manager.clear() (which retires and closes the pool)', (manager: { clear(): Promise<void> }) => manager.clear()],
    ['pool.destroy()', (_manager: unknown, pool: { destroy(): Promise<void> }) => pool.destroy()],
  ] as const)('pool.request() waiting to retry, then %s: ClosedPoolError at once', async (_what, end) => {
    const server = await serve();
    const held = heldClock();
    const manager = adapter.make({ retries: { total: 2 }, clock: held.clock });
    const pool = manager.connectionFromUrl(server.url());
    const pending = pool.request('GET', server.url('/busy')).catch((e: unknown) => e);
    await held.asleep;
    await end(manager, pool);
    expect(await settledSoon(pending)).toBe(true);
    const error = await pending;
    expect(error).toBeInstanceOf(ClosedPoolError);
    expect(String(error)).toContain(`The pool for ${server.origin} was closed while this request waited to retry`);
    expect(server.requests).toHaveLength(1);
    await manager.destroy();
  });

  it('a 503 that arrives while pool.close() waits for it: the retry is refused at once, without a wait', async () => {
    const answer = deferred();
    const arrived = deferred();
    const server = await startServer(async (_req, res) => {
      arrived.resolve();
      await answer.promise;
      res.writeHead(503, { 'retry-after': '3600' }).end();
    });
    servers.push(server);
    // A sleep that honours its signal (the clock's contract) and otherwise never ends: it says whether the wait began cut short.
    const waits: string[] = [];
    const manager = adapter.make({
      retries: { total: 2 },
      clock: {
        sleep: (ms, signal) => {
          waits.push(signal?.aborted === true ? 'cut short' : `${ms} ms`);
          return signal?.aborted === true ? Promise.reject(signal.reason) : new Promise(() => {});
        },
      },
    });
    const pool = manager.connectionFromUrl(server.url());
    const pending = pool.request('GET', server.url('/busy')).catch((e: unknown) => e);
    await arrived.promise;
    const closed = pool.close();
    answer.resolve();
    await closed;
    const error = await pending;
    expect(error).toBeInstanceOf(ClosedPoolError);
    expect(String(error)).toContain('was closed while this request waited to retry');
    expect(waits).toEqual(['cut short']);
    expect(server.requests).toHaveLength(1);
    await manager.destroy();
  });

  it('closing another pool, or a pool already evicted (the retry goes to a new pool), leaves the wait alone: the retry is sent and answered', async () => {
    const { server, calm } = await busy();
    const other = await serve('127.0.0.2');
    const held = heldClock();
    const manager = adapter.make({ numPools: 1, retries: { total: 2 }, clock: held.clock });
    const pool = manager.connectionFromUrl(server.url());
    const pending = manager.request('GET', server.url('/busy'));
    await held.asleep;
    // Another origin's pool closed: nothing to do with this request.
    const otherPool = manager.connectionFromUrl(other.url());
    await otherPool.close();
    // This request's pool was evicted by the other origin (numPools 1) and is then closed: the retry would make a new pool.
    expect(manager.pools.has(pool.key)).toBe(false);
    await pool.close();
    expect(await settledSoon(pending)).toBe(false);
    calm();
    held.wake();
    const response = await pending;
    expect(response.status).toBe(200);
    expect(server.requests.map((r) => r.url)).toEqual(['/busy', '/busy']);
    expect(manager.connectionFromUrl(server.url())).not.toBe(pool);
    await manager.destroy();
  });
});
