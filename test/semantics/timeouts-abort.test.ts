/**
 * Timeouts and abort, on both adapters, against servers that stall on
 * purpose: a slow server is the point here, and each limit is short; no test
 * asserts how long anything took.
 */
import net from 'node:net';
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectTimeoutError, MaxRetryError, ReadTimeoutError } from '../../src/errors.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';
import { adapters, type Adapter } from './support.js';
import { fetchCause } from '../support/fetch-error.js';

/** `/stall` never answers; `/trickle` sends headers and one chunk, then stalls; else 'ok'. */
let server: TestServer;
const stalled = new Set<http.ServerResponse>();
/** Resolved when a request reaches `/stall`. */
let stallArrived = deferred();

beforeAll(async () => {
  server = await startServer((req, res) => {
    if (req.url === '/stall') {
      stalled.add(res);
      stallArrived.resolve();
      return;
    }
    if (req.url === '/trickle') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk');
      stalled.add(res);
      return;
    }
    res.end('ok');
  });
});
afterAll(async () => {
  await server.close();
});

const isAbortError = (error: unknown): boolean => error instanceof DOMException && error.name === 'AbortError';

describe.each(adapters)('timeouts ($name adapter)', (adapter) => {
  it('gives ReadTimeoutError naming the URL and the limit when the total timeout runs out', async () => {
    await using http = adapter.make();
    const error = await http.request('GET', server.url('/stall'), { timeout: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadTimeoutError);
    expect((error as ReadTimeoutError).timeout).toBe(150);
    expect((error as Error).message).toContain('150 ms');
    expect((error as Error).message).toContain(server.url('/stall'));
    expect(http.connectionFromUrl(server.url()).stats().running).toBe(0);
  });

  it('applies the total timeout to a streamed body too', async () => {
    await using http = adapter.make({ timeout: { total: 300 } });
    const r = await http.request('GET', server.url('/trickle'), { preloadContent: false });
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first chunk');
    await expect(reader.read()).rejects.toBeInstanceOf(ReadTimeoutError);
    expect(http.connectionFromUrl(server.url()).stats().running).toBe(0);
  });

  it('makes manager.fetch honour the manager timeout, body included', async () => {
    await using http = adapter.make({ timeout: 300 });
    expect(fetchCause(await http.fetch(server.url('/stall')).catch((e: unknown) => e))).toBeInstanceOf(ReadTimeoutError);
    const res = await http.fetch(server.url('/trickle'));
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toBeInstanceOf(ReadTimeoutError);
    expect(await (await http.fetch(server.url('/fast'))).text()).toBe('ok');
  });

  it('bounds the wait for the response headers with timeout.read: ReadTimeoutError naming the limit', async () => {
    await using http = adapter.make({ timeout: { read: 150 }, retries: false });
    const error = await http.request('GET', server.url('/stall')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadTimeoutError);
    expect((error as Error).message).toMatch(/response headers after 150 ms \(GET http:\/\/127\.0\.0\.1:\d+\/stall\)/);
    expect(fetchCause(await http.fetch(server.url('/stall')).catch((e: unknown) => e))).toBeInstanceOf(ReadTimeoutError);
    expect(await (await http.request('GET', server.url('/fast'))).text()).toBe('ok');
  });

  it.each([
    [-1, /timeout must be a positive number of milliseconds, got -1/],
    [Number.NaN, /got NaN/],
    [0, /got 0/],
    ['100', /timeout must be milliseconds or \{ connect, read, total \}, got "100"/],
    [{ conect: 100 }, /Unknown timeout option "conect"/],
    [{ read: -5 }, /timeout\.read must be a positive number of milliseconds, got -5/],
    [{ total: Infinity }, /timeout\.total .* got Infinity/],
  ])('refuses timeout %j with a TypeError naming it', async (value, message) => {
    expect(() => adapter.make({ timeout: value as number })).toThrow(message);
    await using http = adapter.make();
    await expect(http.request('GET', server.url('/'), { timeout: value as number })).rejects.toThrow(message);
  });
});

describe('timeouts: what undici enforces (Node adapter)', () => {
  const node = adapters.find((a) => a.name === 'node') as Adapter;

  it('maps read onto undici body timeouts too: ReadTimeoutError naming the phase and the limit', async () => {
    await using http = node.make({ timeout: { read: 150 }, retries: false });
    const body = await http.request('GET', server.url('/trickle')).catch((e: unknown) => e);
    expect(body).toBeInstanceOf(ReadTimeoutError);
    expect((body as Error).message).toMatch(/response body after 150 ms/);
  });

  it('retries a read timeout for GET, and wraps the last one in MaxRetryError', async () => {
    await using http = node.make({ timeout: { read: 100 }, retries: 1 });
    const before = server.requests.length;
    const error = await http.request('GET', server.url('/stall')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaxRetryError);
    expect((error as MaxRetryError).reason).toBeInstanceOf(ReadTimeoutError);
    expect(server.requests.length - before).toBe(2);
  });

  it('maps connect onto the connect timeout: ConnectTimeoutError naming the origin and the limit', async () => {
    // A TCP server that never answers the TLS handshake: the connection never completes.
    const silent = net.createServer(() => undefined);
    const sockets = new Set<net.Socket>();
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      await using http = node.make({ timeout: { connect: 150 }, retries: false });
      const error = await http.request('GET', `https://127.0.0.1:${port}/`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectTimeoutError);
      expect((error as ConnectTimeoutError).timeout).toBe(150);
      expect((error as Error).message).toContain(`https://127.0.0.1:${port}`);
      expect((error as Error).message).toContain('150 ms');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe.each(adapters)('abort ($name adapter)', (adapter) => {
  it('rejects at once, sending nothing, when the signal is already aborted', async () => {
    await using http = adapter.make();
    const before = server.requests.length;
    const error = await http.request('GET', server.url('/'), { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isAbortError(error)).toBe(true);
    await expect(http.fetch(server.url('/'), { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.requests.length).toBe(before);
  });

  it('aborts a queued request without sending it, and the queue moves on', async () => {
    await using http = adapter.make({ maxSize: 1 });
    const pool = http.connectionFromUrl(server.url());
    const holder = await http.request('GET', server.url('/trickle'), { preloadContent: false });
    const controller = new AbortController();
    const queued = http.request('GET', server.url('/queued'), { signal: controller.signal });
    expect(pool.stats()).toMatchObject({ running: 1, queued: 1 });
    controller.abort();
    expect(isAbortError(await queued.catch((e: unknown) => e))).toBe(true);
    expect(pool.stats()).toMatchObject({ running: 1, queued: 0 });
    expect(server.requests.some((r) => r.url === '/queued')).toBe(false);
    await holder.body?.cancel();
    expect(pool.stats().running).toBe(0);
  });

  it('aborts while waiting for the answer, with an AbortError DOMException, and frees the slot at once', async () => {
    await using http = adapter.make({ maxSize: 1 });
    const controller = new AbortController();
    stallArrived = deferred();
    const pending = http.request('GET', server.url('/stall'), { signal: controller.signal });
    await stallArrived.promise;
    controller.abort();
    expect(isAbortError(await pending.catch((e: unknown) => e))).toBe(true);
    const pool = http.connectionFromUrl(server.url());
    expect(pool.stats().running).toBe(0);
    expect(await (await http.request('GET', server.url('/after'))).text()).toBe('ok');
  });

  it('aborts a streamed body while it is read, even between reads, and frees the slot at once', async () => {
    await using http = adapter.make({ maxSize: 1 });
    const controller = new AbortController();
    const r = await http.request('GET', server.url('/trickle'), { preloadContent: false, signal: controller.signal });
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first chunk');
    controller.abort();
    expect(isAbortError(await reader.read().catch((e: unknown) => e))).toBe(true);
    expect(http.connectionFromUrl(server.url()).stats().running).toBe(0);
    const second = new AbortController();
    const res = await http.fetch(server.url('/trickle'), { signal: second.signal });
    const fetchReader = (res.body as ReadableStream<Uint8Array>).getReader();
    await fetchReader.read();
    second.abort();
    expect(isAbortError(await fetchReader.read().catch((e: unknown) => e))).toBe(true);
    expect(http.connectionFromUrl(server.url()).stats().running).toBe(0);
    // The slot is free: with maxSize 1, this one runs.
    expect(await (await http.request('GET', server.url('/after'))).text()).toBe('ok');
  });

  it('rejects with the signal\'s own reason when it has one', async () => {
    await using http = adapter.make();
    const reason = new Error('user went away');
    await expect(http.request('GET', server.url('/stall'), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const controller = new AbortController();
    const pending = http.request('GET', server.url('/stall'), { signal: controller.signal });
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });
});

describe('abort while connecting (Node adapter)', () => {
  it('aborts a connection that never completes and frees the slot', async () => {
    const node = adapters.find((a) => a.name === 'node') as Adapter;
    const silent = net.createServer(() => undefined);
    const connected = deferred();
    const sockets = new Set<net.Socket>();
    silent.on('connection', (socket) => {
      sockets.add(socket);
      connected.resolve();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}/`;
    const http = node.make({ maxSize: 1 });
    try {
      const controller = new AbortController();
      const pending = http.request('GET', url, { signal: controller.signal });
      await connected.promise;
      controller.abort();
      expect(isAbortError(await pending.catch((e: unknown) => e))).toBe(true);
      expect(http.connectionFromUrl(url).stats().running).toBe(0);
    } finally {
      // undici finishes the abandoned handshake before its pool closes: end it from the server side.
      for (const socket of sockets) socket.destroy();
      await http.close();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
