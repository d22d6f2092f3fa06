/**
 * `npx tsx bench/fetch-ab.ts [--ref=main] [--rounds=9] [--entry=request]`: an A/B of
 * `manager.fetch` (or, with `--entry=request`, `request()` beside undici's
 * `Pool.request` and raw `Pool.dispatch`) in Node, this tree against another commit's, in the
 * waiting shape (one origin, 50 callers, 10 connections), every case of the
 * waiting suite, beside undici's fetch over a Pool and `Pool.request`. The
 * other commit's node entry is built from `git archive` into .tmp (nothing
 * checked out); rounds are interleaved as in the waiting suite. Prints
 * medians and spreads; writes nothing the report reads. `--case=1k0` runs
 * only the 1 KiB, 0 ms case (`1k1`, `64k0`, `64k1` the others); `--scale=4`
 * makes every round four times as long (fewer, longer rounds smooth the
 * collector's lumps at 64 KiB); `--slices=4` takes each round in four
 * interleaved turns per client (bench/throughput.ts).
 */
import { pathToFileURL, fileURLToPath } from 'node:url';
import { buildForBench, buildNodeEntryAt, loadEntries } from './build.js';
import { makeSpecs, pickSpecs, type ClientSpec } from './clients.js';
import { runThroughput } from './throughput.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const ref = args.find((a) => a.startsWith('--ref='))?.slice('--ref='.length) ?? 'main';
const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 9);
/** `--case=1k0` and the like: only the case of that path and server delay. */
const only = args.find((a) => a.startsWith('--case='))?.slice('--case='.length);
/** `--entry=request`: A/B `request()` instead of `manager.fetch`. */
const viaRequest = args.includes('--entry=request');
const scale = Number(args.find((a) => a.startsWith('--scale='))?.slice('--scale='.length) ?? 1);
/** `--slices=4`: each round in four turns per client, interleaved (bench/throughput.ts). */
const slices = Number(args.find((a) => a.startsWith('--slices='))?.slice('--slices='.length) ?? 1);

const otherDir = `${root}.tmp/ab-${ref.replace(/[^\w.-]/g, '_')}`;
const other = (await import(pathToFileURL(await buildNodeEntryAt(ref, otherDir)).href)) as typeof import('../adapters/node/index.js');
const entries = await loadEntries(await buildForBench());
const specs = pickSpecs(makeSpecs(entries), viaRequest ? ['poolfetch request', 'undici Pool.request', 'undici Pool.dispatch'] : ['poolfetch manager.fetch', 'undici fetch + Pool', 'undici Pool.request']);
const baseline: ClientSpec = {
  name: `${viaRequest ? 'request' : 'manager.fetch'} at ${ref}`,
  make(origin, connections) {
    const manager = new other.PoolManager({ numPools: 10, maxSize: connections });
    const call = viaRequest ? (path: string) => manager.request('GET', origin + path) : async (path: string) => (await manager.fetch(origin + path)).arrayBuffer();
    return { name: this.name, call, close: () => manager.close() };
  },
};
/** The peer every row is divided by. */
const peer = viaRequest ? 'undici Pool.request' : 'undici fetch + Pool';
const rows = await runThroughput({
  specs: [...specs, baseline],
  cases: [
    { label: '1 KiB, 0 ms', path: '/1k', requests: 400, delayMs: 0 },
    { label: '1 KiB, 1 ms', path: '/1k', requests: 300, delayMs: 1 },
    { label: '64 KiB, 0 ms', path: '/64k', requests: 160, delayMs: 0 },
    { label: '64 KiB, 1 ms', path: '/64k', requests: 140, delayMs: 1 },
  ]
    .filter((c) => only === undefined || `${c.path.slice(1)}${String(c.delayMs)}` === only)
    .map((c) => ({ ...c, requests: c.requests * scale })),
  rounds,
  warmupRounds: 1,
  concurrency: 50,
  connections: 10,
  slices,
  log: (line) => console.log(line),
});
for (const payload of new Set(rows.map((r) => r.payload))) {
  const of = rows.filter((r) => r.payload === payload);
  const undici = of.find((r) => r.name === peer);
  console.log(`\n${payload}`);
  for (const r of of) {
    const ratio = undici === undefined ? '' : ` | req/s ${(r.median / undici.median).toFixed(2)}x, CPU ${(r.cpuMicros / undici.cpuMicros).toFixed(2)}x of ${peer}`;
    console.log(`  ${r.name.padEnd(34)} ${r.median.toFixed(0).padStart(6)} req/s ±${(r.spread * 100).toFixed(0)}%  ${r.cpuMicros.toFixed(1).padStart(6)} µs CPU ±${(r.cpuSpread * 100).toFixed(0)}%${ratio}`);
  }
}
