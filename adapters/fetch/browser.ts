/**
 * The fetch entry as browsers load it (the `browser` export condition): the
 * same names, with a `PoolManager` that leaves redirects to the browser, as
 * a browser's fetch does anyway (see browser-pool-manager.ts).
 */
export * from '../../src/index.js';
export { PoolManager } from './browser-pool-manager.js';
export { ProxyManager, proxyFromEnvironment } from './proxy-manager.js';
export type { ProxyEnvironmentOptions, ProxyManagerOptions } from './proxy-manager.js';
