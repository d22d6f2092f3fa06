/**
 * Retries against real local servers, on both adapters, with a clock that
 * records waits instead of waiting (the `clock` option): connect errors for
 * any method, read errors and forced statuses for idempotent methods only,
 * Retry-After, raiseOnStatus, and a stale keep-alive socket.
 */
import type http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MaxRetryError, NewConnectionError, ProtocolError } from '../../src/errors.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';
import { adapters, fakeClock, readBody, routesServer, type Adapter } from './support.js';

let server: TestServer;
/** A port nothing listens on: a server was there and is gone. */
let closedUrl: string;

beforeAll(async () => {
  server = await routesServer();
  const gone = await startServer();
  closedUrl = gone.url('/');
  await gone.close();
});
afterAll(async () => {
  await server.close();
});

/** Answers the n-th request with the n-th handler (the last one from then on). */
function steps(...handlers: Array<(req: http.IncomingMessage, res: http.ServerResponse) => void>) {
  let n = 0;
  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    await readBody(req);
    const handler = handlers[Math.min(n, handlers.length - 1)];
    n += 1;
    handler?.(req, res);
  };
}
const answer = (status: number, headers: Record<string, string> = {}) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.writeHead(status, headers);
  res.end(`status ${status}`);
};
/** Closes the connection without a word: the request went out, no answer came. */
const hangUp = (req: http.IncomingMessage) => {
  req.socket.destroy();
};

