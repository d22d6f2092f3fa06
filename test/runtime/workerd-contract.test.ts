/**
 * manager.fetch beside workerd's own fetch, in real workerd (the BUILT
 * package): workerd answers `redirect: 'manual'` with the 3xx itself, so the
 * fetch entry follows redirects hop by hop, each hop through its own
 * origin's pool, and ends where workerd's own fetch ends; a refused
 * connection rejects exactly as workerd's own fetch rejects it.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type RunningWorker } from '../../e2e/workerd/run-workerd.js';
import { startServer, type TestServer } from '../support/servers.js';

let worker: RunningWorker;
let a: TestServer;
let b: TestServer;
let closed: string;

beforeAll(async () => {
  b = await startServer((_req, res) => void res.end('landed'));
  a = await startServer((_req, res) => void res.writeHead(302, { location: b.url('/landed') }).end());
  const gone = net.createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
  closed = `http://127.0.0.1:${(gone.address() as net.AddressInfo).port}/`;
  await new Promise((resolve) => gone.close(resolve));
  worker = await startWorker();
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await Promise.all([a, b].map((s) => s?.close()));
});

describe('manager.fetch against workerd’s own fetch', () => {
  it('follows a redirect hop by hop to where workerd ends, and rejects a refused connection as workerd does', async () => {
    const { status, body } = await worker.get(`/contract?${new URLSearchParams({ redirect: a.url('/go'), closed })}`);
    expect(status, body).toBe(200);
    const r = JSON.parse(body) as Record<string, unknown>;
    // Why poolfetch can follow here: workerd shows the 3xx and its Location.
    expect(r.manual).toEqual({ status: 302, location: b.url('/landed') });
    expect(r.runtime).toEqual({ status: 200, redirected: true, url: b.url('/landed'), text: 'landed' });
    expect(r.ours).toEqual(r.runtime);
    // One request per hop at each origin, each through its own pool.
    expect(r.pools).toEqual([{ origin: a.origin, numRequests: 1 }, { origin: b.origin, numRequests: 1 }]);
    expect(a.requests.map((q) => q.url)).toEqual(['/go', '/go', '/go']);
    expect(b.requests.map((q) => q.url)).toEqual(['/landed', '/landed']);
    // workerd's own fetch rejects a refused connection with a plain Error, not a TypeError: manager.fetch
    // passes it on as it is, so code written for workerd sees what it sees without poolfetch.
    expect(r.refusedRuntime).toEqual({ isTypeError: false, message: 'Network connection lost.', causeName: null, isPoolfetch: false });
    expect(r.refusedOurs).toEqual(r.refusedRuntime);
  });
});
