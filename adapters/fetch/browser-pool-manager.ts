/**
 * The fetch `PoolManager` as browsers load it (the `browser` export
 * condition), and the base of the other fetch runtimes' one. A browser
 * answers `redirect: 'manual'` with an opaque redirect (no status, no
 * `Location`) and follows redirects itself, so the redirect follower that
 * Deno, Bun, Node and workerd use to follow hop by hop (src/redirects.ts)
 * never runs in one: leaving it out here keeps its code out of browser
 * bundles, the browser's share of the budget in DESIGN.md.
 * adapters/fetch/pool-manager.ts adds it back for the other runtimes.
 */
import { ConnectionPool, type SharedLimits } from '../../src/connection-pool.js';
import { NotSupportedError } from '../../src/errors.js';
import type { AdapterOptions, ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import { PoolManager as BasePoolManager, type PoolOverrides } from '../../src/pool-manager.js';
import type { PoolManagerOptions } from '../../src/types.js';
import { FetchTransport } from './fetch-transport.js';

/**
 * Browsers open at most 6 connections per origin over HTTP/1.1; queueing
 * beyond that only hides the wait. A `tls` option is refused.
 */
export const browserDefaults: AdapterOptions = { maxSize: 6, tls: refuseTls };

/**
 * Keeps one line per origin (at most `maxSize` requests in flight, the rest
 * wait in order) and at most `numPools` of them, over the runtime's fetch.
 */
export class PoolManager extends BasePoolManager {
  /** What this runtime adds to the core; subclasses for other runtimes add their own. */
  protected static readonly adapter: AdapterOptions = browserDefaults;

  constructor(numPools?: number | PoolManagerOptions) {
    super(numPools, (new.target as typeof PoolManager).adapter);
  }

  /** Also per pool: connectionFromUrl(url, { tls }) must not silently ignore a CA. */
  protected override keyForUrl(url: URL, overrides?: PoolOverrides): PoolKey {
    if (overrides?.tls !== undefined) refuseTls();
    return super.keyForUrl(url);
  }

  protected newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
    // The runtime follows redirects, whatever the globals say: there is no follower here to show them to.
    return new ConnectionPool(key, options, new FetchTransport(options, false), shared);
  }
}

function refuseTls(): never {
  throw new NotSupportedError('The tls option needs the Node entry (poolfetch/node): browsers and Workers own TLS');
}
