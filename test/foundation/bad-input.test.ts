/**
 * Bad input gets a clear error naming the bad value, never a hang, never a
 * request on the wire: URLs, methods, headers, and a port nobody listens on.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LocationValueError,
  MaxRetryError,
  NewConnectionError,
  PoolManager,
  URLSchemeUnknown,
} from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';
import { fetchCause } from '../support/fetch-error.js';

let server: TestServer;
let manager: PoolManager;

beforeAll(async () => {
  server = await startServer(undefined, { host: '127.0.0.2' });
  manager = new PoolManager();
});
afterAll(async () => {
  await manager.close();
  await server.close();
});

/** A port that was bound and closed again: connecting to it is refused. */
async function closedPort(host: string): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, host, resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
}

describe('bad URLs', () => {
  it("'nohost' → LocationValueError naming it, from request and fetch", async () => {
    const error = await rejection(manager.request('GET', 'nohost'));
    expect(error).toBeInstanceOf(LocationValueError);
    expect(error.message).toContain('"nohost"');
    expect((error as LocationValueError).code).toBe('POOLFETCH_LOCATION_VALUE');
    expect(fetchCause(await manager.fetch('nohost').catch((e: unknown) => e))).toBeInstanceOf(LocationValueError);
    await expect(manager.request('GET', 'http://@')).rejects.toThrow(LocationValueError);
    await expect(manager.request('GET', '/relative/path')).rejects.toThrow(LocationValueError);
  });

  it('ftp://x/ → URLSchemeUnknown naming the scheme and URL', async () => {
    const error = await rejection(manager.request('GET', 'ftp://x/'));
    expect(error).toBeInstanceOf(URLSchemeUnknown);
    expect((error as URLSchemeUnknown).scheme).toBe('ftp');
    expect(error.message).toContain('ftp://x/');
    expect(fetchCause(await manager.fetch('ftp://x/').catch((e: unknown) => e))).toBeInstanceOf(URLSchemeUnknown);
    await expect(manager.request('GET', new URL('file:///etc/passwd'))).rejects.toThrow(URLSchemeUnknown);
  });

  it('makes no pool for a URL it refuses (a manager of its own, whatever ran before)', async () => {
    await using fresh = new PoolManager();
    let created = 0;
    fresh.addEventListener('poolcreate', () => {
      created += 1;
    });
    const refused = ['nohost', 'http://@', '/relative/path', 'ftp://x/', 'http://user:pw@', 'http:// bad host/'];
    for (const url of refused) {
      await expect(fresh.request('GET', url)).rejects.toThrow(/URL/);
      await expect(fresh.fetch(url)).rejects.toThrow();
    }
    await expect(fresh.request('GET', new URL('file:///etc/passwd'))).rejects.toThrow(URLSchemeUnknown);
    expect([fresh.pools.size, created]).toEqual([0, 0]);
    // The count is live: a URL it takes makes its pool.
    await fresh.request('GET', server.url('/'));
    expect([fresh.pools.keys(), created]).toEqual([[server.origin], 1]);
  });
});

describe('bad methods', () => {
  it.each([
    ['', '""'],
    ['GE T', '"GE T"'],
    ['GET\r\nX-Injected: 1', '"GET\\r\\nX-Injected: 1"'],
  ])('%j → TypeError naming it', async (method, shown) => {
    const error = await rejection(manager.request(method, server.url()));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain(shown);
  });

  it('a lower-case non-standard method → TypeError; lower-case standard ones are upper-cased', async () => {
    const error = await rejection(manager.request('propfind', server.url()));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain('"propfind"');
    const ok = await manager.request('patch', server.url('/patched'), { body: 'x' });
    expect(ok.status).toBe(200);
    expect(server.requests.at(-1)).toMatchObject({ method: 'PATCH', url: '/patched' });
    const custom = await manager.request('PROPFIND', server.url('/dav'));
    expect(custom.status).toBe(200);
    expect(server.requests.at(-1)).toMatchObject({ method: 'PROPFIND', url: '/dav' });
  });

  it('fetch refuses the same methods', async () => {
    await expect(manager.fetch(server.url(), { method: 'propfind' })).rejects.toThrow(TypeError);
    await expect(manager.fetch(server.url(), { method: 'CONNECT' })).rejects.toThrow(TypeError);
  });
});

