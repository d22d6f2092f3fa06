/**
 * `maxResponseSize` on the Node entry (#24): bytes of the DECODED body.
 * Crossing it stops decoding at once, closes the connection (seen at the
 * server), frees the slot, and rejects with `ResponseTooLargeError`
 * (`manager.fetch`: the body's read rejects with a `TypeError` whose cause
 * it is). Memory stays within a small constant of the limit whatever the
 * compression ratio: a gzip bomb (10 MiB on the wire, 10 GiB decoded) and a
 * plain body declared at 2 GiB, with the process's RSS sampled as it reads.
 * A memory bound, generously set; the figures are printed for bench/report.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { ResponseTooLargeError } from '../../src/errors.js';
import { ok, startRawServer, streamBody, type RawServer } from '../faults/support.js';

const MIB = 1024 ** 2;
const LIMIT = 8 * MIB;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const rss = (): number => process.memoryUsage().rss;

/** One gzip member decoding to 16 MiB of zeros (about 16 KiB); members concatenated are one valid gzip body. */
const MEMBER = gzipSync(Buffer.alloc(16 * MIB));
/** 640 members: about 10 MiB on the wire, 10 GiB decoded. */
const MEMBERS = 640;

let server: RawServer;
/** Bytes each bomb response put on the wire before its socket closed. */
let bombSent: number[] = [];
let plainSent: Array<() => number> = [];

beforeAll(async () => {
  server = await startRawServer({
    '/bomb': ({ socket }) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${MEMBER.length * MEMBERS}\r\n\r\n`);
      const index = bombSent.push(0) - 1;
      let written = 0;
      const pump = (): void => {
        while (written < MEMBERS && !socket.destroyed) {
          written += 1;
          bombSent[index] = written * MEMBER.length;
          if (!socket.write(MEMBER)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    },
    '/plain': ({ socket }) => {
      plainSent.push(streamBody(socket, 2 * 1024 * MIB).sent);
    },
    '/small': ({ socket }) => ok(socket, 'x'.repeat(1000)),
  });
});
afterAll(async () => {
  await server.close();
});

/** Runs `read` with RSS sampled every 5 ms; returns the peak growth over the start (after a full GC). */
async function peakGrowth(read: () => Promise<unknown>): Promise<{ growth: number; outcome: unknown }> {
  gc();
  const start = rss();
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, rss());
  }, 5);
  let outcome: unknown;
  try {
    await read();
  } catch (error) {
    outcome = error;
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, rss());
  return { growth: peak - start, outcome };
}

describe('maxResponseSize on the Node entry', () => {
  it('request(): a gzip bomb stops at the limit, with RSS growth a small constant over it, the connection closed and the slot freed', async () => {
    bombSent = [];
    await using manager = new PoolManager({ maxSize: 1, maxResponseSize: LIMIT, retries: false });
    // Warm the code paths first: what is measured is the bomb.
    await manager.request('GET', server.url('/small'));
    const { growth, outcome } = await peakGrowth(() => manager.request('GET', server.url('/bomb')));
    expect(outcome).toBeInstanceOf(ResponseTooLargeError);
    expect((outcome as ResponseTooLargeError).limit).toBe(LIMIT);
    console.log(`request() gzip bomb: RSS growth ${(growth / MIB).toFixed(1)} MiB under an ${LIMIT / MIB} MiB limit; ${(bombSent[0] ?? 0) / MIB} MiB of gzip sent`);
    expect(growth).toBeLessThan(LIMIT + 96 * MIB);
    // The server saw its socket closed long before the bomb was all sent.
    await server.whenNoSockets();
    expect(bombSent[0]).toBeLessThan(MEMBER.length * MEMBERS);
    // The slot is free: maxSize 1 serves the next request.
    expect((await manager.request('GET', server.url('/small'))).data.byteLength).toBe(1000);
  }, 60_000);

  it('request(): a plain 2 GiB body stops at the limit, the socket closed at the server after a few MiB', async () => {
    plainSent = [];
    await using manager = new PoolManager({ maxSize: 1, retries: false });
    await manager.request('GET', server.url('/small'));
    const { growth, outcome } = await peakGrowth(() => manager.request('GET', server.url('/plain'), { maxResponseSize: LIMIT }));
    expect(outcome).toBeInstanceOf(ResponseTooLargeError);
    console.log(`request() plain 2 GiB body: RSS growth ${(growth / MIB).toFixed(1)} MiB under an ${LIMIT / MIB} MiB limit`);
    expect(growth).toBeLessThan(LIMIT + 96 * MIB);
    await server.whenNoSockets();
    expect((plainSent[0] as () => number)()).toBeLessThan(LIMIT + 32 * MIB);
    expect(manager.connectionFromUrl(server.url('/')).stats().running).toBe(0);
  }, 60_000);

  it('request(): a streamed body errors at the limit', async () => {
    bombSent = [];
    await using manager = new PoolManager({ retries: false });
    const r = await manager.request('GET', server.url('/bomb'), { preloadContent: false, maxResponseSize: LIMIT });
    expect(r.status).toBe(200);
    let received = 0;
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    const failure = await (async () => {
      for (;;) {
        const next = await reader.read();
        if (next.done) return undefined;
        received += next.value.byteLength;
      }
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ResponseTooLargeError);
    // Every byte up to the limit was delivered, none past it.
    expect(received).toBeLessThanOrEqual(LIMIT);
    expect(received).toBeGreaterThan(LIMIT - MIB);
    await server.whenNoSockets();
  }, 60_000);

  it('a body at the limit exactly is delivered whole', async () => {
    await using manager = new PoolManager();
    const r = await manager.request('GET', server.url('/small'), { maxResponseSize: 1000 });
    expect(r.data.byteLength).toBe(1000);
    await expect(manager.request('GET', server.url('/small'), { maxResponseSize: 999, retries: false })).rejects.toBeInstanceOf(ResponseTooLargeError);
  });

  it('manager.fetch: a gzip bomb read with text() rejects with a TypeError caused by ResponseTooLargeError, memory bounded, slot freed', async () => {
    bombSent = [];
    await using manager = new PoolManager({ maxSize: 1, maxResponseSize: LIMIT });
    await (await manager.fetch(server.url('/small'))).text();
    const { growth, outcome } = await peakGrowth(async () => {
      const response = await manager.fetch(server.url('/bomb'));
      expect(response.status).toBe(200);
      await response.text();
    });
    expect(outcome).toBeInstanceOf(TypeError);
    expect((outcome as TypeError).cause).toBeInstanceOf(ResponseTooLargeError);
    console.log(`manager.fetch gzip bomb: RSS growth ${(growth / MIB).toFixed(1)} MiB under an ${LIMIT / MIB} MiB limit`);
    expect(growth).toBeLessThan(LIMIT + 96 * MIB);
    await server.whenNoSockets();
    expect(bombSent[0]).toBeLessThan(MEMBER.length * MEMBERS);
    expect(await (await manager.fetch(server.url('/small'))).text()).toHaveLength(1000);
  }, 60_000);
});
