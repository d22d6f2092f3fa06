/**
 * `request()` with a caller's `content-length` that its body does not have:
 * a `TypeError` naming the header and the body's real length before anything
 * is sent (a wrong length would cut the body short and desync the
 * connection, or leave the server waiting), on both adapters; one that
 * agrees goes out as given. Counted at a real server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters } from '../semantics/support.js';
import { startServer, type TestServer } from '../support/servers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

describe.each(adapters)('request() with a content-length of its own ($name adapter)', (adapter) => {
  it.each([
    ['9', 'hello'],
    ['3', 'hello'],
    ['0', 'hello'],
    ['5', new Uint8Array(4)],
    ['1', null],
  ] as const)('content-length %s for a body of another length: TypeError naming both, nothing sent, not retried', async (declared, body) => {
    const manager = adapter.make({ retries: 3 });
    const before = server.requests.length;
    const bytes = body === null ? 0 : typeof body === 'string' ? body.length : body.byteLength;
    const error = await manager
      .request('POST', server.url('/cl'), { ...(body === null ? {} : { body }), headers: { 'content-length': declared } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(String(error)).toContain(`content-length "${declared}" is not the body's ${bytes} bytes`);
    expect(server.requests.length).toBe(before);
    await manager.destroy();
  });

  it('a content-length that agrees goes out as given, and the body with it', async () => {
    const manager = adapter.make();
    const before = server.requests.length;
    const response = await manager.request('POST', server.url('/cl'), { body: 'hello', headers: { 'content-length': '5' } });
    expect(response.status).toBe(200);
    const seen = server.requests.slice(before);
    expect(seen.map((r) => [r.headers['content-length'], r.body.toString()])).toEqual([['5', 'hello']]);
    await manager.destroy();
  });
});
