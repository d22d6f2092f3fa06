/**
 * `poolfetch/budget/durable-object`: the fleet budget for Cloudflare Workers.
 * `PoolBudget` is a Durable Object class the user exports from a Worker and
 * binds; one object per origin keeps that origin's leases and its FIFO line
 * of waiting asks in its storage (a restarted object loses neither), holds
 * each waiting ask's call open until its lease is granted (the object wakes
 * waiters, nobody polls), and expires leases with an alarm at the earliest
 * expiry. A call the restart cut is tried again with the same ticket
 * (`retryFor`), and the object gives it its old place in the line, or the
 * lease granted to it meanwhile.
 * `durableObjectBudget(namespace, { limit, ttl })` is the manager's side.
 *
 * Inside a Worker every call to the object is I/O of the request that makes
 * it, and workerd cancels I/O still running when that request has returned:
 * so each waiting request makes its own ask (src/fleet-budget.ts), slices
 * are off by default (a slice's end would make asks on behalf of other
 * requests), renewal is done by whichever request comes by when it is due
 * (a timer dies with the request that set it), and a lease's release
 * completes before `response.text()`/`bytes()`/`json()` of `request()`
 * resolves (see the README for `manager.fetch`).
 */
import { FleetBudget, type Coordinator, type FleetBudgetOptions } from '../../src/fleet-budget.js';
import { mustBe } from '../../src/checks.js';

/** What poolfetch uses of a Durable Object namespace binding. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: never): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

/** What `PoolBudget` uses of its `DurableObjectState`. */
export interface DurableObjectStateLike {
  readonly storage: {
    list<T = unknown>(options: { prefix: string }): Promise<Map<string, T>>;
    get<T = unknown>(key: string): Promise<T | undefined>;
    put(key: string, value: unknown): Promise<void>;
    delete(key: string): Promise<boolean>;
    setAlarm(scheduledTime: number): Promise<void>;
  };
  blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
}

/** Options of `durableObjectBudget`: as every coordinator's, with slices off by default. */
export interface DurableObjectBudgetOptions extends FleetBudgetOptions {
  /**
   * Ms a failed call to the object is tried again (with backoff) before the
   * object counts as unavailable and `onUnavailable` applies. An object
   * restarted within it keeps every waiting request's place in its line.
   * @default 2000
   */
  retryFor?: number;
}

/** The object's address for calls from the manager; the host is never resolved. */
const BASE = 'https://pool-budget.invalid';

/** A waiting ask, kept in storage under `key` so that a restarted object keeps its line. */
interface Ask {
  readonly ticket: string;
  readonly ttl: number;
  readonly key: string;
  /** Answers the caller's open call; undefined after a restart until the caller asks again with its ticket. */
  answer: ((response: Response) => void) | undefined;
  /** Loaded from storage, not asked again yet: dropped at this time if its caller never comes back. */
  orphanUntil: number;
}

/** Storage keys of the line: `line:` and a sequence number, zero-padded so keys list in arrival order. */
const lineKey = (seq: number): string => `line:${seq.toString().padStart(16, '0')}`;

const json = (value: unknown, status = 200): Response => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });

/**
 * The Durable Object that keeps one origin's budget. Export it from the
 * Worker that defines the namespace:
 *
 * ```ts
 * export { PoolBudget } from 'poolfetch/budget/durable-object';
 * ```
 *
 * and declare it (wrangler.toml): `[[durable_objects.bindings]] name =
 * "POOL_BUDGET"`, `class_name = "PoolBudget"`, with a migration
 * `new_sqlite_classes = ["PoolBudget"]` (or `new_classes`).
 */
export class PoolBudget {
  readonly #state: DurableObjectStateLike;
  /** Lease id -> expiry (ms), mirrored in storage under `lease:<id>`. */
  readonly #leases = new Map<string, number>();
  readonly #line: Ask[] = [];
  #seq = 0;
  /** The limit the last call said (the callers know it; the object does not). */
  #limit = 1;
  #alarmAt = Infinity;

  constructor(state: DurableObjectStateLike, _env?: unknown) {
    this.#state = state;
    void state.blockConcurrencyWhile(async () => {
      for (const [key, expiry] of await state.storage.list<number>({ prefix: 'lease:' })) this.#leases.set(key.slice('lease:'.length), expiry);
      // The line as it was: callers whose calls the restart cut ask again with their tickets and keep their places.
      const now = Date.now();
      for (const [key, ask] of await state.storage.list<{ ticket: string; ttl: number }>({ prefix: 'line:' })) {
        this.#line.push({ ticket: ask.ticket, ttl: ask.ttl, key, answer: undefined, orphanUntil: now + ask.ttl });
        this.#seq = Math.max(this.#seq, Number(key.slice('line:'.length)) + 1);
      }
      this.#limit = (await state.storage.get<number>('limit')) ?? 1;
    });
  }

