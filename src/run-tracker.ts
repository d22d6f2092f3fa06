/**
 * What disposal (`clear()`, `close()`, `await using`) must know beyond the
 * pools: the `request()` and `fetch()` calls still on their way to an
 * answer. A call moves from pool to pool (redirect hops) and waits between
 * tries (retries), and neither shows in any pool while it happens; without
 * this a hop could start after `clear()` resolved and leave a new pool and
 * its socket behind.
 *
 * Calls are counted by generation: `clear()` waits for the calls made
 * before it, never for those made while it runs (under steady traffic it
 * would never resolve). A wait between retries is cut short by disposal:
 * a backoff or a `Retry-After` may be hours, and `await using` must end.
 */
import { ClosedPoolError } from './errors.js';
import { onAbort } from './abort-watch.js';
import type { Clock } from './types.js';

/** One call, counted in: the generation it began in, and how to count it out. */
export interface RunTicket {
  readonly generation: number;
  end(): void;
}

interface DisposalWaiter {
  readonly generation: number;
  readonly resolve: () => void;
}

export class RunTracker {
  /** Calls in progress, by the generation they began in. */
  readonly #running = new Map<number, number>();
  #generation = 0;
  /** Disposals waiting for the calls of their generation and older. */
  #waiters: DisposalWaiter[] = [];
  /** Retry waits in progress, which disposal cuts short. */
  readonly #sleeping = new Set<AbortController>();
  /** Why the last disposal cut waits short. */
  #disposed: ClosedPoolError | undefined;

  /** Counts a call in; its `end()` counts it out (again does nothing). */
  begin(): RunTicket {
    const generation = this.#generation;
    this.#running.set(generation, (this.#running.get(generation) ?? 0) + 1);
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      const left = (this.#running.get(generation) ?? 1) - 1;
      if (left > 0) {
        this.#running.set(generation, left);
        return;
      }
      this.#running.delete(generation);
      if (this.#waiters.length > 0) this.#wake();
    };
    return { generation, end };
  }

  /**
   * Starts a new generation and cuts every retry wait short with
   * `ClosedPoolError`; resolves once no call of an earlier generation is in
   * progress.
   */
  dispose(why: string): Promise<void> {
    const generation = this.#generation;
    this.#generation += 1;
    const reason = (this.#disposed = new ClosedPoolError(why));
    for (const controller of this.#sleeping) controller.abort(reason);
    this.#sleeping.clear();
    if (!this.#busyUpTo(generation)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ generation, resolve }));
  }

  /**
   * `clock.sleep`, cut short by `dispose()` as well as by the caller's
   * signal; refused at once for a call (`run`) that a disposal began after.
   */
  sleep(clock: Required<Clock>, ms: number, signal: AbortSignal | undefined, run?: RunTicket): Promise<void> {
    if (run !== undefined && run.generation < this.#generation && this.#disposed !== undefined) return Promise.reject(this.#disposed);
    if (ms <= 0 || signal?.aborted === true) return clock.sleep(ms, signal);
    const controller = new AbortController();
    const unlink = signal === undefined ? undefined : onAbort(signal, () => controller.abort(signal.reason));
    this.#sleeping.add(controller);
    return clock.sleep(ms, controller.signal).finally(() => {
      this.#sleeping.delete(controller);
      unlink?.();
    });
  }

  #busyUpTo(generation: number): boolean {
    for (const older of this.#running.keys()) if (older <= generation) return true;
    return false;
  }

  #wake(): void {
    const still: DisposalWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (this.#busyUpTo(waiter.generation)) still.push(waiter);
      else waiter.resolve();
    }
    this.#waiters = still;
  }
}
