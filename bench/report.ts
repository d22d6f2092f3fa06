/** The printed table, the target checks and BENCHMARKS.md, all from one results object. */
import type { BrowserResult } from './browser.js';
import type { CoreResult } from './core.js';
import { rssGrowth, type ManyOriginsResult } from './many-origins.js';
import { median, MiB, ratios } from './stats.js';
import type { ThroughputRow } from './throughput.js';

export interface Results {
  meta: {
    date: string;
    quick: boolean;
    node: string;
    cpus: number;
    cpuModel: string;
    loadavgStart: number;
    loadavgEnd: number;
    seconds: number;
  };
  throughput: { concurrency: number; rows: ThroughputRow[] } | undefined;
  manyOrigins: ManyOriginsResult[];
  core: CoreResult | undefined;
  browser: BrowserResult | undefined;
}

export interface Check {
  name: string;
  value: string;
  goal: string;
  pass: boolean;
}

const POOLFETCH = 'poolfetch request';

/** Median over rounds of a/b within each round (the clients ran back to back in that round). */
export function ratio(rows: ThroughputRow[], payload: string, a: string, b: string): number {
  const ra = rows.find((r) => r.payload === payload && r.name === a)?.rounds ?? [];
  const rb = rows.find((r) => r.payload === payload && r.name === b)?.rounds ?? [];
  return median(ratios(ra, rb));
}

/** Which baseline each row is compared with in the table. */
const BASELINE: Record<string, string> = {
  'poolfetch manager.fetch': 'undici fetch + dispatcher',
  'fetch adapter over undici fetch': 'undici fetch',
};

const pct = (v: number): string => `±${(v * 100).toFixed(0)} %`;
const fixed = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');

export function targets(results: Results): Check[] {
  const checks: Check[] = [];
  const rows = results.throughput?.rows ?? [];
  const payloads = [...new Set(rows.map((r) => r.payload))];
  const min = (name: string, a: string, b: string, goal: number): void => {
    for (const p of payloads) {
      const v = ratio(rows, p, a, b);
      checks.push({ name: `${p}: ${name}`, value: `${fixed(v)}×`, goal: `≥ ${goal}×`, pass: v >= goal });
    }
  };
  if (rows.length > 0) {
    min('poolfetch request ÷ undici Pool.request', POOLFETCH, 'undici Pool.request', 0.95);
    min('poolfetch request ÷ global fetch', POOLFETCH, 'global fetch', 1.5);
    for (const peer of ['axios', 'got', 'node-fetch']) min(`poolfetch request ÷ ${peer}`, POOLFETCH, peer, 2);
    min('manager.fetch ÷ undici fetch + dispatcher', 'poolfetch manager.fetch', 'undici fetch + dispatcher', 0.95);
    min('fetch adapter ÷ the undici fetch it wraps', 'fetch adapter over undici fetch', 'undici fetch', 0.95);
  }
  for (const run of results.manyOrigins) {
    const p = run.clients.find((c) => c.client === 'poolfetch');
    if (p === undefined) continue;
    checks.push({
      name: `${run.origins} origins: poolfetch sockets open at once (peak, at the servers)`,
      value: String(p.peakSockets),
      goal: `≤ numPools × maxSize = ${run.bound}`,
      pass: p.peakSockets <= run.bound,
    });
  }
  const biggest = results.manyOrigins.at(-1);
  const pf = biggest?.clients.find((c) => c.client === 'poolfetch');
  if (biggest !== undefined && pf !== undefined && biggest.origins >= 10_000) {
    const growth = rssGrowth(pf);
    checks.push({ name: `${biggest.origins} origins: poolfetch RSS growth after warm-up`, value: `${fixed(growth, 1)} MiB`, goal: '< 20 MiB', pass: growth < 20 });
  }
  return checks;
}