  async fetch(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === '/ping') return json({ leases: this.#leases.size, waiting: this.#line.length });
    const call = (await request.json()) as { limit: number; ttl?: number; ticket?: string; ids?: string[] };
    if (call.limit !== this.#limit) {
      this.#limit = call.limit;
      void this.#state.storage.put('limit', call.limit);
    }
    const now = Date.now();
    this.#drain(now);
    switch (pathname) {
      case '/acquire': {
        const ticket = String(call.ticket);
        const ttl = Number(call.ttl);
        // Asked again (its call was cut): granted meanwhile, or its place in the line.
        if (this.#leases.has(ticket)) return json({ id: ticket, queued: true });
        const placed = this.#line.find((ask) => ask.ticket === ticket);
        if (placed !== undefined) {
          placed.answer?.(json({ cancelled: true }, 409));
          return new Promise<Response>((answer) => (placed.answer = answer));
        }
        if (this.#line.length === 0 && this.#leases.size < this.#limit) {
          this.#grant(ticket, now + ttl);
          return json({ id: ticket });
        }
        // Held open until a lease frees for it: the object wakes the waiter.
        const key = lineKey(this.#seq++);
        void this.#state.storage.put(key, { ticket, ttl });
        return new Promise<Response>((answer) => this.#line.push({ ticket, ttl, key, answer, orphanUntil: Infinity }));
      }
      case '/release':
        for (const id of call.ids ?? []) this.#drop(id);
        this.#drain(now);
        return json({});
      case '/renew': {
        const lost: string[] = [];
        for (const id of call.ids ?? []) {
          if (!this.#leases.has(id)) lost.push(id);
          else this.#grant(id, now + Number(call.ttl));
        }
        return json({ lost });
      }
      case '/cancel': {
        const ticket = String(call.ticket);
        const at = this.#line.findIndex((ask) => ask.ticket === ticket);
        if (at >= 0) {
          const [ask] = this.#line.splice(at, 1) as [Ask];
          void this.#state.storage.delete(ask.key);
          ask.answer?.(json({ cancelled: true }, 409));
        } else if (this.#leases.has(ticket)) {
          this.#drop(ticket);
          this.#drain(now);
        }
        return json({});
      }
      default:
        return json({ error: `no such call ${pathname}` }, 404);
    }
  }

  /** Expires leases by this object's clock and grants what is free to the line. */
  async alarm(): Promise<void> {
    this.#alarmAt = Infinity;
    this.#drain(Date.now());
  }

  #drain(now: number): void {
    for (const [id, expiry] of this.#leases) if (expiry <= now) this.#drop(id);
    while (this.#leases.size < this.#limit) {
      const ask = this.#line.shift();
      if (ask === undefined) break;
      void this.#state.storage.delete(ask.key);
      // Its caller never asked again since the restart: gone with its isolate.
      if (ask.answer === undefined && ask.orphanUntil <= now) continue;
      // Granted even while its caller is away (it gets the lease when it asks again, or the lease expires).
      this.#grant(ask.ticket, now + ask.ttl);
      ask.answer?.(json({ id: ask.ticket, queued: true }));
    }
    this.#schedule();
  }

  #grant(id: string, expiry: number): void {
    this.#leases.set(id, expiry);
    void this.#state.storage.put(`lease:${id}`, expiry);
  }

  #drop(id: string): void {
    if (this.#leases.delete(id)) void this.#state.storage.delete(`lease:${id}`);
  }

  /** One alarm, at the earliest expiry. */
  #schedule(): void {
    let first = Infinity;
    for (const expiry of this.#leases.values()) first = Math.min(first, expiry);
    if (first === Infinity || first >= this.#alarmAt) return;
    this.#alarmAt = first;
    void this.#state.storage.setAlarm(first);
  }
}

/** The `Coordinator` over a `PoolBudget` namespace: one object per origin, named by the origin. */
class DurableObjectCoordinator implements Coordinator {
  calls = 0;
  readonly #namespace: DurableObjectNamespaceLike;
  readonly #retryFor: number;
  #last: string | undefined;

  constructor(namespace: DurableObjectNamespaceLike, retryFor: number) {
    this.#namespace = namespace;
    this.#retryFor = retryFor;
  }

  async acquire(origin: string, limit: number, ttl: number, signal: AbortSignal, queued: () => void): Promise<string> {
    const ticket = globalThis.crypto.randomUUID();
    const asking = this.#call(origin, '/acquire', { limit, ttl, ticket }, signal);
    const onAbort = (): void => void this.#call(origin, '/cancel', { limit, ticket }).catch(() => {});
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const answer = (await asking) as { id?: string; cancelled?: boolean; queued?: boolean };
      if (signal.aborted) throw signal.reason;
      if (typeof answer.id !== 'string') throw new Error(`PoolBudget answered ${JSON.stringify(answer)}`);
      if (answer.queued === true) queued();
      return answer.id;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async release(origin: string, ids: readonly string[], limit: number): Promise<void> {
    await this.#call(origin, '/release', { limit, ids });
  }

  async renew(origin: string, ids: readonly string[], ttl: number, limit: number): Promise<string[]> {
    return ((await this.#call(origin, '/renew', { limit, ttl, ids })) as { lost: string[] }).lost;
  }

  async probe(): Promise<void> {
    await this.#once(this.#last ?? 'probe', '/ping', undefined);
  }

  /**
   * One call, tried again with backoff (50 ms doubling) for `retryFor` ms
   * while it fails: every call is idempotent (an ask keeps its ticket), so a
   * restarted object answers it as the one that went away would have, and a
   * waiting ask keeps its place in the stored line. Stops early when
   * `signal` aborts.
   */
  async #call(origin: string, path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const until = Date.now() + this.#retryFor;
    for (let pause = 50; ; pause *= 2) {
      try {
        return await this.#once(origin, path, body);
      } catch (error) {
        if (signal?.aborted === true || Date.now() + pause > until) throw error;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  async #once(origin: string, path: string, body: unknown): Promise<unknown> {
    this.calls += 1;
    this.#last = origin;
    const stub = this.#namespace.get(this.#namespace.idFromName(origin) as never);
    const response = await stub.fetch(`${BASE}${path}`, body === undefined ? undefined : { method: 'POST', body: JSON.stringify(body) });
    const answer: unknown = await response.json();
    // 409: the ask was withdrawn (its abort already rejected the caller).
    if (!response.ok && response.status !== 409) throw new Error(`PoolBudget ${path} failed with ${response.status}: ${JSON.stringify(answer)}`);
    return answer;
  }
}

/**
 * A fleet budget kept by the `PoolBudget` Durable Object: every isolate
 * whose manager is given one over the same namespace shares `limit`
 * requests in flight per origin.
 *
 * ```ts
 * import { PoolManager } from 'poolfetch';
 * import { durableObjectBudget } from 'poolfetch/budget/durable-object';
 * let manager;
 * export default {
 *   async fetch(request, env) {
 *     manager ??= new PoolManager({ budget: durableObjectBudget(env.POOL_BUDGET, { limit: 20, ttl: 30_000 }) });
 *     const r = await manager.request('GET', 'https://api.example.com/');
 *     return new Response(await r.text());
 *   },
 * };
 * ```
 */
export function durableObjectBudget(namespace: DurableObjectNamespaceLike, options: DurableObjectBudgetOptions): FleetBudget {
  if (typeof (namespace as DurableObjectNamespaceLike | undefined)?.idFromName !== 'function' || typeof namespace.get !== 'function') {
    mustBe('durableObjectBudget namespace', 'a Durable Object namespace binding (env.POOL_BUDGET)', namespace);
  }
  const { retryFor = 2000 } = (options ?? {}) as DurableObjectBudgetOptions;
  if (typeof retryFor !== 'number' || !Number.isInteger(retryFor) || retryFor < 0) mustBe('durableObjectBudget retryFor', 'a non-negative integer number of milliseconds', retryFor);
  const withDefaults = typeof options === 'object' && options !== null && !('slices' in options) ? { ...options, slices: false as const } : options;
  return new FleetBudget(new DurableObjectCoordinator(namespace, retryFor), withDefaults, 'durableObjectBudget', ['retryFor']);
}

export { BudgetEvent, FleetBudget } from '../../src/fleet-budget.js';
export type { FleetBudgetOptions } from '../../src/fleet-budget.js';
export { BudgetUnavailableError } from '../../src/errors.js';
