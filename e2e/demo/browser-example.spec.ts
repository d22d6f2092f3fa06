/**
 * examples/browser in real Chromium: the esbuild bundle of poolfetch's fetch
 * entry and ky calls two loopback APIs through one PoolManager, one pool per
 * origin, never more than maxSize (2) requests in flight per origin.
 */
import { expect, test } from '@playwright/test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

test('the ky + PoolManager page loads both APIs through two pools', async ({ page }) => {
  const server = spawn(process.execPath, ['examples/browser/serve.mjs'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /browser example at (\S+)/.exec(out);
        if (match?.[1] !== undefined) resolve(match[1]);
      });
      server.once('exit', (code) => reject(new Error(`serve.mjs exited (${String(code)}):\n${out}`)));
    });
    await page.goto(url);
    await expect(page.locator('body')).toHaveAttribute('data-state', 'done');
    await expect(page.locator('#results li')).toHaveCount(10);
    await expect(page.locator('#results li', { hasText: 'profile /item/4' })).toHaveCount(1);
    const rows = page.locator('#pools tr');
    await expect(rows).toHaveCount(2);
    for (const row of await rows.all()) {
      const [origin, requests, peak] = await row.locator('td').allTextContents();
      expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(requests).toBe('5');
      // maxSize 2: five calls at once, at most two in flight to one origin.
      expect(Number(peak)).toBeLessThanOrEqual(2);
      expect(Number(peak)).toBeGreaterThanOrEqual(1);
    }
    await expect(page.locator('#events')).toContainText('poolcreate http://127.0.0.1:');
  } finally {
    const exited = once(server, 'exit');
    server.kill('SIGINT');
    const [code] = (await exited) as [number | null];
    expect(code, out).toBe(0);
  }
});
