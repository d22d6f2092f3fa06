/**
 * Headers only the client may set (issue 24): a `TypeError` before anything
 * is sent, the same on both entries and both APIs, never retried, never a
 * `MaxRetryError`, never undici's own error. Counted at a raw server,
 * which would also see (and record) whatever did go out. And a caller's
 * `content-length` that disagrees with a known-length `request()` body: a
 * `TypeError` before anything is sent, never a hang.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPoolfetchError } from '../../src/errors.js';
import { adapters } from '../semantics/support.js';
import { startRawServer, type RawServer } from './support.js';

const REFUSED: ReadonlyArray<[string, string]> = [
  ['expect', '100-continue'],
  ['upgrade', 'websocket'],
  ['transfer-encoding', 'chunked'],
  ['Transfer-Encoding', 'gzip, chunked'],
  ['keep-alive', 'timeout=5'],
  ['te', 'trailers'],
  ['trailer', 'x-checksum'],
  ['proxy-connection', 'keep-alive'],
  ['connection', 'upgrade'],
  ['connection', 'close, x-foo'],
  ['Connection', 'x-custom-hop'],
];

describe.each(adapters)('headers only the client may set ($name adapter)', (adapter) => {
  let server: RawServer;
  beforeAll(async () => {
    server = await startRawServer({});
  });
  afterAll(async () => {
    await server.close();
  });

  describe.each(['request', 'fetch'] as const)('%s()', (api) => {
    it.each(REFUSED)('%s: %s is a TypeError naming it, nothing sent, not retried', async (name, value) => {
      const manager = adapter.make({ retries: { total: 3, connect: 3, read: 3 } });
      const before = server.received.length;
      const headers = { [name]: value };
      const call = api === 'request'
        ? manager.request('POST', server.url('/refused'), { headers, body: 'data' })
        : manager.fetch(server.url('/refused'), { method: 'POST', headers, body: 'data' });
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect(isPoolfetchError(error)).toBe(false);
      expect(String(error)).toContain(`${name.toLowerCase()}: ${JSON.stringify(value)} is the client's to set`);
      expect(server.received.length).toBe(before);
      expect(manager.stats().reduce((sum, row) => sum + row.numRequests, 0)).toBe(0);
      await manager.destroy();
    });

    it('a Headers object and an array of pairs are refused the same way', async () => {
      const manager = adapter.make();
      const before = server.received.length;
      for (const headers of [new Headers({ expect: '100-continue' }), [['upgrade', 'h2c']] as Array<[string, string]>]) {
        const call = api === 'request' ? manager.request('GET', server.url('/h'), { headers }) : manager.fetch(server.url('/h'), { headers });
        expect(await call.catch((e: unknown) => e)).toBeInstanceOf(TypeError);
      }
      expect(server.received.length).toBe(before);
      await manager.destroy();
    });

    it('connection: close and connection: keep-alive are the client\'s own words: sent', async () => {
      const manager = adapter.make();
      for (const value of ['close', 'keep-alive']) {
        const before = server.received.length;
        const response = api === 'request'
          ? await manager.request('GET', server.url(`/conn-${value}`), { headers: { connection: value } })
          : await manager.fetch(server.url(`/conn-${value}`), { headers: { connection: value } });
        expect(response.status).toBe(200);
        expect(server.received.length).toBe(before + 1);
        expect(server.received.at(-1)?.path).toBe(`/conn-${value}`);
      }
      await manager.destroy();
    });
  });

  it('a fetch Request carrying one is refused too', async () => {
    const manager = adapter.make();
    const before = server.received.length;
    const request = new Request(server.url('/req'), { headers: { 'x-ok': '1' } });
    request.headers.set('transfer-encoding', 'chunked');
    // Node's Request keeps it; a browser's drops it silently (then nothing is refused, and nothing wrong is sent).
    if (request.headers.has('transfer-encoding')) {
      expect(await manager.fetch(request).catch((e: unknown) => e)).toBeInstanceOf(TypeError);
      expect(server.received.length).toBe(before);
    } else {
      expect((await manager.fetch(request)).status).toBe(200);
    }
    await manager.destroy();
  });

  it('in the manager\'s headers: a TypeError naming it when the manager is made', () => {
    expect(() => adapter.make({ headers: { expect: '100-continue' } })).toThrow(TypeError);
    expect(() => adapter.make({ headers: { expect: '100-continue' } })).toThrow(/headers: expect: "100-continue" is the client's to set/);
    expect(() => adapter.make({ headers: { connection: 'upgrade' } })).toThrow(/connection: "upgrade" is the client's to set/);
  });

  describe('content-length on request()', () => {
    it.each([
      ['a string body', { body: 'abc' }, '5'],
      ['a multi-byte string (bytes, not characters)', { body: 'é' }, '1'],
      ['bytes', { body: new Uint8Array(10) }, '9'],
      ['json', { json: { a: 1 } }, '100'],
      ['no body', {}, '12'],
      ['not a number', { body: 'abc' }, 'three'],
    ])('disagreeing with %s is a TypeError, nothing sent, never a hang', async (_what, options, length) => {
      const manager = adapter.make();
      const before = server.received.length;
      const error = await manager.request('POST', server.url('/cl'), { ...options, headers: { 'content-length': length } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect(String(error)).toMatch(/content-length/);
      expect(server.received.length).toBe(before);
      await manager.destroy();
    });

    it('agreeing with the body: sent as is', async () => {
      const manager = adapter.make();
      const response = await manager.request('POST', server.url('/cl-ok'), { body: 'héllo', headers: { 'content-length': '6' } });
      expect(response.status).toBe(200);
      const received = server.received.at(-1);
      expect(received?.path).toBe('/cl-ok');
      expect(received?.headers['content-length']).toBe('6');
      expect(received?.body).toBe('héllo');
      await manager.destroy();
    });
  });
});
