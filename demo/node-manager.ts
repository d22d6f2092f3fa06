/** The Node panel's manager: poolfetch's Node `PoolManager`, each new pool handed to a tracker. */
import type { SharedLimits } from '../src/connection-pool.js';
import type { ResolvedOptions } from '../src/options.js';
import type { PoolKey } from '../src/pool-key.js';
import { PoolManager, type ConnectionPool, type PoolManagerOptions } from '../adapters/node/index.js';
import { RETRY_STATUSES } from './shared/settings.js';
import { PoolTracker } from './shared/tracker.js';

export class DemoPoolManager extends PoolManager {
  readonly tracker: PoolTracker;

  constructor(options: PoolManagerOptions) {
    super(options);
    this.tracker = new PoolTracker(this, RETRY_STATUSES);
  }

  protected override newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
    return this.tracker.adopt(super.newPool(key, options, shared));
  }
}
