/**
 * The caps at the servers with `maxTotal` below workerd's own connection
 * cap (issue #22): workerd lets one incoming request open six connections,
 * so with the README's `maxTotal: 6` a slot that poolfetch's line both
 * handed to a waiter and counted free would be hidden by workerd queueing
 * the seventh itself. With `maxTotal: 3` nothing but poolfetch's line keeps
 * a fourth subrequest from the servers. Two loopback origins count what is
 * in flight at both together; each answer takes 40 ms, so what the line lets
 * through overlaps there: the cap is reached, and one more would be seen.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startWorker, type RunningWorker } from '../../e2e/workerd/run-workerd.js';
import { SMALL_CAP } from '../../e2e/workerd/small-cap-worker.js';
import { startServer, type TestServer } from '../support/servers.js';

let worker: RunningWorker;
const servers: TestServer[] = [];
const counts = { now: 0, peak: 0 };
/** How long each answer takes. */
const ANSWER_MS = 40;

beforeAll(async () => {
  for (const host of ['127.0.0.1', '127.0.0.2']) {
    servers.push(
      await startServer((req, res) => {
        counts.now += 1;
        counts.peak = Math.max(counts.peak, counts.now);
        res.once('close', () => {
          counts.now -= 1;
        });
        // Each answer takes a while, so that what the line lets through overlaps at the server: held
        // until the cap is reached, an answer would make room for an extra one and hide it.
        setTimeout(() => {
          res.setHeader('content-type', 'text/plain');
          res.end(`answer to ${req.url}`);
        }, ANSWER_MS);
      }, { host }),
    );
  }
  worker = await startWorker('e2e/workerd/small-cap-worker.ts');
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await Promise.all(servers.map((s) => s.close()));
});

beforeEach(() => {
  counts.peak = 0;
});

/** `each` subrequests to each origin. */
function fan(each: number, read: string, tag: string): string {
  const urls = servers.flatMap((s) => Array.from({ length: each }, (_, i) => ['url', s.url(`/${tag}/${i}`)]));
  return `/fan?${new URLSearchParams([...urls, ['read', read]]).toString()}`;
}

/** stats() from the Worker until nothing runs or waits, or the last one seen after 10 s (each poll a round trip). */
async function statsWhenIdle(): Promise<Array<{ running: number; queued: number }>> {
  let rows: Array<{ running: number; queued: number }> = [];
  for (const until = Date.now() + 10_000; Date.now() < until; ) {
    rows = (JSON.parse((await worker.get('/stats')).body) as Answer['stats']).map(({ running, queued }) => ({ running, queued }));
    if (rows.every((r) => r.running === 0 && r.queued === 0)) return rows;
  }
  return rows;
}

interface Answer {
  statuses: number[];
  stats: Array<{ running: number; queued: number }>;
}

describe(`maxTotal: ${SMALL_CAP}, below workerd's own six connections per request`, () => {
  for (const read of ['text', 'request', 'none']) {
    it(`${read}: one request of 12 subrequests, then 4 at once: never more than ${SMALL_CAP} in flight at the servers, and exactly that many`, async () => {
      const one = await worker.get(fan(6, read, `${read}-one`));
      expect(one.status, one.body).toBe(200);
      expect((JSON.parse(one.body) as Answer).statuses).toEqual(Array(12).fill(200));
      expect(counts.peak).toBe(SMALL_CAP);
      // Unread bodies still arriving as their request ended hold their slots until the leases notice.
      expect(await statsWhenIdle()).toEqual(servers.map(() => ({ running: 0, queued: 0 })));
      counts.peak = 0;
      const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => worker.get(fan(4, read, `${read}-many${i}`))));
      for (const answer of answers) {
        expect(answer.status, answer.body).toBe(200);
        expect((JSON.parse(answer.body) as Answer).statuses).toEqual(Array(8).fill(200));
      }
      expect(counts.peak).toBe(SMALL_CAP);
      // Nothing counted as held or waiting once every request has answered: at once where the bodies
      // were read, within the leases' bound where an unread one was still arriving as its request ended.
      expect(await statsWhenIdle()).toEqual(servers.map(() => ({ running: 0, queued: 0 })));
      const log = worker.log();
      expect(log).not.toMatch(/different request context|hung|Uncaught/);
    }, 60_000);
  }
});
