/**
 * Exchanges tied to the incoming request that made them, for runtimes that
 * drop that request's work unsettled when it ends (workerd: a Worker's
 * pending promises, timers and I/O are cancelled once its response is
 * returned; no code of its runs again, so a slot whose release waits on one
 * of its continuations would stay held for the life of the isolate).
 *
 * Each exchange holds a lease from the moment it asks for a slot until the
 * slot is freed. The lease's heartbeat is a timer in the exchange's own
 * request's context, re-armed while the exchange lasts: it is also what keeps
 * a request that only waits in the line (its hand-over will come from another
 * request) from being taken for hung, since a pending timer is I/O of its
 * own. A lease whose heartbeat stopped belongs to a request that has ended:
 * whoever sweeps next (any live exchange's heartbeat, or a request about to
 * wait) frees the slots it held, undoes what its pool counted, and takes its
 * waiter out of the line WITHOUT settling the waiter's promise: settling a
 * promise of an ended request from another is what workerd warns about and
 * cancels. Nothing here detects the runtime: the fetch entry turns it on.
 */
import { EmptyPoolError } from './errors.js';
import type { Release, Waiter } from './waiting-line.js';
import { openBodyOf, type OpenBodies } from './watch-body.js';

/** Where an exchange is tracked: a set it leaves. */
export interface Untracks<T> {
  delete(member: T): unknown;
}

/** How often a lease beats, and how long without a beat means its request has ended. */
export interface LeaseTiming {
  /** Ms between heartbeats of a waiting or running exchange. */
  readonly heartbeat: number;
  /** Ms without a heartbeat after which the exchange's request is taken to have ended. */
  readonly staleAfter: number;
}

/** What the pool counted for an exchange that has not finished yet, undone if its request ends. */
export const Held = {
  /** Not yet handed to the transport (`#unsent`). */
  Unsent: 1,
  /** No response headers yet (`#unanswered`). */
  Unanswered: 2,
  /** Holds its origin's slot while it waits under `maxTotal` (`#waitingTotal`). */
  WaitingTotal: 4,
} as const;

/** The one exchange's lease. */
export class Lease {
  /** When the heartbeat last ran (or the lease was opened). */
  beatAt: number;
  /** The waiter it has in a line now, if any (set by the line). */
  waiter: Waiter | undefined;
  /** Frees the slot(s) it holds, if it holds any (set by the pool). */
  release: Release | undefined;
  /** `Held` flags: what its pool counted for it and has not uncounted yet. */
  held = 0;
  /** Undoes `held` in the pool (set by the pool). */
  undo: ((lease: Lease) => void) | undefined;
  /** True once it was taken for the lease of an ended request and reclaimed. */
  reclaimed = false;
  /** The heartbeat's pending timer (what workerd cancels when the request ends). */
  timer: ReturnType<typeof setTimeout> | undefined;
  prev: Lease | undefined;
  next: Lease | undefined;
  /**
   * What tracks the exchange elsewhere, let go should its request end: pairs of a set and its member,
   * or of a function and undefined. Pairs in one array rather than a closure per entry (and one around
   * `release` to run them): the array is made only where something is tracked, and workerd bills its
   * CPU per subrequest.
   */
  #tracked: unknown[] | undefined;
  #closed = false;
  readonly #leases: ContextLeases;

  constructor(leases: ContextLeases, now: number) {
    this.#leases = leases;
    this.beatAt = now;
  }

  /** True when its heartbeat has been missing for `staleAfter`: its request has ended. */
  ended(now: number): boolean {
    return !this.#closed && this.beatAt < now - this.#leases.timing.staleAfter;
  }

