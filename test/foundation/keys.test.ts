/**
 * Pool keys against real servers: differently spelt URLs of one origin share
 * a pool and its sockets; IPv6 loopback works; distinct origins do not share.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';

let v4: TestServer;
let v6: TestServer;
let localhost4: TestServer;
let localhost6: TestServer;

beforeAll(async () => {
  v4 = await startServer(undefined, { host: '127.0.0.2' });
  v6 = await startServer(undefined, { host: '::1' });
  // "localhost" may resolve to 127.0.0.1 or ::1: listen on both, on one port
  // (trying again in the rare case another process holds that port on ::1).
  for (let attempt = 0; ; attempt += 1) {
    localhost4 = await startServer(undefined, { host: '127.0.0.1' });
    try {
      localhost6 = await startServer(undefined, { host: '::1', port: localhost4.port });
      break;
    } catch (error) {
      await localhost4.close();
      if (attempt === 4) throw error;
    }
  }
});
afterAll(async () => {
  await Promise.all([v4.close(), v6.close(), localhost4.close(), localhost6.close()]);
});

describe('pool keys with real requests', () => {
  it('HTTP://LOCALHOST:PORT/a and http://localhost:PORT/b share one pool', async () => {
    await using manager = new PoolManager();
    const port = localhost4.port;
    const a = await manager.request('GET', `HTTP://LOCALHOST:${port}/a`);
    const b = await manager.request('GET', `http://localhost:${port}/b`);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(manager.pools.size).toBe(1);
    expect(manager.pools.keys()).toEqual([`http://localhost:${port}`]);
    expect(manager.connectionFromHost('LocalHost', port).numRequests).toBe(2);
    const seen = [...localhost4.requests, ...localhost6.requests].map((r) => r.url);
    expect(seen).toEqual(['/a', '/b']);
  });

  it('upper-case scheme and host of an IPv4 origin share the pool and its keep-alive socket', async () => {
    await using manager = new PoolManager();
    const before = v4.totalConnections;
    await manager.request('GET', `HTTP://127.0.0.2:${v4.port}/one`);
    await manager.request('GET', new URL(`http://127.0.0.2:${v4.port}/two`));
    expect(manager.pools.size).toBe(1);
    const pool = manager.connectionFromHost('127.0.0.2', v4.port, 'HTTP');
    expect(pool.numRequests).toBe(2);
    expect(v4.totalConnections - before).toBeLessThanOrEqual(2);
    expect(pool.numConnections).toBe(v4.totalConnections - before);
  });

  it('IPv6: http://[::1]:PORT/ works, and connectionFromHost("::1", PORT) finds its pool', async () => {
    await using manager = new PoolManager();
    const r = await manager.request('GET', `http://[::1]:${v6.port}/six`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ url: '/six' });
    expect(v6.requests.at(-1)?.headers.host).toBe(`[::1]:${v6.port}`);
    const f = await manager.fetch(`http://[0:0:0:0:0:0:0:1]:${v6.port}/fetched`);
    expect(await f.json()).toMatchObject({ url: '/fetched' });
    expect(manager.pools.keys()).toEqual([`http://[::1]:${v6.port}`]);
    const pool = manager.connectionFromHost('::1', v6.port);
    expect(pool.numRequests).toBe(2);
    expect(manager.connectionFromHost('[::1]', v6.port)).toBe(pool);
    expect((await pool.request('GET', `http://[::1]:${v6.port}/via-pool`)).status).toBe(200);
  });

  it('the same port on two loopback addresses is two origins', async () => {
    await using manager = new PoolManager();
    const other = await startServer(undefined, { host: '127.0.0.3', port: v4.port }).catch(() => undefined);
    // The port may be taken on 127.0.0.3 by another test process; then a random one still makes another origin.
    const third = other ?? (await startServer(undefined, { host: '127.0.0.3' }));
    try {
      await manager.request('GET', v4.url('/x'));
      await manager.request('GET', third.url('/y'));
      expect(manager.pools.size).toBe(2);
      expect(third.requests.map((r) => r.url)).toEqual(['/y']);
    } finally {
      await manager.close();
      await third.close();
    }
  });
});
