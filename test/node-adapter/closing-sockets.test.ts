/**
 * A socket that is closing still counts against its origin's `maxSize` until
 * it has closed (#21), as urllib3's pool owns its connections: when a
 * retiring pool closes its sockets, or a revived pool's idle ones were
 * closed, a new socket for that origin is opened only once an old one is
 * gone. Counted at the servers: the most sockets open at once on each
 * origin, a socket counting until the server has read its client's end.
 */
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';
import { testCertificates } from '../support/tls.js';

const ORIGINS = 3;
let servers: TestServer[] = [];

beforeAll(async () => {
  servers = await Promise.all(
    Array.from({ length: ORIGINS }, (_, i) =>
      startServer(
        (_req, res) => {
          // A moment in flight, so requests overlap and the line fills.
          setTimeout(() => res.end('ok'), 1);
        },
        { host: `127.0.0.${2 + i}` },
      ),
    ),
  );
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

/** Bursts that each send `perOrigin` requests to every origin in a shuffled order, all at once. */
async function churn(manager: PoolManager, rounds: number, perOrigin: number): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    const order = servers.flatMap((server) => Array.from({ length: perOrigin }, () => server.url('/'))).sort(() => Math.random() - 0.5);
    const responses = await Promise.all(order.map((url) => manager.request('GET', url)));
    expect(responses.map((r) => r.status)).toEqual(order.map(() => 200));
  }
}

/**
 * Two requests given up once the server has accepted their sockets, mid-handshake. Resolves as soon as
 * both are given up, with `ended` (what each request ended with: its message, or 'answered') left to
 * await, so the caller acts while those sockets still connect.
 */
async function twoGivenUpMidHandshake(manager: PoolManager, server: { origin: string; accepted: number; accepting(n: number): Promise<void> }): Promise<{ ended: Promise<string[]> }> {
  const accepted = server.accepted;
  const controllers = [new AbortController(), new AbortController()];
  const aborted = controllers.map((controller) =>
    manager.request('GET', `${server.origin}/`, { signal: controller.signal }).then(
      () => 'answered',
      (error: unknown) => (error as Error).message,
    ),
  );
  await server.accepting(accepted + 2);
  for (const controller of controllers) controller.abort(new Error('given up'));
  return { ended: Promise.all(aborted) };
}

describe('closing sockets count against maxSize until closed', () => {
  it('numPools below the origins in use, more callers than connections: never more than maxSize sockets on one origin', async () => {
    const before = servers.map((server) => server.totalConnections);
    {
      await using manager = new PoolManager({ numPools: 1, maxSize: 2, retries: false });
      await churn(manager, 8, 6);
    }
    const opened = servers.map((server, i) => server.totalConnections - (before[i] ?? 0));
    const peaks = servers.map((server) => server.peakUnendedConnections);
    console.log(`closing sockets: opened per origin ${opened.join(', ')}; most open at once per origin ${peaks.join(', ')} (maxSize 2)`);
    // The churn did close and reopen sockets on every origin, many times over.
    for (const n of opened) expect(n).toBeGreaterThan(2 * 4);
    for (const peak of peaks) expect(peak).toBeLessThanOrEqual(2);
  }, 60_000);

  it('a socket given up while it connects counts until it has closed: the next request waits for it (TLS, counted at the server)', async () => {
    const { ca } = await testCertificates();
    const server = await tlsServer();
    try {
      for (let round = 0; round < 10; round += 1) {
        // A manager per round, so the requests given up open sockets of their own rather than reuse kept ones.
        await using manager = new PoolManager({ maxSize: 2, retries: false, tls: { ca } });
        // Two requests given up once the server has accepted their sockets, mid-handshake: such a socket
        // closes only once its handshake is over, and until then it still counts against maxSize.
        const { ended } = await twoGivenUpMidHandshake(manager, server);
        const answered = await Promise.all([manager.request('GET', `${server.origin}/`), manager.request('GET', `${server.origin}/`)]);
        expect(await ended).toEqual(['given up', 'given up']);
        expect(answered.map((r) => r.status)).toEqual([200, 200]);
        await manager.close();
        // The next round starts with nothing open at the server.
        await server.empty();
      }
      console.log(`given up while connecting: ${server.accepted} sockets opened, at most ${server.peak} open at once (maxSize 2)`);
      expect(server.accepted).toBeGreaterThanOrEqual(10 * 4);
      expect(server.peak).toBeLessThanOrEqual(2);
    } finally {
      await server.close();
    }
  }, 60_000);

  it("a retiring pool's socket still connecting counts against the next pool for its origin (TLS, counted at the server)", async () => {
    const { ca } = await testCertificates();
    const server = await tlsServer();
    const other = await startServer((_req, res) => void res.end('ok'), { host: '127.0.0.5' });
    try {
      for (let round = 0; round < 10; round += 1) {
        await using manager = new PoolManager({ numPools: 1, maxSize: 2, retries: false, tls: { ca } });
        const created: string[] = [];
        manager.addEventListener('poolcreate', (event) => created.push(event.origin));
        const { ended } = await twoGivenUpMidHandshake(manager, server);
        expect(await ended).toEqual(['given up', 'given up']);
        // Another origin evicts the pool (numPools 1), which closes at once (it holds nothing); the next
        // requests make a new pool for the origin while the old pool's sockets still connect.
        const elsewhere = manager.request('GET', other.url('/'));
        const answered = await Promise.all([manager.request('GET', `${server.origin}/`), manager.request('GET', `${server.origin}/`)]);
        expect(answered.map((r) => r.status)).toEqual([200, 200]);
        expect((await elsewhere).status).toBe(200);
        // Two pools for the origin, one after the other: the first closed, not revived.
        expect(created).toEqual([server.origin, other.origin, server.origin]);
        await manager.close();
        await server.empty();
      }
      console.log(`retiring pool's sockets: ${server.accepted} opened, at most ${server.peak} open at once (maxSize 2)`);
      expect(server.accepted).toBeGreaterThanOrEqual(10 * 4);
      expect(server.peak).toBeLessThanOrEqual(2);
    } finally {
      await server.close();
      await other.close();
    }
  }, 60_000);

  it('a request given up while its connect waits for a closing socket is refused at once, never connected', async () => {
    const { ca } = await testCertificates();
    const server = await tlsServer();
    try {
      {
        await using manager = new PoolManager({ maxSize: 1, retries: false, tls: { ca } });
        const first = new AbortController();
        const given = manager.request('GET', `${server.origin}/`, { signal: first.signal }).catch((error: unknown) => (error as Error).message);
        await server.accepting(1);
        first.abort(new Error('first given up'));
        expect(await given).toBe('first given up');
        // Its connect waits at the gate while the first socket finishes its handshake and closes.
        const second = new AbortController();
        const waiting = manager.request('GET', `${server.origin}/`, { signal: second.signal }).catch((error: unknown) => (error as Error).message);
        // One turn: the request reaches its connection (microtasks), not the end of the first socket's handshake.
        await new Promise<void>((resolve) => setImmediate(resolve));
        expect(server.accepted).toBe(1);
        second.abort(new Error('second given up'));
        expect(await waiting).toBe('second given up');
        const answered = await manager.request('GET', `${server.origin}/`);
        expect(answered.status).toBe(200);
      }
      await server.empty();
      // The first socket and the answered request's: the request given up at the gate never connected.
      expect(server.accepted).toBe(2);
      expect(server.peak).toBeLessThanOrEqual(1);
    } finally {
      await server.close();
    }
  });
});

