/**
 * The fetch `PoolManager` as browsers load it (the `browser` export
 * condition). A browser answers `redirect: 'manual'` with an opaque redirect
 * (no status, no `Location`) and follows redirects itself, so the redirect
 * follower the other fetch runtimes use to follow hop by hop
 * (src/redirects.ts: Deno, Bun, Node, workerd) never runs in one. This is
 * the fetch entry's `PoolManager` (adapters/fetch/pool-manager.ts) without
 * it, so a browser bundle carries none of its code: the browser's own share
 * of the budget in DESIGN.md. Everything else is the same core.
 */
import { ConnectionPool, type SharedLimits } from '../../src/connection-pool.js';
import { NotSupportedError } from '../../src/errors.js';
import type { AdapterOptions, ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import { PoolManager as BasePoolManager, type PoolOverrides } from '../../src/pool-manager.js';
import type { PoolManagerOptions } from '../../src/types.js';
import { FetchTransport } from './fetch-transport.js';

/** The fetch entry's defaults (6 per origin, `tls` refused) without a redirect follower. */
const browserDefaults: AdapterOptions = { maxSize: 6, tls: refuseTls };

/**
 * Keeps one line per origin (at most `maxSize` requests in flight, the rest
 * wait in order) and at most `numPools` of them, over the browser's fetch.
 */
export class PoolManager extends BasePoolManager {
  /** What this runtime adds to the core, as on the fetch entry's `PoolManager`. */
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
