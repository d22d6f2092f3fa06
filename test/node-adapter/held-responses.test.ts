/**
 * A response the caller keeps holds its body and its headers, not the
 * socket's read buffer they came in. undici hands the header record over as
 * views of that buffer (up to 64 KiB a read); kept for `headers`, built on
 * first use, they kept the whole buffer alive as long as the response. At
 * 64 KiB bodies that doubled what every held response cost and brought on
 * V8's run of major collections (bench/gc-modes.ts). Measured as the
 * process's ArrayBuffer memory after a full collection, against the bodies'
 * own size.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { collectGarbage } from '../support/gc.js';

const BODY = 64 * 1024;
const HELD = 40;

let server: http.Server;
let origin: string;

beforeAll(async () => {
  const body = Buffer.alloc(BODY, 'x');
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY, 'x-note': 'held' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const arrayBuffers = async (): Promise<number> => {
  await collectGarbage(() => false, 3);
  return process.memoryUsage().arrayBuffers;
};

describe('responses the caller keeps', () => {
  it('hold their bodies, not the socket buffers their headers were read from', async () => {
    await using manager = new PoolManager({ maxSize: 1 });
    await manager.request('GET', `${origin}/warm`);
    const before = await arrayBuffers();
    const held = [];
    for (let i = 0; i < HELD; i += 1) held.push(await manager.request('GET', `${origin}/${i}`));
    const perResponse = ((await arrayBuffers()) - before) / HELD;
    // Each keeps what it was asked for: its body, and a header it was sent.
    expect(held.every((r) => r.data.byteLength === BODY && r.headers.get('x-note') === 'held')).toBe(true);
    // The body, with room for the runtime's own bookkeeping; a socket read buffer kept as well is another 64 KiB.
    expect(perResponse).toBeLessThan(BODY * 1.4);
    expect(perResponse).toBeGreaterThanOrEqual(BODY * 0.9);
  });
});
