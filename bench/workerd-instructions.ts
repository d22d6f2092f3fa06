/**
 * workerd: instructions per subrequest, counted by valgrind's callgrind on
 * the workerd process serving the bench Worker (bench/workerd.ts). Timing a
 * Worker on a shared 2-core machine spreads ±13-120 %; instruction counts do
 * not depend on the neighbours, so they show a cut of a few percent that
 * timing cannot. They are not CPU time (cache misses, and JIT tiering that
 * runs slower under valgrind, count differently), so the timing ratios of
 * `npm run bench` stay the reported measure; this is the lens for finding
 * and checking the cuts.
 *
 * Per mode: warm the isolate up (JIT) with `warm` incoming requests, then
 * count `incoming` incoming requests of `short` subrequests and the same
 * number of `long` subrequests (callgrind_control zeroes and dumps the
 * counters around each batch); (long - short) / (incoming × (long - short))
 * is the cost of one subrequest with the incoming request's own cost and
 * workerd's start-up taken out. Each mode is measured `reps` times in turn
 * (modes interleaved) and the median taken. Every batch starts from a
 * collected heap (`gc()`, workerd run with `--expose-gc`): the reps then agree
 * to a few percent, where they moved by ±30 k a subrequest without it. The
 * collection also leaves the young generation at its smallest, so modes that
 * allocate more count higher than in a long-warm isolate (the stub's
 * `manager.fetch` 246-256 k with it, 178-216 k without). Which modes run in
 * the same invocation still moves a mode (the stub's `manager.fetch` read
 * 202 k beside one other mode, 254-261 k beside six): compare modes within
 * one invocation only.
 *
 *   npx tsx bench/workerd-instructions.ts [--modes=a,b,...] [--reps=3] [--warm=40] [--incoming=4] [--against=DIR] [--invocations=2]
 *
 * `--against=DIR` (another checkout of a recent commit, e.g. `git worktree add /tmp/base main`) counts
 * the same modes built from DIR's sources too, each checkout in a workerd of its own, in alternate
 * invocations (`--invocations=2` each), and prints both with the change. Not both in one isolate: two
 * copies of poolfetch there (their symbols and swapped prototypes on the same Response objects) moved
 * each other's counts by ±20 k a subrequest, the sign depending on which modes ran.
 *
 * Needs valgrind (apt-get install valgrind). Extra modes (`LAYER_MODES`)
 * stop at a layer of the pool path, to find by subtraction where the cost is.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { serveWorkerd } from '../e2e/workerd/run-workerd.js';
import { startServerProcess } from './processes.js';
import { WORKER, WORKERD_MODES } from './workerd.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Worker calls that stop at a layer of the pool path (subtraction: each
 * costs what the layers it goes through cost). They import the sources
 * directly, so they measure this checkout.
 */
