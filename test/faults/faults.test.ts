/**
 * The fault suite: raw servers that misbehave, on both adapters. For every
 * fault, what the SERVER received: a POST (not idempotent) exactly once,
 * whatever broke after it may have been written; a GET as many times as
 * the retry rules say. Then the error's class, that the slot was freed (the
 * next request on a one-connection pool succeeds), that no socket is left
 * at the server after clear(), and that the password in the URL shows
 * nowhere in the error.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import {
  MaxRetryError,
  NewConnectionError,
  NotSupportedError,
  PoolfetchError,
  ProtocolError,
  ReadTimeoutError,
  isPoolfetchError,
} from '../../src/errors.js';
import type { PoolManager } from '../../src/pool-manager.js';
import type { PoolManagerOptions } from '../../src/types.js';
import { adapters, fakeClock, type Adapter } from '../semantics/support.js';
import { freePort } from '../proxy/support.js';
import { everythingShown, startRawServer, streamBody, type Behaviour, type RawServer } from './support.js';
import { fetchCause } from '../support/fetch-error.js';

const SECRET = 's3cr3t';
const AUTHORIZATION = `Basic ${Buffer.from(`user:${SECRET}`).toString('base64')}`;

const servers: RawServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(routes: Record<string, Behaviour>): Promise<RawServer> {
  const server = await startRawServer(routes);
  servers.push(server);
  return server;
}

/** `server`'s URL for `path`, with a password in it. */
const secretUrl = (server: RawServer, path: string): string => server.url(path).replace('://', `://user:${SECRET}@`);

/** A body sent well past its head: the server resets once the bytes are out. */
const head = (length: number): string => `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${length}\r\n\r\n`;

