/**
 * An in-memory coordinator: the engine's part of a fleet budget (leases
 * with a TTL, a FIFO line of asks) in this process, so the core and
 * `FleetBudget` are tested without Redis or workerd. Several `FleetBudget`s
 * over one of these stand for several processes. It counts what it is asked,
 * which the tests compare with what they expect.
 */
import type { Coordinator } from '../../src/fleet-budget.js';

interface Ask {
  origin: string;
  limit: number;
  ttl: number;
  id: string;
  resolve: (id: string) => void;
}

export class MemoryCoordinator implements Coordinator {
  /** Leases by origin: id -> expiry (ms). */
  readonly leases = new Map<string, Map<string, number>>();
  readonly line: Ask[] = [];
  readonly counts = { acquire: 0, release: 0, renew: 0, probe: 0, withdraw: 0 };
  get calls(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
  /** The ids in each renew call, in order. */
  readonly renewals: string[][] = [];
  /** While true every call fails, as an unreachable server's would. */
  down = false;
  /** Grants held back (not answered) until `flushHeld()`, ignoring aborts: a grant racing its waiter's exit. */
  holdGrants = false;
  readonly #held: Array<() => void> = [];
  #seq = 0;
  #onRenew: Array<() => void> = [];

  held(origin: string): number {
    return this.#leasesOf(origin).size;
  }

  /** Expires every lease at once, as a TTL run out would. */
  expireAll(): void {
    for (const leases of this.leases.values()) leases.clear();
  }

  flushHeld(): void {
    for (const answer of this.#held.splice(0)) answer();
  }

  #onAcquire: Array<() => void> = [];

  /** Resolves at the next acquire call. */
  nextAcquire(): Promise<void> {
    return new Promise((resolve) => this.#onAcquire.push(resolve));
  }

  nextRenew(): Promise<void> {
    return new Promise((resolve) => this.#onRenew.push(resolve));
  }

  acquire(origin: string, limit: number, ttl: number, signal: AbortSignal, queued: () => void = () => {}): Promise<string> {
    this.counts.acquire += 1;
    for (const resolve of this.#onAcquire.splice(0)) resolve();
    if (this.down) return Promise.reject(new Error('coordinator down'));
    return new Promise<string>((resolve, reject) => {
      const ask: Ask = { origin, limit, ttl, id: `lease-${++this.#seq}`, resolve };
      if (this.holdGrants) {
        ask.resolve = (id) => this.#held.push(() => resolve(id));
      } else {
        signal.addEventListener('abort', () => {
          this.counts.withdraw += 1;
          const at = this.line.indexOf(ask);
          if (at >= 0) this.line.splice(at, 1);
          else this.#leasesOf(origin).delete(ask.id);
          this.#drain(origin);
          reject(signal.reason);
        }, { once: true });
      }
      this.line.push(ask);
      this.#drain(origin);
      if (this.line.includes(ask)) queued();
    });
  }

  async release(origin: string, ids: readonly string[]): Promise<void> {
    this.counts.release += 1;
    if (this.down) throw new Error('coordinator down');
    for (const id of ids) this.#leasesOf(origin).delete(id);
    this.#drain(origin);
  }

  async renew(origin: string, ids: readonly string[], ttl: number): Promise<string[]> {
    this.counts.renew += 1;
    this.renewals.push([...ids]);
    for (const resolve of this.#onRenew.splice(0)) resolve();
    if (this.down) throw new Error('coordinator down');
    const leases = this.#leasesOf(origin);
    const lost = ids.filter((id) => !leases.has(id));
    for (const id of ids) if (leases.has(id)) leases.set(id, Date.now() + ttl);
    return lost;
  }

  async probe(): Promise<void> {
    this.counts.probe += 1;
    if (this.down) throw new Error('coordinator down');
  }

  #leasesOf(origin: string): Map<string, number> {
    let leases = this.leases.get(origin);
    if (leases === undefined) this.leases.set(origin, (leases = new Map()));
    return leases;
  }

  #drain(origin: string): void {
    const leases = this.#leasesOf(origin);
    const now = Date.now();
    for (const [id, expiry] of leases) if (expiry <= now) leases.delete(id);
    for (let at = 0; at < this.line.length;) {
      const ask = this.line[at] as Ask;
      if (ask.origin !== origin) {
        at += 1;
        continue;
      }
      if (leases.size >= ask.limit) return;
      this.line.splice(at, 1);
      leases.set(ask.id, now + ask.ttl);
      ask.resolve(ask.id);
    }
  }
}
