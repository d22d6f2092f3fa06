/** Placeholder until ProxyManager lands (issue: ProxyManager in the Node adapter). */
import { NotSupportedError } from '../../src/errors.js';
import type { PoolManagerOptions } from '../../src/types.js';
import { PoolManager } from './pool-manager.js';

export interface ProxyManagerOptions extends PoolManagerOptions {
  proxyHeaders?: HeadersInit;
}

export class ProxyManager extends PoolManager {
  constructor(proxyUrl: string | URL, options: ProxyManagerOptions = {}) {
    void proxyUrl;
    void options;
    super();
    throw new NotSupportedError('ProxyManager is not implemented yet');
  }
}

export function proxyFromEnvironment(options: PoolManagerOptions = {}): PoolManager {
  void options;
  throw new NotSupportedError('proxyFromEnvironment is not implemented yet');
}