const behaviours = {
  reset: ({ socket }) => socket.resetAndDestroy(),
  resetMidBody: ({ socket }) => socket.write(`${head(100_000)}${'x'.repeat(1000)}`, () => socket.resetAndDestroy()),
  halfBodyThenClose: ({ socket }) => socket.end(`${head(100_000)}${'x'.repeat(1000)}`),
  oversizedHeaders: ({ socket }) => socket.write(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(200 * 1024)}\r\ncontent-length: 0\r\n\r\n`),
  malformedStatus: ({ socket }) => socket.write('HTTP/1.1 abc nope\r\ncontent-length: 0\r\n\r\n'),
  slowHeader: ({ hold }) => hold(),
  slowBody: ({ socket, hold }) => {
    hold();
    socket.write(`${head(1000)}${'x'.repeat(10)}`);
  },
} satisfies Record<string, Behaviour>;

interface Fault {
  readonly name: string;
  readonly behaviour: Behaviour;
  /** The class `request()` rejects with when the request is not retried (POST). */
  readonly error: new (...args: never[]) => Error;
  /** How many times a GET reaches the server under `options`; a number > 1 means it was retried. */
  readonly gets: (adapter: Adapter) => number;
  readonly options?: (adapter: Adapter) => PoolManagerOptions;
}

/**
 * Default retries (3). A reset before any answer also gets the one free
 * resend of a dropped keep-alive socket (idempotent methods only): 1 + 1 + 3.
 */
const faults: Fault[] = [
  { name: 'reset before the response', behaviour: behaviours.reset, error: ProtocolError, gets: () => 5 },
  { name: 'reset mid-body', behaviour: behaviours.resetMidBody, error: ProtocolError, gets: () => 4 },
  { name: 'half the body, then close', behaviour: behaviours.halfBodyThenClose, error: ProtocolError, gets: () => 4 },
  { name: 'oversized headers (200 KiB)', behaviour: behaviours.oversizedHeaders, error: ProtocolError, gets: () => 4 },
  { name: 'malformed status line', behaviour: behaviours.malformedStatus, error: ProtocolError, gets: () => 4 },
  {
    name: 'slow header (read timeout)',
    behaviour: behaviours.slowHeader,
    error: ReadTimeoutError,
    gets: () => 2,
    options: () => ({ timeout: { read: 500 }, retries: { total: 3, read: 1 } }),
  },
  {
    name: 'slow body',
    behaviour: behaviours.slowBody,
    error: ReadTimeoutError,
    // Node: undici's body timeout is a read error, retried for GET. fetch: only `total` bounds a body, and it is never retried.
    gets: (adapter) => (adapter.name === 'node' ? 2 : 1),
    options: (adapter) => ({ timeout: adapter.name === 'node' ? { read: 500 } : { read: 500, total: 1500 }, retries: { total: 3, read: 1 } }),
  },
];

/** One origin, one connection: a slot that is not given back makes the next request wait, then fail. */
function make(adapter: Adapter, options: PoolManagerOptions = {}): PoolManager {
  return adapter.make({ maxSize: 1, poolTimeout: 5_000, clock: fakeClock().clock, ...options });
}

/** The slot is free and the pool works: the next request on the one connection succeeds. */
async function expectSlotFreed(manager: PoolManager, server: RawServer): Promise<void> {
  const next = await manager.request('GET', server.url('/ok'));
  expect([next.status, await next.text()]).toEqual([200, 'ok']);
}

/** clear() leaves nothing at the server: no socket at all (Node), no socket mid-exchange (fetch: the runtime keeps idle ones). */
async function expectNothingLeft(adapter: Adapter, manager: PoolManager, server: RawServer): Promise<void> {
  await manager.clear();
  expect(manager.pools.size).toBe(0);
  await server.whenNoneHeld();
  if (adapter.name === 'node') {
    await server.whenNoSockets();
    expect(server.openSockets).toBe(0);
  }
}

describe.each(adapters)('faults ($name adapter)', (adapter) => {
  describe.each(faults)('$name', (fault) => {
    it('request(): POST reaches the server once and fails with its class; the slot is freed; nothing is left after clear()', async () => {
      const server = await serve({ '/fault': fault.behaviour });
      const manager = make(adapter, fault.options?.(adapter));
      const error = await manager.request('POST', secretUrl(server, '/fault'), { body: 'payload' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(fault.error);
      expect(server.count('POST', '/fault')).toBe(1);
      const [post] = server.received;
      expect([post?.body, post?.headers.authorization]).toEqual(['payload', AUTHORIZATION]);
      expect((error as Error).message).toContain(`POST http://user:***@127.0.0.1:${server.port}/fault`);
      expect(everythingShown(error)).not.toContain(SECRET);
      await expectSlotFreed(manager, server);
      await expectNothingLeft(adapter, manager, server);
    });

    it('request(): GET is retried as the rules say, then fails with MaxRetryError or its class', async () => {
      const server = await serve({ '/fault': fault.behaviour });
      const manager = make(adapter, fault.options?.(adapter));
      const error = await manager.request('GET', secretUrl(server, '/fault')).catch((e: unknown) => e);
      const gets = fault.gets(adapter);
      expect(server.count('GET', '/fault')).toBe(gets);
      if (gets > 1) {
        expect(error).toBeInstanceOf(MaxRetryError);
        expect((error as MaxRetryError).reason).toBeInstanceOf(fault.error);
      } else {
        expect(error).toBeInstanceOf(fault.error);
      }
      expect(everythingShown(error)).not.toContain(SECRET);
      await expectSlotFreed(manager, server);
      await expectNothingLeft(adapter, manager, server);
    });

    it('manager.fetch(): POST reaches the server once; a failure is a PoolfetchError, or fetch\'s TypeError caused by one', async () => {
      const server = await serve({ '/fault': fault.behaviour });
      const manager = make(adapter, fault.options?.(adapter));
      const error = await manager
        .fetch(secretUrl(server, '/fault'), { method: 'POST', body: 'payload' })
        .then((response) => response.text())
        .catch((e: unknown) => e);
      expect(server.count('POST', '/fault')).toBe(1);
      expect(server.received[0]?.headers.authorization).toBe(AUTHORIZATION);
      if (error instanceof PoolfetchError) {
        expect(error).toBeInstanceOf(fault.error);
      } else {
        // Reading the body: fetch's own error, which code written for fetch expects.
        expect(error).toBeInstanceOf(TypeError);
        expect((error as TypeError).cause).toBeInstanceOf(fault.error);
      }
      expect(everythingShown(error)).not.toContain(SECRET);
      await expectSlotFreed(manager, server);
      await expectNothingLeft(adapter, manager, server);
    });
  });

  describe('a body that breaks off while manager.fetch() reads it (reset mid-body)', () => {
    /** Every way to read a body; `bytes()` only where the runtime has it (Node 22 on; it reads as arrayBuffer() does). */
    const reads: Record<string, (response: Response) => Promise<unknown>> = {
      'text()': (response) => response.text(),
      'json()': (response) => response.json(),
      'arrayBuffer()': (response) => response.arrayBuffer(),
      'blob()': (response) => response.blob(),
      'the body stream': async (response) => {
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        while (!(await reader.read()).done);
      },
    };
    if (typeof (Response.prototype as { bytes?: unknown }).bytes === 'function') {
      reads['bytes()'] = (response) => (response as Response & { bytes(): Promise<Uint8Array> }).bytes();
    }

    it.each(Object.keys(reads))('%s rejects with fetch\'s TypeError, caused by a ProtocolError naming GET and the URL; the slot is freed', async (name) => {
      const server = await serve({ '/fault': behaviours.resetMidBody });
      const manager = make(adapter);
      const response = await manager.fetch(secretUrl(server, '/fault'));
      expect(response.status).toBe(200);
      const error = await (reads[name] as (response: Response) => Promise<unknown>)(response).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect(isPoolfetchError(error)).toBe(false);
      const cause = (error as TypeError).cause;
      expect(isPoolfetchError(cause)).toBe(true);
      expect(cause).toBeInstanceOf(ProtocolError);
      expect((cause as ProtocolError).name).toBe('ProtocolError');
      expect((cause as ProtocolError).method).toBe('GET');
      // manager.fetch takes the credentials out of the URL before fetching; any left would read user:***.
      expect((cause as ProtocolError).message).toMatch(new RegExp(`GET http://(user:\\*\\*\\*@)?127\\.0\\.0\\.1:${server.port}/fault`));
      expect(everythingShown(error)).not.toContain(SECRET);
      // The body broke after the answer began: not sent again.
      expect(server.count('GET', '/fault')).toBe(1);
      await expectSlotFreed(manager, server);
      await expectNothingLeft(adapter, manager, server);
    });

    it('request() reads the body first (preloadContent): the ProtocolError itself, naming GET and the URL', async () => {
      const server = await serve({ '/fault': behaviours.resetMidBody });
      const manager = make(adapter);
      const error = await manager.request('GET', secretUrl(server, '/fault'), { retries: false }).catch((e: unknown) => e);
      expect(isPoolfetchError(error)).toBe(true);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).message).toContain(`GET http://user:***@127.0.0.1:${server.port}/fault`);
      expect(everythingShown(error)).not.toContain(SECRET);
      expect(server.count('GET', '/fault')).toBe(1);
      await expectSlotFreed(manager, server);
      await expectNothingLeft(adapter, manager, server);
    });

    it('the caller\'s abort mid-body rejects with the abort\'s reason itself, not a TypeError; the slot is freed', async () => {
      const server = await serve({ '/stall': behaviours.slowBody });
      const manager = make(adapter);
      const controller = new AbortController();
      const response = await manager.fetch(server.url('/stall'), { signal: controller.signal });
      const reading = response.text().catch((e: unknown) => e);
      const reason = new Error('caller gave up');
      controller.abort(reason);
      expect(await reading).toBe(reason);
      await expectSlotFreed(manager, server);
      await expectNothingLeft(adapter, manager, server);
    });
  });

  describe('a server that closes every idle socket just as it is reused', () => {
    /**
     * Answers the first request on a socket; a later one on the same socket finds it closed, unanswered.
     * Which request lands on a reused socket is the runtime's choice (Node's fetch may open a second
     * socket while the first is being released), so the tests count the drops the server made.
     */
    function dropReused(): { behaviour: Behaviour; drops: () => number } {
      let drops = 0;
      return {
        drops: () => drops,
        behaviour: ({ socket, earlierOnSocket }) => {
          if (earlierOnSocket === 0) {
            socket.write(`${head(2)}ok`);
            return;
          }
          drops += 1;
          socket.destroy();
        },
      };
    }

    it('a GET that met a dropped socket goes once more, at no cost to retries (retries: false)', async () => {
      const { behaviour, drops } = dropReused();
      const server = await serve({ '/stale': behaviour });
      const manager = make(adapter, { retries: false });
      const failures: unknown[] = [];
      for (let i = 0; i < 6; i += 1) {
        const [sentBefore, dropsBefore] = [server.count('GET', '/stale'), drops()];
        const outcome = await manager.request('GET', secretUrl(server, '/stale')).then((r) => r.text(), (e: unknown) => e);
        const [sent, dropped] = [server.count('GET', '/stale') - sentBefore, drops() - dropsBefore];
        if (outcome === 'ok') {
          // Each drop cost exactly one more GET, on another socket.
          expect(sent).toBe(1 + dropped);
        } else {
          // The one free resend met a second dead socket (the runtime had two idle): no third try.
          failures.push(outcome);
          expect(outcome).toBeInstanceOf(ProtocolError);
          expect([sent, dropped]).toEqual([2, 2]);
        }
      }
      expect(drops()).toBeGreaterThan(0);
      // undici's pool has one socket here (maxSize 1): the resend always finds a new one.
      if (adapter.name === 'node') expect(failures).toEqual([]);
      else expect(failures.length).toBeLessThan(6);
      await expectNothingLeft(adapter, manager, server);
    });

    it('a POST that met a dropped socket is not sent again: the server got it once, ProtocolError says it broke', async () => {
      const { behaviour, drops } = dropReused();
      const server = await serve({ '/stale': behaviour });
      const manager = make(adapter);
      let failed: unknown;
      for (let i = 0; i < 10 && failed === undefined; i += 1) {
        const before = server.count('POST', '/stale');
        failed = await manager.request('POST', secretUrl(server, '/stale'), { body: 'payload' }).then(() => undefined, (e: unknown) => e);
        expect(server.count('POST', '/stale')).toBe(before + 1);
      }
      expect(failed).toBeInstanceOf(ProtocolError);
      expect(drops()).toBe(1);
      expect(everythingShown(failed)).not.toContain(SECRET);
      await expectSlotFreed(manager, server);
      await expectNothingLeft(adapter, manager, server);
    });
  });

  describe('a 100 MB body cancelled after 1 MB', () => {
    const MB = 1024 * 1024;

    /** Reads at least `bytes` from `body`, then cancels it. */
    async function readThenCancel(body: ReadableStream<Uint8Array>, bytes: number): Promise<number> {
      const reader = body.getReader();
      let read = 0;
      while (read < bytes) {
        const { done, value } = await reader.read();
        if (done) break;
        read += value.byteLength;
      }
      await reader.cancel();
      return read;
    }

    for (const via of ['request', 'fetch'] as const) {
      it(`${via}(): POST once, the server stops writing and its socket closes; the slot is freed`, async () => {
        let sent: { sent(): number } | undefined;
        let socket: Socket | undefined;
        const server = await serve({
          '/huge': (exchange) => {
            exchange.hold();
            socket = exchange.socket;
            sent = streamBody(exchange.socket, 100 * MB);
          },
        });
        const manager = make(adapter);
        const body = via === 'request'
          ? (await manager.request('POST', secretUrl(server, '/huge'), { body: 'payload', preloadContent: false })).body
          : (await manager.fetch(secretUrl(server, '/huge'), { method: 'POST', body: 'payload' })).body;
        if (body === null || body === undefined) throw new Error('no body');
        expect(await readThenCancel(body, MB)).toBeGreaterThanOrEqual(MB);
        // The client closed the socket under the body: the server's write loop sees it.
        await new Promise<void>((resolve) => (socket?.destroyed === true ? resolve() : socket?.once('close', () => resolve())));
        expect(sent?.sent()).toBeLessThan(50 * MB);
        expect(server.count('POST', '/huge')).toBe(1);
        await expectSlotFreed(manager, server);
        await expectNothingLeft(adapter, manager, server);
      });
    }
  });

  it('a refused port: any method is sent again (nothing left), then MaxRetryError; the pool still works', async () => {
    const port = await freePort();
    const { clock, sleeps } = fakeClock();
    const manager = adapter.make({ maxSize: 1, poolTimeout: 5_000, clock });
    for (const method of ['POST', 'GET']) {
      sleeps.length = 0;
      const error = await manager.request(method, `http://user:${SECRET}@127.0.0.1:${port}/`, { body: method === 'POST' ? 'x' : null }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MaxRetryError);
      expect((error as MaxRetryError).reason).toBeInstanceOf(NewConnectionError);
      // Three retries: a refused connection proves the request never left.
      expect(sleeps).toHaveLength(3);
      expect(everythingShown(error)).not.toContain(SECRET);
    }
    const fetched = await manager.fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x' }).catch((e: unknown) => e);
    expect(fetchCause(fetched)).toBeInstanceOf(NewConnectionError);
    const server = await serve({});
    await expectSlotFreed(manager, server);
    await expectNothingLeft(adapter, manager, server);
  });

  it('a port fetch refuses ("bad port", 6000) is NotSupportedError saying so', async () => {
    const manager = adapter.make({ clock: fakeClock().clock });
    const fetched = await manager.fetch('http://127.0.0.1:6000/').catch((e: unknown) => e);
    const cause = fetchCause(fetched);
    expect(cause).toBeInstanceOf(NotSupportedError);
    expect((cause as Error).message).toMatch(/^fetch refuses port 6000 \(a "bad port"/);
    expect((cause as Error).message).toContain('GET http://127.0.0.1:6000/');
    if (adapter.name === 'fetch') {
      // request() goes through fetch too: the same error, not retried.
      await expect(manager.request('POST', 'http://127.0.0.1:6000/', { body: 'x' })).rejects.toBeInstanceOf(NotSupportedError);
    } else {
      // request() is undici's Pool.request, which has no port list: it gets as far as connecting.
      const error = await manager.request('GET', `http://127.0.0.1:6000/`, { retries: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PoolfetchError);
      expect(error).not.toBeInstanceOf(NotSupportedError);
    }
    await manager.clear();
  });
});

