/**
 * Chromium: the browser bundle's `manager.fetch` and `manager.request`
 * against plain `fetch`, same page, same origin, one request at a time so
 * the difference per request is the bundle's own work. Modes alternate
 * round by round in a random order.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chromium } from '@playwright/test';
import { startServerProcess } from './processes.js';
import { median, shuffled } from './stats.js';

export const MODES = ['plain fetch', 'manager.fetch', 'manager.request'] as const;
export type BrowserMode = (typeof MODES)[number];

export interface BrowserResult {
  /** Microseconds per request, one value per round. */
  micros: Record<BrowserMode, number[]>;
  median: Record<BrowserMode, number>;
  /** Median over rounds of (mode − plain fetch) within the round, in µs per request. */
  overhead: Record<Exclude<BrowserMode, 'plain fetch'>, number>;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>poolfetch bench</title>
<script type="module">
  import * as poolfetch from '/bundle.js';
  const manager = new poolfetch.PoolManager({ maxSize: 6 });
  const calls = {
    'plain fetch': async (url) => (await fetch(url)).arrayBuffer(),
    'manager.fetch': async (url) => (await manager.fetch(url)).arrayBuffer(),
    'manager.request': async (url) => (await manager.request('GET', url)).data,
  };
  window.runMode = async (mode, n) => {
    const call = calls[mode];
    const url = location.origin + '/1k';
    const t = performance.now();
    for (let i = 0; i < n; i++) await call(url);
    return ((performance.now() - t) * 1000) / n;
  };
  window.benchReady = true;
</script>`;

/** Chromium from $CHROMIUM_PATH or /usr/bin/chromium; Playwright's own download does not work here. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
}

export async function runBrowser(bundlePath: string, rounds: number, requests: number, log: (line: string) => void): Promise<BrowserResult | undefined> {
  const executablePath = chromiumPath();
  if (executablePath === undefined) {
    log('  no Chromium found ($CHROMIUM_PATH, /usr/bin/chromium): browser suite skipped');
    return undefined;
  }
  const server = await startServerProcess({
    hosts: ['127.0.0.1'],
    ports: [0],
    statics: {
      '/': { type: 'text/html', body: PAGE },
      '/bundle.js': { type: 'text/javascript', body: readFileSync(bundlePath, 'utf8') },
    },
  });
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (error) => log(`  page error: ${error.message}`));
    await page.goto(`http://127.0.0.1:${server.ports[0]}/`);
    await page.waitForFunction(() => (globalThis as { benchReady?: boolean }).benchReady === true);
    const micros = Object.fromEntries(MODES.map((m) => [m, [] as number[]])) as Record<BrowserMode, number[]>;
    const diffs = { 'manager.fetch': [] as number[], 'manager.request': [] as number[] };
    for (let round = -1; round < rounds; round++) {
      const inRound = {} as Record<BrowserMode, number>;
      for (const mode of shuffled(MODES)) {
        inRound[mode] = await page.evaluate(
          ([m, n]) => (globalThis as unknown as { runMode(m: string, n: number): Promise<number> }).runMode(m, n),
          [mode, requests] as const,
        );
      }
      if (round < 0) continue; // warm-up
      for (const mode of MODES) micros[mode].push(inRound[mode]);
      diffs['manager.fetch'].push(inRound['manager.fetch'] - inRound['plain fetch']);
      diffs['manager.request'].push(inRound['manager.request'] - inRound['plain fetch']);
    }
    log(`  chromium: ${rounds} rounds of ${requests} requests per mode done`);
    return {
      micros,
      median: Object.fromEntries(MODES.map((m) => [m, median(micros[m])])) as Record<BrowserMode, number>,
      overhead: { 'manager.fetch': median(diffs['manager.fetch']), 'manager.request': median(diffs['manager.request']) },
    };
  } finally {
    await browser.close();
    await server.close();
  }
}
