/**
 * The BUILT package in real workerd (the Cloudflare Workers runtime): a
 * Worker bundled with the `workerd` condition fetches loopback servers
 * through `PoolManager`, and the servers count what is open at once. The
 * servers hold every request until the test lets it answer, so a cap that
 * did not hold would show as more requests open than allowed.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startWorker, type RunningWorker } from '../../e2e/workerd/run-workerd.js';
import { drive, gate, startProbe, type Gate, type Probe } from '../fetch-adapter/support.js';
import { startServer, type TestServer } from '../support/servers.js';

let worker: RunningWorker;
let g: Gate;
let probe: Probe;
const servers: TestServer[] = [];

beforeAll(async () => {
  for (let i = 0; i < 4; i += 1) {
    const server: TestServer = await startServer((req, res) =>
      g.hold(`${server.origin}${req.url ?? ''}`, () => void res.end(req.url), server.origin),
    );
    servers.push(server);
  }
  probe = await startProbe();
  worker = await startWorker();
}, 60_000);

afterAll(async () => {
  g?.releaseAll();
  await worker?.close();
  await Promise.all([probe, ...servers].map((s) => s?.close()));
});

beforeEach(() => {
  g?.releaseAll();
  g = gate();
});

const query = (origins: string[], extra: Record<string, string>): string =>
  new URLSearchParams([...origins.map((o) => ['origin', o]), ...Object.entries(extra), ['probe', probe.url]]).toString();

/**
 * How many requests had left the pools for workerd's network a task after
 * the burst, as the Worker reported to the probe: exactly what the caps let
 * through at once. Counted where poolfetch hands requests to the runtime, so
 * a cap that did not hold shows here whatever order the servers see them in.
 */
async function sentInBurst(): Promise<number> {
  await probe.whenHit(probe.hits.length + 1);
  return Number(new URL(probe.hits.at(-1) ?? '', 'http://x').searchParams.get('sent'));
}

describe('poolfetch in workerd', () => {
  it('bundles the fetch entry, and the fetch entry is what runs', async () => {
    expect(worker.inputs.some((p) => p.endsWith('/dist/adapters/fetch/workerd.js'))).toBe(true);
    expect(worker.inputs.some((p) => p.includes('/adapters/node/') || p.includes('/undici/'))).toBe(false);
    const { status, body } = await worker.get('/entry');
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ entry: 'fetch', name: 'NotSupportedError', message: expect.stringContaining('poolfetch/node') });
  });

  it('keeps each origin within maxSize, as the servers see it', async () => {
    const origins = servers.slice(0, 2).map((s) => s.origin);
    const answer = worker.get(`/own?${query(origins, { each: '5', maxSize: '2' })}`);
    expect(await sentInBurst()).toBe(4);
    await Promise.all(origins.map((origin) => drive(g, 5, 2, origin)));
    g.releaseAll();
    const { status, body } = await answer;
    expect(status, body).toBe(200);
    const result = JSON.parse(body) as { texts: string[]; stats: Array<{ origin: string; numRequests: number; numConnections: number }> };
    expect(result.texts).toEqual(origins.flatMap(() => ['/0', '/1', '/2', '/3', '/4']));
    for (const origin of origins) expect(g.peakOf(origin)).toBe(2);
    expect(result.stats.map(({ origin, numRequests, numConnections }) => ({ origin, numRequests, numConnections }))).toEqual(
      origins.map((origin) => ({ origin, numRequests: 5, numConnections: 2 })),
    );
  });

  it('keeps all origins together within maxTotal (3 here, below what workerd itself allows)', async () => {
    const origins = servers.slice(0, 3).map((s) => s.origin);
    const answer = worker.get(`/own?${query(origins, { each: '3', maxSize: '3', maxTotal: '3' })}`);
    expect(await sentInBurst()).toBe(3);
    await drive(g, 9, 3);
    g.releaseAll();
    const { status, body } = await answer;
    expect(status, body).toBe(200);
    expect((JSON.parse(body) as { texts: string[] }).texts).toHaveLength(9);
    expect(g.peak).toBe(3);
  });

  it('keeps all origins together within maxTotal: 6 (the README’s Worker manager)', async () => {
    const origins = servers.map((s) => s.origin);
    const answer = worker.get(`/shared?${query(origins, { each: '4' })}`);
    expect(await sentInBurst()).toBe(6);
    // Four per origin, within the default maxSize of 6: maxTotal is the one cap that binds.
    await drive(g, 16, 6);
    g.releaseAll();
    const { status, body } = await answer;
    expect(status, body).toBe(200);
    expect((JSON.parse(body) as { texts: string[] }).texts).toHaveLength(16);
    expect(g.peak).toBe(6);
    expect(g.started).toHaveLength(16);
  });
});