describe('a runtime that cannot say why (browsers, Workers: "Failed to fetch")', () => {
  it('assumes the request was sent: POST reaches the server once, GET is retried; a code that proves nothing was sent allows a resend', async () => {
    const server = await serve({});
    const { PoolManager } = await import('../../adapters/fetch/index.js');
    /** Sends the request for real, then fails the way a browser does whatever happened (a CORS refusal, a reset, a bad answer). */
    const browserLike = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const response = await fetch(input, init);
      await response.body?.cancel();
      throw new TypeError('Failed to fetch');
    };
    const manager = new PoolManager({ fetch: browserLike, clock: fakeClock().clock });
    const post = await manager.request('POST', server.url('/sent'), { body: 'payload' }).catch((e: unknown) => e);
    expect(post).toBeInstanceOf(NewConnectionError);
    expect(server.count('POST', '/sent')).toBe(1);
    const get = await manager.request('GET', server.url('/sent')).catch((e: unknown) => e);
    expect(get).toBeInstanceOf(MaxRetryError);
    expect(server.count('GET', '/sent')).toBe(4);
    // With the runtime's word that no connection was made (Node's fetch: cause.code), a POST goes again.
    let refused = 0;
    const refusing = (): Promise<Response> => {
      refused += 1;
      return Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }));
    };
    const retrying = new PoolManager({ fetch: refusing, clock: fakeClock().clock });
    await expect(retrying.request('POST', server.url('/refused'), { body: 'payload' })).rejects.toBeInstanceOf(MaxRetryError);
    expect(refused).toBe(4);
    await manager.clear();
    await retrying.clear();
  });
});
