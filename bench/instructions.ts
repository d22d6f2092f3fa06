/**
 * `npx tsx bench/instructions.ts [--ref=main] [--clients=request,pool] [--path=/1k] [--counts=2000,8000] [--warmup=10000] [--reps=3] [--parallel=2]`:
 * instructions per request in the waiting shape (one origin, 50 callers, 10
 * connections, the server in its own process), counted by valgrind's
 * callgrind in the client process only. A count of instructions does not
 * move with whatever else the machine runs, where timings here spread
 * ±30-50 %: it is the measure to compare two builds with, change by change.
 *
 * Each client runs twice per rep, with the same warm-up and `counts[0]` then
 * `counts[1]` measured requests; the difference of the two totals over the
 * difference of the counts is the cost per request, start-up and warm-up
 * cancelled out. Node runs with `--predictable` (see V8_FLAGS), and the
 * figure compared leaves out V8's optimizing compiler (see `annotate`); the
 * collector stays in. Compare builds within one invocation, over reps:
 * two reps of one build there agree within 0.1 %, but separate invocations
 * (another server process, other load on the machine) read the same build
 * up to 6 % apart at 1 KiB, and at 64 KiB the collector's lumps (major
 * collections that large ArrayBuffers set off) swamp the code's cost. Builds: this tree, and each `--ref` (built from
 * `git archive`, nothing checked out), run interleaved. Prints medians and
 * spreads over the reps; writes nothing the report reads. Timing (req/s, CPU
 * µs) stays the waiting suite's (`npm run bench -- --skip=...`).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildNodeEntryAt, bundleForNode } from './build.js';
import type { InstructionsChildConfig } from './instructions-child.js';
import { startServerProcess } from './processes.js';
import { median, spread } from './stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const refs = (arg('ref') ?? '').split(',').filter((r) => r !== '');
const CLIENTS: Record<string, InstructionsChildConfig['client']> = {
  request: 'poolfetch request',
  fetch: 'poolfetch manager.fetch',
  pool: 'undici Pool.request',
  dispatch: 'undici Pool.dispatch',
};
const clients = (arg('clients') ?? 'request,pool').split(',').map((c) => {
  const client = CLIENTS[c];
  if (client === undefined) throw new TypeError(`--clients: unknown client ${c} (one of ${Object.keys(CLIENTS).join(', ')})`);
  return client;
});
const path = arg('path') ?? '/1k';
const [low, high] = (arg('counts') ?? '2000,8000').split(',').map(Number) as [number, number];
const reps = Number(arg('reps') ?? 3);
const warmup = Number(arg('warmup') ?? 10000);
/** valgrind runs at a time. */
const parallel = Number(arg('parallel') ?? 2);
const keep = args.includes('--keep');
const dir = `${root}.tmp/instructions`;

/** Builds one tree's node entry (this tree's sources, or `ref`'s from git archive) into .tmp. */
async function buildEntry(ref: string | undefined): Promise<string> {
  if (ref !== undefined) return buildNodeEntryAt(ref, `${dir}/ref-${ref.replace(/[^\w.-]/g, '_')}`);
  await bundleForNode({ node: `${root}adapters/node/index.ts` }, `${dir}/this`);
  return `${dir}/this/node.mjs`;
}

mkdirSync(dir, { recursive: true });
await bundleForNode({ child: `${root}bench/instructions-child.ts` }, dir);
const builds = [{ name: 'this tree', entry: await buildEntry(undefined) }];
for (const ref of refs) builds.push({ name: ref, entry: await buildEntry(ref) });

/**
 * V8 made deterministic: no concurrent compiler or collector threads, whose
 * work under valgrind (which runs one thread at a time) lands at a different
 * request each run, and no heuristics that read the clock. Without it two
 * runs of one build differed by 20-30 %.
 */
const V8_FLAGS = (arg('v8') ?? '--predictable').split(' ').filter((f) => f !== '');

/** Instructions valgrind counted over one whole child run. */
interface Counted {
  total: number;
  /** Spent in V8's optimizing compiler: done once per function, however many requests follow. */
  compiler: number;
}

/**
 * Instructions by function (callgrind_annotate; V8's builtins, collector and
 * compiler have names, JIT code does not), summed: all of them, and the
 * optimizing compiler's. Which functions get optimized inside the measured
 * requests differs from build to build (tens of thousands of instructions a
 * request, in lumps), so the steady-state figure leaves the compiler out.
 */
