/**
 * Credentials in a request URL (`http://user:pass@host/`), on both adapters
 * against real local servers: sent as `Authorization: Basic` to that origin
 * only (unless the request sets its own), and never shown: `url`,
 * `redirects`, messages, events and stats read `user:***`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NewConnectionError, PoolfetchError } from '../../src/errors.js';
import { startServer, type TestServer } from '../support/servers.js';
import { everythingShown } from '../faults/support.js';
import { adapters, routesServer, type Echo } from './support.js';
import { fetchCause } from '../support/fetch-error.js';

let a: TestServer;
let b: TestServer;
/** A port nothing listens on. */
let closedPort: number;

beforeAll(async () => {
  a = await routesServer();
  b = await routesServer({ host: '127.0.0.2' });
  const gone = await startServer();
  closedPort = gone.port;
  await gone.close();
});
afterAll(async () => {
  await a.close();
  await b.close();
});

const SECRET = 's3cr3t';
const basic = (pair: string): string => `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
/** `server`'s URL for `path`, with `userinfo@` in it. */
const withUser = (server: TestServer, path: string, userinfo = `user:${SECRET}`): string => server.url(path).replace('://', `://${userinfo}@`);
const redirectTo = (server: TestServer, target: string, userinfo?: string): string =>
  withUser(server, `/redirect?status=302&target=${encodeURIComponent(target)}`, userinfo);

describe.each(adapters)('credentials in the URL ($name adapter)', (adapter) => {
  it('request() sends them as authorization: Basic, percent-decoded, and shows user:*** in url', async () => {
    await using http = adapter.make();
    const r = await http.request('GET', withUser(a, '/echo', `us%40er:p%40ss%3A${SECRET}`));
    const echo = (await r.json()) as Echo;
    expect(echo.headers.authorization).toBe(basic(`us@er:p@ss:${SECRET}`));
    expect(echo.url).toBe('/echo');
    expect(r.url).toBe(a.url('/echo').replace('://', '://us%40er:***@'));
  });

  it('manager.fetch sends them too (fetch itself refuses such a URL)', async () => {
    await using http = adapter.make();
    const response = await http.fetch(withUser(a, '/echo'));
    expect(response.status).toBe(200);
    expect(((await response.json()) as Echo).headers.authorization).toBe(basic(`user:${SECRET}`));
    expect(response.url).not.toContain(SECRET);
    const viaUrl = await http.fetch(new URL(withUser(a, '/echo')), { method: 'POST', body: 'x' });
    const echo = (await viaUrl.json()) as Echo;
    expect([echo.method, echo.body, echo.headers.authorization]).toEqual(['POST', 'x', basic(`user:${SECRET}`)]);
  });

  it("leaves the request's own authorization alone", async () => {
    await using http = adapter.make();
    const own = { authorization: 'Bearer mine' };
    const viaRequest = (await (await http.request('GET', withUser(a, '/echo'), { headers: own })).json()) as Echo;
    expect(viaRequest.headers.authorization).toBe('Bearer mine');
    const viaFetch = (await (await http.fetch(withUser(a, '/echo'), { headers: own })).json()) as Echo;
    expect(viaFetch.headers.authorization).toBe('Bearer mine');
    await using withDefault = adapter.make({ headers: own });
    const viaManager = (await (await withDefault.request('GET', withUser(a, '/echo'))).json()) as Echo;
    expect(viaManager.headers.authorization).toBe('Bearer mine');
  });

  it('keeps them on a same-origin redirect and drops them on a cross-origin one', async () => {
    await using http = adapter.make();
    const same = await http.request('GET', redirectTo(a, '/echo'));
    expect(((await same.json()) as Echo).headers.authorization).toBe(basic(`user:${SECRET}`));
    const cross = await http.request('GET', redirectTo(a, b.url('/echo')));
    const echo = (await cross.json()) as Echo;
    expect(echo.url).toBe('/echo');
    expect(echo.headers.authorization).toBeUndefined();
    expect(cross.url).toBe(b.url('/echo'));
    for (const r of [same, cross]) expect(JSON.stringify([r.url, r.redirects])).not.toContain(SECRET);
    const fetched = await http.fetch(redirectTo(a, b.url('/echo')));
    expect(((await fetched.json()) as Echo).headers.authorization).toBeUndefined();
    expect(fetched.url).toBe(b.url('/echo'));
  });

  it('never shows the password in an error, an event or a stats row', async () => {
    const seen: string[] = [];
    await using http = adapter.make({ retries: 1 });
    for (const type of ['poolcreate', 'poolevict', 'poolclose'] as const) {
      http.addEventListener(type, (event) => seen.push(JSON.stringify({ ...event, key: (event as { key?: string }).key })));
    }
    const url = `http://user:${SECRET}@127.0.0.1:${closedPort}/x`;
    const failures = [
      await http.request('POST', url, { body: 'x' }).catch((e: unknown) => e),
      fetchCause(await http.fetch(url).catch((e: unknown) => e)),
    ];
    for (const error of failures) {
      expect(error).toBeInstanceOf(PoolfetchError);
      const shown = everythingShown(error);
      expect(shown).toContain(`127.0.0.1:${closedPort}/x`);
      expect(shown).not.toContain(SECRET);
    }
    // request() names the URL as given, the password hidden; manager.fetch names the URL it fetched, without credentials.
    expect((failures[0] as Error).message).toContain(`(POST http://user:***@127.0.0.1:${closedPort}/x)`);
    expect((failures[1] as Error).message).toContain(`(GET http://127.0.0.1:${closedPort}/x)`);
    expect(((failures[0] as { reason?: unknown }).reason)).toBeInstanceOf(NewConnectionError);
    seen.push(JSON.stringify(http.stats()), JSON.stringify(http.pools.keys()));
    await http.clear();
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.join('\n')).not.toContain(SECRET);
  });

  it('a GET with a body (which fetch forbids) does not show the password either', async () => {
    await using http = adapter.make();
    const outcome = await http.request('GET', withUser(a, '/'), { body: 'x' }).catch((e: unknown) => e);
    if (adapter.name === 'fetch') {
      expect(outcome).toBeInstanceOf(TypeError);
      expect((outcome as Error).message).toContain(`(GET ${withUser(a, '/', 'user:***')}, body`);
      expect(everythingShown(outcome)).not.toContain(SECRET);
    } else {
      // undici sends it: a GET body is legal HTTP, only fetch refuses it.
      expect((outcome as { status?: unknown }).status).toBe(200);
    }
  });

  it('a URL without a host does not repeat the password either', async () => {
    await using http = adapter.make();
    for (const call of [() => http.request('GET', `http://user:${SECRET}@`), () => http.fetch(`http://user:${SECRET}@`).catch((e: unknown) => Promise.reject(fetchCause(e)))]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PoolfetchError);
      expect(everythingShown(error)).not.toContain(SECRET);
    }
  });
});
