/**
 * `openConnections` in `stats()` rows, beside `numConnections`: what is open
 * now against a running total. Node: the server closes each connection
 * after its answer, so every round opens new sockets and `numConnections`
 * (sockets ever opened) passes `maxSize`, while `openConnections` is what
 * the server sees open at that moment. Fetch: the runtime owns the sockets,
 * so it is the requests in flight, counted by the server that holds them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager as FetchPoolManager } from '../../adapters/fetch/index.js';
import { PoolManager as NodePoolManager } from '../../adapters/node/index.js';
import { gate, type Gate } from '../fetch-adapter/support.js';
import { startServer, type TestServer } from '../support/servers.js';

let g: Gate;
let server: TestServer;

beforeAll(async () => {
  server = await startServer((req, res) =>
    g.hold(req.url ?? '', () => {
      // A new socket for every request: numConnections grows past maxSize as rounds go by.
      res.setHeader('connection', 'close');
      res.end('ok');
    }),
  );
});
afterAll(async () => {
  await server.close();
});

/** Sends `n` requests that the server holds; resolves once all have arrived, with their answers still to come. */
async function heldRound(manager: NodePoolManager | FetchPoolManager, n: number, round: number): Promise<{ answers: Promise<string[]> }> {
  const before = g.started.length;
  const answers = Promise.all(Array.from({ length: n }, async (_, i) => (await manager.request('GET', server.url(`/r${round}/${i}`))).text()));
  await g.whenStarted(before + n);
  // Wrapped: an async function returning the promise itself would wait for it.
  return { answers };
}

describe('stats() openConnections beside numConnections', () => {
  it('Node: sockets open now, as the server counts them, while numConnections (sockets ever opened) passes maxSize', async () => {
    await using manager = new NodePoolManager({ maxSize: 2 });
    // Disposed before the manager: a failed assertion cannot leave the manager's disposal waiting on held requests.
    using _held = (g = gate());
    for (let round = 0; round < 3; round += 1) {
      const { answers } = await heldRound(manager, 2, round);
      const [row] = manager.stats();
      expect(server.openConnections).toBe(2);
      expect(row?.openConnections).toBe(server.openConnections);
      expect(row?.numConnections).toBe(server.totalConnections);
      expect(manager.connectionFromUrl(server.url()).openConnections).toBe(2);
      g.releaseOne();
      g.releaseOne();
      expect(await answers).toEqual(['ok', 'ok']);
      await server.whenNoConnections();
    }
    // Six sockets opened in all, never more than two at once: the total is no broken cap.
    expect(server.totalConnections).toBe(6);
    expect(manager.stats()[0]?.numConnections).toBe(6);
    expect(server.peakConnections).toBe(2);
  });

  it('fetch: requests in flight now, as the server holds them; 0 once answered', async () => {
    await using manager = new FetchPoolManager({ maxSize: 2 });
    using _held = (g = gate());
    const { answers } = await heldRound(manager, 2, 9);
    const third = manager.request('GET', server.url('/r9/waits')).then((r) => r.text());
    // Two in flight at the server, the third waits in poolfetch's line.
    expect(g.inFlight).toBe(2);
    expect(manager.stats()[0]).toMatchObject({ openConnections: 2, running: 2, queued: 1 });
    g.releaseAll();
    expect([...(await answers), await third]).toEqual(['ok', 'ok', 'ok']);
    expect(g.inFlight).toBe(0);
    expect(manager.stats()[0]).toMatchObject({ openConnections: 0, numConnections: 2, numRequests: 3 });
  });
});