function annotate(file: string): Promise<Counted> {
  return new Promise((resolve, reject) => {
    execFile('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { maxBuffer: 1 << 28 }, (error, stdout) => {
      if (error !== null) {
        reject(error);
        return;
      }
      let total = 0;
      let compiler = 0;
      for (const line of stdout.split('\n')) {
        const row = /^\s*([\d,]+)\s+\([^)]*\)\s+(.*)$/.exec(line);
        if (row === null || line.includes('PROGRAM TOTALS')) continue;
        const n = Number((row[1] as string).replaceAll(',', ''));
        total += n;
        if (/v8::internal::(compiler|maglev|baseline)::|turboshaft/.test(row[2] as string)) compiler += n;
      }
      resolve({ total, compiler });
    });
  });
}

function countRun(config: InstructionsChildConfig, label: string): Promise<Counted> {
  // Kept with `--keep`, for callgrind_annotate.
  const out = `${dir}/callgrind.${label.replace(/[^\w.-]+/g, '_')}.${config.requests}`;
  return new Promise<string>((resolve, reject) => {
    execFile('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, ...V8_FLAGS, `${dir}/child.mjs`, JSON.stringify(config)], { maxBuffer: 1 << 24 }, (error, _stdout, stderr) => {
      if (error !== null) {
        reject(new Error(`valgrind run failed: ${error.message}\n${stderr.slice(-2000)}`));
        return;
      }
      resolve(out);
    });
  }).then(async (file) => {
    const counted = await annotate(file);
    if (!keep) rmSync(file);
    return counted;
  });
}

const server = await startServerProcess({ hosts: ['127.0.0.1'], ports: [0], delayMs: 0, keepAliveTimeoutMs: 10 * 60_000 });
const origin = `http://127.0.0.1:${server.ports[0]}`;
const rows = new Map<string, number[]>();
const allRows = new Map<string, number[]>();
try {
  for (let rep = 0; rep < reps; rep += 1) {
    for (const client of clients) {
      // undici's own clients do not depend on the build: counted once per rep.
      // Two runs at a time (counts do not depend on what else runs), the builds side by side.
      const runs = (client.startsWith('poolfetch') ? builds : builds.slice(0, 1)).flatMap((b) => [low, high].map((requests) => ({ b, requests })));
      const totals = new Map<string, Counted>();
      for (let i = 0; i < runs.length; i += parallel) {
        await Promise.all(runs.slice(i, i + parallel).map(async ({ b, requests }) => {
          totals.set(`${b.name} ${requests}`, await countRun({ client, entry: b.entry, origin, path, connections: 10, concurrency: 50, warmup, requests }, `${client} ${b.name}`));
        }));
      }
      for (const b of client.startsWith('poolfetch') ? builds : builds.slice(0, 1)) {
        const label = client.startsWith('poolfetch') ? `${client} (${b.name})` : client;
        const a = totals.get(`${b.name} ${low}`) as Counted;
        const z = totals.get(`${b.name} ${high}`) as Counted;
        const all = (z.total - a.total) / (high - low);
        const perRequest = all - (z.compiler - a.compiler) / (high - low);
        rows.set(label, [...(rows.get(label) ?? []), perRequest]);
        allRows.set(label, [...(allRows.get(label) ?? []), all]);
        console.log(`rep ${rep + 1}: ${label.padEnd(44)} ${(perRequest / 1000).toFixed(1)} k instructions/request without the compiler, ${(all / 1000).toFixed(1)} k with it`);
      }
    }
  }
} finally {
  await server.close();
}
const base = rows.get('undici Pool.request');
console.log(`\n${path}, 50 callers, 10 connections, ${reps} reps of ${low} vs ${high} requests`);
for (const [label, values] of rows) {
  const m = median(values);
  const ratio = base === undefined ? '' : `  ${(m / median(base)).toFixed(3)}x Pool.request`;
  const all = allRows.get(label) ?? [];
  console.log(`  ${label.padEnd(44)} ${(m / 1000).toFixed(1).padStart(7)} k/request ±${(spread(values) * 100).toFixed(1)}%${ratio} (compiler included: ${(median(all) / 1000).toFixed(1)} k)`);
}
