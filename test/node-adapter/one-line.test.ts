/**
 * One line, not two (#21): the Node adapter's connections are undici
 * Clients it owns, one exchange each, and poolfetch's waiting line is the
 * only cap. So the cap must hold on its own, counted at the server: a slot
 * freed before its body has arrived would open another socket at once
 * (there is no undici Pool behind the line to hide it any more).
 */
import { describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { startServer } from '../support/servers.js';

describe('the Node adapter keeps one line', () => {
  it('maxSize 1, three preloaded requests whose bodies arrive slowly: one in flight at the server, one socket, in call order', async () => {
    const server = await startServer(async (req, res) => {
      res.writeHead(200, { 'content-length': '6' });
      res.write('abc');
      // The rest of the body a little later: the slot must stay held until it has arrived.
      await new Promise((resolve) => setTimeout(resolve, 30));
      res.end('def');
    });
    try {
      await using manager = new PoolManager({ maxSize: 1 });
      const responses = await Promise.all([1, 2, 3].map((n) => manager.request('GET', server.url(`/${n}`))));
      expect(await Promise.all(responses.map((r) => r.text()))).toEqual(['abcdef', 'abcdef', 'abcdef']);
      expect(server.peakInFlight).toBe(1);
      expect(server.totalConnections).toBe(1);
      expect(server.requests.map((r) => r.url)).toEqual(['/1', '/2', '/3']);
    } finally {
      await server.close();
    }
  });

  it('maxSize 3, 30 callers: never more than 3 sockets or 3 in flight at the server, each served once', async () => {
    const server = await startServer((req, res) => {
      setTimeout(() => res.end('ok'), 3);
    });
    try {
      await using manager = new PoolManager({ maxSize: 3 });
      const urls = Array.from({ length: 30 }, (_, n) => server.url(`/${n}`));
      const responses = await Promise.all(urls.map((url) => manager.request('GET', url)));
      expect(responses.every((r) => r.status === 200)).toBe(true);
      expect(server.peakConnections).toBeLessThanOrEqual(3);
      expect(server.peakInFlight).toBe(3);
      expect(server.requests).toHaveLength(30);
    } finally {
      await server.close();
    }
  });
});
