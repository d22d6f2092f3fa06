/**
 * The `budget` option's contract: what the core asks of a fleet-wide budget
 * (a lease per request in flight to an origin, across every process or
 * isolate that shares it). The core only calls `acquire` once a request has
 * its own slots and releases the lease with them; everything else (the
 * coordinator, slices, renewal, what happens when the coordinator is down)
 * is the budget's own, in its own entry (src/fleet-budget.ts and
 * adapters/budget/*), so none of it is in the main bundle.
 */

/** One request's place in the budget, held from the send until the body is done (exactly as its slot). */
export interface BudgetLease {
  /**
   * Gives the lease back; a second call does nothing. It may return the
   * promise of the I/O that gives it back: the core waits for it where it
   * can (a body read with `bytes()`/`text()`), so that a Worker's release
   * completes inside the request that made it.
   */
  release(): void | Promise<void>;
}

/** How long a request may wait for its lease. */
export interface BudgetAcquireOptions {
  /** The caller's signal: an abort takes the request out of the line with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Ms left of `poolTimeout`; then `EmptyPoolError`. No timer without it. */
  readonly timeout?: number | undefined;
  /**
   * Given where requests can end under the wait (workerd): the budget hands
   * it a function that takes this wait out of its line WITHOUT settling it
   * and withdraws its ask, which the core calls from another request once
   * this one has ended (settling an ended request's promise from another is
   * what workerd cancels).
   */
  readonly onEnded?: ((drop: () => void) => void) | undefined;
}

/** What `stats()` shows of a budget, per origin. */
export interface BudgetStats {
  /** 'fleet': leases come from the coordinator; 'local': it is down and only this process's caps apply; 'fail': it is down and requests fail. */
  mode: 'fleet' | 'local' | 'fail';
  /** Leases this process holds for the origin now. */
  leases: number;
  /** Requests of this process waiting for a lease. */
  waiting: number;
  /** Leases found lost (expired at the coordinator while held) since the start. */
  lost: number;
}

/**
 * A fleet-wide budget. It is an `EventTarget` that dispatches
 * `budgetunavailable`, `budgetrestored` and `budgetleaselost` (each a
 * `BudgetEvent`); every manager given it dispatches them too.
 */
export interface Budget extends EventTarget {
  /** Resolves with a lease for one request to `origin` once the fleet has room. */
  acquire(origin: string, options: BudgetAcquireOptions): Promise<BudgetLease>;
  /** The state for `origin`, for `manager.stats()`. */
  stats?(origin: string): BudgetStats;
  /** Called by each manager given the budget, so its events reach the manager's listeners too. */
  attach?(manager: EventTarget): void;
}

/** A budget's event: the coordinator went down or came back, or a held lease was found lost. */
export interface BudgetEvent extends Event {
  readonly type: 'budgetunavailable' | 'budgetrestored' | 'budgetleaselost';
  /** The origin concerned, where there is one. */
  readonly origin: string | undefined;
  /** Why the coordinator is unavailable (`budgetunavailable`). */
  readonly error: unknown;
}
