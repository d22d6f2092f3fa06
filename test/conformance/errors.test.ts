/**
 * fetch's error contract: manager.fetch rejects as the runtime's fetch does.
 * A TypeError with the runtime's message for a bad URL and a network
 * failure, the runtime's code at `error.cause.code`; a pool failure
 * (poolTimeout, a destroyed pool) is a network failure too, its cause the
 * poolfetch error; an abort rejects with the signal's reason, at every stage.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClosedPoolError, EmptyPoolError, isPoolfetchError, NewConnectionError, ProtocolError } from '../../src/errors.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';
import { entries, errorShape, runtimeSide, type Fetch } from './support.js';

let server: TestServer;
let closedPort: number;
let reset: net.Server;
let resetPort: number;
/** Answers to /stall wait for this; /slow-body sends its headers and then waits. */
let release = deferred();
let arrived = deferred();

beforeAll(async () => {
  server = await startServer(async (req, res) => {
    arrived.resolve();
    if (req.url === '/stall') await release.promise;
    if (req.url === '/slow-body') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first');
      await release.promise;
    }
    res.end('ok');
  });
  const gone = net.createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
  closedPort = (gone.address() as net.AddressInfo).port;
  await new Promise((resolve) => gone.close(resolve));
  // Resets every connection as soon as the request arrives: a failure after the request was sent.
  reset = net.createServer((socket) => socket.on('data', () => socket.resetAndDestroy()));
  await new Promise<void>((resolve) => reset.listen(0, '127.0.0.1', resolve));
  resetPort = (reset.address() as net.AddressInfo).port;
});
afterAll(async () => {
  release.resolve();
  await server.close();
  await new Promise((resolve) => reset.close(resolve));
});

async function failure(pending: Promise<unknown>): Promise<unknown> {
  return pending.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe.each(entries)('errors: manager.fetch ($name) against the runtime’s fetch', (entry) => {
  const cases: Array<[string, () => string, unknown]> = [
    ['an unparseable URL', () => 'not a url', undefined],
    ['a relative URL', () => '/relative', undefined],
    ['a URL whose scheme fetch does not fetch', () => 'ftp://127.0.0.1/file', undefined],
    ['a refused connection', () => `http://127.0.0.1:${closedPort}/`, NewConnectionError],
    ['a connection reset after the request was sent', () => `http://127.0.0.1:${resetPort}/`, ProtocolError],
    ['a port fetch refuses ("bad port")', () => 'http://127.0.0.1:6000/', undefined],
  ];
  it.each(cases)('%s: a TypeError, the same message and cause.code, the poolfetch error as cause', async (_name, url, kind) => {
    const runtime = await failure(runtimeSide().fetch(url()));
    expect(runtime).toBeInstanceOf(TypeError);
    const side = entry.make({ retries: 3 });
    try {
      const ours = await failure(side.fetch(url()));
      expect(errorShape(ours)).toEqual(errorShape(runtime));
      const cause = (ours as Error).cause;
      expect(isPoolfetchError(cause)).toBe(true);
      if (kind !== undefined) expect(cause).toBeInstanceOf(kind);
    } finally {
      await side.close();
    }
  });

  it('a request that waits past poolTimeout, and one whose pool is destroyed, fail as a network failure would', async () => {
    const runtime = errorShape(await failure(runtimeSide().fetch(`http://127.0.0.1:${closedPort}/`)));
    const side = entry.make({ maxSize: 1, poolTimeout: 50 });
    try {
      const held = await side.fetch(server.url('/slow-body'));
      const timedOut = await failure(side.fetch(server.url('/late')));
      expect(errorShape(timedOut)).toMatchObject({ class: 'TypeError', message: runtime.message });
      expect((timedOut as Error).cause).toBeInstanceOf(EmptyPoolError);
      const queued = failure(side.fetch(server.url('/queued')));
      await side.manager?.destroy();
      const closed = await queued;
      expect(errorShape(closed)).toMatchObject({ class: 'TypeError', message: runtime.message });
      expect((closed as Error).cause).toBeInstanceOf(ClosedPoolError);
      await held.body?.cancel().catch(() => undefined);
      // Neither reached the server.
      expect(server.requests.filter((r) => r.url === '/late' || r.url === '/queued')).toEqual([]);
    } finally {
      await side.close();
      release.resolve();
      release = deferred();
      arrived = deferred();
    }
  });
});

describe.each(entries)('aborts: manager.fetch ($name) rejects with the signal’s reason, as the runtime’s fetch does', (entry) => {
  /** How one stage of a request ends when aborted: what the rejection is, against the reason given. */
  async function abortAt(fetch: Fetch, stage: 'before' | 'headers' | 'body', reason: unknown): Promise<unknown[]> {
    const controller = new AbortController();
    const abort = (): void => (reason === undefined ? controller.abort() : controller.abort(reason));
    arrived = deferred();
    try {
      if (stage === 'before') {
        abort();
        const error = await failure(fetch(server.url('/fast'), { signal: controller.signal }));
        return [error === controller.signal.reason, (error as Error).name];
      }
      if (stage === 'headers') {
        const pending = failure(fetch(server.url('/stall'), { signal: controller.signal }));
        await arrived.promise;
        abort();
        const error = await pending;
        return [error === controller.signal.reason, (error as Error).name];
      }
      const response = await fetch(server.url('/slow-body'), { signal: controller.signal });
      const reading = failure(response.text());
      await arrived.promise;
      abort();
      const error = await reading;
      return [error === controller.signal.reason, (error as Error).name];
    } finally {
      release.resolve();
      release = deferred();
    }
  }

  for (const stage of ['before', 'headers', 'body'] as const) {
    it(`aborted ${stage === 'before' ? 'before the call' : `while waiting for the ${stage}`}: the reason itself, given or default`, async () => {
      const side = entry.make();
      try {
        for (const reason of [undefined, new Error('my reason')]) {
          const runtime = await abortAt(runtimeSide().fetch, stage, reason);
          expect(runtime).toEqual([true, reason === undefined ? 'AbortError' : 'Error']);
          expect(await abortAt(side.fetch, stage, reason)).toEqual(runtime);
        }
      } finally {
        await side.close();
      }
    });
  }

  it('aborted while waiting in line for a slot (the runtime has no line): the reason, never sent', async () => {
    const side = entry.make({ maxSize: 1 });
    try {
      const held = await side.fetch(server.url('/slow-body'));
      const controller = new AbortController();
      const waiting = failure(side.fetch(server.url('/never'), { signal: controller.signal }));
      const reason = new Error('gave up waiting');
      controller.abort(reason);
      expect(await waiting).toBe(reason);
      expect(server.requests.some((r) => r.url === '/never')).toBe(false);
      await held.body?.cancel();
    } finally {
      release.resolve();
      release = deferred();
      await side.close();
    }
  });
});
