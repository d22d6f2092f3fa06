/**
 * The workerd entry's `request()` hands fetch no signal unless the caller
 * gave one (a signal costs workerd's fetch more than the pool's whole
 * bookkeeping; see FetchTransport's `callerSignalOnly`). `destroy()` must
 * still end every exchange at once: the wait for the headers, a whole-body
 * read (which nothing can cut short, so nobody waits for it any longer), a
 * streamed body (its read cancelled, the connection closed), and a body not
 * read yet. Over Node's real fetch and a real loopback server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClosedPoolError } from '../../src/errors.js';
import { FetchTransport } from '../../adapters/fetch/fetch-transport.js';
import { PoolManager as FetchPoolManager } from '../../adapters/fetch/pool-manager.js';
import { PoolManager as WorkerdPoolManager } from '../../adapters/fetch/workerd-pool-manager.js';
import { NO_TIMEOUT } from '../../src/timeout.js';
import type { WireRequest } from '../../src/transport.js';
import { answerEndlessly, deferred, startServer, type TestServer } from '../support/servers.js';

let server: TestServer;
/** Resolves when the server sees an `/endless` exchange closed by the client. */
let endlessClosed = deferred();
/** Resolves when a `/never` request (answered with nothing, ever) has arrived. */
let neverArrived = deferred();

beforeAll(async () => {
  server = await startServer(async (req, res) => {
    if (req.url === '/endless') {
      await answerEndlessly(res);
      endlessClosed.resolve();
      return;
    }
    if (req.url === '/never') {
      neverArrived.resolve();
      await new Promise((resolve) => res.on('close', resolve));
      return;
    }
    res.end('ok');
  });
});
afterAll(async () => {
  await server.close();
});

/** Node's fetch, recording whether each call was handed a signal, and telling when an answer's body is being read. */
function spyFetch(): { fetch: typeof fetch; signals: boolean[]; reading: () => Promise<void> } {
  const signals: boolean[] = [];
  let last = deferred<Response>();
  return {
    signals,
    reading: async () => {
      const response = await last.promise;
      // Turns, not time: the pool hands the answer on and its read begins within a few.
      while (!response.bodyUsed) await new Promise((resolve) => setImmediate(resolve));
    },
    fetch: async (input, init) => {
      signals.push(init?.signal != null);
      const response = await fetch(input, init);
      last.resolve(response);
      last = deferred();
      return response;
    },
  };
}

describe('request() in workerd without a signal of the caller', () => {
  it('hands fetch no signal; with the caller\'s, fetch gets one (and the fetch entry elsewhere always does)', async () => {
    const spy = spyFetch();
    await using manager = new WorkerdPoolManager({ fetch: spy.fetch });
    expect(new TextDecoder().decode((await manager.request('GET', server.url('/'))).data)).toBe('ok');
    const caller = new AbortController();
    expect((await manager.request('GET', server.url('/'), { signal: caller.signal })).status).toBe(200);
    await using elsewhere = new FetchPoolManager({ fetch: spy.fetch });
    expect((await elsewhere.request('GET', server.url('/'))).status).toBe(200);
    expect(spy.signals).toEqual([false, true, true]);
  });

  it('destroy() while the headers are awaited rejects at once', async () => {
    neverArrived = deferred();
    await using manager = new WorkerdPoolManager();
    const pending = manager.request('GET', server.url('/never'));
    pending.catch(() => undefined);
    await neverArrived.promise;
    await manager.destroy();
    await expect(pending).rejects.toBeInstanceOf(ClosedPoolError);
  });

  it('destroy() during a whole-body read of a body that never ends rejects it at once', async () => {
    const spy = spyFetch();
    await using manager = new WorkerdPoolManager({ fetch: spy.fetch });
    const pending = manager.request('GET', server.url('/endless'));
    pending.catch(() => undefined);
    await spy.reading();
    await manager.destroy();
    await expect(pending).rejects.toBeInstanceOf(ClosedPoolError);
  });

  it('destroy() cancels a streamed body, and the server sees its connection closed', async () => {
    endlessClosed = deferred();
    await using manager = new WorkerdPoolManager();
    const response = await manager.request('GET', server.url('/endless'), { preloadContent: false });
    const reading = response.text();
    await manager.destroy();
    await expect(reading).rejects.toBeInstanceOf(ClosedPoolError);
    await endlessClosed.promise;
  });

  it('destroy() before the body is read: a whole read, a stream and a limited read each fail with its reason', async () => {
    const options = new WorkerdPoolManager().options;
    const transport = new FetchTransport(options, true, true);
    const wire = (path: string, maxResponseSize?: number): WireRequest => ({
      method: 'GET', url: new URL(server.url(path)), headers: new Headers(), body: null, signal: undefined, timeout: NO_TIMEOUT, maxResponseSize,
    });
    const whole = await transport.send(wire('/'));
    const streamed = await transport.send(wire('/'));
    const limited = await transport.send(wire('/', 1024));
    await transport.destroy();
    await expect(whole.bytes()).rejects.toBeInstanceOf(ClosedPoolError);
    await expect(new Response(streamed.stream()).text()).rejects.toBeInstanceOf(ClosedPoolError);
    await expect(limited.bytes()).rejects.toBeInstanceOf(ClosedPoolError);
  });
});
