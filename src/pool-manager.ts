/**
 * `PoolManager`: urllib3's lookup ladder (url → host → key → pool) over an
 * LRU of per-origin pools, with redirects and retries in the shared request
 * loop. A runtime entry subclasses it and overrides `newPool`, the one
 * factory, to say what a pool is made of there.
 */
import type { BudgetEvent } from './budget.js';
import { ConnectionPool, type SharedLimits } from './connection-pool.js';
import { runFetch } from './fetch-loop.js';
import { normalizeOptions, type AdapterOptions, type ResolvedOptions } from './options.js';
import { parseUrl, poolKeyForHost, poolKeyForUrl, type PoolKey } from './pool-key.js';
import { RecentlyUsed } from './recently-used.js';
import type { RequestContext } from './loop-context.js';
import { runRequest } from './request-loop.js';
import { RunTracker, type RunTicket } from './run-tracker.js';
import type { PoolResponse } from './response.js';
import type { PoolLifeEvent } from './observer.js';
import type { PoolManagerOptions, PoolStatsRow, RequestOptions, Requester, TlsOptions } from './types.js';
import { WaitingLine } from './waiting-line.js';

/** Per-pool settings that may differ from the manager's (urllib3's `pool_kwargs`). */
export interface PoolOverrides {
  tls?: TlsOptions;
}

/**
 * The event of `poolcreate`, `poolevict` (the pool left the LRU and is
 * retiring), `poolrevive` (a retiring pool came back into the LRU) and
 * `poolclose`.
 */
export class PoolEvent extends Event {
  readonly key: string;
  readonly origin: string;
  constructor(type: keyof PoolManagerEventMap, pool: ConnectionPool) {
    super(type);
    this.key = pool.key;
    this.origin = pool.origin;
  }
}

/**
 * The events a `PoolManager` dispatches, each a `PoolEvent`: a pool made
 * (`poolcreate`), pushed out of the LRU by a newer one (`poolevict`), taken
 * back while it was still finishing requests (`poolrevive`), and closed for
 * good (`poolclose`).
 */
export interface PoolManagerEventMap {
  poolcreate: PoolEvent;
  poolevict: PoolEvent;
  poolrevive: PoolEvent;
  poolclose: PoolEvent;
  /** The `budget` option's coordinator could not be reached (`onUnavailable` says what happens now). */
  budgetunavailable: BudgetEvent;
  /** The `budget` option's coordinator answers again. */
  budgetrestored: BudgetEvent;
  /** A lease held by a request here had expired at the coordinator (the request itself goes on). */
  budgetleaselost: BudgetEvent;
}

/** A listener for one of `PoolManagerEventMap`'s events, as a function or an object, as `EventTarget` takes them. */
export type PoolEventListener<K extends keyof PoolManagerEventMap> =
  | ((event: PoolManagerEventMap[K]) => void)
  | { handleEvent(event: PoolManagerEventMap[K]): void };

/**
 * `EventTarget`'s own parameter types, read from the runtime's `EventTarget`
 * (lib.dom's, or @types/node's) rather than named: `AddEventListenerOptions`
 * and `EventListenerOrEventListenerObject` exist only in lib.dom, so a Node
 * project without it would fail to compile, or see `any` with `skipLibCheck`.
 */
type AddOptions = Parameters<EventTarget['addEventListener']>[2];
type RemoveOptions = Parameters<EventTarget['removeEventListener']>[2];
type AnyListener = NonNullable<Parameters<EventTarget['addEventListener']>[1]>;

/**
 * Typed listeners (as `AbortSignal`'s are in lib.dom): `event.key` and
 * `event.origin` with no cast. Declared on the class by merging, so it costs
 * the bundle nothing; other event types fall through to `EventTarget`'s.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- types only: the methods are EventTarget's own
export interface PoolManager {
  addEventListener<K extends keyof PoolManagerEventMap>(type: K, listener: PoolEventListener<K> | null, options?: AddOptions): void;
  addEventListener(type: string, listener: AnyListener | null, options?: AddOptions): void;
  removeEventListener<K extends keyof PoolManagerEventMap>(type: K, listener: PoolEventListener<K> | null, options?: RemoveOptions): void;
  removeEventListener(type: string, listener: AnyListener | null, options?: RemoveOptions): void;
}

/**
 * `[Symbol.asyncDispose]` below is in the published types; a project whose
 * `lib` predates ES2024's disposables (es2022 with the DOM lib, say) has no
 * `Symbol.asyncDispose` to name. Declared here as lib.esnext.disposable and
 * @types/node declare it, so the .d.ts compiles in every project (the
 * declarations merge).
 */
