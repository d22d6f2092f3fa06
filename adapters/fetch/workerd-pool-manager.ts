/**
 * The fetch `PoolManager` as workerd (Cloudflare Workers) needs it. workerd
 * ties every promise, timer and fetch to the incoming request that made it,
 * and drops them unsettled when that request ends, while one module-level
 * manager serves every request of the isolate. Here each exchange holds a
 * lease (src/context-leases.ts) whose heartbeat, a timer in its own request's
 * context, keeps a request that only waits in the line from being cancelled
 * as hung and tells the other requests when it has ended, so they free what
 * it held. Only the `workerd` export condition loads this module, so
 * browsers, Deno and Bun carry neither the leases nor their timers.
 */
import { ContextLeases, type LeaseTiming } from '../../src/context-leases.js';
import { ConnectionPool, type SharedLimits } from '../../src/connection-pool.js';
import type { AdapterOptions, ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import { FetchTransport } from './fetch-transport.js';
import { fetchDefaults, PoolManager as FetchPoolManager } from './pool-manager.js';

const WORKERD_LEASES: LeaseTiming = { heartbeat: 250, staleAfter: 1500 };

const workerdDefaults: AdapterOptions = { ...fetchDefaults, leases: () => new ContextLeases(WORKERD_LEASES) };

/** The fetch entry's `PoolManager`, safe across workerd's request contexts. In a Worker pass `maxTotal: 6`. */
export class PoolManager extends FetchPoolManager {
  protected static override readonly adapter: AdapterOptions = workerdDefaults;

  /**
   * workerd's fetch answers `redirect: 'manual'` with the 3xx and its Location: the core follows hop
   * by hop. A signal handed to its fetch costs more than the pool's bookkeeping: `request()` hands one
   * only when the caller gave one.
   */
  protected override newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
    return new ConnectionPool(key, options, new FetchTransport(options, true, true), shared);
  }
}
