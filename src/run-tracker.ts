/**
 * What disposal (`clear()`, `close()`, `await using`) must know beyond the
 * pools: the `request()` and `fetch()` calls still on their way to an
 * answer. A call moves from pool to pool (redirect hops) and waits between
 * tries (retries), and neither shows in any pool while it happens; without
 * this a hop could start after `clear()` resolved and leave a new pool and
 * its socket behind.
 *
 * Calls are counted in cohorts: a disposal closes the current one and
 * waits until every closed cohort is empty, never for calls made while it
 * runs (under steady traffic it would never resolve). A wait between
 * retries is cut short by disposal: a backoff or a `Retry-After` may be
 * hours, and `await using` must end.
 */
import { ClosedPoolError } from './errors.js';
import { onAbort } from './abort-watch.js';
import type { Clock } from './types.js';

/**
 * The calls begun between two disposals, and how many are still going. A
 * call's ticket is its cohort: counting a call in and out allocates nothing.
 */
export interface RunTicket {
  n: number;
}

export class RunTracker {
  #current: RunTicket = { n: 0 };
  /** Cohorts a disposal closed that still have calls going. */
  #closed: RunTicket[] = [];
  /** Disposals waiting for the closed cohorts to empty. */
  #waiters: Array<() => void> = [];
  /** Retry waits in progress, which disposal cuts short. */
  readonly #sleeping = new Set<AbortController>();
  /** Why the last disposal cut waits short. */
  #disposed: ClosedPoolError | undefined;

  /** Counts a call in; `end(ticket)`, called once, counts it out. */
  begin(): RunTicket {
    const cohort = this.#current;
    cohort.n += 1;
    return cohort;
  }

  end(cohort: RunTicket): void {
    if (--cohort.n === 0 && cohort !== this.#current) this.#wake();
  }

  /**
   * Closes the current cohort and cuts every retry wait short with
   * `ClosedPoolError`; resolves once no call of a closed cohort is going.
   */
  dispose(why: string): Promise<void> {
    if (this.#current.n > 0) this.#closed.push(this.#current);
    this.#current = { n: 0 };
    const reason = (this.#disposed = new ClosedPoolError(why));
    for (const controller of this.#sleeping) controller.abort(reason);
    this.#sleeping.clear();
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#wake();
    });
  }

  /**
   * `clock.sleep`, cut short by `dispose()` as well as by the caller's
   * signal; refused at once for a call (`run`) that a disposal began after.
   */
  sleep(clock: Required<Clock>, ms: number, signal: AbortSignal | undefined, run?: RunTicket): Promise<void> {
    if (run !== undefined && run !== this.#current && this.#disposed !== undefined) return Promise.reject(this.#disposed);
    if (ms <= 0 || signal?.aborted === true) return clock.sleep(ms, signal);
    const controller = new AbortController();
    const unlink = signal === undefined ? undefined : onAbort(signal, () => controller.abort(signal.reason));
    this.#sleeping.add(controller);
    return clock.sleep(ms, controller.signal).finally(() => {
      this.#sleeping.delete(controller);
      unlink?.();
    });
  }

  #wake(): void {
    this.#closed = this.#closed.filter((cohort) => cohort.n > 0);
    if (this.#closed.length > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
