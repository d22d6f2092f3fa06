/**
 * `maxResponseSize` on the fetch entry (issue #24), both APIs: bytes of the
 * decoded body (the runtime's fetch decodes). Crossing it stops reading,
 * cancels the body (the server sees its connection closed), frees the slot
 * and rejects: `request()` with `ResponseTooLargeError`, `manager.fetch`'s
 * body read with a `TypeError` whose cause it is. Hostile raw servers: a
 * gzip bomb that never ends, a 2 GiB plain body, an endless unframed one;
 * the process's memory is sampled while they are refused.
 */
import type { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager, ResponseTooLargeError } from '../../adapters/fetch/index.js';
import { collectGarbage } from '../support/gc.js';
import { startRawServer, streamBody, type Exchange, type RawServer } from './support.js';

const MiB = 1024 * 1024;
const LIMIT = MiB;
/** One gzip member of 16 MiB of zeros (about 16 KiB): sent over and over, it decodes without end. */
let bombMember: Buffer;
let server: RawServer;
/** Bytes the last response of each endless route had written when the client closed it, by path. */
const written = new Map<string, number>();

/**
 * Writes `head`, then `chunk` over and over as fast as the client takes it
 * (never past the socket's buffer), until the client closes the connection.
 */
function endless(exchange: Exchange, head: string, chunk: Buffer): void {
  const { socket, request } = exchange;
  exchange.hold();
  written.set(request.path, 0);
  socket.write(head);
  const pump = (): void => {
    while (!socket.destroyed) {
      written.set(request.path, (written.get(request.path) ?? 0) + chunk.length);
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

function exact(socket: Socket, size: number, chunked: boolean): void {
  const body = Buffer.alloc(size, 'z');
  if (!chunked) {
    socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
    socket.write(body);
    return;
  }
  socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
  // Two chunks, so the reader loop sees more than one.
  const half = Math.floor(size / 2);
  for (const part of [body.subarray(0, half), body.subarray(half)]) {
    if (part.length > 0) socket.write(`${part.length.toString(16)}\r\n${part.toString('latin1')}\r\n`);
  }
  socket.write('0\r\n\r\n');
}

beforeAll(async () => {
  bombMember = gzipSync(Buffer.alloc(16 * MiB));
  const plain = Buffer.alloc(64 * 1024, 'p');
  server = await startRawServer({
    '/bomb': (x) => endless(x, 'HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n', bombMember),
    '/unframed': (x) => endless(x, 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n', plain),
    '/chunked-endless': (x) => {
      const chunk = Buffer.concat([Buffer.from(`${plain.length.toString(16)}\r\n`), plain, Buffer.from('\r\n')]);
      endless(x, 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n', chunk);
    },
    '/two-gib': (x) => {
      x.hold();
      const progress = streamBody(x.socket, 2 * 1024 * MiB);
      x.socket.on('close', () => written.set('/two-gib', progress.sent()));
    },
    '/exact': (x) => exact(x.socket, LIMIT, false),
    '/over-by-one': (x) => exact(x.socket, LIMIT + 1, false),
    '/exact-chunked': (x) => exact(x.socket, LIMIT, true),
    '/over-by-one-chunked': (x) => exact(x.socket, LIMIT + 1, true),
  });
});
afterAll(async () => {
  await server.close();
});

/**
 * Samples this process's memory every few ms while `run` runs: the highest
 * growth over the start, in bytes, of the resident set and of the JS heap
 * plus memory outside it (buffers). The resident set alone reads low once
 * an earlier test has grown it (freed pages are reused), so both are kept;
 * garbage is collected first.
 */
async function peakGrowth(run: () => Promise<void>): Promise<{ rss: number; heap: number }> {
  // An earlier test's garbage, collected during this one, would hide this one's growth.
  await collectGarbage(() => false, 2);
  const heapNow = (): number => {
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.external;
  };
  const start = { rss: process.memoryUsage.rss(), heap: heapNow() };
  const peak = { ...start };
  const sample = (): void => {
    peak.rss = Math.max(peak.rss, process.memoryUsage.rss());
    peak.heap = Math.max(peak.heap, heapNow());
  };
  const timer = setInterval(sample, 2);
  try {
    await run();
  } finally {
    clearInterval(timer);
    sample();
  }
  return { rss: peak.rss - start.rss, heap: peak.heap - start.heap };
}

/** Far above the limit's 1 MiB plus a few chunks and zlib's buffers, far below what an unbounded read reaches. */
const MEMORY_BOUND = 96 * MiB;

describe.each(['/bomb', '/two-gib', '/unframed', '/chunked-endless'])('%s with maxResponseSize 1 MiB', (path) => {
  it('request() rejects with ResponseTooLargeError, closes the connection and frees the slot', async () => {
    await using manager = new PoolManager({ maxSize: 1, maxResponseSize: LIMIT });
    const before = server.count('GET', '/after');
    let error: unknown;
    const growth = await peakGrowth(async () => {
      error = await manager.request('GET', server.url(path)).catch((e: unknown) => e);
    });
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect(error).toMatchObject({ code: 'POOLFETCH_RESPONSE_TOO_LARGE', limit: LIMIT, method: 'GET', url: server.url(path) });
    expect(growth.rss).toBeLessThan(MEMORY_BOUND);
    expect(growth.heap).toBeLessThan(MEMORY_BOUND);
    // The server sees the connection closed by the client, having sent little more than the socket buffers hold
    // (a bomb's few compressed KiB per member decode to 16 MiB: there the memory sampled above is the measure).
    await server.whenNoneHeld();
    if (path !== '/bomb') expect(written.get(path)).toBeLessThan(64 * MiB);
    // The next request gets the slot.
    expect((await manager.request('GET', server.url('/after'))).status).toBe(200);
    expect(server.count('GET', '/after')).toBe(before + 1);
    // Not retried: one attempt at the server.
    expect(server.received.filter((r) => r.path === path).length).toBeGreaterThan(0);
  });

  it('manager.fetch: the body read rejects with a TypeError whose cause is ResponseTooLargeError; the slot is freed', async () => {
    await using manager = new PoolManager({ maxSize: 1, maxResponseSize: LIMIT });
    const attemptsBefore = server.count('GET', path);
    let status = 0;
    let error: unknown;
    const growth = await peakGrowth(async () => {
      const response = await manager.fetch(server.url(path));
      status = response.status;
      error = await response.text().catch((e: unknown) => e);
    });
    expect(status).toBe(200);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).cause).toBeInstanceOf(ResponseTooLargeError);
    expect(growth.rss).toBeLessThan(MEMORY_BOUND);
    expect(growth.heap).toBeLessThan(MEMORY_BOUND);
    await server.whenNoneHeld();
    expect(await (await manager.fetch(server.url('/after-fetch'))).text()).toBe('ok');
    expect(server.count('GET', path)).toBe(attemptsBefore + 1);
  });
});

describe('the limit itself', () => {
  it.each(['/exact', '/exact-chunked'])('%s: a body of exactly maxResponseSize bytes is delivered whole, both APIs', async (path) => {
    await using manager = new PoolManager({ maxResponseSize: LIMIT });
    expect((await manager.request('GET', server.url(path))).data.byteLength).toBe(LIMIT);
    expect((await (await manager.fetch(server.url(path))).arrayBuffer()).byteLength).toBe(LIMIT);
    const streamed = await manager.request('GET', server.url(path), { preloadContent: false });
    expect((await streamed.bytes()).byteLength).toBe(LIMIT);
  });

  it.each(['/over-by-one', '/over-by-one-chunked'])('%s: one byte more is refused, both APIs, streamed too', async (path) => {
    await using manager = new PoolManager({ maxResponseSize: LIMIT });
    await expect(manager.request('GET', server.url(path))).rejects.toBeInstanceOf(ResponseTooLargeError);
    const read = await (await manager.fetch(server.url(path))).arrayBuffer().catch((e: unknown) => e);
    expect(read).toBeInstanceOf(TypeError);
    expect((read as TypeError).cause).toBeInstanceOf(ResponseTooLargeError);
    const streamed = await manager.request('GET', server.url(path), { preloadContent: false });
    await expect(streamed.bytes()).rejects.toBeInstanceOf(ResponseTooLargeError);
    const body = (await manager.fetch(server.url(path))).body as ReadableStream<Uint8Array>;
    const fromStream = await new Response(body).arrayBuffer().catch((e: unknown) => e);
    expect(fromStream).toBeInstanceOf(TypeError);
  });

  it('a per-request maxResponseSize overrides the manager’s', async () => {
    await using manager = new PoolManager({ maxResponseSize: LIMIT });
    expect((await manager.request('GET', server.url('/over-by-one'), { maxResponseSize: LIMIT + 1 })).data.byteLength).toBe(LIMIT + 1);
    await expect(manager.request('GET', server.url('/exact'), { maxResponseSize: LIMIT - 1 })).rejects.toBeInstanceOf(ResponseTooLargeError);
  });

  it('without maxResponseSize a large body is delivered whole', async () => {
    await using manager = new PoolManager();
    expect((await manager.request('GET', server.url('/over-by-one-chunked'))).data.byteLength).toBe(LIMIT + 1);
    expect((await (await manager.fetch(server.url('/over-by-one'))).arrayBuffer()).byteLength).toBe(LIMIT + 1);
  });
});
