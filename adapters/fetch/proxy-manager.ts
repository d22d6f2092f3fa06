/** Proxying needs sockets: the fetch entry's ProxyManager only says where to find it. */
import { NotSupportedError } from '../../src/errors.js';
import type { ProxyEnvironmentOptions, ProxyManagerOptions } from '../../src/types.js';
import { PoolManager } from './pool-manager.js';

export type { ProxyEnvironmentOptions, ProxyManagerOptions } from '../../src/types.js';

const WHY = 'ProxyManager needs sockets, which browsers and Workers do not give: import it from poolfetch/node in Node';

export class ProxyManager extends PoolManager {
  constructor(proxyUrl: string | URL, options: ProxyManagerOptions = {}) {
    void proxyUrl;
    void options;
    throw new NotSupportedError(WHY);
    super();
  }
}

export function proxyFromEnvironment(options?: ProxyEnvironmentOptions): PoolManager {
  void options;
  throw new NotSupportedError(WHY.replace('ProxyManager', 'proxyFromEnvironment'));
}
