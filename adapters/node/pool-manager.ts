/** The Node `PoolManager`: the core bound to undici pools. */
import type { SharedLimits } from '../../src/connection-pool.js';
import { ConnectionPool } from '../../src/connection-pool.js';
import type { ResolvedOptions } from '../../src/options.js';
import { poolKeyForUrl, type PoolKey } from '../../src/pool-key.js';
import { PoolManager as BasePoolManager, type PoolOverrides } from '../../src/pool-manager.js';
import type { PoolManagerOptions, TlsOptions } from '../../src/types.js';
import { diagnostics } from './diagnostics.js';
import { followRedirects } from '../../src/redirects.js';
import { normalizeTls, tlsFingerprint } from './tls-options.js';
import { UndiciTransport } from './undici-transport.js';
import { socketGate } from './connections.js';

/**
 * Node's defaults (undici's usual per-origin connection count), the `tls`
 * option, which only Node takes, redirects followed hop by hop, which
 * undici leaves to its caller, and pool events and slot waits published on
 * diagnostics_channel.
 */
export const nodeDefaults = { maxSize: 10, tls: normalizeTls, redirectFollower: followRedirects, observer: diagnostics } as const;

/**
 * Keeps one undici `Pool` (real keep-alive sockets, at most `maxSize`) per
 * origin, and at most `numPools` of them.
 */
export class PoolManager extends BasePoolManager {
  constructor(numPools?: number | PoolManagerOptions) {
    super(numPools, nodeDefaults);
  }

  protected newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
    // A retiring pool's closing sockets count against the next pool's maxSize for the same key.
    return new ConnectionPool(key, options, new UndiciTransport(key, options, { gate: socketGate(shared, key.id) }), shared);
  }

  /** https pools are keyed by their TLS options too, so pools that trust differently never share sockets. */
  protected override keyForUrl(url: URL, overrides?: PoolOverrides): PoolKey {
    return poolKeyForUrl(url, this.#tlsId(url.protocol === 'https:', overrides));
  }

  /** TLS settings → a short id for pool keys, so keys stay readable and compare by value. */
  readonly #tlsIds = new Map<string, string>();
  #managerTlsId: string | undefined;

  #tlsId(https: boolean, overrides: PoolOverrides | undefined): string {
    if (!https) return '';
    if (overrides?.tls === undefined) {
      // The manager's own settings: fingerprinted once, not on every request.
      this.#managerTlsId ??= this.options.tls === undefined ? '' : this.#internTls(this.options.tls);
      return this.#managerTlsId;
    }
    return this.#internTls(overrides.tls);
  }

  #internTls(tls: TlsOptions): string {
    const fingerprint = tlsFingerprint(tls);
    let id = this.#tlsIds.get(fingerprint);
    if (id === undefined) {
      id = `tls#${this.#tlsIds.size + 1}`;
      this.#tlsIds.set(fingerprint, id);
    }
    return id;
  }
}
