/**
 * The fetch entry as workerd loads it (the `workerd` export condition, which
 * wrangler sets): the same names, with a `PoolManager` whose exchanges hold
 * request-context leases (see workerd-pool-manager.ts).
 */
export * from '../../src/index.js';
export { PoolManager } from './workerd-pool-manager.js';
export { ProxyManager, proxyFromEnvironment } from './proxy-manager.js';
export type { ProxyEnvironmentOptions, ProxyManagerOptions } from './proxy-manager.js';