export const LAYER_MODES = {
  // The same calls over a fetch that answers at once from memory (no socket, no other thread): what
  // is left is the Worker's own JavaScript and its calls into workerd's API objects, which count the
  // same every time, where the network modes vary by ±30 % with how workerd's I/O happens to interleave.
  'stub: fetch + arrayBuffer()': `async (url) => (await stubFetch(url)).arrayBuffer()`,
  'stub: fetch + text()': `async (url) => (await stubFetch(url)).text()`,
  'stub: fetch + json()': `async (url) => (await stubFetch(url)).json()`,
  'stub: manager.fetch + arrayBuffer()': `async (url) => (await stubbed.fetch(url)).arrayBuffer()`,
  'stub: manager.fetch + text()': `async (url) => (await stubbed.fetch(url)).text()`,
  'stub: manager.fetch + json()': `async (url) => (await stubbed.fetch(url)).json()`,
  'stub: manager.request()': `async (url) => (await stubbed.request('GET', url)).data`,
  // Layers of the pool path over the stub (subtraction: each costs what the layers it goes through cost).
  // The transport alone (no pool, no line, no lease).
  'stub: transport.fetch + arrayBuffer()': `async (url) => (await stubTransport().fetch({ url: parsed(url), init: { method: 'GET', headers: stubbed.options.headers, body: null, signal: null, redirect: 'manual' }, timeout: stubbed.options.timeout, maxResponseSize: undefined })).arrayBuffer()`,
  // The transport and the body watch (the read-ahead with workerd's own arrayBuffer(), the swapped prototype), no pool.
  'stub: transport.fetch + watch + arrayBuffer()': `async (url) => { const call = { url: parsed(url), init: { method: 'GET', headers: stubbed.options.headers, body: null, signal: null, redirect: 'manual' }, timeout: stubbed.options.timeout, maxResponseSize: undefined }; return watchResponse(await stubTransport().fetch(call), noop, openBodies, call).arrayBuffer(); }`,
  // The pool's line, lease and body watch, no fetch loop.
  'stub: pool.fetchOnce + arrayBuffer()': `async (url) => (await stubbed.route(parsed(url)).fetchOnce({ url: parsed(url), init: { method: 'GET', headers: stubbed.options.headers, body: null, signal: null, redirect: 'manual' }, timeout: stubbed.options.timeout, maxResponseSize: undefined })).arrayBuffer()`,
  // The workerd manager over the stub with room for all ten at once: what waiting in the line costs, by subtraction.
  'stub: wide manager.fetch + arrayBuffer()': `async (url) => (await stubbedWide.fetch(url)).arrayBuffer()`,
  // The fetch entry's manager (no request-context leases) over the stub.
  'stub: no-lease manager.fetch + arrayBuffer()': `async (url) => (await unleased.fetch(url)).arrayBuffer()`,
  // The manager with room for every subrequest at once (maxTotal 10 at concurrency 10): nobody waits in the
  // line, and workerd queues past its own 6 connections in C++ as it does for plain fetch. Against
  // 'manager.fetch + arrayBuffer()' (maxTotal 6), what waiting in the line costs.
  'wide: manager.fetch + arrayBuffer()': `async (url) => (await wide.fetch(url)).arrayBuffer()`,
  // What one timer set and cleared costs in workerd (a lease's heartbeat, per exchange).
  'stub: timer + fetch + arrayBuffer()': `async (url) => { clearTimeout(setTimeout(noop, 250)); return (await stubFetch(url)).arrayBuffer(); }`,
} as const;

/** The stub's answer: the bench server's 1 KiB JSON, with the headers it sends. */
const layerImports = (src: string): string => `
import { FetchTransport } from ${JSON.stringify(`${src}adapters/fetch/fetch-transport.ts`)};
import { PoolManager as UnleasedManager } from ${JSON.stringify(`${src}adapters/fetch/index.ts`)};
import { watchResponse } from ${JSON.stringify(`${src}src/watch-body.ts`)};
const openBodies = new Set();
const noop = () => {};
const stubBytes = new TextEncoder().encode(JSON.stringify({ pad: 'x'.repeat(1012) }));
const stubFetch = async (url, init) => new Response(stubBytes, { headers: { 'content-type': 'application/json', 'content-length': String(stubBytes.byteLength) } });
const stubbed = new PoolManager({ maxTotal: 6, fetch: stubFetch });
const stubbedWide = new PoolManager({ maxTotal: 10, fetch: stubFetch });
const unleased = new UnleasedManager({ maxTotal: 6, fetch: stubFetch });
const wide = new PoolManager({ maxTotal: 10 });
// One URL per string, as the manager's own parse cache gives it: the layers do not pay for a parse.
const urls = new Map();
const parsed = (url) => urls.get(url) ?? urls.set(url, new URL(url)).get(url);
let transport;
const stubTransport = () => (transport ??= new FetchTransport(stubbed.options, true));
`;

type Mode = keyof typeof WORKERD_MODES | keyof typeof LAYER_MODES;

interface Args {
  modes: Mode[];
  reps: number;
  warm: number;
  incoming: number;
  short: number;
  long: number;
  concurrency: number;
  /** V8's flags for workerd: no background GC or compiler threads by default. */
  v8Flags: string[];
  /** A directory to copy each mode's last long-batch dump to (for callgrind_annotate --inclusive=yes). */
  keep: string | undefined;
  /** Another checkout to count the same modes from, in invocations of its own. */
  against: string | undefined;
  /** Invocations of each checkout with `against`, alternating. */
  invocations: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const against = get('against');
  const all = [...Object.keys(WORKERD_MODES), ...Object.keys(LAYER_MODES)] as Mode[];
  const modes = (get('modes')?.split(',') ?? Object.keys(WORKERD_MODES)) as Mode[];
  for (const m of modes) if (!all.includes(m)) throw new TypeError(`Unknown mode ${JSON.stringify(m)}; modes: ${all.join(', ')}`);
  return {
    modes,
    reps: Number(get('reps') ?? 3),
    warm: Number(get('warm') ?? 40),
    incoming: Number(get('incoming') ?? 4),
    short: 20,
    long: Number(get('long') ?? 80),
    keep: get('keep'),
    against: against === undefined ? undefined : join(against, '/'),
    invocations: Number(get('invocations') ?? 2),
    v8Flags: get('v8')?.split(',') ?? ['--single-threaded-gc', '--no-concurrent-recompilation', '--expose-gc'],
    concurrency: 10,
  };
}

