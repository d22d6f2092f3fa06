/**
 * The Node entry (`poolfetch` under the `node` condition, or `poolfetch/node`):
 * undici pools with real keep-alive sockets, and proxying.
 */
export * from '../../src/index.js';
export { PoolManager } from './pool-manager.js';
export { ProxyManager, proxyFromEnvironment } from './proxy-manager.js';
export type { ProxyEnvironmentOptions, ProxyManagerOptions } from './proxy-manager.js';
