/**
 * Timers past what the runtime holds (issue 24). `setTimeout` takes a
 * signed 32-bit count of milliseconds: a longer delay fires after 1 ms,
 * with a `TimeoutOverflowWarning` in Node. Every limit a caller waits on
 * (`timeout`, `poolTimeout`) is refused past 2^31-1 ms with a TypeError
 * naming the option; `keepAliveTimeout` (an idle bound) is clamped; a
 * retry wait longer than a timer is served in steps. No timeout fires early.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EmptyPoolError } from '../../src/errors.js';
import { sleep } from '../../src/timeout.js';
import { adapters } from '../semantics/support.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';

const MAX = 2 ** 31 - 1;
// Process warnings (TimeoutOverflowWarning above all) fail the test: test/support/warnings.ts.
afterEach(() => {
  vi.useRealTimers();
});

describe.each(adapters)('timer limits ($name adapter)', (adapter) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer((_req, res) => {
      // Answers after a while: a timeout that overflowed (fires after 1 ms) would be seen.
      setTimeout(() => res.end('late'), 40);
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it.each([
    [{ timeout: 2 ** 31 }, 'timeout'],
    [{ timeout: { connect: 2 ** 31 } }, 'timeout.connect'],
    [{ timeout: { read: 2 ** 40 } }, 'timeout.read'],
    [{ timeout: { total: Number.MAX_SAFE_INTEGER } }, 'timeout.total'],
    [{ poolTimeout: 2 ** 31 }, 'poolTimeout'],
  ])('refuses %j when the manager is made: a TypeError naming %s', (options, name) => {
    const make = (): unknown => adapter.make(options);
    expect(make).toThrow(TypeError);
    expect(make).toThrow(new RegExp(`^${name.replace('.', '\\.')} must be at most 2147483647 ms`));
  });

  it.each([
    [2 ** 31, 'timeout'],
    [{ read: 2 ** 31 }, 'timeout.read'],
    [{ total: 1e12 }, 'timeout.total'],
  ])('refuses a request timeout of %j before anything is sent: a TypeError naming %s', async (timeout, name) => {
    const manager = adapter.make();
    const before = server.requests.length;
    const error = await manager.request('GET', server.url('/refused'), { timeout }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(String(error)).toContain(`${name} must be at most 2147483647 ms`);
    expect(server.requests.length).toBe(before);
    await manager.destroy();
  });

  it('takes 2^31-1 ms everywhere, and nothing fires early: a queued request answered after 40 ms succeeds', async () => {
    const manager = adapter.make({ maxSize: 1, poolTimeout: MAX, timeout: { connect: MAX, read: MAX, total: MAX }, retries: false });
    const before = server.requests.length;
    const [first, second] = await Promise.all([
      manager.request('GET', server.url('/a')),
      manager.request('GET', server.url('/b'), { timeout: MAX }),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(await second.text()).toBe('late');
    const fetched = await manager.fetch(server.url('/c'));
    expect(await fetched.text()).toBe('late');
    expect(server.requests.length - before).toBe(3);
    await manager.destroy();
  });

  it('a poolTimeout of 2^31-1 ms does not fire while the slot is busy for 40 ms (no EmptyPoolError)', async () => {
    const manager = adapter.make({ maxSize: 1, poolTimeout: MAX, retries: false });
    const results = await Promise.all([0, 1, 2].map((i) => manager.request('GET', server.url(`/p${i}`)).then((r) => r.status, (e: unknown) => e)));
    expect(results).toEqual([200, 200, 200]);
    expect(results.some((r) => r instanceof EmptyPoolError)).toBe(false);
    await manager.destroy();
  });
});

describe('keepAliveTimeout past 2^31-1 ms is clamped (Node adapter)', () => {
  it.each([2 ** 40, Infinity])('takes %d as 2^31-1: sockets are kept alive, with no warning', async (keepAliveTimeout) => {
    const { PoolManager } = await import('../../adapters/node/index.js');
    const server = await startServer();
    try {
      const manager = new PoolManager({ keepAliveTimeout });
      expect(manager.options.keepAliveTimeout).toBe(MAX);
      for (let i = 0; i < 3; i += 1) expect((await manager.request('GET', server.url(`/k${i}`))).status).toBe(200);
      // Kept alive after the requests, not closed by a timer that overflowed.
      expect(server.openConnections).toBeGreaterThan(0);
      expect(server.openConnections).toBe(server.totalConnections);
      await manager.destroy();
    } finally {
      await server.close();
    }
  });

  it('still refuses a negative or non-numeric keepAliveTimeout', async () => {
    const { PoolManager } = await import('../../adapters/node/index.js');
    expect(() => new PoolManager({ keepAliveTimeout: -1 })).toThrow(/keepAliveTimeout must be a non-negative number of milliseconds, got -1/);
    expect(() => new PoolManager({ keepAliveTimeout: '5' as unknown as number })).toThrow(TypeError);
  });
});

describe('a retry wait longer than a timer holds', () => {
  it('is served in steps: not over at 2^31-1 ms, over at the full wait (fake clock)', async () => {
    vi.useFakeTimers();
    let done = false;
    const waiting = sleep(MAX + 5_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(MAX);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    await waiting;
  });

  it('a Retry-After of 30 days (retryAfterMax raised) waits, and an abort ends it with no warning', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(503, { 'retry-after': String(30 * 24 * 3600) }).end();
    });
    const { PoolManager } = await import('../../adapters/node/index.js');
    const manager = new PoolManager({ retries: { total: 1, retryAfterMax: 60 * 24 * 3600 } });
    try {
      const controller = new AbortController();
      const answered = deferred();
      const pending = manager.request('GET', server.url('/later'), { signal: controller.signal }).catch((e: unknown) => e);
      server.waitForConnections(1).then(() => answered.resolve(), () => undefined);
      await answered.promise;
      for (let turn = 0; turn < 1000 && server.requests.length === 0; turn += 1) await new Promise((resolve) => setImmediate(resolve));
      // Give a timer that overflowed (1 ms) the time to fire: the retry would reach the server.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(server.requests).toHaveLength(1);
      const reason = new Error('stop');
      controller.abort(reason);
      expect(await pending).toBe(reason);
    } finally {
      await manager.destroy();
      await server.close();
    }
  });
});
