/** The fetch `PoolManager`: the core bound to a per-origin line over `fetch`. */
import { ConnectionPool, type SharedLimits } from '../../src/connection-pool.js';
import type { AdapterOptions, ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import { followRedirects } from '../../src/redirects.js';
import { browserDefaults, PoolManager as BrowserPoolManager } from './browser-pool-manager.js';
import { FetchTransport } from './fetch-transport.js';

/** The browser entry's defaults, and redirects followed hop by hop where the runtime shows them (see fetch-transport.ts). */
export const fetchDefaults: AdapterOptions = { ...browserDefaults, redirectFollower: followRedirects };

/**
 * Keeps one line per origin (at most `maxSize` requests in flight, the rest
 * wait in order) and at most `numPools` of them. In a Cloudflare Worker pass
 * `maxTotal: 6`: a Worker may hold only six connections open at once.
 *
 * The line is the core's (src/waiting-line.ts), the one the Node entry uses,
 * not p-queue: p-queue runs a waiting task inside whichever call frees a
 * slot, so in workerd the task's promise belonged to one incoming request
 * and was settled from another after the first had ended; workerd cancelled
 * the continuation, the slot was never counted free, and the isolate's pools
 * stuck (issue #22). The core's line hands a slot to the waiter's own
 * promise, which workerd resumes in the waiter's own request.
 */
export class PoolManager extends BrowserPoolManager {
  /** What this runtime adds to the core; the workerd entry's subclass adds its leases. */
  protected static override readonly adapter: AdapterOptions = fetchDefaults;

  protected override newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
    // Whether the runtime shows redirects is guessed here (fetch-transport.ts); workerd's entry declares it.
    return new ConnectionPool(key, options, new FetchTransport(options), shared);
  }
}
