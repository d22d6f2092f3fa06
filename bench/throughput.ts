/**
 * One origin, many callers: every client runs once per round, in a new
 * random order each round, so load from the rest of the machine falls on
 * all of them alike. Ratios are taken within a round and the median over
 * rounds is reported. With `slices`, a round is cut into that many turns
 * per client, taken in turn (each slice in a new order): the other jobs of a
 * shared machine come and go within seconds, and a client whose whole round
 * fell in a busy second read up to four times its CPU per request in the
 * round beside a client that ran in a quiet one. Two shapes use it: "throughput" (as many sockets as
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
  /** Turns each client takes per round, interleaved with the others' (1 by default: the round in one go). */
  slices?: number;
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
      const slices = plan.slices ?? 1;
      for (let round = 0; round < plan.warmupRounds + plan.rounds; round++) {
        const warm = round < plan.warmupRounds;
        const requests = warm ? Math.ceil(c.requests / 2) : c.requests;
        const perSlice = Math.ceil(requests / slices);
        const spent = new Map(inCase.map((client) => [client, { ms: 0, cpu: 0, requests: 0 }]));
        for (let slice = 0; slice < slices; slice++) {
          for (const client of shuffled(inCase)) {
            const sum = spent.get(client) as { ms: number; cpu: number; requests: number };
            const n = Math.min(perSlice, requests - sum.requests);
            activity.current = `${client.name}, ${c.label}, ${plan.connections} connections`;
            // Each turn starts from a collected heap: no client pays for another's garbage.
            collectGarbage();
            const before = process.cpuUsage();
            const perSecond = await load(() => client.call(c.path), n, plan.concurrency);
            const used = process.cpuUsage(before);
            sum.ms += (n / perSecond) * 1000;
            sum.cpu += used.user + used.system;
            sum.requests += n;
          }
        }
        if (!warm) {
          for (const [client, sum] of spent) {
            rps.get(client.name)?.push((sum.requests / sum.ms) * 1000);
            cpu.get(client.name)?.push(sum.cpu / sum.requests);
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