  /**
   * The exchange is over (its slot freed, or it never got one): stop beating.
   * clearTimeout from another request's context does nothing in workerd (timer
   * ids are unique in the isolate, so it never clears another's timer); the
   * tick then sees the lease closed and stops.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.timer);
    this.#leases.unlink(this);
  }

  /**
   * Its request ended: out of the line unsettled, counts undone, slots
   * freed (to the next live waiter).
   */
  reclaim(): void {
    if (this.#closed) return;
    this.reclaimed = true;
    // Its timer is left to run: should its request be alive after all (its timer merely late), that
    // tick is what fails its dropped waiter. Cleared here, from its own request's context (a sibling
    // exchange's sweep), the waiter would wait forever.
    this.#closed = true;
    this.#leases.unlink(this);
    // Kept on the lease: should its request turn out alive (tick), the waiter fails there.
    this.waiter?.drop();
    this.undo?.(this);
    this.#forgetTracked();
    const release = this.release;
    // What it reaches (a body, a stream) must not stay reachable from the reclaimed lease.
    this.release = undefined;
    release?.();
  }

  /**
   * Should its request end (the lease reclaimed), `forget` runs: what tracks
   * the exchange elsewhere goes with it, since nothing of the ended request
   * will ever finish it.
   */
  onEnd(forget: (() => void) | undefined): void {
    if (forget !== undefined) (this.#tracked ??= []).push(forget, undefined);
  }

  /** The same, for an exchange tracked as `member` of `from` (a transport's waits, a pool's open bodies). */
  leaveOnEnd<T>(from: Untracks<T>, member: T): void {
    (this.#tracked ??= []).push(from, member);
  }

  /** The same for `response`'s watched body in `open`, which the ended request will never finish. */
  dropBody(response: Response, open: OpenBodies): void {
    const body = openBodyOf(response);
    if (body !== undefined) this.leaveOnEnd(open, body);
  }

  #forgetTracked(): void {
    const tracked = this.#tracked;
    if (tracked === undefined) return;
    this.#tracked = undefined;
    for (let i = 0; i < tracked.length; i += 2) {
      const from = tracked[i] as (() => void) | Untracks<unknown>;
      if (typeof from === 'function') from();
      else from.delete(tracked[i + 1]);
    }
  }

  /**
   * Runs in the exchange's own context, so only while its request lives.
   * Reclaimed though its request lives (its timer ran late past
   * `staleAfter`): a dropped waiter would wait forever, so it fails, here,
   * in its own context.
   */
  readonly tick = (): void => {
    if (this.reclaimed) {
      this.waiter?.failDropped(new EmptyPoolError(`No slot: this request's heartbeat ran more than ${this.#leases.timing.staleAfter} ms late, so it was taken for ended and left the line`));
      return;
    }
    if (this.#closed) return;
    this.beatAt = Date.now();
    this.#leases.sweep(this.beatAt);
    if (!this.#closed) this.timer = setTimeout(this.tick, this.#leases.timing.heartbeat);
  };
}

/** The leases of one manager's exchanges (every pool's: `maxTotal` is shared). */
export class ContextLeases {
  readonly timing: LeaseTiming;
  #head: Lease | undefined;
  #lastSweep = 0;
  /** When a sweep was last asked for (a heartbeat, a request about to wait, stats()), and the time before. */
  #lastSeen = 0;
  #previousSeen = 0;

  constructor(timing: LeaseTiming) {
    this.timing = timing;
  }

  /** A lease for an exchange starting now, in its own request's context. */
  open(): Lease {
    const now = Date.now();
    const lease = new Lease(this, now);
    lease.next = this.#head;
    if (this.#head !== undefined) this.#head.prev = lease;
    this.#head = lease;
    lease.timer = setTimeout(lease.tick, this.timing.heartbeat);
    return lease;
  }

  unlink(lease: Lease): void {
    const { prev, next } = lease;
    if (prev === undefined) {
      if (this.#head === lease) this.#head = next;
    } else prev.next = next;
    if (next !== undefined) next.prev = prev;
    lease.prev = undefined;
    lease.next = undefined;
  }

  /**
   * Reclaims every lease whose request has ended (no heartbeat within
   * `staleAfter`); at most once per heartbeat, whoever asks.
   */
  sweep(now = Date.now()): void {
    if (now !== this.#lastSeen) {
      this.#previousSeen = this.#lastSeen;
      this.#lastSeen = now;
    }
    if (now - this.#lastSweep < this.timing.heartbeat) return;
    this.#lastSweep = now;
    // Missing beats are measured up to the sweep before this one, not to now: after a stall (a long
    // synchronous run makes every timer late at once) the first sweep takes nothing for ended, and
    // the next comes a heartbeat later, once the live leases' overdue beats have come in.
    const stale = Math.min(now, this.#previousSeen) - this.timing.staleAfter;
    let lease = this.#head;
    while (lease !== undefined) {
      const next = lease.next;
      if (lease.beatAt < stale) lease.reclaim();
      lease = next;
    }
  }
}
