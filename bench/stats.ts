/** Small statistics and the load loop shared by the suites. */
import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * A full garbage collection, run between two clients' turns (off the clock),
 * so that one client's garbage is not collected on the next one's time.
 * `gc` is exposed at run time, so `npm run bench` needs no node flag.
 */
export const collectGarbage: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

/** `items[i]`, which must exist (noUncheckedIndexedAccess without `!`). */
export function at<T>(items: readonly T[], i: number): T {
  const item = items[i];
  if (item === undefined) throw new RangeError(`index ${i} out of range (${items.length})`);
  return item;
}

/** Per-round ratios a[i] / b[i]. */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((v, i) => v / (b[i] ?? Number.NaN));
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? at(sorted, mid) : (at(sorted, mid - 1) + at(sorted, mid)) / 2;
}

/** Half the range as a fraction of the median: "±x %" over the rounds. */
export function spread(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = median(values);
  return (Math.max(...values) - Math.min(...values)) / 2 / m;
}

/** Runs `total` calls, `concurrency` at a time; resolves with requests per second. */
export async function load(call: () => Promise<unknown>, total: number, concurrency: number): Promise<number> {
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < total) {
      issued += 1;
      await call();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return (total / (performance.now() - started)) * 1000;
}

/** Fisher–Yates: a different order each round, so no client always runs right after the same one. */
export function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [at(out, j), at(out, i)];
  }
  return out;
}

export const MiB = 1024 * 1024;

/** What the bench is running now, so a process warning can say which client it came from. */
export const activity = { current: 'start-up' };
