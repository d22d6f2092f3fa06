/**
 * Retiring pools keep no idle socket (#24): with `maxTotal: 12`, 5 pools of
 * 3 and 20 origins churning, the sockets open at once, counted at the
 * servers, stay within maxTotal + numPools × maxSize (27). A socket counts
 * until the server has read its client's end (or it closed): a socket the
 * client has closed is not one it keeps.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';

const ORIGINS = 20;
let servers: http.Server[] = [];
let open = 0;
let peak = 0;
let accepted = 0;

beforeAll(async () => {
  servers = await Promise.all(
    Array.from({ length: ORIGINS }, async (_, i) => {
      const server = http.createServer((req, res) => {
        // A few ms in flight, so requests overlap and wait under maxTotal.
        setTimeout(() => res.end('ok'), 2);
      });
      server.on('connection', (socket: Socket) => {
        accepted += 1;
        open += 1;
        peak = Math.max(peak, open);
        let counted = true;
        const gone = (): void => {
          if (!counted) return;
          counted = false;
          open -= 1;
        };
        socket.on('end', gone);
        socket.on('close', gone);
      });
      await new Promise<void>((resolve) => server.listen(0, `127.0.0.${2 + i}`, resolve));
      return server;
    }),
  );
});
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('sockets under origin churn with maxTotal', () => {
  it('stay within maxTotal + numPools × maxSize, counted at the servers', async () => {
    await using manager = new PoolManager({ maxTotal: 12, numPools: 5, maxSize: 3, retries: false });
    const urls = servers.map((server) => {
      const { address, port } = server.address() as AddressInfo;
      return `http://${address}:${port}/`;
    });
    // Bursts that each touch every origin in a shuffled order, several requests each.
    for (let round = 0; round < 4; round += 1) {
      const order = urls.flatMap((url) => [url, url, url, url]).sort(() => Math.random() - 0.5);
      const responses = await Promise.all(order.map((url) => manager.request('GET', url)));
      expect(responses.every((r) => r.status === 200)).toBe(true);
    }
    console.log(`churn: ${accepted} sockets accepted, at most ${peak} open at once (bound 27)`);
    expect(accepted).toBeGreaterThan(27);
    expect(peak).toBeLessThanOrEqual(12 + 5 * 3);
  }, 60_000);
});
