/**
 * The line of requests waiting for a slot (a connection, or a place under
 * `maxTotal`). Waiting costs only what the caller asked for: a waiter is a
 * list node and a promise; it gets a timer only with a timeout, and the only
 * signal it listens to is the caller's own, through one listener per signal
 * however many waiters share it (src/abort-watch.ts). Shutdown walks the line instead of listening on anything. A freed
 * slot is handed to the head of the line directly: it is never counted free
 * in between, so a newcomer cannot overtake the line.
 */

import { onAbort } from './abort-watch.js';
import type { Lease } from './context-leases.js';

/** Frees a slot; calling it again does nothing. */
export type Release = () => void;

export interface WaitOptions {
  /** The caller's signal: aborting it takes the waiter out of the line with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Ms to wait before giving up with `onTimeout()`; no timer without it. */
  readonly timeout?: number | undefined;
  readonly onTimeout?: () => Error;
  /** Whose waiter this is, so that `shutdown(reason, owner)` reaches only that owner's (a pool's, in a shared line). */
  readonly owner?: unknown;
  /**
   * The exchange's lease (src/context-leases.ts), where requests can end
   * under it: the waiter is put on it, so that the end of its request takes
   * it out of the line unsettled.
   */
  readonly lease?: Lease | undefined;
}

/** Slots and the line for them (what a pool needs of `WaitingLine`). */
export interface SlotLine {
  /** Slots taken and not yet freed. */
  readonly held: number;
  /** Requests in the line. */
  readonly waiting: number;
  /** A slot at once when one is free and nobody waits, otherwise undefined (synchronous: no promise on the fast path). */
  tryTake(): Release | undefined;
  /** Joins the line; resolves with the slot when it is handed over. */
  wait(options: WaitOptions): Promise<Release>;
  /** Takes every waiter (of `owner`, when given) out of the line, rejecting each with `reason`. */
  shutdown(reason: unknown, owner?: unknown): void;
}

/**
 * One request in a line. Every way out (granted, aborted, timed out, shut
 * down) unhooks it from the list, its timer and its signal first, so it
 * settles exactly once.
 */
export class Waiter {
  prev: Waiter | undefined;
  next: Waiter | undefined;
  /** False once it left the line, whichever way. */
  inLine = true;
  /** Settles when the waiter is granted a slot or leaves the line. */
  readonly granted: Promise<Release>;
  readonly owner: unknown;
  /** Stops watching the caller's signal. */
  readonly #unwatch: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #resolve!: (release: Release) => void;
  #reject!: (reason: unknown) => void;
  readonly #unlink: (waiter: Waiter) => void;
  readonly lease: Lease | undefined;
  /** Taken out of the line unsettled (`drop()`): its request had ended. */
  #dropped = false;

  constructor(options: WaitOptions, unlink: (waiter: Waiter) => void) {
    this.granted = new Promise<Release>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.owner = options.owner;
    this.#unlink = unlink;
    const lease = options.lease;
    this.lease = lease;
    if (lease !== undefined) lease.waiter = this;
    const { signal, timeout, onTimeout } = options;
    this.#unwatch = signal === undefined ? undefined : onAbort(signal, () => this.fail(signal.reason));
    if (timeout !== undefined) {
      this.#timer = setTimeout(() => this.fail(onTimeout === undefined ? new Error(`No slot within ${timeout} ms`) : onTimeout()), timeout);
    }
  }

  /**
   * Hands it the slot. The slot goes on its lease at once: should its request
   * end before its continuation runs (workerd cancels it then), the lease
   * still frees the slot.
   */
  grant(release: Release): void {
    const lease = this.lease;
    if (lease !== undefined) {
      const held = lease.release;
      lease.release = held === undefined ? release : () => {
        release();
        held();
      };
    }
    this.#leave();
    this.#resolve(release);
  }

  /**
   * True when its request has ended (its lease's heartbeat stopped), so
   * handing it a slot would settle a dead request's promise.
   */
  ended(now: number): boolean {
    return this.lease?.ended(now) ?? false;
  }

