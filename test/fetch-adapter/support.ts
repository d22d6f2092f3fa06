/**
 * A gate for request handlers (msw or real servers): each request is held
 * until the test lets it answer, and the gate records what the "network"
 * saw: the order requests arrived, how many were open at once, overall and
 * per group (an origin, say). Holding requests is what makes a cap visible
 * without timing: a cap that did not hold would show more open at once.
 */
import { deferred, startServer, type ServerOptions } from '../support/servers.js';

export interface Gate extends Disposable {
  /** Request paths in the order the handler saw them start. */
  readonly started: string[];
  /** Requests inside the handler right now, and the most at once. */
  readonly inFlight: number;
  readonly peak: number;
  /** Resolves when `n` requests (of `group`, if given) have started in total. */
  whenStarted(n: number, group?: string): Promise<void>;
  /** Lets the oldest held request (of `group`, if given) answer. */
  releaseOne(group?: string): void;
  /** Lets every held request (and every later one) answer. */
  releaseAll(): void;
  /** The most requests of one group inside the handler at once. */
  peakOf(group: string): number;
  /** Requests of one group that have arrived so far. */
  startedOf(group: string): number;
  /** Wraps a handler body: counts it, waits for release, then answers. */
  hold<T>(path: string, answer: () => T, group?: string): Promise<T>;
}

interface Group {
  now: number;
  peak: number;
  started: number;
}

export function gate(): Gate {
  const started: string[] = [];
  const held: Array<{ group: string; release: () => void }> = [];
  const waiters: Array<{ n: number; group: string | undefined; resolve: () => void }> = [];
  const groups = new Map<string, Group>();
  let open = false;
  let inFlight = 0;
  let peak = 0;
  const count = (group: string | undefined): number => (group === undefined ? started.length : (groups.get(group)?.started ?? 0));
  return {
    started,
    get inFlight() {
      return inFlight;
    },
    get peak() {
      return peak;
    },
    whenStarted(n, group) {
      if (count(group) >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, group, resolve }));
    },
    releaseOne(group) {
      const index = held.findIndex((h) => group === undefined || h.group === group);
      if (index >= 0) held.splice(index, 1)[0]?.release();
    },
    releaseAll() {
      open = true;
      for (const h of held.splice(0)) h.release();
    },
    // Declared after the manager (`using g = gate()`), this runs first, so a failed assertion cannot leave dispose waiting on held requests.
    [Symbol.dispose]() {
      this.releaseAll();
    },
    peakOf(group) {
      return groups.get(group)?.peak ?? 0;
    },
    startedOf(group) {
      return count(group);
    },
    async hold(path, answer, group = '') {
      const g = groups.get(group) ?? { now: 0, peak: 0, started: 0 };
      groups.set(group, g);
      started.push(path);
      g.started += 1;
      inFlight += 1;
      g.now += 1;
      peak = Math.max(peak, inFlight);
      g.peak = Math.max(g.peak, g.now);
      for (const w of waiters.filter((w) => count(w.group) >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      try {
        if (!open) {
          const { promise, resolve } = deferred();
          held.push({ group, release: resolve });
          await promise;
        }
        return answer();
      } finally {
        inFlight -= 1;
        g.now -= 1;
      }
    },
  };
}

/**
 * Lets held requests answer one at a time: each time `open` more requests
 * (of `group`) have arrived than were released, the oldest answers. Use it
 * where exactly one cap binds (one origin under maxSize, or maxTotal with
 * every origin's share within maxSize), so each release lets the next one in.
 */
export async function drive(g: Gate, total: number, open: number, group?: string): Promise<void> {
  for (let arrived = open; arrived <= total; arrived += 1) {
    await g.whenStarted(arrived, group);
    g.releaseOne(group);
  }
}

/**
 * A server that answers at once and tells the test each time it is hit. A
 * client sends it a request right after a burst through the pools: requests
 * the pools wrongly let through in that burst reach their servers before (or
 * with) the probe, so counting them once the probe has arrived exposes a cap
 * that did not hold, where a driver releasing held requests could hide it.
 */
export interface Probe {
  readonly url: string;
  /** The paths (with query) it was hit with, in order. */
  readonly hits: readonly string[];
  /** Resolves when the probe has been hit `n` times in all. */
  whenHit(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startProbe(options: ServerOptions = {}): Promise<Probe> {
  const hits: string[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = await startServer((req, res) => {
    hits.push(req.url ?? '');
    for (const w of waiters.filter((w) => hits.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    res.end('probe');
  }, options);
  return {
    url: server.url('/probe'),
    hits,
    whenHit: (n) => (hits.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () => server.close(),
  };
}
