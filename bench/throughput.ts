/**
 * One origin, 50 requests in flight, 1 KiB and 64 KiB after 1 ms: every
 * client runs once per round, in a new random order each round, so load
 * from the rest of the machine falls on all of them alike. Ratios are taken
 * within a round and the median over rounds is reported.
 */
import { makeSpecs, type Client, type Entries } from './clients.js';
import { startServerProcess } from './processes.js';
import { load, median, shuffled, spread } from './stats.js';

export interface ThroughputRow {
  name: string;
  payload: string;
  /** Requests per second, one per round. */
  rounds: number[];
  median: number;
  spread: number;
  /** This process's CPU time per request (user + system, µs), median over rounds: steadier than req/s on a busy machine. */
  cpuMicros: number;
}

export interface ThroughputResult {
  rows: ThroughputRow[];
}

export interface ThroughputPlan {
  payloads: Array<{ path: string; label: string; requests: number }>;
  rounds: number;
  warmupRounds: number;
  concurrency: number;
  log: (line: string) => void;
  entries: Entries;
}

export async function runThroughput(plan: ThroughputPlan): Promise<ThroughputResult> {
  // Sockets stay open between rounds: a server closing an idle socket just as an http.Agent reuses
  // it is a race (ECONNRESET) that has nothing to do with the client's speed.
  const server = await startServerProcess({ hosts: ['127.0.0.1'], ports: [0], keepAliveTimeoutMs: 10 * 60_000 });
  const origin = `http://127.0.0.1:${server.ports[0]}`;
  const clients: Client[] = makeSpecs(plan.entries).map((spec) => spec.make(origin, plan.concurrency));
  const rows: ThroughputRow[] = [];
  try {
    for (const payload of plan.payloads) {
      const byName = new Map<string, number[]>(clients.map((c) => [c.name, []]));
      const cpuByName = new Map<string, number[]>(clients.map((c) => [c.name, []]));
      for (let round = 0; round < plan.warmupRounds + plan.rounds; round++) {
        const warm = round < plan.warmupRounds;
        for (const client of shuffled(clients)) {
          const requests = warm ? Math.ceil(payload.requests / 2) : payload.requests;
          const cpu = process.cpuUsage();
          const rps = await load(() => client.call(payload.path), requests, plan.concurrency);
          const used = process.cpuUsage(cpu);
          if (!warm) {
            byName.get(client.name)?.push(rps);
            cpuByName.get(client.name)?.push((used.user + used.system) / requests);
          }
        }
        plan.log(`  ${payload.label} ${warm ? 'warm-up' : `round ${round - plan.warmupRounds + 1}/${plan.rounds}`} done`);
      }
      for (const [name, rounds] of byName) {
        rows.push({ name, payload: payload.label, rounds, median: median(rounds), spread: spread(rounds), cpuMicros: median(cpuByName.get(name) ?? []) });
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  }
  return { rows };
}
