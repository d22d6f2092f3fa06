/**
 * Unread bodies in real workerd (issues #19 and #22): the README's Worker
 * manager (`maxTotal: 6`, module scope) fetches more responses than it has
 * slots and reads none. Workers have no FinalizationRegistry by default, so
 * reading ahead is what frees the slots; counted at a real loopback server,
 * and the next incoming request finds every slot free.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type RunningWorker } from '../../e2e/workerd/run-workerd.js';
import { startServer, type TestServer } from '../support/servers.js';

let worker: RunningWorker;
let server: TestServer;

beforeAll(async () => {
  server = await startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/413') return void res.writeHead(413, { 'content-type': 'text/plain' }).end('nobody reads this');
    if (path === '/204') return void res.writeHead(204).end();
    if (path === '/chunked') {
      // No content-length: read ahead by the reader loop rather than the runtime's arrayBuffer().
      res.write('chunk one;');
      return void res.end(' chunk two');
    }
    res.end(`ok ${path}`);
  });
  worker = await startWorker('e2e/workerd/unread-worker.ts');
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await server?.close();
});

interface Answer {
  statuses: number[];
  unread: boolean;
  last: string;
  stats: Array<{ running: number; queued: number }>;
}

const hits = (path: string): number => server.requests.filter((r) => r.url.startsWith(`${path}?`)).length;

describe('unread bodies in workerd, the README’s Worker manager (maxTotal: 6)', () => {
  it.each([
    ['GET', '/413', 413, 'nobody reads this'],
    ['GET', '/chunked', 200, 'chunk one; chunk two'],
    ['GET', '/204', 204, ''],
    ['HEAD', '/head', 200, ''],
  ])('%s %s ×10, none read: every one answered, 10 at the server, all slots free after', async (method, path, status, last) => {
    const before = hits(path);
    for (let round = 0; round < 2; round += 1) {
      // The second incoming request finds every slot the first one's unread bodies held free again.
      const { status: code, body } = await worker.get(`/unread?${new URLSearchParams({ origin: server.origin, path, method, count: '10' })}`);
      expect(code, body).toBe(200);
      const answer = JSON.parse(body) as Answer;
      expect(answer.statuses).toEqual(Array(10).fill(status));
      expect(answer.unread).toBe(true);
      expect(answer.last).toBe(last);
      expect(answer.stats.map(({ queued }) => queued)).toEqual([0]);
    }
    expect(hits(path)).toBe(before + 20);
  });
});