declare global {
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
}

/** The read-only view of the live pools that `manager.pools` returns. */
export interface PoolsView {
  readonly size: number;
  /** Pool keys, least recently used first. */
  keys(): string[];
  has(key: string): boolean;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see the interface above
export abstract class PoolManager extends EventTarget implements Requester, RequestContext {
  readonly options: ResolvedOptions;
  readonly #pools: RecentlyUsed<string, ConnectionPool>;
  readonly #shared: SharedLimits;
  /** Pools out of the LRU and not yet closed (retiring), by key: a request for one revives it. */
  readonly #retiring = new Map<string, ConnectionPool>();
  /** Every pool out of the LRU and not yet closed, so disposal reaches them all. */
  readonly #leaving = new Set<ConnectionPool>();
  /** Pools whose `poolclose` has been dispatched. */
  readonly #ended = new WeakSet<ConnectionPool>();
  /** Calls on their way to an answer (between hops and retries too), which disposal waits for. */
  readonly #runs = new RunTracker();
  /** Disposals under way: a pool made or revived meanwhile refuses what is stuck behind a held body. */
  #clearing = 0;

  constructor(numPools?: number | PoolManagerOptions, adapterDefaults: AdapterOptions = { maxSize: 10 }) {
    super();
    this.options = normalizeOptions(numPools, adapterDefaults);
    this.#shared = {
      total: this.options.maxTotal === undefined ? undefined : new WaitingLine(this.options.maxTotal),
      leases: adapterDefaults.leases?.(),
    };
    this.#pools = new RecentlyUsed(this.options.numPools, (_key, pool) => {
      this.#announce('poolevict', pool);
      this.#retire(pool);
    });
    this.options.budget?.attach?.(this);
  }

  /** The factory a runtime entry (or `ProxyManager`) overrides: a pool for one key. */
  protected abstract newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool;

  /**
   * Which pool key serves `url`. The Node entry overrides it to key https
   * pools by their TLS options too, and `ProxyManager` to send every http
   * target through the one pool to its proxy.
   */
  protected keyForUrl(url: URL, overrides?: PoolOverrides): PoolKey {
    void overrides;
    return poolKeyForUrl(url);
  }

  /** The options a pool is made with: the manager's, overlaid with `overrides`. */
  protected optionsFor(overrides: PoolOverrides | undefined): ResolvedOptions {
    return overrides?.tls === undefined ? this.options : { ...this.options, tls: overrides.tls };
  }

  get pools(): PoolsView {
    const pools = this.#pools;
    return {
      get size() {
        return pools.size;
      },
      keys: () => pools.keys(),
      has: (key: string) => pools.has(key),
    };
  }

  /** The pool for `host`, created if needed (urllib3's `connection_from_host`). */
  connectionFromHost(host: string, port?: number, scheme = 'http', overrides?: PoolOverrides): ConnectionPool {
    const key = poolKeyForHost(host, port, scheme);
    return this.connectionFromUrl(new URL(`${key.origin}/`), overrides);
  }

  /** The pool that serves `url`, created if needed. */
  connectionFromUrl(url: string | URL, overrides?: PoolOverrides): ConnectionPool {
    const parsed = parseUrl(url);
    const key = this.keyForUrl(parsed, overrides);
    return this.#poolFor(key, overrides);
  }

  /** The request loop's router: every URL has a pool here. */
  route(url: URL): ConnectionPool {
    return this.#poolFor(this.keyForUrl(url), undefined);
  }

  /** Waits between retries: the `clock` option's `sleep` (pass `clock` to test without waiting), cut short by disposal. */
  sleep(ms: number, signal?: AbortSignal, run?: RunTicket): Promise<void> {
    return this.#runs.sleep(this.options.clock, ms, signal, run);
  }

  /** Counts a `request()` or `fetch()` call in until it has its answer (the request loops call it). */
  begin(): RunTicket {
    return this.#runs.begin();
  }

  /** Counts a call out (once), as `begin()` counted it in. */
  end(run: RunTicket): void {
    this.#runs.end(run);
  }

  /** Sends a request, following redirects across origins and retrying as `retries` says. */
  request(method: string, url: string | URL, options?: RequestOptions): Promise<PoolResponse> {
    return runRequest(this, method, url, options);
  }

  /** A standard fetch through the pools; bound, so `ky.create({ fetch: manager.fetch })` works. */
  readonly fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => runFetch(this, input, init);

  /** One row per live pool, least recently used first. */
  stats(): PoolStatsRow[] {
    // Requests that have ended (workerd) hold nothing: free what they held before counting.
    this.#shared.leases?.sweep();
    return this.#pools.values().map((pool) => {
      const { running, queued } = pool.stats();
      const row: PoolStatsRow = { key: pool.key, origin: pool.origin, numRequests: pool.numRequests, numConnections: pool.numConnections, openConnections: pool.openConnections, running, queued };
      const budget = this.options.budget?.stats?.(pool.origin);
      if (budget !== undefined) row.budget = budget;
      return row;
    });
  }

  /**
   * Empties `pools` at once, closes idle connections at once, and resolves
   * once every call made before it has its answer: queued requests are
   * served, preloaded bodies read, redirect hops taken (a hop never starts
   * after it resolved, and the pools hops made are closed too). It never
   * waits on a body already handed out: that body stays readable, its pool
   * is retiring until the body ends, and its connection closes then; a
   * request that could only be served after such a body ends is refused
   * with `ClosedPoolError`, as is one waiting out a retry's backoff.
   * Pools with nothing held are closed when it resolves.
   */
  async clear(): Promise<void> {
    this.#clearing += 1;
    try {
      const runs = this.#runs.dispose('The manager was disposed while this request waited to retry');
      for (const pool of this.#pools.drain()) this.#retire(pool);
      await Promise.all([runs, ...[...this.#leaving].map(settle)]);
    } finally {
      this.#clearing -= 1;
    }
    // The pools that hops (and calls made meanwhile) opened while it waited: out too, and closed once idle.
    for (const pool of this.#pools.drain()) this.#retire(pool);
    await Promise.all([...this.#leaving].map(settle));
  }

  /**
   * Empties `pools` and aborts everything: queued requests fail with
   * `ClosedPoolError`, running ones and unread bodies are cut off, sockets
   * close at once.
   */
  async destroy(): Promise<void> {
    void this.#runs.dispose('The manager was destroyed while this request waited to retry');
    for (const pool of this.#pools.drain()) this.#retire(pool);
    await Promise.all([...this.#leaving].map((pool) => pool.destroy().then(() => this.#closed(pool))));
  }

  /** Same as `clear()`: the manager stays usable and makes new pools on demand. */
  close(): Promise<void> {
    return this.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.clear();
  }

  /** The live pool for `key`; else the retiring one, revived; else a new one. */
  #poolFor(key: PoolKey, overrides: PoolOverrides | undefined): ConnectionPool {
    const existing = this.#pools.get(key.id);
    if (existing !== undefined) return existing;
    const retiring = this.#retiring.get(key.id);
    if (retiring !== undefined && retiring.revive()) {
      // A second pool beside it would let this origin go over maxSize.
      this.#retiring.delete(key.id);
      this.#leaving.delete(retiring);
      this.#pools.add(key.id, retiring);
      if (this.#clearing > 0) retiring.disposing();
      this.#announce('poolrevive', retiring);
      return retiring;
    }
    const pool = this.newPool(key, this.optionsFor(overrides), this.#shared);
    this.#pools.add(key.id, pool);
    if (this.#clearing > 0) pool.disposing();
    this.#announce('poolcreate', pool);
    return pool;
  }

  /** To the manager's listeners, and to the adapter's observer (Node: diagnostics_channel). */
  #announce(type: PoolLifeEvent, pool: ConnectionPool): void {
    this.dispatchEvent(new PoolEvent(type, pool));
    this.options.observer?.poolEvent(type, pool);
  }

  /** Lets a pool finish what it holds and close (an eviction never fails a request). */
  #retire(pool: ConnectionPool): void {
    this.#retiring.set(pool.key, pool);
    this.#leaving.add(pool);
    pool.retire(() => this.#closed(pool));
  }

  /** Once per pool, however it ended: forget it and say so. */
  #closed(pool: ConnectionPool): void {
    if (this.#ended.has(pool)) return;
    this.#ended.add(pool);
    this.#leaving.delete(pool);
    if (this.#retiring.get(pool.key) === pool) this.#retiring.delete(pool.key);
    this.#announce('poolclose', pool);
  }
}

/** Resolves once `pool` has no request waiting for a slot or its answer, and is closed if it holds nothing. */
async function settle(pool: ConnectionPool): Promise<void> {
  await pool.settled();
  await pool.closedIfEmpty();
}
