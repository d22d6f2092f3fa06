/** The fetch `PoolManager`: the core bound to a per-origin queue over `fetch`. */
import { ConnectionPool, type SharedLimits } from '../../src/connection-pool.js';
import { NotSupportedError } from '../../src/errors.js';
import type { ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import { PoolManager as BasePoolManager, type PoolOverrides } from '../../src/pool-manager.js';
import type { PoolManagerOptions } from '../../src/types.js';
import { FetchTransport } from './fetch-transport.js';
import { QueueLine } from './queue-line.js';

/**
 * Browsers open at most 6 connections per origin over HTTP/1.1; queueing
 * beyond that only hides the wait. A `tls` option is refused.
 */
export const fetchDefaults = { maxSize: 6, tls: refuseTls } as const;

/**
 * Keeps one queue per origin (at most `maxSize` requests in flight, the rest
 * wait in order) and at most `numPools` of them. In a Cloudflare Worker pass
 * `maxTotal: 6`: a Worker may hold only six connections open at once.
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
    return new ConnectionPool(key, options, new FetchTransport(options), shared, new QueueLine(options.maxSize));
  }
}

function refuseTls(): never {
  throw new NotSupportedError('The tls option needs the Node entry (poolfetch/node): browsers and Workers own TLS');
}
