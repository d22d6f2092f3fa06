/**
 * ProxyManager through Debian's tinyproxy, a proxy that is not ours and not
 * Node's: started on a free port with a generated config, killed at the end.
 * `npm test` installs it (scripts/ensure-system-deps.mjs); without it, this
 * file is skipped outside CI and fails in CI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyError, ProxyManager } from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';
import { testCertificates } from '../support/tls.js';
import { startTinyproxy, TINYPROXY, type Tinyproxy } from './support.js';

const run = TINYPROXY !== undefined || process.env['CI'] !== undefined;

// Skipped only on a developer machine without tinyproxy: `apt-get install tinyproxy` to run it.
describe.runIf(run)('through tinyproxy', () => {
  let ca: string;
  let tinyproxy: Tinyproxy;
  let plainA: TestServer;
  let plainB: TestServer;
  let secureA: TestServer;
  let secureB: TestServer;

  beforeAll(async () => {
    if (TINYPROXY === undefined) throw new Error('tinyproxy is not installed: npm test installs it with apt-get when run as root');
    ({ ca } = await testCertificates());
    tinyproxy = await startTinyproxy(TINYPROXY, { auth: 'tiny:proxy-pw' });
    plainA = await startServer();
    plainB = await startServer(undefined, { host: '127.0.0.2' });
    secureA = await startServer(undefined, { tls: true });
    secureB = await startServer(undefined, { tls: true, host: '127.0.0.2' });
  });
  afterAll(async () => {
    await tinyproxy?.close();
    await Promise.all([plainA, plainB, secureA, secureB].map((s) => s?.close()));
  });

  it('forwards http in absolute form and tunnels https with CONNECT: pools 1, 1, 2, 3', async () => {
    await using manager = new ProxyManager(tinyproxy.origin.replace('//', '//tiny:proxy-pw@'), { tls: { ca } });
    const sizes: number[] = [];
    const plain = await manager.request('GET', plainA.url('/a?x=1'));
    sizes.push(manager.pools.size);
    await manager.request('GET', plainB.url('/b'));
    sizes.push(manager.pools.size);
    const secure = await manager.request('GET', secureA.url('/c'));
    sizes.push(manager.pools.size);
    await manager.request('GET', secureB.url('/d'));
    sizes.push(manager.pools.size);
    expect(sizes).toEqual([1, 1, 2, 3]);
    expect(plain.status).toBe(200);
    expect(secure.status).toBe(200);

    const log = tinyproxy.log();
    expect(log).toContain(`GET ${plainA.url('/a?x=1')} HTTP/1.1`);
    expect(log).toContain(`GET ${plainB.url('/b')} HTTP/1.1`);
    expect(log).toContain(`CONNECT 127.0.0.1:${secureA.port} HTTP/1.1`);
    expect(log).toContain(`CONNECT 127.0.0.2:${secureB.port} HTTP/1.1`);
    expect(log).not.toContain('proxy-pw');

    // The http origin saw tinyproxy (its Via header), and not the proxy's credentials.
    const forwarded = plainA.requests.at(-1);
    expect(forwarded?.url).toBe('/a?x=1');
    expect(forwarded?.headers['via']).toMatch(/tinyproxy/);
    expect(forwarded?.headers['proxy-authorization']).toBeUndefined();
    // The https origin saw a plain request from inside the tunnel.
    const tunnelled = secureA.requests.at(-1);
    expect(tunnelled?.url).toBe('/c');
    expect(tunnelled?.headers['host']).toBe(`127.0.0.1:${secureA.port}`);
    expect(tunnelled?.headers['via']).toBeUndefined();
    expect(tunnelled?.headers['proxy-authorization']).toBeUndefined();

    const viaFetch = await manager.fetch(secureB.url('/fetch'));
    expect(await viaFetch.text()).toContain('"/fetch"');
  });

  it('reports tinyproxy\'s 407 as a ProxyError for both kinds of target', async () => {
    await using manager = new ProxyManager(tinyproxy.origin, { tls: { ca } });
    for (const target of [plainA.url('/no-auth'), secureA.url('/no-auth')]) {
      let thrown: unknown;
      try {
        await manager.request('GET', target);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ProxyError);
      expect((thrown as ProxyError).status).toBe(407);
      expect((thrown as ProxyError).message).toMatch(/authentication required/i);
    }
  });
});
