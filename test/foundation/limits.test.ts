/**
 * Per-origin and manager-wide caps, counted at the server: `maxSize`
 * (sockets per origin), `poolTimeout` (EmptyPoolError) and `maxTotal`
 * (in-flight requests across every origin).
 */
import { describe, expect, it } from 'vitest';
import { EmptyPoolError, PoolManager } from '../../adapters/node/index.js';
import { deferred, type Handler, type TestServer } from '../support/servers.js';
import { closeAll, gate, startOrigins } from './helpers.js';

/** A gate that also counts requests in flight across every server it serves. */
function countingGate() {
  const held = gate();
  let current = 0;
  let peak = 0;
  const handler: Handler = async (req, res) => {
    current += 1;
    peak = Math.max(peak, current);
    try {
      await held.handler(req, res);
    } finally {
      current -= 1;
    }
  };
  return { ...held, handler, peak: () => peak };
}

describe('maxSize', () => {
  it('20 concurrent requests with maxSize 2 never open more than 2 connections at the server', async () => {
    const held = countingGate();
    const [server] = (await startOrigins(1, held.handler, 50)) as [TestServer];
    const manager = new PoolManager({ maxSize: 2 });
    try {
      const requests = Array.from({ length: 20 }, (_, i) => manager.request('GET', server.url(`/${i}`)));
      await held.arrived(2);
      const pool = manager.connectionFromUrl(server.url());
      expect(pool.stats()).toMatchObject({ running: 2, queued: 18 });
      expect(server.inFlight).toBe(2);
      held.release();
      const responses = await Promise.all(requests);
      expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 200));
      expect(server.requests).toHaveLength(20);
      expect(server.peakConnections).toBe(2);
      expect(server.totalConnections).toBeLessThanOrEqual(2);
      expect(held.peak()).toBe(2);
      expect(pool.numConnections).toBeLessThanOrEqual(2);
      expect(pool.numRequests).toBe(20);
      expect(pool.stats()).toMatchObject({ running: 0, queued: 0 });
    } finally {
      held.release();
      await manager.close();
      await server.close();
    }
  });

  it('caps manager.fetch the same way: 10 concurrent fetches with maxSize 2', async () => {
    const held = countingGate();
    const [server] = (await startOrigins(1, held.handler, 58)) as [TestServer];
    const manager = new PoolManager({ maxSize: 2 });
    try {
      const fetches = Array.from({ length: 10 }, (_, i) => manager.fetch(server.url(`/f${i}`)));
      await held.arrived(2);
      expect(manager.connectionFromUrl(server.url()).stats()).toMatchObject({ running: 2, queued: 8 });
      held.release();
      const bodies = await Promise.all(fetches.map(async (f) => (await f).text()));
      expect(bodies).toHaveLength(10);
      expect(server.peakConnections).toBeLessThanOrEqual(2);
      expect(held.peak()).toBe(2);
    } finally {
      held.release();
      await manager.close();
      await server.close();
    }
  });

  it('reuses keep-alive connections: 30 sequential requests share at most 2 sockets', async () => {
    const [server] = (await startOrigins(1, undefined, 51)) as [TestServer];
    const manager = new PoolManager();
    try {
      for (let i = 0; i < 30; i += 1) await manager.request('GET', server.url(`/${i}`));
      // undici marks a connection free a tick after its body ended, so the next request,
      // sent at once, may open a second one (raw undici Pool does the same); never more.
      expect(server.totalConnections).toBeLessThanOrEqual(2);
      expect(manager.connectionFromUrl(server.url()).numConnections).toBe(server.totalConnections);
    } finally {
      await manager.close();
      await server.close();
    }
  });
});

