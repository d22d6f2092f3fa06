/**
 * What the dashboard shows about one manager, built only on its public face:
 * `stats()`, the `poolcreate` / `poolevict` / `poolrevive` / `poolclose` events, and the
 * `newPool` factory seam (a subclass hands every new pool to `adopt`).
 * Runs unchanged in Node and in the page, so both panels count alike.
 */
import type { ConnectionPool } from '../../src/connection-pool.js';
import { redactCredentials } from '../../src/redact.js';
import type { PoolEvent, PoolManager as BasePoolManager } from '../../src/pool-manager.js';

/** `poolrevive`: an evicted pool still finishing requests was asked for again and came back (its row returns). */
export const EVENT_KINDS = ['poolcreate', 'poolevict', 'poolrevive', 'poolclose'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface LogEntry {
  /** Milliseconds since the tracker started. */
  at: number;
  kind: EventKind | 'clear' | 'settings' | 'error';
  origin: string;
  detail?: string;
}

export interface PoolRow {
  key: string;
  origin: string;
  running: number;
  queued: number;
  requests: number;
  /** `numConnections`: a running total (node: sockets ever opened; fetch: the peak in flight), not a cap. */
  connections: number;
  /** `openConnections`: open now, at most maxSize (node: sockets; fetch: requests in flight). */
  open: number;
  retries: number;
  /** How often this origin's pool has been evicted so far (across pool lifetimes). */
  evictions: number;
}

/** Per origin, summed over every pool that origin has had (live, closing and closed). */
export interface OriginTotals {
  origin: string;
  requests: number;
  connections: number;
  retries: number;
  evictions: number;
}

export interface Snapshot {
  at: number;
  /** One row per live pool, least recently used first (as `stats()` orders them). */
  rows: PoolRow[];
  /** Requests holding a slot / waiting for one, in every pool including evicted ones still finishing. */
  inFlight: number;
  queued: number;
  events: Record<EventKind, number>;
}

interface Tracked {
  readonly pool: ConnectionPool;
  retries: number;
}

/** Errors the request loop retries for the demo's GETs (matched by name: the page's bundle has its own classes). */
const RETRIED_ERRORS = new Set(['NewConnectionError', 'ConnectTimeoutError', 'ProtocolError', 'ReadTimeoutError']);

export class PoolTracker {
  readonly #manager: BasePoolManager;
  readonly #retryStatuses: ReadonlySet<number>;
  readonly #started = Date.now();
  readonly #tracked = new Set<Tracked>();
  readonly #closed = new Map<string, OriginTotals>();
  readonly #evictions = new Map<string, number>();
  readonly #listeners = new Set<(entry: LogEntry) => void>();
  readonly events: Record<EventKind, number> = { poolcreate: 0, poolevict: 0, poolrevive: 0, poolclose: 0 };

  constructor(manager: BasePoolManager, retryStatuses: Iterable<number>) {
    this.#manager = manager;
    this.#retryStatuses = new Set(retryStatuses);
    for (const kind of EVENT_KINDS) {
      manager.addEventListener(kind, (event) => {
        const { origin } = event as PoolEvent;
        this.events[kind] += 1;
        if (kind === 'poolevict') this.#evictions.set(origin, (this.#evictions.get(origin) ?? 0) + 1);
        this.log(kind, origin);
      });
    }
  }

  /**
   * Called from the manager's `newPool`. The core keeps no retry counter, so
   * this counts, per pool, the answers the request loop retries: a status
   * from the retry list, or a connection / read error.
   */
  adopt(pool: ConnectionPool): ConnectionPool {
    const tracked: Tracked = { pool, retries: 0 };
    this.#tracked.add(tracked);
    const exchange = pool.exchange.bind(pool);
    pool.exchange = async (request) => {
      try {
        const response = await exchange(request);
        if (this.#retryStatuses.has(response.status)) tracked.retries += 1;
        return response;
      } catch (error) {
        if (error instanceof Error && RETRIED_ERRORS.has(error.name)) tracked.retries += 1;
        throw error;
      }
    };
    return pool;
  }

  /** Adds an entry to the event log (pool events are added by the tracker itself). */
  log(kind: LogEntry['kind'], origin: string, detail?: string): void {
    const entry: LogEntry = { at: Date.now() - this.#started, kind, origin, ...(detail === undefined ? {} : { detail }) };
    for (const listener of this.#listeners) listener(entry);
  }

  /** Logs a workload request that failed; one that did not fail is not logged. */
  logFailure(url: string, error: unknown): void {
    // poolfetch's errors hide passwords already; a URL or another library's error may not.
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (error !== undefined) this.log('error', redactCredentials(url), redactCredentials(detail));
  }

  onLog(listener: (entry: LogEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  snapshot(): Snapshot {
    this.#foldClosed();
    const live = new Map<string, Tracked>();
    let inFlight = 0;
    let queued = 0;
    for (const tracked of this.#tracked) {
      const { running, queued: waiting } = tracked.pool.stats();
      inFlight += running;
      queued += waiting;
      if (!tracked.pool.closed) live.set(tracked.pool.key, tracked);
    }
    const rows = this.#manager.stats().map((row) => ({
      key: row.key,
      origin: row.origin,
      running: row.running,
      queued: row.queued,
      requests: row.numRequests,
      connections: row.numConnections,
      open: row.openConnections,
      retries: live.get(row.key)?.retries ?? 0,
      evictions: this.#evictions.get(row.origin) ?? 0,
    }));
    return { at: Date.now() - this.#started, rows, inFlight, queued, events: { ...this.events } };
  }

  /** Every origin seen so far, with counters summed over all its pools. */
  totals(): OriginTotals[] {
    this.#foldClosed();
    const sums = new Map<string, OriginTotals>();
    for (const [origin, closed] of this.#closed) sums.set(origin, { ...closed });
    for (const { pool, retries } of this.#tracked) addTo(sums, pool.origin, pool.numRequests, pool.numConnections, retries);
    for (const [origin, evictions] of this.#evictions) {
      const row = sums.get(origin);
      if (row !== undefined) row.evictions = evictions;
    }
    return [...sums.values()];
  }

  /** A pool that is closed and idle will not change again: keep its sums, drop the object. */
  #foldClosed(): void {
    for (const tracked of this.#tracked) {
      const { pool } = tracked;
      if (pool.closed && !pool.busy) {
        addTo(this.#closed, pool.origin, pool.numRequests, pool.numConnections, tracked.retries);
        this.#tracked.delete(tracked);
      }
    }
  }
}

function addTo(map: Map<string, OriginTotals>, origin: string, requests: number, connections: number, retries: number): void {
  const row = map.get(origin) ?? { origin, requests: 0, connections: 0, retries: 0, evictions: 0 };
  row.requests += requests;
  row.connections += connections;
  row.retries += retries;
  map.set(origin, row);
}
