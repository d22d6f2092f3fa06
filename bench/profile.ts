/**
 * Where the CPU goes in the waiting shape: each profiled client runs the
 * 1 KiB, no-delay case of the waiting shape in a child process under the
 * V8 CPU profiler (see profile-child.ts), and the profile is summed here
 * by function (self time) and by whose code it is (AREAS): poolfetch
 * (mapped back to its sources through the build's source map), its
 * dependencies, undici, Node's internals, native code, the garbage
 * collector. Figures are µs of
 * self time per request; the profiler itself adds a little to every
 * function, so compare rows of one run with each other.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Built } from './build.js';
import { here, startServerProcess } from './processes.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface ProfileChildConfig {
  client: string;
  origin: string;
  path: string;
  connections: number;
  concurrency: number;
  warmup: number;
  requests: number;
  out: string;
}

export interface ProfileChildResult {
  out: string;
  cpuMicros: number;
  /** Process warnings the child emitted ("name: message"). */
  warnings: string[];
}

export type Area = 'poolfetch' | 'p-queue, quick-lru' | 'undici' | 'Node internals' | 'native' | 'GC' | 'other';
/** Whose code: poolfetch's own; its dependencies; undici (llhttp's wasm included); Node's JavaScript; native code and V8 builtins (socket writes, microtask runs, "(program)"); the garbage collector; the rest (the bench's own closures). */
export const AREAS: Area[] = ['poolfetch', 'p-queue, quick-lru', 'undici', 'Node internals', 'native', 'GC', 'other'];
const POOLFETCH_DEPS = new Set(['p-queue', 'eventemitter3', 'p-timeout', 'quick-lru']);

export interface ProfiledClient {
  client: string;
  requests: number;
  /** CPU µs per request while profiled (the profiler adds to it); the areas add up to it. */
  cpuMicros: number;
  /** Self time µs per request by whose code ran. */
  areas: Record<Area, number>;
  /** The functions with the most self time, µs per request. */
  top: FunctionCost[];
  /** The .cpuprofile written, relative to the repository. */
  file: string;
  /** Process warnings in the profiled child. */
  warnings: string[];
}

export interface FunctionCost {
  fn: string;
  location: string;
  area: Area;
  micros: number;
}

/** A poolfetch client against the undici call it wraps: the functions whose self time grew most. */
export interface ProfileComparison {
  client: string;
  baseline: string;
  rows: Array<FunctionCost & { baselineMicros: number }>;
}

export interface ProfileResult {
  label: string;
  connections: number;
  concurrency: number;
  clients: ProfiledClient[];
  comparisons: ProfileComparison[];
}

/** Which profiled client is compared with which. */
const PAIRS: Array<[string, string]> = [
  ['poolfetch request', 'undici Pool.request'],
  ['poolfetch manager.fetch', 'undici fetch + Pool'],
];

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Source maps of the built entries, by their file URL. */
const maps = new Map<string, { map: SourceMap; dir: string } | null>();

function sourceMapFor(url: string): { map: SourceMap; dir: string } | null {
  let entry = maps.get(url);
  if (entry === undefined) {
    const file = fileURLToPath(url);
    entry = existsSync(`${file}.map`) ? { map: new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as never), dir: dirname(file) } : null;
    maps.set(url, entry);
  }
  return entry;
}

