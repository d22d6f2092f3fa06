/**
 * `npm run demo -- --once`: the same origins and manager as the dashboard,
 * a fixed number of requests, then a table per origin and a count per event
 * kind on stdout. Progress goes to stderr once a second, so scripts can
 * parse stdout alone.
 */
import { DemoPoolManager } from './node-manager.js';
import { startOrigins } from './origins.js';
import { defaultSettings, managerOptions } from './shared/settings.js';
import { EVENT_KINDS } from './shared/tracker.js';
import { runWorkload } from './shared/workload.js';

export async function runOnce(requests: number, out: (line: string) => void, progress: (line: string) => void): Promise<void> {
  const origins = await startOrigins();
  try {
    const settings = { ...defaultSettings(origins.list.map((o) => o.name)), concurrency: 8 };
    const manager = new DemoPoolManager({ ...managerOptions(settings), tls: { ca: origins.ca } });
    out(
      `poolfetch demo --once: ${requests} requests to ${origins.list.length} local origins through one PoolManager ` +
        `(numPools ${settings.numPools}, maxSize ${settings.maxSize}, concurrency ${settings.concurrency})`,
    );
    const started = Date.now();
    let done = 0;
    const ticker = setInterval(() => {
      const { rows, events } = manager.tracker.snapshot();
      progress(`  … ${done}/${requests} requests done, ${rows.length} pools live, ${events.poolevict} evictions so far`);
    }, 1000);
    let summary;
    try {
      summary = await runWorkload({ requester: manager, targets: origins.list, concurrency: settings.concurrency, total: requests, onResult: ({ error }) => {
        done += 1;
        if (error !== undefined) progress(`  ! ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      } });
    } finally {
      clearInterval(ticker);
      await manager.clear();
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const totals = new Map(manager.tracker.totals().map((t) => [t.origin, t]));
    const table = [['name', 'origin', 'requests', 'opened', 'retries', 'evictions']];
    for (const origin of origins.list) {
      const t = totals.get(origin.url);
      table.push([origin.name, origin.url, ...[t?.requests, t?.connections, t?.retries, t?.evictions].map((n) => String(n ?? 0))]);
    }
    out('');
    for (const line of formatTable(table)) out(line);
    out(`opened: connections opened over the run, a running total (numConnections), not a cap: at most maxSize ${settings.maxSize} were open to an origin at once (openConnections).`);
    out('');
    for (const kind of EVENT_KINDS) out(`${kind}: ${manager.tracker.events[kind]}`);
    out(`workload: ${summary.sent} sent, ${summary.ok} ok, ${summary.failed} failed in ${seconds} s`);
  } finally {
    await origins.close();
  }
}

/** Left-aligned text, right-aligned numbers. */
function formatTable(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((row) =>
    row.map((cell, i) => (i >= 2 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd(),
  );
}
