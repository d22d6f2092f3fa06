/**
 * examples/node-ssr: the server renders a page from three upstreams through
 * one shared PoolManager, reuses each origin's keep-alive socket across
 * renders, and stops on Ctrl-C with exit code 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, start, type Child } from './support.js';

let ssr: Child;
let url: string;

beforeAll(async () => {
  ensureBuilt();
  ssr = start(process.execPath, ['examples/node-ssr/server.mjs', '--port', '0']);
  url = (await ssr.waitFor(/node-ssr example at (http:\/\/127\.0\.0\.1:\d+\/)/))[1] as string;
});

afterAll(async () => {
  expect(await ssr.stop()).toBe(0);
});

describe('examples/node-ssr', () => {
  it('renders the three upstreams into one page', async () => {
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const html = await response.text();
    for (const api of ['profile', 'weather', 'news']) expect(html).toContain(`<section data-api="${api}">`);
    expect(html).toContain('Ada Lovelace');
  });

  it('shares one pool per upstream across renders, reusing its connection', async () => {
    for (let i = 0; i < 4; i += 1) expect((await fetch(url)).status).toBe(200);
    const stats = (await (await fetch(`${url}stats`)).json()) as Array<{ origin: string; numRequests: number; numConnections: number }>;
    expect(stats).toHaveLength(3);
    for (const pool of stats) {
      expect(pool.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(pool.numRequests).toBe(5);
      // Renders come one after another: keep-alive serves them all on the first socket.
      expect(pool.numConnections).toBe(1);
    }
  });
});