describe('poolTimeout', () => {
  it('gives EmptyPoolError naming the origin when no slot frees up in time', async () => {
    const held = gate();
    const [server] = (await startOrigins(1, held.handler, 52)) as [TestServer];
    const manager = new PoolManager({ maxSize: 1, poolTimeout: 50 });
    try {
      const first = manager.request('GET', server.url('/first'));
      await held.arrived(1);
      const error = await manager.request('GET', server.url('/second')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EmptyPoolError);
      expect((error as EmptyPoolError).code).toBe('POOLFETCH_EMPTY_POOL');
      expect((error as Error).message).toContain(`http://${server.host}:${server.port}`);
      expect((error as Error).message).toContain('poolTimeout 50 ms');
      // The waiting request gave up its place: nothing is queued any more, and it never reached the server.
      expect(manager.connectionFromUrl(server.url()).stats()).toMatchObject({ running: 1, queued: 0 });
      held.release();
      expect((await first).status).toBe(200);
      expect(server.requests.map((r) => r.url)).toEqual(['/first']);
      // The pool works again once the slot is free.
      expect((await manager.request('GET', server.url('/third'))).status).toBe(200);
    } finally {
      held.release();
      await manager.close();
      await server.close();
    }
  });
});

describe('maxTotal', () => {
  it('caps requests in flight across every origin together', async () => {
    const held = countingGate();
    const servers = await startOrigins(3, held.handler, 53);
    const manager = new PoolManager({ maxTotal: 2, maxSize: 10 });
    try {
      const requests = servers.flatMap((server) => [1, 2, 3].map((i) => manager.request('GET', server.url(`/${i}`))));
      await held.arrived(2);
      expect(servers.reduce((n, s) => n + s.inFlight, 0)).toBe(2);
      const queued = manager.stats().reduce((n, row) => n + row.queued, 0);
      const running = manager.stats().reduce((n, row) => n + row.running, 0);
      // Each pool has room (maxSize 10): requests wait for the shared cap, holding their pool slot meanwhile.
      expect(queued + running).toBe(9);
      held.release();
      const responses = await Promise.all(requests);
      expect(responses.every((r) => r.status === 200)).toBe(true);
      expect(held.peak()).toBe(2);
      expect(servers.reduce((n, s) => n + s.requests.length, 0)).toBe(9);
    } finally {
      held.release();
      await manager.close();
      await closeAll(servers);
    }
  });

  it('holds the cap for requests sent in the same tick: one runs, the rest time out with EmptyPoolError', async () => {
    const held = countingGate();
    const servers = await startOrigins(4, held.handler, 60);
    const manager = new PoolManager({ maxTotal: 1, poolTimeout: 50 });
    try {
      const requests = servers.map((server) => manager.request('GET', server.url('/same-tick')));
      // Three give up after poolTimeout while the fourth is still held at its server.
      const threeFailed = deferred();
      let failed = 0;
      for (const request of requests) {
        request.catch(() => {
          failed += 1;
          if (failed === 3) threeFailed.resolve();
        });
      }
      const settled = Promise.allSettled(requests);
      await held.arrived(1);
      await threeFailed.promise;
      expect(servers.reduce((n, s) => n + s.inFlight, 0)).toBe(1);
      held.release();
      const outcomes = await settled;
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      expect(failures).toHaveLength(3);
      for (const failure of failures) expect(failure).toBeInstanceOf(EmptyPoolError);
      expect(held.peak()).toBe(1);
    } finally {
      held.release();
      await manager.close();
      await closeAll(servers);
    }
  });

  it('gives EmptyPoolError naming maxTotal when the shared cap stays full past poolTimeout', async () => {
    const held = gate();
    const servers = (await startOrigins(2, held.handler, 56)) as [TestServer, TestServer];
    const manager = new PoolManager({ maxTotal: 1, poolTimeout: 50 });
    try {
      const first = manager.request('GET', servers[0].url('/first'));
      await held.arrived(1);
      const error = await manager.request('GET', servers[1].url('/other-origin')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EmptyPoolError);
      expect((error as Error).message).toContain('maxTotal 1');
      held.release();
      expect((await first).status).toBe(200);
      expect(servers[1].requests).toHaveLength(0);
    } finally {
      held.release();
      await manager.close();
      await closeAll(servers);
    }
  });
});
