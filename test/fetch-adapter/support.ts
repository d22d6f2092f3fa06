/**
 * Helpers for the fetch adapter's msw tests: a handler that holds each
 * request until the test lets it go, and records what the "network" saw.
 */
import { deferred } from '../support/servers.js';

export interface Gate extends Disposable {
  /** Request paths in the order the handler saw them start. */
  readonly started: string[];
  /** Requests inside the handler right now, and the most at once. */
  readonly inFlight: number;
  readonly peak: number;
  /** Resolves when `n` requests have started in total. */
  whenStarted(n: number): Promise<void>;
  /** Lets the oldest held request answer. */
  releaseOne(): void;
  /** Lets every held request (and every later one) answer. */
  releaseAll(): void;
  /** The most requests of one group (an origin, say) inside the handler at once. */
  peakOf(group: string): number;
  /** Wraps a handler body: counts it, waits for release, then answers. */
  hold<T>(path: string, answer: () => T, group?: string): Promise<T>;
}

export function gate(): Gate {
  const started: string[] = [];
  const held: Array<() => void> = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let open = false;
  let inFlight = 0;
  let peak = 0;
  const groups = new Map<string, { now: number; peak: number }>();
  return {
    started,
    get inFlight() {
      return inFlight;
    },
    get peak() {
      return peak;
    },
    whenStarted(n) {
      if (started.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    releaseOne() {
      held.shift()?.();
    },
    releaseAll() {
      open = true;
      for (const release of held.splice(0)) release();
    },
    // Declared after the manager (`using g = gate()`), this runs first, so a failed assertion cannot leave dispose waiting on held requests.
    [Symbol.dispose]() {
      this.releaseAll();
    },
    peakOf(group) {
      return groups.get(group)?.peak ?? 0;
    },
    async hold(path, answer, group = '') {
      const g = groups.get(group) ?? { now: 0, peak: 0 };
      groups.set(group, g);
      started.push(path);
      inFlight += 1;
      g.now += 1;
      peak = Math.max(peak, inFlight);
      g.peak = Math.max(g.peak, g.now);
      for (const w of waiters.filter((w) => started.length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      try {
        if (!open) {
          const { promise, resolve } = deferred();
          held.push(resolve);
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