describe('bad headers', () => {
  it.each([
    ['CRLF inside', 'a\r\nx-injected: 1'],
    ['a trailing CRLF', 'value\r\n'],
    ['a lone LF', 'a\nb'],
    ['a lone CR', 'a\rb'],
  ])('a header value with %s → TypeError naming the header, and nothing sent', async (_what, value) => {
    const before = server.requests.length;
    const error = await rejection(manager.request('GET', server.url(), { headers: { 'x-test': value } }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain('"x-test"');
    await expect(manager.fetch(server.url(), { headers: { 'x-test': value } })).rejects.toThrow(TypeError);
    await expect(manager.fetch(server.url(), { headers: [['x-test', value]] })).rejects.toThrow(TypeError);
    expect(() => new PoolManager({ headers: { 'x-test': value } })).toThrow(TypeError);
    expect(server.requests.length).toBe(before);
  });

  it('a bad header name → TypeError', async () => {
    await expect(manager.request('GET', server.url(), { headers: { 'x bad': '1' } })).rejects.toThrow(/invalid header name "x bad"/);
  });
});

describe('bad request options', () => {
  it('an unknown option, a non-boolean preloadContent and a bad timeout → TypeError naming them', async () => {
    await expect(manager.request('GET', server.url(), { preload: true } as never)).rejects.toThrow(/Unknown request option "preload"/);
    await expect(manager.request('GET', server.url(), { preloadContent: 'yes' } as never)).rejects.toThrow(/preloadContent.*"yes"/);
    await expect(manager.request('GET', server.url(), { timeout: -1 })).rejects.toThrow(/timeout.*-1/);
    await expect(manager.request('GET', server.url(), { retries: 'x' } as never)).rejects.toThrow(/retries.*"x"/);
  });
});

describe('connection refused', () => {
  it('→ NewConnectionError wrapped in MaxRetryError, both naming the URL', async () => {
    const port = await closedPort('127.0.0.91');
    const url = `http://127.0.0.91:${port}/nobody-home`;
    const refused = new PoolManager({ retries: 2 });
    try {
      const error = await rejection(refused.request('GET', url));
      expect(error).toBeInstanceOf(MaxRetryError);
      expect(error.message).toContain(url);
      const reason = (error as MaxRetryError).reason;
      expect(reason).toBeInstanceOf(NewConnectionError);
      expect(error.cause).toBe(reason);
      expect(reason?.message).toContain(url);
      expect(reason?.message).toContain('ECONNREFUSED');
      expect((reason?.cause as { code?: string }).code).toBe('ECONNREFUSED');
      // The first try and two retries, all through the one pool.
      expect(refused.connectionFromUrl(url).numRequests).toBe(3);
    } finally {
      await refused.close();
    }
  });

  it('→ NewConnectionError itself when retries are off', async () => {
    const port = await closedPort('127.0.0.92');
    const url = `http://127.0.0.92:${port}/`;
    const refused = new PoolManager({ retries: false });
    try {
      const error = await rejection(refused.request('POST', url, { body: 'x' }));
      expect(error).toBeInstanceOf(NewConnectionError);
      expect((error as NewConnectionError).url).toBe(url);
      expect((error as NewConnectionError).method).toBe('POST');
      expect(error.message).toContain(`POST ${url}`);
      expect(fetchCause(await refused.fetch(url).catch((e: unknown) => e))).toBeInstanceOf(NewConnectionError);
    } finally {
      await refused.close();
    }
  });
});
