/**
 * `Content-Encoding` on the Node entry (#24), against the runtime's own
 * fetch side by side: stacked codings decoded in order (`gzip, br` is
 * gzip applied first, so br is undone first), an unknown coding passes the
 * body through as it came (as fetch does, for the whole list), a corrupt
 * body is a `ProtocolError` (fetch: a `TypeError`), and more than five
 * codings are refused.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { ProtocolError } from '../../src/errors.js';
import { startRawServer, type RawServer } from '../faults/support.js';

const TEXT = 'stacked codings, decoded in order. '.repeat(200);

function answer(encoding: string, body: Buffer): (exchange: { socket: import('node:net').Socket }) => void {
  return ({ socket }) => {
    socket.write(`HTTP/1.1 200 OK\r\ncontent-encoding: ${encoding}\r\ncontent-length: ${body.length}\r\n\r\n`);
    socket.write(body);
  };
}

const routes = {
  '/gzip-br': answer('gzip, br', brotliCompressSync(gzipSync(TEXT))),
  '/br-gzip-deflate': answer('deflate, gzip, br', brotliCompressSync(gzipSync(deflateSync(TEXT)))),
  '/upper': answer('GZIP', gzipSync(TEXT)),
  '/unknown': answer('x-poolfetch', Buffer.from(TEXT)),
  '/gzip-unknown': answer('gzip, x-poolfetch', gzipSync(TEXT)),
  '/corrupt': answer('gzip', Buffer.from('this is not gzip at all, not even close')),
  '/corrupt-inner': answer('gzip, br', brotliCompressSync(Buffer.from('not gzip inside the br'))),
  '/too-many': answer('gzip, gzip, gzip, gzip, gzip, gzip', [1, 2, 3, 4, 5, 6].reduce<Buffer>((body) => gzipSync(body), Buffer.from(TEXT))),
};

let server: RawServer;
beforeAll(async () => {
  server = await startRawServer(routes);
});
afterAll(async () => {
  await server.close();
});

/** What the runtime's own fetch makes of a path: the text, or the error's name. */
async function runtimeFetch(path: string): Promise<string> {
  try {
    return await (await fetch(server.url(path))).text();
  } catch (error) {
    return `rejects: ${(error as Error).name}`;
  }
}

describe('Content-Encoding on the Node entry, as the runtime fetch decodes it', () => {
  for (const path of ['/gzip-br', '/br-gzip-deflate', '/upper', '/unknown', '/gzip-unknown']) {
    it(`${path}: request() and manager.fetch give what fetch gives`, async () => {
      await using manager = new PoolManager();
      const expected = await runtimeFetch(path);
      expect(expected.startsWith('rejects')).toBe(false);
      expect(await (await manager.request('GET', server.url(path))).text()).toBe(expected);
      expect(await (await manager.fetch(server.url(path))).text()).toBe(expected);
      const streamed = await manager.request('GET', server.url(path), { preloadContent: false });
      expect(await new Response(streamed.body).text()).toBe(expected);
    });
  }

  it('decodes stacked codings to the original text (not the still-compressed bytes)', async () => {
    await using manager = new PoolManager();
    expect(await (await manager.request('GET', server.url('/gzip-br'))).text()).toBe(TEXT);
    // Unknown anywhere in the list: the body as sent, gzip and all.
    expect(Buffer.from((await manager.request('GET', server.url('/gzip-unknown'))).data)).toEqual(gzipSync(TEXT));
  });

  for (const path of ['/corrupt', '/corrupt-inner', '/too-many']) {
    it(`${path}: a ProtocolError from request(), a TypeError from manager.fetch (fetch rejects too), slot freed`, async () => {
      await using manager = new PoolManager({ maxSize: 1, retries: false });
      expect(await runtimeFetch(path)).toBe('rejects: TypeError');
      await expect(manager.request('GET', server.url(path))).rejects.toBeInstanceOf(ProtocolError);
      // fetch's contract: a TypeError (the body's read, or fetch itself); the fetch-entry work wraps
      // the poolfetch error of a refused response in one too (its cause).
      const failure: unknown = await manager.fetch(server.url(path)).then((r) => r.text()).catch((error: unknown) => error);
      expect(failure instanceof TypeError || failure instanceof ProtocolError).toBe(true);
      // maxSize 1: the next request gets the slot.
      expect(await (await manager.request('GET', server.url('/plain'))).text()).toBe('ok');
    });
  }
});
