/**
 * The dashboard's numbers, in process: the tracker counts retries per pool
 * (the core has none), evictions per origin across pool lifetimes, and sums
 * requests over every pool an origin has had.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoPoolManager } from '../../demo/node-manager.js';
import { managerOptions } from '../../demo/shared/settings.js';
import { runWorkload } from '../../demo/shared/workload.js';
import { gate } from '../fetch-adapter/support.js';
import { startServer, type TestServer } from '../support/servers.js';

let flaky: TestServer;
let plain: TestServer[];
let answered = 0;

beforeAll(async () => {
  // 503 + Retry-After: 0 on the first two requests, then 200.
  flaky = await startServer((_req, res) => {
    answered += 1;
    if (answered <= 2) res.writeHead(503, { 'retry-after': '0' }).end('busy');
    else res.end('ok');
  });
  plain = await Promise.all([startServer(), startServer(), startServer()]);
});
afterAll(async () => {
  await Promise.all([flaky, ...plain].map((s) => s.close()));
});

const settings = { origins: [], concurrency: 1, numPools: 2, maxSize: 2, maxTotal: 0 };

describe('PoolTracker', () => {
  it('counts the retries of each pool', async () => {
    const manager = new DemoPoolManager(managerOptions(settings));
    const response = await manager.request('GET', flaky.url('/'));
    expect(response.status).toBe(200);
    const [row] = manager.tracker.snapshot().rows;
    expect(row).toMatchObject({ origin: flaky.origin, requests: 3, retries: 2, evictions: 0 });
    await manager.clear();
    const totals = manager.tracker.totals();
    expect(totals).toHaveLength(1);
    expect(totals[0]).toMatchObject({ origin: flaky.origin, requests: 3, retries: 2, evictions: 0 });
  });

  it('counts evictions per origin and keeps the sums of evicted pools', async () => {
    const manager = new DemoPoolManager(managerOptions(settings));
    const log: string[] = [];
    manager.tracker.onLog((entry) => log.push(`${entry.kind} ${entry.origin}`));
    const [a, b, c] = plain as [TestServer, TestServer, TestServer];
    // a, b, c, a: c evicts a, the second a evicts b.
    for (const server of [a, b, c, a]) await manager.request('GET', server.url('/'));
    const snapshot = manager.tracker.snapshot();
    expect(snapshot.rows.map((r) => r.origin)).toEqual([c.origin, a.origin]);
    expect(snapshot.rows.find((r) => r.origin === a.origin)).toMatchObject({ requests: 1, evictions: 1 });
    expect(snapshot.events).toMatchObject({ poolcreate: 4, poolevict: 2 });
    await manager.clear();
    const totals = new Map(manager.tracker.totals().map((t) => [t.origin, t]));
    expect(totals.get(a.origin)).toMatchObject({ requests: 2, evictions: 1 });
    expect(totals.get(b.origin)).toMatchObject({ requests: 1, evictions: 1 });
    expect(totals.get(c.origin)).toMatchObject({ requests: 1, evictions: 0 });
    expect(log.filter((l) => l.startsWith('poolevict'))).toEqual([`poolevict ${a.origin}`, `poolevict ${b.origin}`]);
    expect(log.filter((l) => l.startsWith('poolclose'))).toHaveLength(4);
  });

  it('shows sockets open now beside the running total, as the server counts them', async () => {
    // Each answer closes its connection, so the total grows past maxSize (2) while at most 2 are open.
    const g = gate();
    const closing = await startServer((req, res) => g.hold(req.url ?? '', () => void res.writeHead(200, { connection: 'close' }).end('ok')));
    const manager = new DemoPoolManager(managerOptions(settings));
    try {
      for (let round = 0; round < 2; round += 1) {
        const answers = Promise.all([0, 1].map(async (i) => (await manager.request('GET', closing.url(`/${round}/${i}`))).text()));
        await g.whenStarted(2 * (round + 1));
        const [row] = manager.tracker.snapshot().rows;
        expect(closing.openConnections).toBe(2);
        expect(row).toMatchObject({ origin: closing.origin, open: closing.openConnections, connections: closing.totalConnections });
        g.releaseOne();
        g.releaseOne();
        expect(await answers).toEqual(['ok', 'ok']);
        await closing.whenNoConnections();
      }
      expect(manager.tracker.snapshot().rows[0]).toMatchObject({ connections: 4, requests: 4 });
    } finally {
      g.releaseAll();
      await manager.clear();
      await closing.close();
    }
  });

  it('shows a revived pool: its row comes back and the log says poolrevive after poolevict', async () => {
    const manager = new DemoPoolManager(managerOptions({ ...settings, numPools: 1 }));
    const log: string[] = [];
    manager.tracker.onLog((entry) => log.push(`${entry.kind} ${entry.origin}`));
    const [a, b] = plain as [TestServer, TestServer];
    // a's body is held (streamed, unread) while b evicts it: a is retiring, and asked for again, it comes back.
    const held = await manager.request('GET', a.url('/held'), { preloadContent: false });
    await manager.request('GET', b.url('/'));
    expect(manager.tracker.snapshot().rows.map((r) => r.origin)).toEqual([b.origin]);
    await manager.request('GET', a.url('/again'));
    const snapshot = manager.tracker.snapshot();
    expect(snapshot.rows.map((r) => r.origin)).toEqual([a.origin]);
    expect(snapshot.rows[0]).toMatchObject({ requests: 2, evictions: 1 });
    expect(snapshot.events).toMatchObject({ poolcreate: 2, poolevict: 2, poolrevive: 1 });
    expect(log.filter((l) => l.endsWith(` ${a.origin}`))).toEqual([`poolcreate ${a.origin}`, `poolevict ${a.origin}`, `poolrevive ${a.origin}`]);
    await held.text();
    await manager.clear();
  });
});

describe('runWorkload', () => {
  it('sends exactly `total` requests, spread over the targets by weight, and stops on abort', async () => {
    const manager = new DemoPoolManager(managerOptions({ ...settings, numPools: 3 }));
    const targets = plain.map((s, i) => ({ name: `p${i}`, url: s.origin, weight: i === 0 ? 8 : 1 }));
    const seen = new Map<string, number>();
    const summary = await runWorkload({
      requester: manager,
      targets,
      concurrency: 4,
      total: 50,
      onResult: ({ target }) => seen.set(target.name, (seen.get(target.name) ?? 0) + 1),
    });
    expect(summary).toEqual({ sent: 50, ok: 50, failed: 0 });
    expect(seen.get('p0')).toBeGreaterThan(seen.get('p1') ?? 0);

    const stop = new AbortController();
    let results = 0;
    const running = runWorkload({ requester: manager, targets, concurrency: 2, signal: stop.signal, onResult: () => {
      results += 1;
      if (results === 10) stop.abort();
    } });
    const stopped = await running;
    expect(stopped.sent).toBeGreaterThanOrEqual(10);
    expect(stopped.sent).toBeLessThanOrEqual(11);
    await manager.clear();
  });

  it('never logs a password: a failure line shows user:*** for the URL and in the message', async () => {
    const manager = new DemoPoolManager(managerOptions(settings));
    const lines: string[] = [];
    manager.tracker.onLog((entry) => lines.push(`${entry.kind} ${entry.origin} ${entry.detail ?? ''}`));
    const gone = await startServer();
    const url = gone.url('/').replace('://', '://user:s3cr3t@');
    await gone.close();
    const error = await manager.request('GET', url, { retries: false }).catch((e: unknown) => e);
    manager.tracker.logFailure(url, error);
    // Another library's error, quoting the URL as it was given.
    manager.tracker.logFailure(url, new TypeError(`Failed to parse URL from ${url}`));
    const failures = lines.filter((line) => line.startsWith('error '));
    expect(failures).toHaveLength(2);
    for (const line of failures) {
      expect(line).toContain('user:***@');
      expect(line).not.toContain('s3cr3t');
    }
    await manager.clear();
  });
});