describe.each(adapters)('retries ($name adapter)', (adapter) => {
  it('retries a refused connection for any method, then throws MaxRetryError with the reason', async () => {
    const { clock, sleeps } = fakeClock();
    await using http = adapter.make({ clock, retries: { total: 3, backoffFactor: 0.1 } });
    for (const method of ['GET', 'POST']) {
      sleeps.length = 0;
      const error = await http.request(method, closedUrl, { body: method === 'POST' ? 'x' : null }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MaxRetryError);
      expect((error as MaxRetryError).reason).toBeInstanceOf(NewConnectionError);
      expect((error as Error).message).toContain(closedUrl);
      expect(sleeps).toEqual([0, 200, 400]);
    }
  });

  it('throws the connection error itself with retries: false', async () => {
    await using http = adapter.make();
    await expect(http.request('GET', closedUrl, { retries: false })).rejects.toBeInstanceOf(NewConnectionError);
  });

  it('retries a forced status for GET until it passes, never for POST (test_raise_on_status)', async () => {
    const flaky = await startServer(steps(answer(500), answer(502), answer(200)), { collectBody: false });
    try {
      const { clock, sleeps } = fakeClock();
      await using http = adapter.make({ clock, retries: { statusForcelist: [500, 502], backoffFactor: 1 } });
      const r = await http.request('GET', flaky.url('/'));
      expect(r.status).toBe(200);
      expect(flaky.requests).toHaveLength(3);
      expect(sleeps).toEqual([0, 2000]);
      const post = await startServer(steps(answer(500)), { collectBody: false });
      try {
        expect((await http.request('POST', post.url('/'), { body: 'x' })).status).toBe(500);
        expect(post.requests).toHaveLength(1);
      } finally {
        await http.clear();
        await post.close();
      }
    } finally {
      await flaky.close();
    }
  });

  it('retries only a status in the forcelist, for a method in allowedMethods (test_retries_wrong_*, test_default_method_forcelist_retried)', async () => {
    const cases: Array<[method: string, retries: object, status: number]> = [
      ['GET', { total: 1, statusForcelist: [418] }, 200],
      ['OPTIONS', { total: 1, statusForcelist: [418] }, 200],
      ['GET', { total: 1, statusForcelist: [202] }, 418],
      ['GET', { total: 1, statusForcelist: [418], allowedMethods: ['POST'] }, 418],
      ['GET', { total: 1 }, 418],
    ];
    const { clock } = fakeClock();
    await using http = adapter.make({ clock });
    for (const [method, retries, status] of cases) {
      // urllib3's /successful_retry: 418 the first time, 200 after.
      const teapot = await startServer(steps(answer(418), answer(200)), { collectBody: false });
      try {
        expect((await http.request(method, teapot.url('/successful_retry'), { retries })).status, JSON.stringify(retries)).toBe(status);
      } finally {
        await http.clear();
        await teapot.close();
      }
    }
  });

  it('reuses the one connection for a retried status and a redirect (test_pool_size_retry, test_pool_size_redirect)', async () => {
    const { clock } = fakeClock();
    // One slot: the retry and the redirect can only go out once the answer before was drained.
    await using http = adapter.make({ clock, maxSize: 1, retries: { total: 1, raiseOnStatus: false, statusForcelist: [404] } });
    const notFound = await http.request('GET', server.url('/status?status=404'), { preloadContent: false });
    expect(notFound.status).toBe(404);
    // The first 404 was drained, so its socket served the retry.
    expect(http.connectionFromUrl(server.url()).numConnections).toBe(1);
    await notFound.text();
    const redirected = await http.request('GET', server.url('/redirect?target=%2Fecho'), { preloadContent: false });
    expect(redirected.status).toBe(200);
    await redirected.text();
    expect(http.connectionFromUrl(server.url()).numConnections).toBe(1);
  });

  it('throws MaxRetryError when status retries run out, or returns the last response with raiseOnStatus: false', async () => {
    const { clock } = fakeClock();
    await using http = adapter.make({ clock });
    const url = server.url('/status?status=500');
    const error = await http.request('GET', url, { retries: { total: 1, statusForcelist: [500] } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaxRetryError);
    expect((error as MaxRetryError).reason?.message).toBe('too many 500 error responses');
    const before = server.requests.length;
    const r = await http.request('GET', url, { retries: { total: 1, statusForcelist: [500], raiseOnStatus: false } });
    expect(r.status).toBe(500);
    expect(await r.text()).toBe('status 500');
    expect(server.requests.length - before).toBe(2);
  });

  it('honours Retry-After (seconds and HTTP-date) on 413, 429 and 503 without a forcelist, capped at retryAfterMax', async () => {
    const { clock, sleeps } = fakeClock();
    await using http = adapter.make({ clock, retries: { total: 1, raiseOnStatus: false } });
    for (const status of [413, 429, 503]) {
      await http.request('GET', server.url(`/status?status=${status}&retry-after=7`));
    }
    const inThirtySeconds = new Date(clock.now() + 30_000).toUTCString();
    await http.request('GET', server.url(`/status?status=503&retry-after=${encodeURIComponent(inThirtySeconds)}`));
    await http.request('GET', server.url('/status?status=503&retry-after=3600'), { retries: { total: 1, retryAfterMax: 5, raiseOnStatus: false } });
    expect(sleeps).toEqual([7000, 7000, 7000, 30_000, 5000]);
    // Not retried: no Retry-After, or respectRetryAfter: false, or a POST.
    const before = server.requests.length;
    await http.request('GET', server.url('/status?status=429'));
    await http.request('GET', server.url('/status?status=503&retry-after=1'), { retries: { respectRetryAfter: false } });
    await http.request('POST', server.url('/status?status=503&retry-after=1'), { body: 'x' });
    expect(server.requests.length - before).toBe(3);
    expect(sleeps).toHaveLength(5);
  });

  it('retries a broken answer for idempotent methods only; a POST gets the ProtocolError', async () => {
    const broken = await startServer(steps(hangUp), { collectBody: false });
    try {
      const { clock } = fakeClock();
      await using http = adapter.make({ clock });
      const error = await http.request('GET', broken.url('/')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MaxRetryError);
      expect((error as MaxRetryError).reason).toBeInstanceOf(ProtocolError);
      // One free retry for a dropped socket, then the 3 of the budget.
      expect(broken.requests).toHaveLength(5);
      const post = await http.request('POST', broken.url('/'), { body: 'once' }).catch((e: unknown) => e);
      expect(post).toBeInstanceOf(ProtocolError);
      expect(broken.requests).toHaveLength(6);
    } finally {
      await broken.close();
    }
  });

  it('retries a stale keep-alive socket once, transparently, for an idempotent request', async () => {
    // The server answers the first request on a socket, then closes that socket when the
    // next request arrives on it: a keep-alive socket that went stale as it was reused.
    const served = new WeakSet<object>();
    const stale = await startServer(
      async (req, res) => {
        await readBody(req);
        if (served.has(req.socket)) {
          req.socket.destroy();
          return;
        }
        served.add(req.socket);
        res.end(`fresh ${req.method ?? ''}`);
      },
      { collectBody: false },
    );
    try {
      await using http = adapter.make({ retries: false, maxSize: 1 });
      expect(await (await http.request('GET', stale.url('/one'))).text()).toBe('fresh GET');
      expect(await (await http.request('GET', stale.url('/two'))).text()).toBe('fresh GET');
      expect(await (await http.request('PUT', stale.url('/three'), { body: 'x' })).text()).toBe('fresh PUT');
      // A POST might have been acted on: it is not sent twice.
      await expect(http.request('POST', stale.url('/four'), { body: 'x' })).rejects.toBeInstanceOf(ProtocolError);
      const seen = stale.requests.map((r) => `${r.method} ${r.url}`);
      expect(seen.filter((r) => r === 'POST /four')).toHaveLength(1);
      // Each socket answers exactly one request, and /one, /two and /three were answered.
      expect(stale.totalConnections).toBe(3);
      if (adapter.name === 'node') {
        // One socket at a time (maxSize 1): /two and /three each met the dropped socket, then went on a new one.
        expect(seen).toEqual(['GET /one', 'GET /two', 'GET /two', 'PUT /three', 'PUT /three', 'POST /four']);
      } else {
        // Node's fetch owns the sockets and may open a new one before the last is free: each request is
        // sent once, or twice when it met the dropped socket; never a third time.
        for (const r of ['GET /one', 'GET /two', 'PUT /three']) expect([1, 2]).toContain(seen.filter((s) => s === r).length);
      }
    } finally {
      await stale.close();
    }
  });

  it('never fails a GET on a server that closes each socket as soon as it is idle', async () => {
    // Whether the client sees the close before it reuses the socket is a race: both ways must work.
    const closing = await startServer(
      async (req, res) => {
        await readBody(req);
        res.on('finish', () => setImmediate(() => req.socket.destroy()));
        res.end('ok');
      },
      { collectBody: false },
    );
    try {
      await using http = adapter.make({ retries: false, maxSize: 1 });
      for (let i = 0; i < 20; i += 1) expect(await (await http.request('GET', closing.url(`/${i}`))).text()).toBe('ok');
      expect(closing.requests.filter((r) => r.url !== '/').length).toBeGreaterThanOrEqual(20);
    } finally {
      await closing.close();
    }
  });

  it('cuts a Retry-After wait short when the signal aborts', async () => {
    const answered = deferred();
    const waiting = await startServer(
      steps((req, res) => {
        answer(503, { 'retry-after': '3600' })(req, res);
        res.on('finish', () => answered.resolve());
      }),
      { collectBody: false },
    );
    try {
      await using http = adapter.make();
      const controller = new AbortController();
      const pending = http.request('GET', waiting.url('/'), { signal: controller.signal });
      // The 503 is out, the loop starts its hour-long wait: abort it (the test would time out otherwise).
      await answered.promise;
      controller.abort();
      const error = await pending.catch((e: unknown) => e);
      expect((error as Error).name).toBe('AbortError');
      expect(error).toBeInstanceOf(DOMException);
    } finally {
      await waiting.close();
    }
  });

  it('retries a body that broke off mid-way when the content is preloaded', async () => {
    const truncated = await startServer(
      steps(
        (_req, res) => {
          res.writeHead(200, { 'content-length': '100' });
          res.write('only part');
          setImmediate(() => res.socket?.destroy());
        },
        (_req, res) => res.end('whole'),
      ),
      { collectBody: false },
    );
    try {
      const { clock } = fakeClock();
      await using http = adapter.make({ clock });
      const r = await http.request('GET', truncated.url('/'));
      expect(await r.text()).toBe('whole');
      expect(truncated.requests).toHaveLength(2);
    } finally {
      await truncated.close();
    }
  });
});

describe('retries: the clock', () => {
  it('the default clock waits for real: a sleep resolves once its time has passed, not before (fake timers)', async () => {
    const { PoolManager } = await import('../../adapters/node/index.js');
    vi.useFakeTimers();
    try {
      const http = new PoolManager();
      let done = false;
      const waiting = http.sleep(5_000).then(() => {
        done = true;
      });
      await vi.advanceTimersByTimeAsync(4_999);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(done).toBe(true);
      await waiting;
    } finally {
      vi.useRealTimers();
    }
  });

  it('a retry on the default clock waits its backoff, and an abort during that wait ends the request at once', async () => {
    const second = deferred();
    const flaky = await startServer((_req, res) => {
      res.writeHead(500).end();
      if (flaky.requests.length === 2) res.on('finish', () => second.resolve());
    });
    try {
      const { PoolManager } = await import('../../adapters/node/index.js');
      await using http = new PoolManager({ retries: { total: 3, statusForcelist: [500], backoffFactor: 100 } });
      const controller = new AbortController();
      // The default clock's wait is a real timer: seen being armed, it says the wait has begun. An abort
      // sent earlier (as the second answer arrives) would end the request before the wait and prove nothing.
      const armed = deferred<number>();
      const realSetTimeout = globalThis.setTimeout;
      const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((handler: () => void, ms?: number) => {
        if (ms !== undefined && ms >= 60_000) armed.resolve(ms);
        return realSetTimeout(handler, ms);
      }) as typeof setTimeout);
      try {
        // The first retry goes at once; the second waits 100 * 2 = 200 s, capped at backoffMax (120 s): only the abort can end it within the test.
        const pending = http.request('GET', flaky.url('/'), { signal: controller.signal }).catch((e: unknown) => e);
        await second.promise;
        expect(await armed.promise).toBe(120_000);
        const reason = new Error('stop waiting');
        controller.abort(reason);
        let settled = false;
        void pending.then(() => (settled = true));
        for (let turn = 0; turn < 20 && !settled; turn += 1) await new Promise((resolve) => setImmediate(resolve));
        expect(settled).toBe(true);
        expect(await pending).toBe(reason);
        expect(flaky.requests).toHaveLength(2);
      } finally {
        spy.mockRestore();
      }
    } finally {
      await flaky.close();
    }
  });

  it('an injected sleep is handed the request\'s signal, and sees its abort', async () => {
    const slept = deferred<AbortSignal | undefined>();
    const { PoolManager } = await import('../../adapters/node/index.js');
    await using http = new PoolManager({
      clock: {
        sleep: (_ms, signal) => {
          slept.resolve(signal);
          return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
        },
      },
      retries: { total: 1, statusForcelist: [500], backoffFactor: 1 },
    });
    const controller = new AbortController();
    const pending = http.request('GET', server.url('/status?status=500'), { signal: controller.signal }).catch((e: unknown) => e);
    const signal = await slept.promise;
    expect(signal?.aborted).toBe(false);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(signal?.aborted).toBe(true);
    expect(await pending).toBe(reason);
  });
});

describe('a malformed answer is not a dropped keep-alive socket (Node adapter)', () => {
  it('sends the request once with retries: false, and fails with ProtocolError', async () => {
    let requests = 0;
    const sockets = new Set<net.Socket>();
    const garbage = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.once('data', () => {
        requests += 1;
        socket.end('this is not HTTP at all\r\n\r\n');
      });
    });
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    const { port } = garbage.address() as net.AddressInfo;
    const node = adapters.find((adapter) => adapter.name === 'node') as Adapter;
    try {
      await using http = node.make({ retries: false });
      await expect(http.request('GET', `http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(ProtocolError);
      expect(requests).toBe(1);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => garbage.close(resolve));
    }
  });
});
