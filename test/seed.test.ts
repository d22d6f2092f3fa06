/**
 * The urllib3 seed text (shared/seed/poolmanager.txt), line by line, in
 * TypeScript, against local servers: 127.0.0.1 stands for example.com and
 * 127.0.0.2 for httpbin.org.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../adapters/node/index.js';
import { startServer, type TestServer } from './support/servers.js';

let example: TestServer;
let httpbin: TestServer;

beforeAll(async () => {
  example = await startServer((_req, res) => {
    res.setHeader('server', 'ECS (iad/182A)');
    res.end('example');
  });
  httpbin = await startServer(
    (_req, res) => {
      res.setHeader('server', 'gunicorn/18.0');
      res.end('httpbin');
    },
    { host: '127.0.0.2' },
  );
});
afterAll(async () => {
  await example.close();
  await httpbin.close();
});

describe('the seed scenario', () => {
  it('keeps one pool per origin and counts the requests through each', async () => {
    const manager = new PoolManager(10);
    let r = await manager.request('GET', example.url());
    expect(r.headers.get('server')).toBe('ECS (iad/182A)');
    r = await manager.request('GET', httpbin.url());
    expect(r.headers.get('server')).toBe('gunicorn/18.0');
    r = await manager.request('POST', httpbin.url('/headers'), { body: 'x' });
    expect(r.status).toBe(200);
    r = await manager.request('HEAD', httpbin.url('/cookies'));
    expect(r.status).toBe(200);
    expect(manager.pools.size).toBe(2);
    const conn = manager.connectionFromHost('127.0.0.2', httpbin.port);
    expect(conn.numRequests).toBe(3);
    await manager.clear();
  });

  it('accepts { numPools: 10 } as the same thing', async () => {
    const manager = new PoolManager({ numPools: 10 });
    await manager.request('GET', example.url());
    await manager.request('GET', httpbin.url());
    expect(manager.pools.size).toBe(2);
    await manager.close();
  });

  it('empties its pools and closes their sockets when disposed', async () => {
    let outer: PoolManager;
    {
      await using manager = new PoolManager(10);
      outer = manager;
      await manager.request('GET', example.url());
      await manager.request('GET', httpbin.url());
      expect(manager.pools.size).toBe(2);
      expect(example.openConnections + httpbin.openConnections).toBeGreaterThan(0);
    }
    expect(outer.pools.size).toBe(0);
    // Server-side sockets close when the client's FIN arrives: wait for that event, not a timer.
    await Promise.all([example.whenNoConnections(), httpbin.whenNoConnections()]);
    expect(example.openConnections + httpbin.openConnections).toBe(0);
  });
});
