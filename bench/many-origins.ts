/**
 * Many origins: distinct loopback addresses (127.1.x.y) × a few ports,
 * visited round-robin, 50 requests in flight. poolfetch (numPools 100,
 * maxSize 10), undici's Agent and Node's global fetch each run in their own
 * process; their passes alternate so machine load falls on all alike. The
 * servers count each client's open sockets (by the `x-bench` header), and
 * each client reports its RSS as it goes.
 *
 * Memory growth is measured after a full garbage collection at the end of
 * the warm-up and again at the end of the run: what visiting thousands more
 * origins left behind. RSS peaks between collections follow the garbage
 * collector's sawtooth, whose period grows as a client allocates less per
 * request; a peak-to-peak difference then says where the warm-up ended in
 * that sawtooth, not what was kept (poolfetch halved its allocations per
 * request and its peak growth read +27 MiB with less memory live after a
 * collection than before). The peaks are still reported beside it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { loopbackAddress, type OriginClientConfig, type OriginClientMessage, type OriginParentMessage, type SocketStats } from './protocol.js';
import { here, startServerProcess, sumStats, type ServerProcess } from './processes.js';
import { median, MiB } from './stats.js';

/**
 * Beside the peers, two references: `undici-lru` is the same bound as poolfetch's written with undici alone
 * (a Pool per origin, the numPools most recently used kept), so it churns as poolfetch does; `bare-socket`
 * is a socket per request and one HTTP/1.1 exchange by hand, the floor under any client that keeps no
 * connection. The Agent keeps every socket it opened.
 */
export const CLIENTS = ['poolfetch', 'undici-agent', 'global-fetch', 'undici-lru', 'bare-socket'] as const;
export type OriginClientName = (typeof CLIENTS)[number];

/** Every address listens on this many ports: few ports, many addresses, to keep file descriptors in check. */
const PORTS_PER_ADDRESS = 4;
/** Listening sockets per server process, so that no process comes near `ulimit -n`. */
const LISTENERS_PER_SERVER = 2500;

export interface ManyOriginsPlan {
  origins: number;
  numPools: number;
  maxSize: number;
  concurrency: number;
  /** Requests in the warm-up pass; RSS growth is measured from its end. */
  warmup: number;
  passes: number;
  requestsPerPass: number;
  nodeEntry: string;
  /**
   * Before each timed pass, one untimed visit of every origin. Without it a client that keeps every socket
   * (the Agent) finds many of them closed by its own keep-alive timeout while the other clients take their
   * turns, so its rate, and every ratio to it, swung with how long the others took (poolfetch ÷ Agent at
   * 1,000 origins read 0.27× with two clients and 0.75× with five, the same code).
   */
  rewarm?: boolean;
  /** Which clients run (default: all of CLIENTS); an A/B of poolfetch builds runs poolfetch alone. */
  clients?: readonly OriginClientName[];
  log: (line: string) => void;
}

export interface ManyOriginsClientResult {
  client: OriginClientName;
  /** Requests per second, one per pass. */
  passes: number[];
  median: number;
  rssAfterWarmup: number;
  /** The highest RSS seen during the warm-up pass: with garbage collection RSS is a sawtooth, so peaks are compared with peaks. */
  rssWarmupMax: number;
  /** The highest RSS seen after the warm-up pass. */
  rssMax: number;
  rssEnd: number;
  /** RSS and heap after a full garbage collection: at the end of the warm-up pass, and at the end of the run. */
  /** Both absent from the results of runs made before collections were measured. */
  collectedAfterWarmup?: { rss: number; heapUsed: number };
  collectedEnd?: { rss: number; heapUsed: number };
  /** RSS as the run goes, x = requests sent since the start (warm-up included). */
  rssSeries: Array<{ done: number; rss: number }>;
  /** Sockets open at the servers: the most at any moment (summed over server processes) and at the end. */
  peakSockets: number;
  endSockets: number;
  /** Process warnings the client process emitted. */
  warnings: string[];
}

export interface ManyOriginsResult {
  origins: number;
  numPools: number;
  maxSize: number;
  bound: number;
  clients: ManyOriginsClientResult[];
}

interface ClientProcess {
  name: OriginClientName;
  child: ChildProcess;
  pass(requests: number, sampleEvery: number, collect: boolean, rewarm: number): Promise<Extract<OriginClientMessage, { type: 'pass-done' }>>;
  exit(): Promise<void>;
}

let nextPassId = 1;

