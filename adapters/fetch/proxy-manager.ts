/** Proxying needs sockets: the fetch entry's ProxyManager only says where to find it. */
import { NotSupportedError } from '../../src/errors.js';
import type { ProxyEnvironmentOptions, ProxyManagerOptions } from '../../src/types.js';
import { PoolManager } from './pool-manager.js';

export type { ProxyEnvironmentOptions, ProxyManagerOptions } from '../../src/types.js';

const WHY = 'ProxyManager needs sockets, which browsers and Workers do not give: import it from poolfetch/node in Node';

/** The same signature as the Node entry's, so isomorphic code type-checks against either entry. */
export class ProxyManager extends PoolManager {
  /** The proxy as `scheme://host:port` (never set here: construction throws). */
  declare readonly proxy: string;

  constructor(proxyUrl: string | URL, options: number | ProxyManagerOptions = {}) {
    void proxyUrl;
    void options;
    throw new NotSupportedError(WHY);
    super();
  }
}

export function proxyFromEnvironment(options: number | ProxyEnvironmentOptions = {}): PoolManager {
  void options;
  throw new NotSupportedError(WHY.replace('ProxyManager', 'proxyFromEnvironment'));
}
