/**
 * `poolfetch/budget/durable-object`: the fleet budget for Cloudflare Workers.
 * `PoolBudget` is a Durable Object class the user exports from a Worker and
 * binds; one object per origin keeps that origin's leases in its storage (a
 * restarted object loses none), serves a FIFO line of waiting asks (each a
 * request held open until its lease is granted, so the object wakes waiters,
 * nobody polls), and expires leases with an alarm at the earliest expiry.
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
export type DurableObjectBudgetOptions = FleetBudgetOptions;

/** The object's address for calls from the manager; the host is never resolved. */
const BASE = 'https://pool-budget.invalid';

interface Ask {
  readonly ticket: string;
  readonly ttl: number;
  readonly answer: (response: Response) => void;
}

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
  /** The limit the last call said (the callers know it; the object does not). */
  #limit = 1;
  #alarmAt = Infinity;

  constructor(state: DurableObjectStateLike, _env?: unknown) {
    this.#state = state;
    void state.blockConcurrencyWhile(async () => {
      for (const [key, expiry] of await state.storage.list<number>({ prefix: 'lease:' })) this.#leases.set(key.slice('lease:'.length), expiry);
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
        if (this.#line.length === 0 && this.#leases.size < this.#limit) {
          this.#grant(ticket, now + ttl);
          return json({ id: ticket });
        }
        // Held open until a lease frees for it: the object wakes the waiter.
        return new Promise<Response>((answer) => this.#line.push({ ticket, ttl, answer }));
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
        if (at >= 0) this.#line.splice(at, 1)[0]?.answer(json({ cancelled: true }, 409));
        else if (this.#leases.has(ticket)) {
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
      this.#grant(ask.ticket, now + ask.ttl);
      ask.answer(json({ id: ask.ticket }));
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
  #last: string | undefined;

  constructor(namespace: DurableObjectNamespaceLike) {
    this.#namespace = namespace;
  }

  async acquire(origin: string, limit: number, ttl: number, signal: AbortSignal): Promise<string> {
    const ticket = globalThis.crypto.randomUUID();
    const asking = this.#call(origin, '/acquire', { limit, ttl, ticket });
    const onAbort = (): void => void this.#call(origin, '/cancel', { limit, ticket }).catch(() => {});
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const answer = (await asking) as { id?: string; cancelled?: boolean };
      if (signal.aborted) throw signal.reason;
      if (typeof answer.id !== 'string') throw new Error(`PoolBudget answered ${JSON.stringify(answer)}`);
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
    await this.#call(this.#last ?? 'probe', '/ping', undefined);
  }

  async #call(origin: string, path: string, body: unknown): Promise<unknown> {
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
  const withDefaults = typeof options === 'object' && options !== null && !('slices' in options) ? { ...options, slices: false as const } : options;
  return new FleetBudget(new DurableObjectCoordinator(namespace), withDefaults, 'durableObjectBudget');
}

export { BudgetEvent, FleetBudget } from '../../src/fleet-budget.js';
export type { FleetBudgetOptions } from '../../src/fleet-budget.js';
export { BudgetUnavailableError } from '../../src/errors.js';
