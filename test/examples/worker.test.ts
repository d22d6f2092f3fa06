/**
 * examples/worker in real workerd: built with examples/worker/build.mjs,
 * served with `workerd serve examples/worker/config.capnp`, it fans out to
 * two loopback origins and never has more than `maxTotal: 6` requests in
 * flight across them, as a Worker invocation's connection limit requires.
 * The upstreams hold every request until the test lets it answer, so the
 * cap shows as the number open at once, whatever the timing.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drive, gate, type Gate } from '../fetch-adapter/support.js';
import { ensureBuilt, start, type Child } from './support.js';

let workerd: Child;
let workerUrl: string;
const upstreams: http.Server[] = [];
let g: Gate;
let served = 0;

beforeAll(async () => {
  ensureBuilt();
  const built = spawnSync(process.execPath, ['examples/worker/build.mjs'], { encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);

  // Both origins hold their requests in one gate, so its peak is the most in flight across origins.
  g = gate();
  for (let i = 0; i < 2; i += 1) {
    const server = http.createServer((req, res) => {
      served += 1;
      void g.hold(req.url ?? '', () => res.end(`upstream ${i} ${req.url ?? ''}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    upstreams.push(server);
  }

  // Port 0, and workerd reports the port it bound on --control-fd once it listens: no polling.
  workerd = start('node_modules/workerd/bin/workerd', ['serve', 'examples/worker/config.capnp', '--socket-addr', 'http=127.0.0.1:0', '--control-fd', '3'], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const control = workerd.child.stdio[3];
  if (control === null || control === undefined || !('on' in control)) throw new Error('no control pipe to workerd');
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    control.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /"port":\s*(\d+)/.exec(text);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
    });
    workerd.child.once('exit', (code) => reject(new Error(`workerd exited (${String(code)}):\n${workerd.output()}`)));
  });
  workerUrl = `http://127.0.0.1:${port}/`;
});

afterAll(async () => {
  g?.releaseAll();
  await workerd?.stop();
  await Promise.all(upstreams.map((server) => new Promise((resolve) => server.close(resolve))));
});

const origin = (server: http.Server): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

describe('examples/worker', () => {
  it('fans out through one PoolManager per invocation, at most six in flight across origins', async () => {
    const [a, b] = upstreams as [http.Server, http.Server];
    const targets = Array.from({ length: 16 }, (_, i) => `${origin(i % 2 === 0 ? a : b)}/item/${i}`);
    const query = targets.map((t) => `url=${encodeURIComponent(t)}`).join('&');
    const answer = fetch(`${workerUrl}?${query}`);
    // Six arrive and are held; each release lets exactly one more in, until all 16 have been.
    await drive(g, 16, 6);
    g.releaseAll();
    const response = await answer;
    expect(response.status, workerd.output()).toBe(200);
    const body = (await response.json()) as { results: Array<{ url: string; status: number; bytes: number }>; pools: Array<{ origin: string; numRequests: number }> };
    expect(body.results.map((r) => r.status)).toEqual(targets.map(() => 200));
    expect(body.results.map((r) => r.url)).toEqual(targets);
    expect(body.pools.map((p) => [p.origin, p.numRequests]).sort()).toEqual([[origin(a), 8], [origin(b), 8]].sort());
    expect(served).toBe(16);
    // Exactly the cap: six held at once before any answered (a lower cap never reaches drive's first
    // release), and never a seventh while six were open. Above six workerd queues outbound fetches
    // itself (a Worker's connection limit), so the servers cannot tell a cap of 7 from 6 here;
    // test/runtime/workerd.test.ts checks maxTotal below that limit.
    expect(g.peak).toBe(6);
  });

  it('answers 400 without a ?url=', async () => {
    const response = await fetch(workerUrl);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('?url=');
  });
});
