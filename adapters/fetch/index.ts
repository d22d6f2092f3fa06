/**
 * The fetch entry (Deno, Bun, web workers, and `poolfetch/fetch` anywhere;
 * browsers get browser.ts, workerd workerd.ts): a per-origin queue over
 * `globalThis.fetch`, looked up at call time.
 */
export * from '../../src/index.js';
export { PoolManager } from './pool-manager.js';
export { ProxyManager, proxyFromEnvironment } from './proxy-manager.js';
export type { ProxyEnvironmentOptions, ProxyManagerOptions } from './proxy-manager.js';
