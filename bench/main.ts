/**
 * `npm run bench`: poolfetch against the clients users would pick instead,
 * side by side in one run on the same local servers. Prints a table with
 * ratios, writes bench/results.json, BENCHMARKS.md and bench/chart.svg.
 *
 * `--quick` (what `npm test` runs once): every suite with tiny counts, a
 * smoke test of the harness; results go to .tmp/bench-quick.json only and
 * nothing is asserted. `--skip=browser,many,core,throughput` leaves suites out.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { runBrowser, type BrowserResult } from './browser.js';
import { buildForBench, loadEntries } from './build.js';
import { chartSvg } from './chart.js';
import { runCoreInChild, type CoreResult } from './core.js';
import { runManyOrigins, type ManyOriginsResult } from './many-origins.js';
import { markdown, table, targets, type Results } from './report.js';
import { runThroughput } from './throughput.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const skip = new Set(args.find((a) => a.startsWith('--skip='))?.slice('--skip='.length).split(',') ?? []);
const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
const log = (line: string): void => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s]${line}`);

const plan = quick
  ? {
      throughput: { payloads: [{ path: '/1k', label: '1 KiB', requests: 50 }, { path: '/64k', label: '64 KiB', requests: 20 }], rounds: 1, warmupRounds: 1 },
      many: [{ origins: 40, numPools: 10, warmup: 40, passes: 1, requestsPerPass: 40 }],
      core: 1000,
      browser: { rounds: 1, requests: 5 },
    }
  : {
      throughput: { payloads: [{ path: '/1k', label: '1 KiB', requests: 2000 }, { path: '/64k', label: '64 KiB', requests: 1000 }], rounds: 5, warmupRounds: 1 },
      many: [
        { origins: 100, numPools: 100, warmup: 500, passes: 2, requestsPerPass: 1000 },
        { origins: 1000, numPools: 100, warmup: 1000, passes: 3, requestsPerPass: 1000 },
        { origins: 10_000, numPools: 100, warmup: 5000, passes: 2, requestsPerPass: 5000 },
      ],
      core: 30_000,
      browser: { rounds: 5, requests: 100 },
    };

const loadStart = os.loadavg()[0] ?? 0;
log(` building the node, fetch and browser entries with esbuild (${quick ? 'quick' : 'full'} run)`);
const built = await buildForBench();
const entries = await loadEntries(built);
const results: Results = {
  meta: {
    date: new Date().toISOString(),
    quick,
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    loadavgStart: loadStart,
    loadavgEnd: 0,
    seconds: 0,
  },
  throughput: undefined,
  manyOrigins: [],
  core: undefined,
  browser: undefined,
};

if (!skip.has('throughput')) {
  log(' throughput: one origin, 50 in flight, every client once per round');
  const t = await runThroughput({ ...plan.throughput, concurrency: 50, log, entries });
  results.throughput = { concurrency: 50, rows: t.rows };
}
if (!skip.has('many')) {
  for (const m of plan.many) {
    log(` many origins: ${m.origins}, numPools ${m.numPools}, maxSize 10`);
    const r: ManyOriginsResult = await runManyOrigins({ ...m, maxSize: 10, concurrency: 50, nodeEntry: built.nodeEntry, log });
    results.manyOrigins.push(r);
  }
}
if (!skip.has('core')) {
  log(' core: no-op transport');
  const core: CoreResult = await runCoreInChild(built.nodeEntry, plan.core);
  results.core = core;
}
if (!skip.has('browser')) {
  log(' chromium: browser bundle vs plain fetch');
  const browser: BrowserResult | undefined = await runBrowser(built.browserBundle, plan.browser.rounds, plan.browser.requests, log);
  results.browser = browser;
}
results.meta.loadavgEnd = os.loadavg()[0] ?? 0;
results.meta.seconds = Math.round((Date.now() - started) / 1000);

console.log(`\n${table(results)}`);
const checks = targets(results);
// A smoke run's timings mean nothing: print them without a verdict, so a log reader is not misled.
for (const c of checks) console.log(`${quick ? '·' : c.pass ? '✔' : '✖'} ${c.name}: ${c.value} (target ${c.goal})`);

if (quick) {
  writeFileSync(`${root}.tmp/bench-quick.json`, JSON.stringify({ ...results, targets: checks }, null, 2));
  console.log(`\nbench --quick: harness ran every suite in ${results.meta.seconds} s (timings of a smoke run mean nothing)`);
} else {
  writeFileSync(`${root}bench/results.json`, JSON.stringify({ ...results, targets: checks }, null, 2));
  if (results.manyOrigins.length > 0) writeFileSync(`${root}bench/chart.svg`, chartSvg(results.manyOrigins));
  // A partial run (--skip) leaves the committed report alone.
  if (skip.size === 0) writeFileSync(`${root}BENCHMARKS.md`, markdown(results, checks));
  console.log(`\nwrote bench/results.json, bench/chart.svg and BENCHMARKS.md in ${results.meta.seconds} s`);
}
