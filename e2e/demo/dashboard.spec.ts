/**
 * `npm run demo` in real Chromium: the Node panel fills from server-sent
 * events, the Browser panel runs the workload through the built fetch
 * bundle, the controls reach both, clear() empties the table, and Ctrl-C
 * stops the demo with exit code 0.
 */
import { expect, test, type Locator } from '@playwright/test';
import { startDemo, type RunningDemo } from './run-demo.js';

let demo: RunningDemo;

test.describe.configure({ mode: 'serial' });
test.use({ viewport: { width: 1480, height: 1000 } });

test.beforeAll(async () => {
  demo = await startDemo();
});

test.afterAll(async () => {
  const code = await demo.stop();
  expect(code, demo.output()).toBe(0);
  expect(demo.output()).toContain('stopped cleanly');
});

const count = async (locator: Locator): Promise<number> => Number(await locator.textContent());

test('shows a live row per pool, changing numbers, evictions in the log, and a chart', async ({ page }) => {
  await page.goto(demo.url);
  const node = page.getByTestId('node-panel');
  const rows = node.locator('tbody tr[data-origin]');
  await expect(rows.first()).toBeVisible();
  // numPools is 6 by default: never more rows than that.
  await expect.poll(async () => rows.count()).toBeGreaterThanOrEqual(3);
  expect(await rows.count()).toBeLessThanOrEqual(6);
  for (const header of ['origin', 'running', 'queued', 'requests', 'open now', 'opened (total)', 'retries', 'evictions']) {
    await expect(node.locator('thead th', { hasText: header })).toHaveCount(1);
  }
  // Sockets open now, beside the running total, are never above maxSize (4 by default) in any row.
  await expect.poll(async () => Math.max(...(await node.locator('tbody tr[data-origin] td.open').allTextContents()).map(Number))).toBeGreaterThan(0);
  for (const open of await node.locator('tbody tr[data-origin] td.open').allTextContents()) expect(Number(open)).toBeLessThanOrEqual(4);

  const sent = await count(node.getByTestId('sent'));
  await expect.poll(async () => count(node.getByTestId('sent'))).toBeGreaterThan(sent);
  const firstOrigin = await rows.first().getAttribute('data-origin');
  expect(firstOrigin).toMatch(/^https?:\/\/127\.0\.0\.1:\d+$/);

  await expect(node.locator('ol.log li[data-kind=poolevict]').first()).toBeVisible({ timeout: 30_000 });
  await expect.poll(async () => count(node.getByTestId('evictions'))).toBeGreaterThan(0);
  await expect(node.locator('.chart canvas')).toHaveCount(1);

  // The page's own panel: the same workload through the built fetch bundle, https origin left out.
  const browser = page.getByTestId('browser-panel');
  await expect(browser.locator('tbody tr[data-origin]').first()).toBeVisible();
  await expect.poll(async () => count(browser.getByTestId('sent'))).toBeGreaterThan(20);
  await expect(browser.locator('tbody tr[data-origin^="https:"]')).toHaveCount(0);
  await expect(browser.locator('ol.log li[data-kind=error]')).toHaveCount(0);

  await page.screenshot({ path: 'e2e/artifacts/dashboard.png' });
  if (process.env.DEMO_DOCS_SCREENSHOT === '1') {
    // The README's picture: `DEMO_DOCS_SCREENSHOT=1 npx playwright test e2e/demo/dashboard.spec.ts`, with a
    // fuller chart (about half a minute of traffic) than the test itself waits for.
    await expect.poll(async () => count(node.getByTestId('sent')), { timeout: 90_000 }).toBeGreaterThan(1200);
    await page.screenshot({ path: 'docs/dashboard.png' });
  }
});

test('the form changes numPools for both panels', async ({ page }) => {
  await page.goto(demo.url);
  const node = page.getByTestId('node-panel');
  await expect(node.locator('tbody tr[data-origin]').first()).toBeVisible();
  await page.locator('input[name=numPools]').fill('2');
  await page.locator('input[name=origin][value=rare]').uncheck();
  await page.locator('#apply').click();
  await expect(node.locator('ol.log li[data-kind=settings]').first()).toContainText('numPools 2');
  await expect(node.locator('ol.log li[data-kind=settings]').first()).not.toContainText('rare');
  await expect(page.locator('#form-error')).toHaveText('');
  // The new manager never holds more than two pools, and keeps evicting under the same traffic.
  await expect.poll(async () => count(node.getByTestId('evictions'))).toBeGreaterThan(0);
  for (const panel of [node, page.getByTestId('browser-panel')]) {
    // "pools N/2": N is the number of rows the panel drew from its new manager's stats().
    await expect(panel.locator('.summary')).toContainText(/pools [12]\/2 /);
    await expect(panel.locator('tbody tr[data-origin]').first()).toBeVisible();
    await expect(panel.locator('tbody tr[data-name=rare]')).toHaveCount(0);
  }

  // Out of range: the form refuses it before anything is sent (the server checks again; see test/demo).
  await page.locator('input[name=concurrency]').fill('0');
  await page.locator('#apply').click();
  await expect(page.locator('input[name=concurrency]:invalid')).toHaveCount(1);
  await expect(node.locator('.summary')).toContainText(/pools \d\/2 /);
});

test('clear() empties the table', async ({ page }) => {
  await page.goto(demo.url);
  for (const panel of [page.getByTestId('node-panel'), page.getByTestId('browser-panel')]) {
    const rows = panel.locator('tbody tr[data-origin]');
    await expect(rows.first()).toBeVisible();
    // Paused first, or the running workload would make new pools at once.
    await panel.locator('button.pause').click();
    await expect(panel.locator('button.pause')).toHaveText('resume');
    await panel.locator('button.clear').click();
    await expect(rows).toHaveCount(0);
    await expect(panel.locator('tr.empty')).toContainText('no pools');
    await expect(panel.locator('ol.log li[data-kind=clear]').first()).toBeVisible();
    await expect(panel.locator('ol.log li[data-kind=poolclose]').first()).toBeVisible();
  }
});