function throughputTable(rows: ThroughputRow[], md: boolean): string {
  const out: string[] = [];
  const header = ['payload', 'client', 'req/s (median)', 'spread', 'CPU µs/req', 'poolfetch request ÷ it', 'vs its baseline'];
  const line = (cells: string[]): string =>
    md ? `| ${cells.join(' | ')} |` : cells.map((c, i) => (i < 2 ? c.padEnd(i === 0 ? 7 : 32) : i === 6 ? ` ${c}` : c.padStart(i === 5 ? 22 : 14))).join(' ');
  out.push(line(header));
  if (md) out.push(`|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const r of rows) {
    const base = BASELINE[r.name];
    out.push(
      line([
        r.payload,
        r.name,
        r.median.toFixed(0),
        pct(r.spread),
        r.cpuMicros.toFixed(0),
        r.name === POOLFETCH ? '—' : `${fixed(ratio(rows, r.payload, POOLFETCH, r.name))}×`,
        base === undefined ? '' : `${fixed(ratio(rows, r.payload, r.name, base))}× ${base}`,
      ]),
    );
  }
  return out.join('\n');
}

function manyTable(runs: ManyOriginsResult[], md: boolean): string {
  const header = ['origins', 'client', 'req/s (median)', '÷ undici Agent', 'peak sockets', 'sockets at end', 'RSS max in warm-up', 'RSS max after', 'growth'];
  const out: string[] = [];
  const line = (cells: string[]): string => (md ? `| ${cells.join(' | ')} |` : cells.map((c, i) => (i === 1 ? c.padEnd(13) : c.padStart(i === 0 ? 7 : 14))).join(' '));
  out.push(line(header));
  if (md) out.push(`|${header.map((_, i) => (i === 1 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const run of runs) {
    const agent = run.clients.find((c) => c.client === 'undici-agent');
    for (const c of run.clients) {
      const vsAgent = agent === undefined ? Number.NaN : median(ratios(c.passes, agent.passes));
      out.push(
        line([
          run.origins.toLocaleString('en'),
          c.client === 'poolfetch' ? `poolfetch (numPools ${run.numPools})` : c.client,
          c.median.toFixed(0),
          `${fixed(vsAgent)}×`,
          String(c.peakSockets),
          String(c.endSockets),
          `${(c.rssWarmupMax / MiB).toFixed(0)} MiB`,
          `${(c.rssMax / MiB).toFixed(0)} MiB`,
          `${rssGrowth(c) >= 0 ? '+' : ''}${rssGrowth(c).toFixed(1)} MiB`,
        ]),
      );
    }
  }
  return out.join('\n');
}

function otherLines(results: Results): string[] {
  const out: string[] = [];
  const c = results.core;
  if (c !== undefined) {
    out.push(
      `core over a no-op transport: ${c.sequential.toFixed(0)} req/s one at a time (${c.microsPerRequest.toFixed(1)} µs per request), ` +
        `${c.concurrent.toFixed(0)} req/s with 50 in flight, ${c.manyOrigins.toFixed(0)} req/s over 1,000 origins with numPools 100 (a new pool per request); ` +
        `${c.bytesPerRequest === undefined ? 'allocations not measured' : `${(c.bytesPerRequest / 1024).toFixed(1)} KiB allocated per request`}`,
    );
  }
  const b = results.browser;
  if (b !== undefined) {
    out.push(
      `chromium, one request at a time: plain fetch ${(b.median['plain fetch'] / 1000).toFixed(2)} ms, manager.fetch ${(b.median['manager.fetch'] / 1000).toFixed(2)} ms ` +
        `(${signedMicros(b.overhead['manager.fetch'])} against plain fetch, the median of per-round differences), manager.request ${(b.median['manager.request'] / 1000).toFixed(2)} ms (${signedMicros(b.overhead['manager.request'])}) per request`,
    );
  }
  return out;
}

export function table(results: Results): string {
  const parts: string[] = [];
  if (results.throughput !== undefined) parts.push(throughputTable(results.throughput.rows, false));
  if (results.manyOrigins.length > 0) parts.push(manyTable(results.manyOrigins, false));
  parts.push(...otherLines(results));
  return parts.join('\n\n');
}

export function markdown(results: Results, checks: Check[]): string {
  const m = results.meta;
  const parts: string[] = [];
  parts.push(`# Benchmarks

\`npm run bench\` measures poolfetch against the clients users would pick instead, side by side in one run
against the same local servers, and writes this file, \`bench/chart.svg\` and \`bench/results.json\` (not committed).
Absolute requests per second depend on the machine; **the ratios are the result**.

> Measured ${m.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpus} × ${m.cpuModel}, Node ${m.node}, in ${m.seconds} s;
> load average ${m.loadavgStart.toFixed(1)} at the start and ${m.loadavgEnd.toFixed(1)} at the end.${
    Math.max(m.loadavgStart, m.loadavgEnd) > m.cpus / 2
      ? `
> The machine was busy with other jobs while it ran, so absolute figures are noisy and spreads are wide; re-run
> \`npm run bench\` on a quiet machine for figures to quote.`
      : ''
  }
> Clients run interleaved round by round and every ratio is the median of per-round ratios, which keeps them
> fairer than the absolute numbers when the machine is not quiet.

## Targets

| check | measured | target | |
| --- | ---: | ---: | --- |
${checks.map((c) => `| ${c.name} | ${c.value} | ${c.goal} | ${c.pass ? '✔' : '✖'} |`).join('\n')}
`);
  if (results.throughput !== undefined) {
    parts.push(`## One origin, ${results.throughput.concurrency} requests in flight

The server (its own process) answers \`GET /1k\` or \`/64k\` after 1 ms, undici's benchmark shape. Every client may
open 50 keep-alive sockets (poolfetch \`maxSize: 50\`, undici \`connections: 50\`, \`http.Agent\` \`maxSockets: 50\` for
node:http, axios, got and node-fetch; Node's global fetch and undici's global dispatcher are unbounded) and reads
every body into memory. One warm-up round, then each round runs every client once in a new random order. "spread"
is half the range over the rounds; "CPU µs/req" is the client process's CPU time per request (median over rounds),
which a busy machine disturbs less than requests per second.

${throughputTable(results.throughput.rows, true)}
`);
  }
  if (results.manyOrigins.length > 0) {
    parts.push(`## Many origins

Distinct origins are loopback addresses \`127.1.x.y\` × 4 ports, served by separate processes, visited
round-robin with 50 requests in flight. poolfetch runs with \`numPools: 100\` and \`maxSize: 10\`, undici's
\`Agent\` and Node's global fetch with their defaults; each client is its own process (its RSS is its own) and the
clients take turns pass by pass. Sockets are counted at the servers by client (every request carries an
\`x-bench\` header naming its client); "peak" is the most open at once, summed over the server processes (an
upper bound). RSS is sampled as the run goes; garbage collection makes it a sawtooth, so growth compares peaks:
the highest RSS after the warm-up pass minus the highest during it.

![Throughput and RSS vs origins](bench/chart.svg)

${manyTable(results.manyOrigins, true)}

Round-robin over more origins than \`numPools\` is the LRU's worst case: every request misses, so poolfetch opens a
connection, evicts the least recently used pool and closes its socket on every request. That is the price of the
bound; undici's Agent keeps a pool and an idle socket for every origin it has seen until the keep-alive timeout
(4 s) and its memory grows with them.
`);
  }
  const others = otherLines(results);
  if (others.length > 0) {
    parts.push(`## Fetch adapter and the core

- The fetch adapter in Node (\`poolfetch/fetch\` with \`fetch: undici.fetch\`) is in the first table as
  "fetch adapter over undici fetch", against "undici fetch" (the same function on undici's global dispatcher).
${others.map((l) => `- ${l.charAt(0).toUpperCase()}${l.slice(1)}.`).join('\n')}

The core's cost is measured with the core \`PoolManager\` over a transport that answers at once
(\`bench/core.ts\`); allocations are the young-generation growth over batches of requests between forced
collections (\`--expose-gc\`, a 64 MiB semi-space so no scavenge runs inside a batch). The browser figures come
from Chromium (Playwright, \`/usr/bin/chromium\`) loading the esbuild browser bundle of the fetch entry from the
same local server as the data it fetches.
`);
  }
  parts.push(`## What the hot path does (and what it costs)

CPU profiles (\`node --cpu-prof\` over the esbuild build) drove these choices in the core and the Node adapter:

- **Slots without a p-queue task.** A request that finds a free slot in its pool (and nobody waiting) takes it
  with a counter; p-queue (concurrency 1) is only the line of requests *waiting* for a slot, with its abort and
  \`poolTimeout\` handling. One p-queue task per request cost about 10 µs of CPU.
- **Headers only when read.** The Node adapter keeps undici's header record and builds a \`Headers\` object the
  first time \`response.headers\` is read; the request loop reads \`location\` and \`retry-after\` only for the
  statuses that use them. Filling a \`Headers\` with five fields costs a few µs in Node.
- **No per-request object literals with getters or spreads** on the path (a class instead), no \`Request\` object
  for a plain \`manager.fetch(url)\` (a \`Request\` costs more than a whole request over a kept-alive socket), no
  \`AbortSignal\` when the caller gave none.
- **O(1) LRU eviction.** quick-lru's \`evict()\` copies its maps on every call, and with more origins than
  \`numPools\` that is every request; the oldest entry is now taken from \`entriesAscending()\`.
- **No body-watching wrapper for \`manager.fetch\` in Node.** The slot must be held until the response has
  ended, failed or been aborted. The Node adapter runs undici's fetch over a per-call dispatcher whose handler
  reports the end of the exchange (\`Transport.fetchSettled\`), and returns a global \`Response\` *in front of*
  undici's: the global base is built with no body and no headers (under 1 µs), and body, headers and methods
  are read through undici's response. Building the global \`Response\` over undici's body and headers cost
  15–20 µs (Node's global class belongs to another copy of undici).
- **The fetch adapter watches the runtime's own Response in place.** It used to rebuild every response around a
  \`ReadableStream\` that watched the body (a stream costs ~14 µs to make in Node 20, and a \`Response\` more).
  Now the response keeps its own stream and gets a shared prototype whose \`text()\`, \`json()\`,
  \`arrayBuffer()\` and \`bytes()\` read that stream directly and free the slot at its end; only \`body\`,
  \`blob()\`, \`formData()\` and \`clone()\` move it to a watched stream.
- **No signal handed to fetch unless needed.** One long-lived signal shared by all requests (for \`destroy()\`)
  made Node's fetch keep a listener per request on it until garbage collection: ~50 µs a request and a
  \`MaxListenersExceededWarning\` after 1,500. The fetch adapter now passes a signal only for the caller's
  signal or a read timeout; \`destroy()\` reaches the rest through the pool's set of open bodies.
- **A lean fetch init.** Only the keys that differ from fetch's defaults, headers as a plain record, and no
  \`Headers\` built at all for a request without headers: Node's fetch validates and converts every key it gets.

What is left between \`manager.fetch\` and undici's fetch with a dispatcher, and between the fetch adapter and the
fetch it wraps: the core's fetch loop (URL parsing, routing, the slot, a promise layer per step) and, for the
fetch adapter, the watched read of the body — a few µs against ~350 µs of CPU per request.

\`request\` against raw \`Pool.request\`: at 1 KiB, \`Pool.request\` costs 75–95 µs of CPU per request here, so
the 0.95× target leaves 4–5 µs for everything poolfetch adds. The core alone costs 4–6.5 µs per request over a
no-op transport (above), and a CPU profile against a real socket puts poolfetch's own code at ~12 µs per
request (parsing the URL and routing it to a pool, the retry budget, timeouts, redirect checks, one more layer
of promises per hop). At 64 KiB the socket work dominates, and the target is met in some runs and missed in
others. On this machine the per-round ratio swings by tens of percent either way between runs, so compare the
CPU column too.

`);
  parts.push(`## Running it

\`\`\`sh
npm run bench                 # full run, under 5 minutes on 2 cores
npm run bench -- --quick      # a few seconds: the smoke test npm test runs (timings mean nothing)
npm run bench -- --skip=browser,many   # leave suites out (throughput, many, core, browser)
\`\`\`

The bench builds the node, fetch and browser entries from the current sources with esbuild into \`.tmp/bench/\`
first, so it measures what the package ships, not tsx-transformed sources.
`);
  return parts.join('\n');
}

/** "+507 µs" or "−64 µs" (a negative overhead is noise, and should read as such rather than "+-64"). */
function signedMicros(micros: number): string {
  return `${micros < 0 ? '−' : '+'}${Math.abs(micros).toFixed(0)} µs`;
}
