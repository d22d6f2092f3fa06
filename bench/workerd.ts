/**
 * workerd: CPU per subrequest of a Worker fanning out through the README's
 * module-level `PoolManager({ maxTotal: 6 })`, beside the same Worker
 * calling `fetch` itself. CPU is what a Worker is billed for, so this
 * measures workerd's own process CPU (every thread, from /proc, in ns) per
 * subrequest: one incoming request at a time, each making `subrequests`
 * subrequests of 1 KiB to a local server in another process, `concurrency`
 * at a time. Modes alternate round by round in a random order; the ratio is
 * taken within each round against the plain-fetch mode that reads the body
 * the same way, and its median reported with the spread.
 *
 * Two shapes: the issue's (10 subrequests at a time under `maxTotal: 6`, so
 * four of every ten wait in the line) and one where nobody waits (6 at a
 * time). A bare line (`bare line + arrayBuffer()`: a count and a FIFO per
 * origin, nothing else) runs beside the manager in both as a floor: in the
 * first shape it shows what capping 10 callers at 6 costs in workerd before
 * any of poolfetch's work (six fetches in flight cost more CPU each than ten,
 * whose I/O workerd handles in fewer turns), so the manager's own part is
 * what the second shape shows.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { serveWorkerd } from '../e2e/workerd/run-workerd.js';
import { startServerProcess } from './processes.js';
import { median, shuffled, spread } from './stats.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Each poolfetch mode and the plain-fetch mode it is compared with (same way of reading the body). */
export const WORKERD_MODES = {
  'fetch + arrayBuffer()': undefined,
  'fetch + text()': undefined,
  'fetch + json()': undefined,
  'manager.fetch + arrayBuffer()': 'fetch + arrayBuffer()',
  'manager.fetch + text()': 'fetch + text()',
  'manager.fetch + json()': 'fetch + json()',
  'manager.request()': 'fetch + arrayBuffer()',
  'bare line + arrayBuffer()': 'fetch + arrayBuffer()',
} as const;
export type WorkerdMode = keyof typeof WORKERD_MODES;
/** Modes that are not poolfetch: references beside its rows, never held to its targets. */
export const REFERENCE_MODES: ReadonlySet<WorkerdMode> = new Set(['bare line + arrayBuffer()']);

export interface WorkerdRow {
  mode: WorkerdMode;
  baseline: WorkerdMode | undefined;
  /** workerd CPU µs per subrequest, one value per round. */
  micros: number[];
  median: number;
  spread: number;
  /** Median over rounds of this mode's CPU / the baseline's in the same round. */
  ratio: number | undefined;
  ratioSpread: number | undefined;
}

export interface WorkerdResult {
  subrequests: number;
  concurrency: number;
  incoming: number;
  rounds: number;
  workerd: string;
  rows: WorkerdRow[];
}

/** `extra`: more calls (source text of `'name': async (url) => ...,` entries, and imports before them). */
export const WORKER = (entry: string, extra: { imports?: string; calls?: string } = {}): string => `
import { PoolManager } from ${JSON.stringify(entry)};
${extra.imports ?? ''}
const manager = new PoolManager({ maxTotal: 6 });
// The least a line in JavaScript costs: the URL's origin found, a count, a FIFO of resolvers, the slot
// handed on once the body is read. Nothing else (no request contexts, redirects, timeouts, size bounds):
// a floor under the manager's rows, not a peer.
const bare = new Map();
const bareLine = async (url) => {
  const origin = new URL(url).origin;
  let line = bare.get(origin);
  if (line === undefined) bare.set(origin, (line = { running: 0, waiting: [] }));
  if (line.running < 6) line.running += 1;
  else await new Promise((resolve) => line.waiting.push(resolve));
  try {
    return await (await fetch(url)).arrayBuffer();
  } finally {
    const next = line.waiting.shift();
    if (next === undefined) line.running -= 1;
    else next();
  }
};
const calls = {${extra.calls ?? ''}
  'fetch + arrayBuffer()': async (url) => (await fetch(url)).arrayBuffer(),
  'fetch + text()': async (url) => (await fetch(url)).text(),
  'fetch + json()': async (url) => (await fetch(url)).json(),
  'manager.fetch + arrayBuffer()': async (url) => (await manager.fetch(url)).arrayBuffer(),
  'manager.fetch + text()': async (url) => (await manager.fetch(url)).text(),
  'manager.fetch + json()': async (url) => (await manager.fetch(url)).json(),
  'manager.request()': async (url) => (await manager.request('GET', url)).data,
  'bare line + arrayBuffer()': bareLine,
};
export default {
  async fetch(request) {
    const query = new URL(request.url).searchParams;
    // A full collection between counted batches (bench/workerd-instructions.ts runs workerd with --expose-gc).
    if (query.has('gc')) {
      globalThis.gc?.();
      return new Response('ok');
    }
    const call = calls[query.get('mode')];
    const url = query.get('url');
    let left = Number(query.get('n'));
    const worker = async () => {
      while (left > 0) {
        left -= 1;
        await call(url);
      }
    };
    await Promise.all(Array.from({ length: Number(query.get('c')) }, worker));
    return new Response('ok');
  },
};
`;