  /** Takes it out of the line with `reason` (abort, timeout, shutdown). */
  fail(reason: unknown): void {
    if (!this.inLine) return;
    this.#leave();
    this.#reject(reason);
  }

  /**
   * Out of the line without settling: its request has ended, and settling
   * its promise from another request is what workerd cancels and warns about.
   */
  drop(): void {
    if (!this.inLine) return;
    this.#dropped = true;
    this.inLine = false;
    this.#unlink(this);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#unwatch?.();
  }

  /** A dropped waiter whose request turned out to be alive: fails it, in its own context. */
  failDropped(reason: unknown): void {
    if (!this.#dropped) return;
    this.#dropped = false;
    this.#reject(reason);
  }

  #leave(): void {
    if (this.lease?.waiter === this) this.lease.waiter = undefined;
    this.inLine = false;
    this.#unlink(this);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#unwatch?.();
  }
}

/** A FIFO of waiters: a doubly linked list, so one leaving from the middle (abort, timeout) costs O(1). */
export class WaiterList {
  #head: Waiter | undefined;
  #tail: Waiter | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get head(): Waiter | undefined {
    return this.#head;
  }

  /**
   * A new waiter at the tail. The caller checks its signal first: a listener
   * added to an aborted signal would never fire.
   */
  join(options: WaitOptions): Waiter {
    const waiter = new Waiter(options, this.#unlinkWaiter);
    waiter.prev = this.#tail;
    if (this.#tail === undefined) this.#head = waiter;
    else this.#tail.next = waiter;
    this.#tail = waiter;
    this.#size += 1;
    return waiter;
  }

  /** Fails every waiter (of `owner`, when given), head first. */
  failAll(reason: unknown, owner?: unknown): void {
    let waiter = this.#head;
    while (waiter !== undefined) {
      const next = waiter.next;
      if (owner === undefined || waiter.owner === owner) waiter.fail(reason);
      waiter = next;
    }
  }

  /** One for the list, not one per waiter. */
  readonly #unlinkWaiter = (waiter: Waiter): void => {
    this.#unlink(waiter);
  };

  #unlink(waiter: Waiter): void {
    const { prev, next } = waiter;
    if (prev === undefined && next === undefined && this.#head !== waiter) return;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    waiter.prev = undefined;
    waiter.next = undefined;
    this.#size -= 1;
  }
}

/**
 * `capacity` slots and a FIFO line for them: the per-origin line of the
 * Node adapter and the `maxTotal` line of every manager.
 */
export class WaitingLine implements SlotLine {
  readonly capacity: number;
  #held = 0;
  readonly #line = new WaiterList();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get held(): number {
    return this.#held;
  }

  get waiting(): number {
    return this.#line.size;
  }

  tryTake(): Release | undefined {
    if (this.#held >= this.capacity || this.#line.size > 0) return undefined;
    this.#held += 1;
    return this.#slot();
  }

  wait(options: WaitOptions): Promise<Release> {
    const release = this.tryTake();
    if (release !== undefined) return Promise.resolve(release);
    if (options.signal?.aborted === true) return Promise.reject(options.signal.reason);
    return this.#line.join(options).granted;
  }

  shutdown(reason: unknown, owner?: unknown): void {
    this.#line.failAll(reason, owner);
  }

  /** One slot's release: hands the slot to the head of the line, or counts it free. */
  #slot(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      let head = this.#line.head;
      // Skip (and reclaim) waiters of requests that have ended, not swept yet: settling their promise
      // from here is what workerd warns about, and the slot would go with it.
      if (head?.lease !== undefined) {
        const now = Date.now();
        while (head !== undefined && head.ended(now)) {
          head.lease?.reclaim();
          head = this.#line.head;
        }
      }
      if (head !== undefined) {
        head.grant(this.#slot());
        return;
      }
      this.#held -= 1;
    };
  }
}
