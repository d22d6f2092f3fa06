/** The Node `PoolManager`: the core bound to undici pools. */
import type { SharedLimits } from '../../src/connection-pool.js';
import { ConnectionPool } from '../../src/connection-pool.js';
import type { ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import { PoolManager as BasePoolManager } from '../../src/pool-manager.js';
import type { PoolManagerOptions } from '../../src/types.js';
import { followRedirects } from './redirect.js';
import { normalizeTls } from './tls-options.js';
import { UndiciTransport } from './undici-transport.js';

/**
 * Node's defaults (undici's usual per-origin connection count), the `tls`
 * option, which only Node takes, and redirects followed hop by hop, which
 * undici leaves to its caller.
 */
export const nodeDefaults = { maxSize: 10, tls: normalizeTls, redirectFollower: followRedirects } as const;

/**
 * Keeps one undici `Pool` (real keep-alive sockets, at most `maxSize`) per
 * origin, and at most `numPools` of them.
 */
export class PoolManager extends BasePoolManager {
  constructor(numPools?: number | PoolManagerOptions) {
    super(numPools, nodeDefaults);
  }

  protected newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
    return new ConnectionPool(key, options, new UndiciTransport(key, options), shared);
  }
}
