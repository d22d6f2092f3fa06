/**
 * makeHeaders, every option, as ProxyManager users reach for it
 * (`proxyHeaders: makeHeaders({ proxyBasicAuth })`), and the promise behind
 * `acceptEncoding: true`: every encoding it names, this runtime decodes.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHeaders, PoolManager } from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';

const BODY = 'poolfetch '.repeat(50);
const ENCODERS: Record<string, (text: string) => Buffer> = {
  gzip: (text) => gzipSync(text),
  deflate: (text) => deflateSync(text),
  br: (text) => brotliCompressSync(text),
};

let server: TestServer;
beforeAll(async () => {
  server = await startServer((req, res) => {
    const encoding = String(req.headers['x-encode'] ?? '');
    const encode = ENCODERS[encoding];
    if (encode === undefined) {
      res.writeHead(400).end(`no encoder for ${encoding}`);
      return;
    }
    res.writeHead(200, { 'content-encoding': encoding }).end(encode(BODY));
  });
});
afterAll(() => server.close());

describe('makeHeaders', () => {
  it('builds every option with lower-case names', () => {
    expect(
      makeHeaders({
        keepAlive: true,
        acceptEncoding: true,
        userAgent: 'poolfetch-test/1',
        basicAuth: 'user:pass',
        proxyBasicAuth: 'myusername:mypassword',
        disableCache: true,
      }),
    ).toEqual({
      connection: 'keep-alive',
      'accept-encoding': 'gzip, deflate, br',
      'user-agent': 'poolfetch-test/1',
      authorization: 'Basic dXNlcjpwYXNz',
      'proxy-authorization': `Basic ${Buffer.from('myusername:mypassword').toString('base64')}`,
      'cache-control': 'no-cache',
    });
    expect(makeHeaders({ proxyBasicAuth: 'u:p' })).toEqual({ 'proxy-authorization': 'Basic dTpw' });
    expect(makeHeaders({ proxyBasicAuth: 'ü:🔑' })['proxy-authorization']).toBe(`Basic ${Buffer.from('ü:🔑').toString('base64')}`);
    expect(makeHeaders({ acceptEncoding: ['gzip', 'br'] })).toEqual({ 'accept-encoding': 'gzip,br' });
    expect(makeHeaders({ acceptEncoding: 'identity' })).toEqual({ 'accept-encoding': 'identity' });
    expect(makeHeaders({ acceptEncoding: false, keepAlive: false, disableCache: false })).toEqual({});
    expect(makeHeaders()).toEqual({});
  });

  it('refuses wrong types with a TypeError naming the option, instead of a wrong header', () => {
    expect(() => makeHeaders({ proxyBasicAuth: null as never })).toThrow(/proxyBasicAuth must be a string, got null/);
    expect(() => makeHeaders({ basicAuth: 5 as never })).toThrow(/basicAuth must be a string, got 5/);
    expect(() => makeHeaders({ userAgent: {} as never })).toThrow(/userAgent must be a string/);
    expect(() => makeHeaders({ keepAlive: 'yes' as never })).toThrow(/keepAlive must be a boolean, got "yes"/);
    expect(() => makeHeaders({ disableCache: 1 as never })).toThrow(/disableCache must be a boolean/);
    expect(() => makeHeaders({ acceptEncoding: 5 as never })).toThrow(/acceptEncoding must be a boolean, a string or an array of strings/);
    expect(() => makeHeaders({ acceptEncoding: ['gzip', 5] as never })).toThrow(TypeError);
    // Credentials are base64-encoded, so CR/LF in them cannot split a header.
    expect(makeHeaders({ proxyBasicAuth: 'u:p\r\nx-evil: 1' })['proxy-authorization']).toMatch(/^Basic [A-Za-z0-9+/=]+$/);
    expect(() => makeHeaders({ userAgent: 'a\r\nb' })).toThrow(/CR, LF or NUL/);
  });

  it('names with acceptEncoding: true only encodings the Node adapter decodes', async () => {
    await using manager = new PoolManager({ headers: makeHeaders({ acceptEncoding: true }) });
    const encodings = (makeHeaders({ acceptEncoding: true })['accept-encoding'] ?? '').split(', ');
    expect(encodings.length).toBeGreaterThan(0);
    for (const encoding of encodings) {
      const r = await manager.request('GET', server.url(), { headers: { 'x-encode': encoding } });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(BODY);
      expect(server.requests.at(-1)?.headers['accept-encoding']).toBe('gzip, deflate, br');
    }
  });
});