/** CPU time of every thread of process `pid`, in ns (schedstat: ns resolution, where /proc/pid/stat counts 10 ms ticks). */
function cpuNanos(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return total;
}

export async function runWorkerd(options: {
  rounds: number;
  incoming: number;
  subrequests: number;
  concurrency: number;
  log: (line: string) => void;
  /** The workerd entry's source to bundle (another checkout's, to compare); the current sources by default. */
  entry?: string;
  /** Where esbuild also looks for packages (that checkout's node_modules). */
  nodePaths?: string[];
  /** A subset of the modes (each with its baseline); all by default. */
  modes?: WorkerdMode[];
}): Promise<WorkerdResult> {
  const { rounds, incoming, subrequests, concurrency, log } = options;
  const dir = mkdtempSync(join(tmpdir(), 'poolfetch-bench-workerd-'));
  const server = await startServerProcess({
    hosts: ['127.0.0.1'],
    ports: [0],
    statics: { '/1k.json': { type: 'application/json', body: JSON.stringify({ pad: 'x'.repeat(1012) }) } },
  });
  try {
    // The entry wrangler picks (the `workerd` condition): leases on, as a deployed Worker has them.
    writeFileSync(join(dir, 'entry.js'), WORKER(options.entry ?? `${root}adapters/fetch/workerd.ts`));
    await build({ entryPoints: [join(dir, 'entry.js')], nodePaths: options.nodePaths ?? [], bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', outfile: join(dir, 'worker.js'), logLevel: 'error', mainFields: ['module', 'main'], conditions: ['workerd', 'worker', 'browser'] });
    const workerd = await serveWorkerd(dir);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const target = `http://127.0.0.1:${server.ports[0]}/1k.json`;
      const run = (mode: WorkerdMode): Promise<void> =>
        new Promise((resolve, reject) => {
          const query = new URLSearchParams({ mode, url: target, n: String(subrequests), c: String(concurrency) });
          http.get(`${workerd.url}/?${query.toString()}`, { agent }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${mode}: status ${res.statusCode}\n${workerd.log()}`))));
          }).on('error', reject);
        });
      const modes = options.modes ?? (Object.keys(WORKERD_MODES) as WorkerdMode[]);
      const micros = Object.fromEntries(modes.map((m) => [m, [] as number[]])) as Record<WorkerdMode, number[]>;
      for (let round = -1; round < rounds; round += 1) {
        for (const mode of shuffled(modes)) {
          const before = cpuNanos(workerd.pid);
          for (let i = 0; i < incoming; i += 1) await run(mode);
          const used = cpuNanos(workerd.pid) - before;
          if (round >= 0) micros[mode].push(used / 1000 / (incoming * subrequests));
        }
        if (round >= 0) log(`  workerd round ${round + 1}/${rounds}: ${modes.map((m) => `${m} ${micros[m].at(-1)?.toFixed(0)}`).join(', ')}`);
      }
      if (/different request context|hung/.test(workerd.log())) throw new Error(`workerd warned during the bench:\n${workerd.log()}`);
      const rows = modes.map((mode): WorkerdRow => {
        const wanted = WORKERD_MODES[mode];
        const baseline = wanted !== undefined && modes.includes(wanted) ? wanted : undefined;
        const ratios = baseline === undefined ? undefined : micros[mode].map((v, i) => v / (micros[baseline][i] ?? Number.NaN));
        return {
          mode,
          baseline,
          micros: micros[mode],
          median: median(micros[mode]),
          spread: spread(micros[mode]),
          ratio: ratios === undefined ? undefined : median(ratios),
          ratioSpread: ratios === undefined ? undefined : spread(ratios),
        };
      });
      const version = JSON.parse(readFileSync(`${root}node_modules/workerd/package.json`, 'utf8')) as { version: string };
      return { subrequests, concurrency, incoming, rounds, workerd: version.version, rows };
    } finally {
      agent.destroy();
      await workerd.close();
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The markdown table of a run. */
export function workerdTable(result: WorkerdResult): string {
  const lines = ['| Worker subrequest | workerd CPU µs/subrequest (median ± spread) | vs the Worker calling fetch itself |', '| --- | ---: | ---: |'];
  for (const row of result.rows) {
    const vs = row.ratio === undefined ? 'baseline' : `${row.ratio.toFixed(2)}x ± ${((row.ratioSpread ?? 0) * 100).toFixed(0)} % (vs ${row.baseline})`;
    lines.push(`| ${row.mode} | ${row.median.toFixed(0)} ± ${(row.spread * 100).toFixed(0)} % | ${vs} |`);
  }
  return lines.join('\n');
}