async function startClient(name: OriginClientName, config: OriginClientConfig & { nodeEntry: string }): Promise<ClientProcess> {
  const child = fork(here('./origin-client.ts'), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, (m: Extract<OriginClientMessage, { type: 'pass-done' }>) => void>();
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} client exited with ${code}`)));
    child.on('message', (message: OriginClientMessage) => {
      if (message.type === 'ready') resolve();
      else {
        waiting.get(message.id)?.(message);
        waiting.delete(message.id);
      }
    });
  });
  return {
    name,
    child,
    pass: (requests, sampleEvery, collect, rewarm) =>
      new Promise((resolve, reject) => {
        const id = nextPassId++;
        const exited = (code: number | null): void => reject(new Error(`${name} client exited with ${code} during a pass`));
        // One listener per pass, removed when it ends: more than ten passes would otherwise warn of a leak.
        child.once('exit', exited);
        waiting.set(id, (message) => {
          child.off('exit', exited);
          resolve(message);
        });
        child.send({ type: 'pass', id, requests, sampleEvery, collect, rewarm } satisfies OriginParentMessage);
      }),
    exit: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || !child.connected) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.send({ type: 'exit' } satisfies OriginParentMessage);
      }),
  };
}

export async function runManyOrigins(plan: ManyOriginsPlan): Promise<ManyOriginsResult> {
  const addresses = Math.ceil(plan.origins / PORTS_PER_ADDRESS);
  const perServer = Math.floor(LISTENERS_PER_SERVER / PORTS_PER_ADDRESS);
  const servers: ServerProcess[] = [];
  const clients: ClientProcess[] = [];
  try {
    // The first server picks the ports; the others listen on the same ports on their own addresses.
    let ports: number[] = Array.from({ length: PORTS_PER_ADDRESS }, () => 0);
    for (let first = 0; first < addresses; first += perServer) {
      const hosts = Array.from({ length: Math.min(perServer, addresses - first) }, (_, i) => loopbackAddress(first + i));
      const server = await startServerProcess({ hosts, ports });
      ports = server.ports;
      servers.push(server);
    }
    const origins = { count: plan.origins, addresses, ports };
    plan.log(`  ${plan.origins} origins on ${addresses} addresses × ${ports.length} ports, ${servers.length} server process(es)`);

    for (const name of plan.clients ?? CLIENTS) {
      clients.push(
        await startClient(name, {
          client: name,
          origins,
          concurrency: plan.concurrency,
          numPools: plan.numPools,
          maxSize: plan.maxSize,
          nodeEntry: plan.nodeEntry,
        }),
      );
    }
    const stats = async (): Promise<SocketStats> => sumStats(await Promise.all(servers.map((s) => s.stats())));
    const results = new Map<OriginClientName, ManyOriginsClientResult>();
    for (const c of clients) {
      results.set(c.name, { client: c.name, passes: [], median: 0, rssAfterWarmup: 0, rssWarmupMax: 0, rssMax: 0, rssEnd: 0, rssSeries: [], peakSockets: 0, endSockets: 0, warnings: [] });
    }
    const sampleEvery = Math.max(50, Math.floor(plan.requestsPerPass / 20));
    let done = 0;
    for (let pass = 0; pass <= plan.passes; pass++) {
      const warm = pass === 0;
      const requests = warm ? plan.warmup : plan.requestsPerPass;
      // The same order every pass: a client's idle sockets then age alike between its passes.
      for (const c of clients) {
        const r = results.get(c.name);
        if (r === undefined) throw new Error(`no results for ${c.name}`);
        const last = pass === plan.passes;
        const out = await c.pass(requests, sampleEvery, warm || last, plan.rewarm === true && !warm ? plan.origins : 0);
        for (const s of out.samples) r.rssSeries.push({ done: done + s.done, rss: s.rss });
        r.rssSeries.push({ done: done + requests, rss: out.rss });
        r.warnings.push(...out.warnings);
        if (warm) r.rssAfterWarmup = out.rss;
        else r.passes.push((out.requests / out.ms) * 1000);
        if (out.collected !== undefined) {
          if (warm) r.collectedAfterWarmup = out.collected;
          if (last) r.collectedEnd = out.collected;
        }
        r.rssEnd = out.rss;
        const s = await stats();
        r.peakSockets = Math.max(r.peakSockets, s.peak[c.name] ?? 0);
        r.endSockets = s.open[c.name] ?? 0;
      }
      done += requests;
      plan.log(`  ${plan.origins} origins: ${warm ? 'warm-up' : `pass ${pass}/${plan.passes}`} done`);
    }
    for (const r of results.values()) {
      r.median = median(r.passes);
      r.rssMax = Math.max(...r.rssSeries.filter((s) => s.done > plan.warmup).map((s) => s.rss), r.rssEnd);
      r.rssWarmupMax = Math.max(...r.rssSeries.filter((s) => s.done <= plan.warmup).map((s) => s.rss), r.rssAfterWarmup);
    }
    return { origins: plan.origins, numPools: plan.numPools, maxSize: plan.maxSize, bound: plan.numPools * plan.maxSize, clients: [...results.values()] };
  } finally {
    await Promise.all(clients.map((c) => c.exit()));
    await Promise.all(servers.map((s) => s.close()));
  }
}

/** Growth after warm-up, in MiB: RSS after a full collection at the end of the run minus RSS after one at the end of the warm-up. */
export const rssGrowth = (r: ManyOriginsClientResult): number => ((r.collectedEnd?.rss ?? Number.NaN) - (r.collectedAfterWarmup?.rss ?? Number.NaN)) / MiB;
/** The same for the live heap. */
export const heapGrowth = (r: ManyOriginsClientResult): number => ((r.collectedEnd?.heapUsed ?? Number.NaN) - (r.collectedAfterWarmup?.heapUsed ?? Number.NaN)) / MiB;
/** Peak to peak: the highest RSS after the warm-up minus the highest during it, in MiB (the collector's sawtooth included). */
export const rssPeakGrowth = (r: ManyOriginsClientResult): number => (r.rssMax - r.rssWarmupMax) / MiB;
