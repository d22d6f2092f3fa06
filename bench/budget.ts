/**
 * The fleet budget's cost (`--skip=…` everything else to run it alone):
 * what a Redis lease adds to each request, and how many calls to Redis a
 * request makes, with and without local slices, at a budget that is not
 * full (10 callers, limit 50: nobody waits for a lease) and one that is
 * (50 callers, limit 10). Each budget case is measured beside the same load
 * under the process's own cap alone (maxSize = the limit), in interleaved
 * rounds; the added latency is the difference of the medians over rounds
 * of each round's p50 and p99. One process, one real redis-server on
 * loopback, one loopback origin answering 1 KiB at once.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { PoolManager } from '../adapters/node/index.js';
import { redisBudget } from '../adapters/budget/redis.js';
import { haveRedis, startRedis } from '../test/budget/redis-server.js';
import { median, shuffled, spread } from './stats.js';

export interface BudgetBenchRow {
  case: string;
  callers: number;
  limit: number;
  slices: boolean | undefined;
  /** Medians over rounds of each round's latency percentiles, ms. */
  p50: number;
  p99: number;
  /** Spread of the per-round p50: half the range over the median, %. */
  p50Spread: number;
  /** Added over the same load without a budget, ms (median p50 and p99 minus the baseline's). */
  addedP50: number | undefined;
  addedP99: number | undefined;
  /** Calls to Redis per request (scripts and probes; SCRIPT LOAD not counted). */
  callsPerRequest: number | undefined;
}

interface Case {
  name: string;
  callers: number;
  limit: number;
  slices: boolean | undefined;
  baseline?: string;
}

const CASES: Case[] = [
  { name: 'not full: own cap only', callers: 10, limit: 50, slices: undefined },
  { name: 'not full: budget, slices', callers: 10, limit: 50, slices: true, baseline: 'not full: own cap only' },
  { name: 'not full: budget, no slices', callers: 10, limit: 50, slices: false, baseline: 'not full: own cap only' },
  { name: 'full: own cap only', callers: 50, limit: 10, slices: undefined },
  { name: 'full: budget, slices', callers: 50, limit: 10, slices: true, baseline: 'full: own cap only' },
  { name: 'full: budget, no slices', callers: 50, limit: 10, slices: false, baseline: 'full: own cap only' },
];

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export async function runBudget(options: { rounds: number; requests: number; log: (line: string) => void }): Promise<BudgetBenchRow[] | undefined> {
  if (!haveRedis) {
    options.log(' budget: skipped, no /usr/bin/redis-server (scripts/ensure-system-deps.mjs installs it)');
    return undefined;
  }
  const redis = await startRedis();
  const body = Buffer.alloc(1024, 'x');
  const server = http.createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = createClient({ url: redis.url });
  client.on('error', () => {});
  await client.connect();
  const p50s = new Map<string, number[]>();
  const p99s = new Map<string, number[]>();
  const calls = new Map<string, number>();
  const done = new Map<string, number>();
  try {
    for (let round = 0; round <= options.rounds; round += 1) {
      for (const c of shuffled(CASES)) {
        const budget = c.slices === undefined ? undefined : redisBudget(client, { limit: c.limit, ttl: 30_000, slices: c.slices ? { uses: 8, ms: 1000 } : false, prefix: `bench:${round}` });
        const manager = new PoolManager({ maxSize: c.slices === undefined ? c.limit : 100, ...(budget === undefined ? {} : { budget }) });
        // One request first, so connections and scripts are ready.
        await (await manager.request('GET', `${origin}/`)).text();
        const before = budget?.calls ?? 0;
        const latencies: number[] = [];
        let left = options.requests;
        await Promise.all(Array.from({ length: c.callers }, async () => {
          while (left > 0) {
            left -= 1;
            const started = performance.now();
            const response = await manager.request('GET', `${origin}/`);
            latencies.push(performance.now() - started);
            void response;
          }
        }));
        await manager.close();
        if (budget !== undefined) {
          // Round 0 warms up.
          if (round > 0) {
            calls.set(c.name, (calls.get(c.name) ?? 0) + budget.calls - before);
            done.set(c.name, (done.get(c.name) ?? 0) + options.requests);
          }
          await budget.close();
        }
        if (round === 0) continue;
        latencies.sort((a, b) => a - b);
        p50s.set(c.name, [...(p50s.get(c.name) ?? []), percentile(latencies, 50)]);
        p99s.set(c.name, [...(p99s.get(c.name) ?? []), percentile(latencies, 99)]);
      }
      options.log(` budget: round ${round}${round === 0 ? ' (warm-up)' : ''} of ${options.rounds} done`);
    }
  } finally {
    await client.quit().catch(() => {});
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await redis.close();
  }
  const med = (m: Map<string, number[]>, name: string): number => median(m.get(name) ?? [0]);
  return CASES.map((c) => ({
    case: c.name,
    callers: c.callers,
    limit: c.limit,
    slices: c.slices,
    p50: med(p50s, c.name),
    p99: med(p99s, c.name),
    p50Spread: spread(p50s.get(c.name) ?? [0]) * 100,
    addedP50: c.baseline === undefined ? undefined : med(p50s, c.name) - med(p50s, c.baseline),
    addedP99: c.baseline === undefined ? undefined : med(p99s, c.name) - med(p99s, c.baseline),
    callsPerRequest: c.slices === undefined ? undefined : (calls.get(c.name) ?? 0) / (done.get(c.name) ?? 1),
  }));
}

export function budgetTable(rows: readonly BudgetBenchRow[]): string {
  const f = (n: number | undefined, digits = 2): string => (n === undefined ? '—' : n.toFixed(digits));
  const lines = ['| case | callers | limit | p50 ms | p99 ms | p50 ± | added p50 ms | added p99 ms | Redis calls/request |', '| --- | --: | --: | --: | --: | --: | --: | --: | --: |'];
  for (const r of rows) {
    lines.push(`| ${r.case} | ${r.callers} | ${r.limit} | ${f(r.p50)} | ${f(r.p99)} | ±${f(r.p50Spread, 0)}% | ${f(r.addedP50)} | ${f(r.addedP99)} | ${f(r.callsPerRequest)} |`);
  }
  return lines.join('\n');
}
