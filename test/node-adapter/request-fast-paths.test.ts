/**
 * `request()`'s shortcuts on the hot path, at a real server: a call with no
 * options (or `{}`) takes the manager's options resolved once per manager,
 * and a body that arrived with its headers is handed over without a promise
 * (src/request-loop.ts `#deliverNow`). Each test checks that what a shortcut
 * skips still happens where it must: per-call headers, timeouts and retries
 * laid over the manager's; each manager its own defaults; a body that comes
 * in parts read to its end; the slot freed for the next in line.
 */
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager, ReadTimeoutError } from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';

/** 503s left to answer per `/flaky?n=…` key before a 200. */
const flaky = new Map<string, number>();
/** Responses held by `/hold`, ended when their socket closes. */
const held = new Set<http.ServerResponse>();

let server: TestServer;
beforeAll(async () => {
  server = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/hold') {
      // Never answers: only a read timeout ends the request.
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    if (url.pathname === '/flaky') {
      const key = url.searchParams.get('key') ?? '';
      const left = flaky.get(key) ?? 2;
      if (left > 0) {
        flaky.set(key, left - 1);
        res.writeHead(503).end('busy');
        return;
      }
      res.end('ok');
      return;
    }
    if (url.pathname === '/parts') {
      // Headers and the first part now, the rest a little later: the body is not all in with the headers.
      res.writeHead(200, { 'content-length': '8' });
      res.write('abcd');
      setTimeout(() => res.end('efgh'), 30);
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ headers: req.headers }));
  });
});
afterAll(() => server.close());

/** What the server saw of the `x-*` headers of its last request. */
async function seenHeaders(manager: PoolManager, options?: Parameters<PoolManager['request']>[2]): Promise<Record<string, unknown>> {
  const response = await manager.request('GET', server.url('/echo'), options);
  const { headers } = await response.json<{ headers: Record<string, unknown> }>();
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('x-')));
}

describe('request() with no options', () => {
  it("sends the manager's headers, and a later call's own headers laid over them", async () => {
    await using manager = new PoolManager({ headers: { 'x-manager': 'm', 'x-both': 'manager' } });
    expect(await seenHeaders(manager)).toEqual({ 'x-manager': 'm', 'x-both': 'manager' });
    expect(await seenHeaders(manager, {})).toEqual({ 'x-manager': 'm', 'x-both': 'manager' });
    expect(await seenHeaders(manager, { headers: { 'x-call': 'c', 'x-both': 'call' } })).toEqual({ 'x-manager': 'm', 'x-both': 'call', 'x-call': 'c' });
    // The defaults are not touched by the call before.
    expect(await seenHeaders(manager)).toEqual({ 'x-manager': 'm', 'x-both': 'manager' });
  });

  it('each manager sends its own defaults', async () => {
    await using one = new PoolManager({ headers: { 'x-which': 'one' } });
    await using two = new PoolManager({ headers: { 'x-which': 'two' } });
    await using none = new PoolManager();
    expect(await seenHeaders(one)).toEqual({ 'x-which': 'one' });
    expect(await seenHeaders(two)).toEqual({ 'x-which': 'two' });
    expect(await seenHeaders(none)).toEqual({});
    expect(await seenHeaders(one)).toEqual({ 'x-which': 'one' });
  });

  it("a call's own read timeout applies after calls without one", async () => {
    await using manager = new PoolManager({ retries: false });
    await manager.request('GET', server.url('/echo'));
    const before = server.requests.length;
    const error = await manager.request('GET', server.url('/hold'), { timeout: { read: 100 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadTimeoutError);
    expect(server.requests.length).toBe(before + 1);
  }, 10_000);

  it("the manager's read timeout applies to a call without options", async () => {
    await using manager = new PoolManager({ timeout: { read: 100 }, retries: false });
    const before = server.requests.length;
    const error = await manager.request('GET', server.url('/hold')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadTimeoutError);
    expect(server.requests.length).toBe(before + 1);
  }, 10_000);

  it("a call's own retries apply after calls without them, and none are made without", async () => {
    await using manager = new PoolManager({ retries: false });
    await manager.request('GET', server.url('/echo'));
    const before = server.requests.length;
    const plain = await manager.request('GET', server.url('/flaky?key=plain'));
    expect(plain.status).toBe(503);
    expect(server.requests.length).toBe(before + 1);
    const retried = await manager.request('GET', server.url('/flaky?key=retried'), { retries: { total: 3, statusForcelist: [503], backoffFactor: 0 } });
    expect(retried.status).toBe(200);
    expect(await retried.text()).toBe('ok');
    // Two 503s and the 200.
    expect(server.requests.length).toBe(before + 4);
  });
});

describe('a body handed over as it arrived with its headers', () => {
  it('one that comes in parts is read to its end', async () => {
    await using manager = new PoolManager();
    for (let i = 0; i < 3; i += 1) {
      const response = await manager.request('GET', server.url('/parts'));
      expect(await response.text()).toBe('abcdefgh');
    }
  });

  it('frees its slot for the next in line: 40 calls over 2 connections all answered, never more than 2 at the server', async () => {
    await using manager = new PoolManager({ maxSize: 2 });
    const before = server.requests.length;
    const bodies = await Promise.all(Array.from({ length: 40 }, async () => (await manager.request('GET', server.url('/echo'))).json()));
    expect(bodies).toHaveLength(40);
    expect(server.requests.length).toBe(before + 40);
    expect(server.peakInFlight).toBeLessThanOrEqual(2);
    expect(manager.stats()[0]).toMatchObject({ running: 0, queued: 0 });
  });
});
