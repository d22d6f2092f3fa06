/**
 * One origin, many callers: every client runs once per round, in a new
 * random order each round, so load from the rest of the machine falls on
 * all of them alike. Ratios are taken within a round and the median over
 * rounds is reported. Two shapes use it: "throughput" (as many sockets as
 * callers) and "waiting" (50 callers on 10 sockets), each over one or more
 * cases (payload × server delay; one server process per delay).
 */
import type { ClientSpec, Client } from './clients.js';
import { startServerProcess, type ServerProcess } from './processes.js';
import { activity, collectGarbage, load, median, shuffled, spread } from './stats.js';

export interface ThroughputRow {
  name: string;
  /** The case's label, e.g. "1 KiB" or "1 KiB, 0 ms". */
  payload: string;
  /** Requests per second, one per round. */
  rounds: number[];
  median: number;
  spread: number;
  /** This process's CPU time per request (user + system, µs), one per round: steadier than req/s on a busy machine. */
  cpuRounds: number[];
  cpuMicros: number;
  cpuSpread: number;
}

export interface ThroughputCase {
  label: string;
  path: string;
  requests: number;
  /** The server's delay before answering, ms (0: at once). */
  delayMs: number;
}

export interface ThroughputPlan {
  specs: ClientSpec[];
  cases: ThroughputCase[];
  rounds: number;
  warmupRounds: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** The cap on sockets every client gets. */
  connections: number;
  log: (line: string) => void;
}

export async function runThroughput(plan: ThroughputPlan): Promise<ThroughputRow[]> {
  const servers = new Map<number, ServerProcess>();
  const clients = new Map<number, Client[]>();
  const rows: ThroughputRow[] = [];
  try {
    for (const delayMs of new Set(plan.cases.map((c) => c.delayMs))) {
      // Sockets stay open between rounds: a server closing an idle socket just as an http.Agent reuses
      // it is a race (ECONNRESET) that has nothing to do with the client's speed.
      const server = await startServerProcess({ hosts: ['127.0.0.1'], ports: [0], delayMs, keepAliveTimeoutMs: 10 * 60_000 });
      servers.set(delayMs, server);
      const origin = `http://127.0.0.1:${server.ports[0]}`;
      clients.set(
        delayMs,
        plan.specs.map((spec) => spec.make(origin, plan.connections)),
      );
    }
    for (const c of plan.cases) {
      const inCase = clients.get(c.delayMs) ?? [];
      const rps = new Map<string, number[]>(inCase.map((client) => [client.name, []]));
      const cpu = new Map<string, number[]>(inCase.map((client) => [client.name, []]));
      for (let round = 0; round < plan.warmupRounds + plan.rounds; round++) {
        const warm = round < plan.warmupRounds;
        for (const client of shuffled(inCase)) {
          const requests = warm ? Math.ceil(c.requests / 2) : c.requests;
          activity.current = `${client.name}, ${c.label}, ${plan.connections} connections`;
          collectGarbage();
          const before = process.cpuUsage();
          const perSecond = await load(() => client.call(c.path), requests, plan.concurrency);
          const used = process.cpuUsage(before);
          if (!warm) {
            rps.get(client.name)?.push(perSecond);
            cpu.get(client.name)?.push((used.user + used.system) / requests);
          }
        }
        plan.log(`  ${c.label} ${warm ? 'warm-up' : `round ${round - plan.warmupRounds + 1}/${plan.rounds}`} done`);
      }
      for (const [name, rounds] of rps) {
        const cpuRounds = cpu.get(name) ?? [];
        rows.push({
          name,
          payload: c.label,
          rounds,
          median: median(rounds),
          spread: spread(rounds),
          cpuRounds,
          cpuMicros: median(cpuRounds),
          cpuSpread: spread(cpuRounds),
        });
      }
    }
  } finally {
    await Promise.all([...clients.values()].flat().map((c) => c.close()));
    await Promise.all([...servers.values()].map((s) => s.close()));
  }
  return rows;
}