export interface InstructionRow {
  mode: Mode;
  /** Instructions per subrequest, one per rep (long batch minus short batch). */
  perSubrequest: number[];
  /** (least long batch − least short batch) / subrequests. */
  median: number;
}

/** Counts `args.modes` in a workerd of its own, the Worker built from the sources in `src` (a checkout's root, ending in '/'). */
export async function countWorkerdInstructions(args: Args, log: (line: string) => void, src: string = root): Promise<InstructionRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'poolfetch-workerd-instr-'));
  const server = await startServerProcess({
    hosts: ['127.0.0.1'],
    ports: [0],
    // The server's keep-alive outlasts the seconds valgrind takes between batches.
    keepAliveTimeoutMs: 600_000,
    statics: { '/1k.json': { type: 'application/json', body: JSON.stringify({ pad: 'x'.repeat(1012) }) } },
  });
  try {
    const calls = Object.entries(LAYER_MODES).map(([name, code]) => `${JSON.stringify(name)}: ${code},`).join('\n');
    writeFileSync(join(dir, 'entry.js'), WORKER(`${src}adapters/fetch/workerd.ts`, { imports: layerImports(src), calls }));
    // Another checkout needs no node_modules of its own: its imports resolve here.
    await build({ entryPoints: [join(dir, 'entry.js')], nodePaths: [join(root, 'node_modules')], bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', outfile: join(dir, 'worker.js'), logLevel: 'error', mainFields: ['module', 'main'], conditions: ['workerd', 'worker', 'browser'] });
    const out = join(dir, 'callgrind.out');
    // JIT code lives on the heap: all-non-file makes valgrind see V8 rewrite it.
    const workerd = await serveWorkerd(dir, [], {
      wrapper: ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${out}`, '--dump-instr=no', '--vgdb=yes'],
      // V8's background threads (concurrent marking, compiling) land their work in whichever batch is
      // running: without them a batch's count repeats to a few percent.
      v8Flags: args.v8Flags,
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const control = (flag: string): string => execFileSync('callgrind_control', [flag, String(workerd.pid)], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const target = `http://127.0.0.1:${server.ports[0]}/1k.json`;
      const run = (mode: Mode, n: number, gc = false): Promise<void> =>
        new Promise((resolve, reject) => {
          const query = new URLSearchParams(gc ? { gc: '1' } : { mode, url: target, n: String(n), c: String(args.concurrency) });
          http.get(`${workerd.url}/?${query.toString()}`, { agent }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${mode}: status ${res.statusCode}\n${workerd.log()}`))));
          }).on('error', reject);
        });
      /** Zeroes the counters, runs `batch`, dumps: the instructions it took (every thread). */
      const counted = async (batch: () => Promise<void>, keepAs?: string): Promise<number> => {
        // Under valgrind a burst of microtasks can run past the leases' 1.5 s (a heartbeat that late
        // fails its waiter with EmptyPoolError, by design): such a batch is counted again.
        for (let attempt = 1; ; attempt += 1) {
          // Every batch starts from a collected heap: what the collector does inside it is for the batch's own
          // garbage, not for what the batch before left (that moved a mode by ±30 k a subrequest between reps).
          await run(args.modes[0] as Mode, 0, true);
          control('-z');
          try {
            await batch();
            break;
          } catch (error) {
            if (attempt === 3) throw error;
            log(`  a batch failed under valgrind (${String(error).split('\n')[0]}): counted again`);
          }
        }
        for (const f of readdirSync(dir)) if (f.startsWith('callgrind.out.')) unlinkSync(join(dir, f));
        control('-d');
        let total = 0;
        for (const f of readdirSync(dir)) {
          if (!f.startsWith('callgrind.out.')) continue;
          const text = readFileSync(join(dir, f), 'utf8');
          if (keepAs !== undefined && args.keep !== undefined) writeFileSync(join(args.keep, `${keepAs.replace(/[^\w]+/g, '_')}.${f}`), text);
          const summary = /^(?:summary|totals): (\d+)/m.exec(text);
          total += Number(summary?.[1] ?? Number.NaN);
        }
        return total;
      };

      const batch = (mode: Mode, n: number) => async (): Promise<void> => {
        for (let i = 0; i < args.incoming; i += 1) await run(mode, n);
      };
      for (const mode of args.modes) {
        log(`  warming ${mode}`);
        // A warm-up request that fails under valgrind (see `counted`) only warms less.
        for (let i = 0; i < args.warm; i += 1) await run(mode, args.short).catch((error: unknown) => log(`  warm-up request failed: ${String(error).split('\n')[0]}`));
      }
      const shorts = Object.fromEntries(args.modes.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
      const longs = Object.fromEntries(args.modes.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
      const per = Object.fromEntries(args.modes.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
      const subrequests = args.incoming * (args.long - args.short);
      for (let rep = 0; rep < args.reps; rep += 1) {
        for (const mode of args.modes) {
          shorts[mode].push(await counted(batch(mode, args.short)));
          longs[mode].push(await counted(batch(mode, args.long), mode));
          per[mode].push(((longs[mode].at(-1) ?? 0) - (shorts[mode].at(-1) ?? 0)) / subrequests);
          log(`  rep ${rep + 1}/${args.reps} ${mode}: ${((per[mode].at(-1) ?? 0) / 1000).toFixed(1)} k instructions/subrequest`);
        }
      }
      if (/different request context|hung/.test(workerd.log())) throw new Error(`workerd warned:\n${workerd.log()}`);
      // What disturbs a batch only adds to it (a background JIT compile, a timer of the leases that came
      // due): the least of each batch size over the reps is the undisturbed cost.
      return args.modes.map((mode) => ({ mode, perSubrequest: per[mode], median: (Math.min(...longs[mode]) - Math.min(...shorts[mode])) / subrequests }));
    } finally {
      agent.destroy();
      await workerd.close();
    }
  } finally {
    await server.close();
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

/** The markdown table: each mode's median, and its ratio to the plain-fetch mode that reads the body the same way. */
export function instructionTable(rows: InstructionRow[]): string {
  const byMode = new Map(rows.map((r) => [r.mode, r.median]));
  const lines = ['| Worker subrequest | k instructions/subrequest (least batches; each rep) | vs the Worker calling fetch itself |', '| --- | ---: | ---: |'];
  for (const row of rows) {
    const baseline: string | undefined = row.mode in WORKERD_MODES ? WORKERD_MODES[row.mode as keyof typeof WORKERD_MODES] : 'fetch + arrayBuffer()';
    const base = baseline === undefined ? undefined : byMode.get(baseline as Mode);
    const vs = baseline === undefined ? 'baseline' : base === undefined ? '' : `${(row.median / base).toFixed(2)}x`;
    lines.push(`| ${row.mode} | ${(row.median / 1000).toFixed(1)} (${row.perSubrequest.map((v) => (v / 1000).toFixed(1)).join(', ')}) | ${vs} |`);
  }
  return lines.join('\n');
}

/** Each mode's count in this checkout's invocations and in `against`'s, and the change of the least of each. */
export function againstTable(ours: InstructionRow[][], theirs: InstructionRow[][], against: string): string {
  const lines = [`| Worker subrequest | this checkout, k instructions/subrequest (each invocation) | ${against} (each invocation) | change |`, '| --- | ---: | ---: | ---: |'];
  const medians = (runs: InstructionRow[][], mode: Mode): number[] => runs.map((rows) => rows.find((r) => r.mode === mode)?.median ?? Number.NaN);
  for (const { mode } of ours[0] ?? []) {
    const a = medians(ours, mode);
    const b = medians(theirs, mode);
    const change = Math.min(...a) - Math.min(...b);
    const k = (values: number[]): string => values.map((v) => (v / 1000).toFixed(1)).join(', ');
    lines.push(`| ${mode} | ${k(a)} | ${k(b)} | ${change > 0 ? '+' : ''}${(change / 1000).toFixed(1)} k (${((change / Math.min(...b)) * 100).toFixed(1)} %) |`);
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = parseArgs(process.argv.slice(2));
  const log = (line: string): void => console.error(line);
  if (args.against === undefined) {
    console.log(instructionTable(await countWorkerdInstructions(args, log)));
  } else {
    const ours: InstructionRow[][] = [];
    const theirs: InstructionRow[][] = [];
    for (let i = 0; i < args.invocations; i += 1) {
      log(`invocation ${i + 1}/${args.invocations}: this checkout`);
      ours.push(await countWorkerdInstructions(args, log));
      log(`invocation ${i + 1}/${args.invocations}: ${args.against}`);
      theirs.push(await countWorkerdInstructions(args, log, args.against));
    }
    console.log(againstTable(ours, theirs, args.against));
  }
}