function classify(frame: CpuProfile['nodes'][number]['callFrame']): { area: Area; location: string } | undefined {
  const { url, lineNumber, columnNumber, functionName } = frame;
  if (functionName === '(idle)' || functionName === '(root)') return undefined;
  if (functionName === '(garbage collector)') return { area: 'GC', location: '' };
  // Only undici brings WebAssembly here (llhttp, its HTTP parser).
  if (functionName.startsWith('wasm-function')) return { area: 'undici', location: 'llhttp (wasm)' };
  if (url === '') return { area: 'native', location: '' };
  if (url.startsWith('node:')) return { area: 'Node internals', location: `${url}:${lineNumber + 1}` };
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const location = `${url.slice(modules + '/node_modules/'.length)}:${lineNumber + 1}`;
    const pkg = location.split('/')[0] ?? '';
    return { area: pkg === 'undici' ? 'undici' : POOLFETCH_DEPS.has(pkg) ? 'p-queue, quick-lru' : 'other', location };
  }
  if (url.startsWith('file:') && url.includes('/.tmp/bench/')) {
    const sm = sourceMapFor(url);
    const found = sm?.map.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
    if (sm !== null && sm !== undefined && found?.originalSource !== undefined) {
      const source = relative(root, resolve(sm.dir, found.originalSource.replace(/^file:\/\//, '')));
      return { area: 'poolfetch', location: `${source}:${(found.originalLine ?? 0) + 1}` };
    }
    return { area: 'poolfetch', location: `${url.slice(url.lastIndexOf('/') + 1)}:${lineNumber + 1}` };
  }
  return { area: 'other', location: url.slice(url.lastIndexOf('/') + 1) };
}

/**
 * Self time per function, in µs per request. Samples are counted, not timed,
 * and scaled so that a client's total is its measured CPU time while it was
 * profiled: the profiler's clock runs on while the process waits for a core
 * (on a busy machine, much of the time), and the time a sample spans is
 * billed to whatever ran last, where a count of samples follows CPU time.
 * Idle samples (waiting in the event loop) are left out of both.
 */
export function summarize(
  profile: CpuProfile,
  requests: number,
  cpuMicrosPerRequest: number,
  topN: number,
): Pick<ProfiledClient, 'areas' | 'top'> & { all: Map<string, FunctionCost> } {
  const idle = new Set(profile.nodes.filter((n) => classify(n.callFrame) === undefined).map((n) => n.id));
  const counts = new Map<number, number>();
  let busy = 0;
  for (const id of profile.samples) {
    if (idle.has(id)) continue;
    busy += 1;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const perSample = busy === 0 ? 0 : (cpuMicrosPerRequest * requests) / busy;
  const self = new Map<number, number>([...counts].map(([id, n]) => [id, n * perSample]));
  const areas = Object.fromEntries(AREAS.map((a) => [a, 0])) as Record<Area, number>;
  const byFunction = new Map<string, FunctionCost>();
  for (const node of profile.nodes) {
    const micros = self.get(node.id);
    if (micros === undefined) continue;
    const where = classify(node.callFrame);
    if (where === undefined) continue;
    areas[where.area] += micros / requests;
    const fn = node.callFrame.functionName === '' ? '(anonymous)' : node.callFrame.functionName;
    const key = `${fn} ${where.location}`;
    const row = byFunction.get(key) ?? { fn, location: where.location, area: where.area, micros: 0 };
    row.micros += micros / requests;
    byFunction.set(key, row);
  }
  const top = [...byFunction.values()].sort((a, b) => b.micros - a.micros).slice(0, topN);
  return { areas, top, all: byFunction };
}

export interface ProfilePlan {
  built: Built;
  clients: string[];
  path: string;
  label: string;
  connections: number;
  concurrency: number;
  warmup: number;
  requests: number;
  topN: number;
  log: (line: string) => void;
}

export async function runProfiles(plan: ProfilePlan): Promise<ProfileResult> {
  const dir = `${root}.tmp/bench/profiles`;
  mkdirSync(dir, { recursive: true });
  const server = await startServerProcess({ hosts: ['127.0.0.1'], ports: [0], delayMs: 0, keepAliveTimeoutMs: 10 * 60_000 });
  const origin = `http://127.0.0.1:${server.ports[0]}`;
  const clients: ProfiledClient[] = [];
  const all = new Map<string, Map<string, FunctionCost>>();
  try {
    for (const client of plan.clients) {
      const out = `${dir}/waiting-${client.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.cpuprofile`;
      const config: ProfileChildConfig & { built: Built } = {
        client,
        origin,
        path: plan.path,
        connections: plan.connections,
        concurrency: plan.concurrency,
        warmup: plan.warmup,
        requests: plan.requests,
        out,
        built: plan.built,
      };
      const child = fork(here('./profile-child.ts'), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const result = await new Promise<ProfileChildResult>((resolveResult, reject) => {
        child.once('message', (m: ProfileChildResult) => resolveResult(m));
        child.once('exit', (code) => reject(new Error(`profile of ${client} exited with ${code}`)));
      });
      const profile = JSON.parse(readFileSync(result.out, 'utf8')) as CpuProfile;
      const summary = summarize(profile, plan.requests, result.cpuMicros, plan.topN);
      all.set(client, summary.all);
      clients.push({ client, requests: plan.requests, cpuMicros: result.cpuMicros, areas: summary.areas, top: summary.top, file: relative(root, out), warnings: result.warnings });
      plan.log(`  profiled ${client}`);
    }
  } finally {
    await server.close();
  }
  const comparisons: ProfileComparison[] = [];
  for (const [client, baseline] of PAIRS) {
    const mine = all.get(client);
    const theirs = all.get(baseline);
    if (mine === undefined || theirs === undefined) continue;
    const keys = new Set([...mine.keys(), ...theirs.keys()]);
    const rows = [...keys]
      .map((key) => {
        const a = mine.get(key);
        const b = theirs.get(key);
        const any = (a ?? b) as FunctionCost;
        return { fn: any.fn, location: any.location, area: any.area, micros: a?.micros ?? 0, baselineMicros: b?.micros ?? 0 };
      })
      .sort((x, y) => y.micros - y.baselineMicros - (x.micros - x.baselineMicros))
      .slice(0, plan.topN);
    comparisons.push({ client, baseline, rows });
  }
  return { label: plan.label, connections: plan.connections, concurrency: plan.concurrency, clients, comparisons };
}
