/**
 * Disposal that cannot deadlock, on both adapters: `clear()` and
 * `[Symbol.asyncDispose]` never wait on a body already handed out. The body
 * stays readable after them, and (Node adapter) its connection closes once
 * it ends. Bodies are 2 MiB, well over undici's buffer, so the Node adapter
 * cannot have received them whole before the caller reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolEvent } from '../../adapters/node/index.js';
import { adapters } from '../semantics/support.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';
import { fetchCause } from '../support/fetch-error.js';

const SIZE = 2 * 1024 * 1024;
const chunk = Buffer.alloc(64 * 1024, 'x');

async function readAll(body: ReadableStream<Uint8Array>): Promise<number> {
  const reader = body.getReader();
  let length = 0;
  for (let part = await reader.read(); part.done !== true; part = await reader.read()) length += part.value.byteLength;
  return length;
}

describe.each(adapters)('disposal ($name adapter)', (adapter) => {
  let server: TestServer;

  beforeAll(async () => {
    // Writes 2 MiB as the client reads it (backpressure), so the body is unfinished until read.
    server = await startServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
      for (let sent = 0; sent < SIZE; sent += chunk.length) {
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end();
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('clear() with a fetch body held resolves, the body reads after it, and the pool closes once it ends', async () => {
    const manager = adapter.make();
    const order: string[] = [];
    manager.addEventListener('poolclose', (event) => order.push(`poolclose ${(event as PoolEvent).origin}`));
    const response = await manager.fetch(server.url('/held'));
    await manager.clear();
    order.push('cleared');
    expect(manager.pools.size).toBe(0);
    expect(manager.stats()).toEqual([]);
    expect(await readAll(response.body as ReadableStream<Uint8Array>)).toBe(SIZE);
    order.push('read');
    if (adapter.name === 'node') {
      // The body's end closed its connection: the pool was retiring until then.
      await server.whenNoConnections();
      expect(server.openConnections).toBe(0);
    }
    await manager.clear();
    // Retiring, not closed, when clear() resolved; closed once its body ended (the last bytes and the
    // close may reach the reader in either order).
    expect(order[0], order.join()).toBe('cleared');
    expect(order.slice(1).sort()).toEqual([`poolclose ${server.origin}`, 'read']);
  });

  it('clear() with a request() body streamed and unread resolves, and the body reads after it', async () => {
    const manager = adapter.make();
    const response = await manager.request('GET', server.url('/streamed'), { preloadContent: false });
    await manager.clear();
    expect(manager.pools.size).toBe(0);
    expect(await readAll(response.body as ReadableStream<Uint8Array>)).toBe(SIZE);
    if (adapter.name === 'node') await server.whenNoConnections();
    await manager.destroy();
  });

  it('clear() with a request queued behind a held body resolves: the queued one fails with ClosedPoolError, never sent', async () => {
    const manager = adapter.make({ maxSize: 1 });
    const before = server.requests.length;
    const held = await manager.fetch(server.url('/held-slot'));
    const queued = manager.fetch(server.url('/queued')).then(
      () => 'sent',
      (error: unknown) => error,
    );
    // Without the rule this never resolves: the queued request waits on a body read only after it.
    await manager.clear();
    const error = fetchCause(await queued);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('ClosedPoolError');
    expect(server.requests.slice(before).map((r) => r.url)).toEqual(['/held-slot']);
    expect(await readAll(held.body as ReadableStream<Uint8Array>)).toBe(SIZE);
    if (adapter.name === 'node') await server.whenNoConnections();
  });

  it('returns a body from inside await using: disposal does not wait for it, and it reads after', async () => {
    async function handler(): Promise<ReadableStream<Uint8Array>> {
      await using manager = adapter.make();
      return (await manager.fetch(server.url('/returned'))).body as ReadableStream<Uint8Array>;
    }
    expect(await readAll(await handler())).toBe(SIZE);
    if (adapter.name === 'node') await server.whenNoConnections();
  });

  it('the same pattern written out: try { return body } finally { await m[Symbol.asyncDispose]() }', async () => {
    let disposed = false;
    async function handler(): Promise<ReadableStream<Uint8Array>> {
      const manager = adapter.make();
      try {
        return (await manager.fetch(server.url('/finally'))).body as ReadableStream<Uint8Array>;
      } finally {
        await manager[Symbol.asyncDispose]();
        disposed = true;
      }
    }
    const body = await handler();
    expect(disposed).toBe(true);
    expect(await readAll(body)).toBe(SIZE);
    if (adapter.name === 'node') await server.whenNoConnections();
  });

  it('clear() waits for a request still waiting for its response headers', async () => {
    const answer = deferred();
    let answered = false;
    const slow = await startServer(async (_req, res) => {
      await answer.promise;
      res.end('late');
      answered = true;
    });
    const manager = adapter.make();
    const order: string[] = [];
    try {
      const pending = manager.fetch(slow.url('/slow')).then((r) => r.text());
      await slow.waitForConnections(1);
      // Had clear() not waited for the headers, it would resolve in a few turns, before the server could answer.
      const cleared = manager.clear().then(() => order.push(`cleared, server answered: ${String(answered)}`));
      answer.resolve();
      expect(await pending).toBe('late');
      await cleared;
      expect(order).toEqual(['cleared, server answered: true']);
    } finally {
      answer.resolve();
      await manager.destroy();
      await slow.close();
    }
  });
});
