/**
 * HTTPS against a local server whose certificate is made at test time
 * (test/support/tls.ts): verified by default, trusted with `tls: { ca }`,
 * and TLS settings kept apart in the pool keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaxRetryError, NewConnectionError, PoolManager } from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';
import { testCertificates } from '../support/tls.js';
import { fetchCause } from '../support/fetch-error.js';

let server: TestServer;
let ca: string;

beforeAll(async () => {
  ({ ca } = await testCertificates());
  // The test certificate names 127.0.0.1-3, localhost and ::1.
  server = await startServer(undefined, { host: '127.0.0.3', tls: true });
});
afterAll(async () => {
  await server.close();
});

/** The error a request ends with, unwrapped from MaxRetryError. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (e: unknown) => e as Error,
  );
  return error instanceof MaxRetryError && error.reason !== undefined ? error.reason : error;
}

describe('HTTPS', () => {
  it('rejects a certificate it cannot verify by default, with an error naming the problem', async () => {
    const manager = new PoolManager({ retries: false });
    try {
      const error = await failure(manager.request('GET', server.url('/secret')));
      expect(error).toBeInstanceOf(NewConnectionError);
      expect(error.message).toContain('TLS verification');
      expect(error.message).toContain(server.origin);
      expect(error.message).toMatch(/certificate/i);
      expect(error.message).toContain('tls: { ca }');
      expect((error.cause as { code?: string }).code).toMatch(/CERT|SELF_SIGNED|ISSUER|VERIFY/);
      // The handshake failed: the handler never saw a request.
      expect(server.requests.some((r) => r.url === '/secret')).toBe(false);
    } finally {
      await manager.close();
    }
  });

  it('rejects by default with retries on too: MaxRetryError whose reason names the TLS problem', async () => {
    const manager = new PoolManager({ retries: 1 });
    try {
      const error = await manager.request('GET', server.url('/secret')).catch((e: unknown) => e as Error);
      expect(isTlsFailure(error)).toBe(true);
    } finally {
      await manager.close();
    }
  });

  it('manager.fetch rejects an unverifiable certificate as well', async () => {
    const manager = new PoolManager();
    try {
      const error = fetchCause(await failure(manager.fetch(server.url('/secret')))) as Error;
      expect(error).toBeInstanceOf(NewConnectionError);
      expect(error.message).toContain('TLS verification');
    } finally {
      await manager.close();
    }
  });

  it('accepts the server with tls: { ca }', async () => {
    const manager = new PoolManager({ tls: { ca } });
    try {
      const r = await manager.request('GET', server.url('/trusted'));
      expect(r.status).toBe(200);
      expect((await r.json()) as { url: string }).toMatchObject({ url: '/trusted' });
      const f = await manager.fetch(server.url('/fetched'));
      expect(f.status).toBe(200);
      expect(await f.json()).toMatchObject({ url: '/fetched' });
      expect(manager.connectionFromUrl(server.url()).numRequests).toBe(2);
    } finally {
      await manager.close();
    }
    await server.whenNoConnections();
  });

  it('keeps a pool with a custom CA apart from one without: only the trusting pool connects', async () => {
    const manager = new PoolManager({ retries: false });
    try {
      const trusting = manager.connectionFromHost(server.host, server.port, 'https', { tls: { ca } });
      const plain = manager.connectionFromHost(server.host, server.port, 'https');
      expect(trusting).not.toBe(plain);
      expect(trusting.origin).toBe(plain.origin);
      expect(manager.pools.size).toBe(2);
      const ok = await trusting.request('GET', server.url('/via-ca'));
      expect(ok.status).toBe(200);
      // The plain pool did not inherit the trusting pool's sockets or settings.
      const error = await failure(plain.request('GET', server.url('/plain')));
      expect(error).toBeInstanceOf(NewConnectionError);
      expect(trusting.numRequests).toBe(1);
      // The manager's own requests go through its plain pool.
      expect(manager.connectionFromUrl(server.url())).toBe(plain);
    } finally {
      await manager.close();
    }
  });

  it('works over IPv6: connectionFromHost("::1", port, "https", { tls: { ca } })', async () => {
    const six = await startServer(undefined, { host: '::1', tls: true });
    const manager = new PoolManager({ retries: false });
    try {
      const pool = manager.connectionFromHost('::1', six.port, 'https', { tls: { ca } });
      expect(pool.origin).toBe(`https://[::1]:${six.port}`);
      const r = await pool.request('GET', `https://[::1]:${six.port}/v6`);
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ url: '/v6' });
      // Without the CA, the manager's own pool for the same origin refuses the certificate.
      await expect(manager.request('GET', `https://[::1]:${six.port}/v6`)).rejects.toThrow(NewConnectionError);
      expect(manager.pools.size).toBe(2);
    } finally {
      await manager.close();
      await six.close();
    }
  });

  it('names a certificate that does not cover the host, even with the right CA', async () => {
    // 127.0.0.80 is not among the certificate's names.
    const stranger = await startServer(undefined, { host: '127.0.0.80', tls: true });
    const manager = new PoolManager({ tls: { ca }, retries: false });
    try {
      const error = await failure(manager.request('GET', stranger.url('/')));
      expect(error).toBeInstanceOf(NewConnectionError);
      expect(error.message).toContain('127.0.0.80');
      expect(error.message).toMatch(/altnames/);
      expect(stranger.requests).toHaveLength(0);
    } finally {
      await manager.close();
      await stranger.close();
    }
  });

  it('rejectUnauthorized: false is an explicit opt-out, in its own pool', async () => {
    const manager = new PoolManager({ tls: { rejectUnauthorized: false } });
    try {
      const r = await manager.request('GET', server.url('/insecure'));
      expect(r.status).toBe(200);
      expect(manager.pools.keys()[0]).toMatch(/^https:\/\/127\.0\.0\.3:\d+ tls#\d+$/);
    } finally {
      await manager.close();
    }
  });
});

function isTlsFailure(error: unknown): boolean {
  const reason = error instanceof MaxRetryError ? error.reason : error;
  return reason instanceof NewConnectionError && reason.message.includes('TLS verification');
}
