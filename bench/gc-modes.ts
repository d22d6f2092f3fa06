/**
 * The 64 KiB waiting shape, each client alone in a process of its own: CPU
 * per request and the collections V8 made (`--trace-gc`). In the main bench
 * every client shares one process, and at 64 KiB V8's answer to the bodies'
 * external memory is bistable (a run of major collections once in-flight
 * buffers have been promoted, scavenges otherwise), so a round's ratio moves
 * with which mode the process happened to be in. Here each run starts from a
 * fresh heap, the clients take turns in a new order each round, and the
 * report gives every client's runs side by side with the major collections
 * of each, so whether a client's layer brings the mode on can be seen.
 *
 *   npx tsx bench/gc-modes.ts [--rounds=6] [--requests=3000] [--path=/64k] [--delay=0] [--connections=10]
 *
 * Builds the entries as the main bench does (bench/build.ts).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildForBench, loadEntries, outDir, type Built } from './build.js';
import { makeSpecs } from './clients.js';
import { startServerProcess } from './processes.js';
import { load, median, shuffled } from './stats.js';

const here = fileURLToPath(import.meta.url);
/** The clients compared: poolfetch's and undici's two on the same path. */
const CLIENTS = ['poolfetch request', 'undici Pool.request', 'undici Pool.dispatch'];
const CALLERS = 50;
/** The sockets every client is capped at by default: fewer than the callers, so most requests wait. */
const CONNECTIONS = 10;
const WARM_UP = 500;
const MARK = '=== measured';

interface Run {
  client: string;
  cpuMicros: number;
  majors: number;
  scavenges: number;
}

/** In the child: one client, warmed up, then `requests` counted. */
async function child(client: string, origin: string, path: string, requests: number, connections: number): Promise<void> {
  const built: Built = { nodeEntry: `${outDir}/node.mjs`, fetchEntry: `${outDir}/fetch.mjs`, browserBundle: `${outDir}/browser.js` };
  const spec = makeSpecs(await loadEntries(built)).find((s) => s.name === client);
  if (spec === undefined) throw new TypeError(`Unknown client ${JSON.stringify(client)}`);
  const made = spec.make(origin, connections);
  await load(() => made.call(path), WARM_UP, CALLERS);
  console.log(MARK);
  const before = process.cpuUsage();
  await load(() => made.call(path), requests, CALLERS);
  const used = process.cpuUsage(before);
  console.log(`=== cpu ${(used.user + used.system) / requests}`);
  await made.close();
}

/** Runs `client` in a child under `--trace-gc`: its CPU per request and the collections after the warm-up. */
function runChild(client: string, origin: string, path: string, requests: number, connections: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...process.execArgv, '--trace-gc', here, '--child', client, origin, path, String(requests), String(connections)], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => {
      if (error !== null) {
        reject(error);
        return;
      }
      const measured = stdout.slice(stdout.indexOf(MARK));
      const cpu = /=== cpu ([\d.]+)/.exec(measured);
      if (cpu === null) {
        reject(new Error(`${client}: no CPU line in its output`));
        return;
      }
      resolve({ client, cpuMicros: Number(cpu[1]), majors: (measured.match(/Mark-Compact/g) ?? []).length, scavenges: (measured.match(/Scavenge/g) ?? []).length });
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const get = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const rounds = Number(get('rounds') ?? 6);
  const requests = Number(get('requests') ?? 3000);
  const path = get('path') ?? '/64k';
  /** The server's delay before answering, ms. */
  const delayMs = Number(get('delay') ?? 0);
  /** The cap on sockets; `--connections=50`, as many as the callers, has nobody wait in poolfetch's line or undici's. */
  const connections = Number(get('connections') ?? CONNECTIONS);
  await buildForBench();
  const server = await startServerProcess({ hosts: ['127.0.0.1'], ports: [0], delayMs, keepAliveTimeoutMs: 600_000 });
  const runs: Run[] = [];
  try {
    const origin = `http://127.0.0.1:${server.ports[0]}`;
    for (let round = 1; round <= rounds; round += 1) {
      for (const client of shuffled(CLIENTS)) {
        const run = await runChild(client, origin, path, requests, connections);
        runs.push(run);
        console.error(`  round ${round}/${rounds} ${client}: ${run.cpuMicros.toFixed(1)} µs CPU/request, ${run.majors} major collections, ${run.scavenges} scavenges`);
      }
    }
  } finally {
    await server.close();
  }
  console.log(`${path} answered after ${delayMs} ms, ${CALLERS} callers on ${connections} connections, ${requests} requests a run after ${WARM_UP} of warm-up, each run a process of its own\n`);
  console.log('| client | CPU µs/request (median; each run) | major collections (each run) |');
  console.log('| --- | ---: | ---: |');
  for (const client of CLIENTS) {
    const own = runs.filter((r) => r.client === client);
    console.log(`| ${client} | ${median(own.map((r) => r.cpuMicros)).toFixed(1)} (${own.map((r) => r.cpuMicros.toFixed(0)).join(', ')}) | ${own.map((r) => r.majors).join(', ')} |`);
  }
}

if (process.argv[2] === '--child') {
  const [client, origin, path, requests, connections] = process.argv.slice(3);
  await child(client ?? '', origin ?? '', path ?? '', Number(requests), Number(connections));
} else {
  await main(process.argv.slice(2));
}