/**
 * An https server that counts a socket as open from its accept (the turn
 * after) until the client's end has been read (or the socket failed or closed). TLS runs
 * over a JavaScript stream fed by the raw socket: over the socket's handle
 * the raw socket's own `end` never comes, and the TLS socket's `end` and
 * `close` lag the client's end by a turn or more.
 */
async function tlsServer(): Promise<{
  origin: string;
  readonly accepted: number;
  readonly peak: number;
  accepting(n: number): Promise<void>;
  empty(): Promise<void>;
  close(): Promise<void>;
}> {
  const { cert, key } = await testCertificates();
  const secureContext = tls.createSecureContext({ cert, key });
  const web = http.createServer((_req, res) => res.end('ok'));
  const raw = new Set<net.Socket>();
  let accepted = 0;
  let open = 0;
  let peak = 0;
  let onAccept: (() => void) | undefined;
  let onEmpty: (() => void) | undefined;
  const tcp = net.createServer((socket) => {
    raw.add(socket);
    accepted += 1;
    // Counted from the turn after its accept: in one turn the system may report a new socket before the
    // end of one its client closed first (it does not report several sockets in the order of their packets).
    let state: 'accepted' | 'open' | 'ended' = 'accepted';
    setImmediate(() => {
      if (state !== 'accepted') return;
      state = 'open';
      open += 1;
      peak = Math.max(peak, open);
    });
    const noop = (): void => {};
    const ended = (): void => {
      if (state === 'open') open -= 1;
      state = 'ended';
    };
    // TLS over a JavaScript stream, not the socket's handle: the raw socket then still reads, and sees the client's end.
    const plain = new Duplex({
      read: () => {},
      write: (chunk: Buffer, _encoding, callback) => {
        socket.write(chunk, callback);
      },
      final: (callback) => {
        socket.end(callback);
      },
      destroy: (error, callback) => {
        socket.destroy();
        callback(error);
      },
    });
    // Never paused (a few KiB per socket): a paused socket would not read the client's end either.
    socket.on('data', (chunk: Buffer) => plain.push(chunk));
    socket.on('end', () => {
      ended();
      plain.push(null);
    });
    socket.on('error', (error) => {
      ended();
      plain.destroy(error);
    });
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext });
    secure.on('error', noop);
    socket.on('close', () => {
      ended();
      raw.delete(socket);
      if (raw.size === 0) onEmpty?.();
    });
    onAccept?.();
    web.emit('connection', secure);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const { port } = tcp.address() as net.AddressInfo;
  return {
    origin: `https://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    get peak() {
      return peak;
    },
    accepting: (n) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (accepted < n) return;
          onAccept = undefined;
          resolve();
        };
        onAccept = check;
        check();
      }),
    empty: () =>
      new Promise<void>((resolve) => {
        onEmpty = () => {
          onEmpty = undefined;
          resolve();
        };
        if (raw.size === 0) onEmpty();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of raw) socket.destroy();
        web.closeAllConnections();
        tcp.close(() => resolve());
      }),
  };
}
