/** The fetch `PoolManager`: the core bound to a per-origin line over `fetch`. */
import { ConnectionPool, type SharedLimits } from '../../src/connection-pool.js';
import type { LeaseTiming } from '../../src/context-leases.js';
import { NotSupportedError } from '../../src/errors.js';
import type { AdapterOptions, ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import { PoolManager as BasePoolManager, type PoolOverrides } from '../../src/pool-manager.js';
import { followRedirects } from '../../src/redirects.js';
import type { PoolManagerOptions } from '../../src/types.js';
import { FetchTransport } from './fetch-transport.js';

/**
 * workerd (Cloudflare Workers) ties every promise, timer and fetch to the
 * incoming request that made it, and drops them unsettled when that request
 * ends, while one module-level manager serves every request of the isolate.
 * There each exchange holds a lease (src/context-leases.ts) whose heartbeat,
 * a timer in its own request's context, keeps a request that only waits in
 * the line from being cancelled as hung and tells the other requests when
 * it has ended, so they free what it held. Workers say who they are in
 * `navigator.userAgent` (https://developers.cloudflare.com/workers/runtime-apis/web-standards/#navigatoruseragent).
 * Elsewhere (browsers, Deno, Bun) nothing ends a request's work under it: no lease, no timer.
 */
const WORKERD_LEASES: LeaseTiming = { heartbeat: 250, staleAfter: 1500 };
const inWorkerd = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === 'Cloudflare-Workers';

/**
 * Browsers open at most 6 connections per origin over HTTP/1.1; queueing
 * beyond that only hides the wait. A `tls` option is refused. Redirects are
 * followed hop by hop where the runtime shows them (see fetch-transport.ts).
 */
export const fetchDefaults: AdapterOptions = { maxSize: 6, tls: refuseTls, leases: inWorkerd ? WORKERD_LEASES : undefined, redirectFollower: followRedirects };

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
export class PoolManager extends BasePoolManager {
  constructor(numPools?: number | PoolManagerOptions) {
    super(numPools, fetchDefaults);
  }

  /** Also per pool: connectionFromUrl(url, { tls }) must not silently ignore a CA. */
  protected override keyForUrl(url: URL, overrides?: PoolOverrides): PoolKey {
    if (overrides?.tls !== undefined) refuseTls();
    return super.keyForUrl(url);
  }

  protected newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
    return new ConnectionPool(key, options, new FetchTransport(options), shared);
  }
}

function refuseTls(): never {
  throw new NotSupportedError('The tls option needs the Node entry (poolfetch/node): browsers and Workers own TLS');
}
