/**
 * The Node transport after close(): the pool in front of it refuses new
 * requests, but should one reach it, it fails with `ClosedPoolError` and
 * no socket is opened for it (counted at the server), instead of a new
 * undici Client made behind a closed pool's back.
 */
import { expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { UndiciTransport } from '../../adapters/node/undici-transport.js';
import { ClosedPoolError } from '../../src/errors.js';
import { startServer } from '../support/servers.js';

it('a closed Node transport fails a request with ClosedPoolError and opens no socket', async () => {
  const server = await startServer();
  try {
    await using manager = new PoolManager();
    const pool = manager.connectionFromUrl(server.url('/'));
    const transport = new UndiciTransport(pool.poolKey, pool.options);
    await transport.close();
    const sending = transport.send({
      method: 'GET',
      url: new URL(server.url('/')),
      headers: new Headers(),
      body: null,
      signal: undefined,
      timeout: pool.options.timeout,
      maxResponseSize: undefined,
    });
    await expect(sending).rejects.toBeInstanceOf(ClosedPoolError);
    expect(server.totalConnections).toBe(0);
  } finally {
    await server.close();
  }
});
