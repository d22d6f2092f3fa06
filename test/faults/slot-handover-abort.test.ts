/**
 * A slot handed to a waiting request in the same turn as that request's
 * abort: the request is not sent, and the slot goes back to the line
 * (ConnectionPool's check after the wait). Lost, the origin would be one
 * connection short for good: on `maxSize: 1`, every later request would
 * wait forever. Counted at a real server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EmptyPoolError } from '../../src/errors.js';
import { adapters } from '../semantics/support.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';

describe.each(adapters)('a slot handed over as its waiter is aborted ($name adapter)', (adapter) => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('maxSize 1: the aborted waiter is not sent, and the next request gets the slot', async () => {
    const hold = deferred();
    const arrived = deferred();
    const server = await startServer(async (req, res) => {
      if (req.url === '/a') {
        arrived.resolve();
        await hold.promise;
      }
      res.end(req.url);
    });
    servers.push(server);
    // poolTimeout: a lost slot shows as EmptyPoolError for the last request instead of a hang.
    const manager = adapter.make({ maxSize: 1, poolTimeout: 2_000, retries: false });
    const first = new AbortController();
    const second = new AbortController();
    const a = manager.fetch(server.url('/a'), { signal: first.signal }).catch((e: unknown) => e);
    await arrived.promise;
    const b = manager.fetch(server.url('/b'), { signal: second.signal }).catch((e: unknown) => e);
    expect(manager.connectionFromUrl(server.url()).stats()).toMatchObject({ running: 1, queued: 1 });
    // Listeners run in the order they were added: the pool's own (added when /a was sent) frees /a's
    // slot and, where that is synchronous (the Node adapter), hands it to /b; this one then aborts /b
    // in the same turn, before /b's continuation runs.
    const reasonB = new Error('b aborted');
    first.signal.addEventListener('abort', () => second.abort(reasonB), { once: true });
    first.abort(new Error('a aborted'));
    expect(await b).toBe(reasonB);
    const c = await manager.fetch(server.url('/c')).catch((e: unknown) => e);
    // fetch's contract wraps poolfetch's errors: a lost slot is a TypeError caused by EmptyPoolError.
    expect((c as Error).cause, 'the slot was lost').not.toBeInstanceOf(EmptyPoolError);
    expect(c).toBeInstanceOf(Response);
    expect(await (c as Response).text()).toBe('/c');
    expect(server.requests.map((r) => r.url)).toEqual(['/a', '/c']);
    expect(manager.connectionFromUrl(server.url()).stats()).toMatchObject({ running: 0, queued: 0 });
    hold.resolve();
    await a;
    await manager.destroy();
  });
});
