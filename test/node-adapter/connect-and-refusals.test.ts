/**
 * Per-request `timeout.connect` on the Node entry (#24), against a server
 * that accepts TCP and never speaks TLS: the request's own limit applies to
 * the connection made for it, whatever the manager's. And what undici
 * refuses to send (a header it will not write) is a `TypeError` before
 * anything reaches the server, never retried, never undici's raw error.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { ConnectTimeoutError, PoolfetchError } from '../../src/errors.js';
import { startRawServer, type RawServer } from '../faults/support.js';

let silent: Server;
const sockets = new Set<Socket>();
let accepted = 0;
let silentOrigin: string;
let raw: RawServer;

beforeAll(async () => {
  silent = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentOrigin = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  raw = await startRawServer({});
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  await raw.close();
});

describe('per-request timeout.connect (Node entry)', () => {
  it('a TLS handshake that never starts times out at the request\'s limit, not the manager\'s', async () => {
    await using manager = new PoolManager({ timeout: { connect: 15_000 }, retries: false });
    const before = accepted;
    const error: unknown = await manager.request('GET', `${silentOrigin}/`, { timeout: { connect: 150 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectTimeoutError);
    expect((error as ConnectTimeoutError).message).toContain('150 ms');
    // undici's own error, underneath, names the timeout its connector ran with.
    expect(String(((error as ConnectTimeoutError).cause as Error).message)).toContain('timeout: 150ms');
    // The server did accept the socket: the limit covered the handshake, after TCP.
    expect(accepted).toBe(before + 1);
    // A second request with another limit gets its own, on a new connection.
    const second: unknown = await manager.request('GET', `${silentOrigin}/`, { timeout: { connect: 250 } }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(ConnectTimeoutError);
    expect((second as ConnectTimeoutError).message).toContain('250 ms');
    expect(String(((second as ConnectTimeoutError).cause as Error).message)).toContain('timeout: 250ms');
    expect(accepted).toBe(before + 2);
  }, 20_000);

  it('the manager\'s limit applies where the request sets none', async () => {
    await using manager = new PoolManager({ timeout: { connect: 200 }, retries: false });
    const error: unknown = await manager.request('GET', `${silentOrigin}/`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectTimeoutError);
    expect((error as ConnectTimeoutError).message).toContain('200 ms');
    expect(String(((error as ConnectTimeoutError).cause as Error).message)).toContain('timeout: 200ms');
  }, 20_000);
});

describe('what undici refuses to send', () => {
  for (const [name, value] of [['expect', '100-continue'], ['upgrade', 'websocket'], ['transfer-encoding', 'gzip']] as const) {
    it(`${name}: ${value} is a TypeError from request() and manager.fetch, nothing sent, not retried`, async () => {
      await using manager = new PoolManager({ retries: 3 });
      const before = raw.received.length;
      const error: unknown = await manager.request('GET', raw.url('/'), { headers: { [name]: value } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      // Not undici's own class, raw: a TypeError, with undici's error at most as its cause.
      expect((error as Error).constructor).toBe(TypeError);
      const fetched: unknown = await manager.fetch(raw.url('/'), { headers: { [name]: value } }).catch((e: unknown) => e);
      expect(fetched).toBeInstanceOf(TypeError);
      expect(fetched).not.toBeInstanceOf(PoolfetchError);
      expect(raw.received.length).toBe(before);
      // Refused by the core's check of headers only the client may set, before any pool counts a request.
      expect(manager.connectionFromUrl(raw.url('/')).numRequests).toBe(0);
    });
  }
});
