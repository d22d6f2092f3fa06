/**
 * LRU churn: more origins than `numPools` (distinct loopback addresses, one
 * port), visited round-robin by 50 callers, so nearly every poolfetch
 * request finds its origin's pool evicted or retiring and a new connection
 * is made. The cost to compare with is a fresh connection per request:
 * undici's Agent with `reset: true`. undici's Agent keeping its sockets (at
 * the same per-origin cap) is there for scale: what no churn costs.
 *
 * The servers count, per client and per origin, the most sockets open and
 * the most requests in progress at once: the per-origin cap, checked where
 * the client cannot misreport it. Clients run in this process, one after
 * the other in a new random order each round; CPU is this process's.
 */
import { Agent, request } from 'undici';
import type { Entries } from './clients.js';
import { startServerProcess } from './processes.js';
import type { ThroughputRow } from './throughput.js';
import { loopbackAddress, type SocketStats } from './protocol.js';
import { activity, at, collectGarbage, load, median, shuffled, spread } from './stats.js';

export interface ChurnPlan {
  origins: number;
  numPools: number;
  maxSize: number;
  concurrency: number;
  requests: number;
  rounds: number;
  warmupRounds: number;
  entries: Entries;
  log: (line: string) => void;
}

/** A client's req/s and CPU per request over the rounds, as the throughput rows have them (no payload: one shape). */
export interface ChurnRow extends Omit<ThroughputRow, 'payload'> {
  /** At the servers, over the whole run (warm-up included): the most sockets / requests in progress at once on any one origin. */
  peakSocketsPerOrigin: number;
  peakRequestsPerOrigin: number;
  /** Sockets the servers saw opened, per request sent. */
  socketsPerRequest: number;
}

export interface ChurnResult {
  origins: number;
  numPools: number;
  maxSize: number;
  concurrency: number;
  rows: ChurnRow[];
}

export const CHURN_POOLFETCH = 'poolfetch request';
export const CHURN_RESET = 'undici Agent, reset: true';

interface ChurnClient {
  name: string;
  call(url: string): Promise<unknown>;
  close(): Promise<void>;
}

function makeClients(plan: ChurnPlan): ChurnClient[] {
  const { PoolManager } = plan.entries.node;
  const tag = (name: string): Record<string, string> => ({ 'x-bench': name });
  const poolfetch = new PoolManager({ numPools: plan.numPools, maxSize: plan.maxSize, headers: tag(CHURN_POOLFETCH) });
  const fresh = new Agent();
  const kept = new Agent({ connections: plan.maxSize });
  const KEPT = `undici Agent, connections: ${plan.maxSize}`;
  return [
    { name: CHURN_POOLFETCH, call: (url) => poolfetch.request('GET', url), close: () => poolfetch.close() },
    {
      name: CHURN_RESET,
      call: async (url) => (await request(url, { dispatcher: fresh, reset: true, headers: tag(CHURN_RESET) })).body.bytes(),
      close: () => fresh.close(),
    },
    { name: KEPT, call: async (url) => (await request(url, { dispatcher: kept, headers: tag(KEPT) })).body.bytes(), close: () => kept.close() },
  ];
}

/** The largest figure among `tag origin` keys for one client. */
function perOrigin(figures: Record<string, number>, name: string): number {
  let most = 0;
  for (const [key, n] of Object.entries(figures)) if (key.startsWith(`${name} `) && n > most) most = n;
  return most;
}

export async function runChurn(plan: ChurnPlan): Promise<ChurnResult> {
  const hosts = Array.from({ length: plan.origins }, (_, i) => loopbackAddress(i));
  const server = await startServerProcess({ hosts, ports: [0] });
  const urls = hosts.map((h) => `http://${h}:${server.ports[0]}/1k`);
  const clients = makeClients(plan);
  const rows: ChurnRow[] = [];
  try {
    const rps = new Map<string, number[]>(clients.map((c) => [c.name, []]));
    const cpu = new Map<string, number[]>(clients.map((c) => [c.name, []]));
    const sent = new Map<string, number>(clients.map((c) => [c.name, 0]));
    for (let round = 0; round < plan.warmupRounds + plan.rounds; round++) {
      const warm = round < plan.warmupRounds;
      for (const client of shuffled(clients)) {
        let next = 0;
        const call = (): Promise<unknown> => client.call(at(urls, next++ % urls.length));
        const requests = warm ? Math.ceil(plan.requests / 2) : plan.requests;
        activity.current = `${client.name}, churn`;
        collectGarbage();
        const before = process.cpuUsage();
        const perSecond = await load(call, requests, plan.concurrency);
        const used = process.cpuUsage(before);
        sent.set(client.name, (sent.get(client.name) ?? 0) + requests);
        if (!warm) {
          rps.get(client.name)?.push(perSecond);
          cpu.get(client.name)?.push((used.user + used.system) / requests);
        }
      }
      plan.log(`  churn ${warm ? 'warm-up' : `round ${round - plan.warmupRounds + 1}/${plan.rounds}`} done`);
    }
    const stats: SocketStats = await server.stats();
    for (const c of clients) {
      const r = rps.get(c.name) ?? [];
      const cpuRounds = cpu.get(c.name) ?? [];
      rows.push({
        name: c.name,
        rounds: r,
        median: median(r),
        spread: spread(r),
        cpuRounds,
        cpuMicros: median(cpuRounds),
        cpuSpread: spread(cpuRounds),
        peakSocketsPerOrigin: perOrigin(stats.originPeak, c.name),
        peakRequestsPerOrigin: perOrigin(stats.originRequestPeak, c.name),
        socketsPerRequest: (stats.opened[c.name] ?? 0) / (sent.get(c.name) ?? 1),
      });
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  }
  return { origins: plan.origins, numPools: plan.numPools, maxSize: plan.maxSize, concurrency: plan.concurrency, rows };
}
