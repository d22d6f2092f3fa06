/**
 * The workload both panels run: `concurrency` loops, each sending GETs to
 * origins picked by weight (a few hot origins, some cold ones, so that with
 * `numPools` below the number of origins the LRU evicts now and then rather
 * than on every request). Seeded, so `--once` sends the same sequence each run.
 */
export interface Target {
  name: string;
  /** `scheme://host:port` */
  url: string;
  /** Relative share of the traffic. */
  weight: number;
}

/** The one method the workload needs: both entries' `PoolManager` have it. */
export interface Requester {
  request(method: string, url: string, options?: { signal?: AbortSignal }): Promise<{ status: number }>;
}

export interface WorkloadOptions {
  requester: Requester;
  targets: readonly Target[];
  concurrency: number;
  /** Stop after this many requests; default: until `signal` aborts. */
  total?: number;
  signal?: AbortSignal;
  /** Milliseconds each loop waits between its requests (live mode keeps the CPU calm). */
  thinkMs?: number;
  seed?: number;
  onResult?: (result: { target: Target; status?: number; error?: unknown }) => void;
}

export interface WorkloadSummary {
  sent: number;
  ok: number;
  failed: number;
}

export async function runWorkload(options: WorkloadOptions): Promise<WorkloadSummary> {
  const { requester, targets, concurrency, total, signal, thinkMs = 0, onResult } = options;
  if (targets.length === 0) throw new TypeError('The workload needs at least one origin');
  const random = mulberry32(options.seed ?? 9);
  const pick = weightedPicker(targets, random);
  const summary: WorkloadSummary = { sent: 0, ok: 0, failed: 0 };
  // A function, not a property read: TypeScript would narrow `aborted` to false inside the loop.
  const stopped = (): boolean => signal?.aborted === true;
  const loop = async (): Promise<void> => {
    while (!stopped() && (total === undefined || summary.sent < total)) {
      const target = pick();
      summary.sent += 1;
      const path = `/item/${summary.sent}`;
      try {
        const response = await requester.request('GET', `${target.url}${path}`, signal === undefined ? {} : { signal });
        if (response.status < 400) summary.ok += 1;
        else summary.failed += 1;
        onResult?.({ target, status: response.status });
      } catch (error) {
        if (stopped()) return;
        summary.failed += 1;
        onResult?.({ target, error });
      }
      if (thinkMs > 0) await pause(thinkMs * (0.5 + random()), signal);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return summary;
}

function weightedPicker(targets: readonly Target[], random: () => number): () => Target {
  const sum = targets.reduce((s, t) => s + t.weight, 0);
  return () => {
    let r = random() * sum;
    for (const target of targets) {
      r -= target.weight;
      if (r < 0) return target;
    }
    return targets[targets.length - 1] as Target;
  };
}

/** A small seeded PRNG (public domain), so runs repeat. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
