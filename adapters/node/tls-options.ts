/**
 * The `tls` option (and `ProxyManager`'s `proxyTls`): only the Node adapter
 * opens TLS connections of its own, so only it checks them; the fetch entry
 * never imports this.
 */
import { bool, knownKeys, mustBe } from '../../src/checks.js';
import type { TlsOptions } from '../../src/types.js';

const TLS_KEYS = ['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'];

/** Checks TLS settings: the `tls` option, and `proxyTls` (as `name`). */
export function normalizeTls(value: unknown, name = 'tls'): TlsOptions | undefined {
  if (value === undefined) return undefined;
  const tls = knownKeys(value, name, 'an object', TLS_KEYS);
  if (tls.rejectUnauthorized !== undefined) bool(tls.rejectUnauthorized, `${name}.rejectUnauthorized`);
  if (tls.servername !== undefined && typeof tls.servername !== 'string') mustBe(`${name}.servername`, 'a string', tls.servername);
  return tls as TlsOptions;
}

/**
 * A stable identity for TLS options, so pools with different trust settings
 * never share a key (and so never share sockets).
 */
export function tlsFingerprint(tls: TlsOptions | undefined): string {
  if (tls === undefined) return '';
  const text = (v: unknown): string =>
    v instanceof Uint8Array ? new TextDecoder().decode(v) : Array.isArray(v) ? v.map(text).join('\n') : String(v);
  return JSON.stringify(
    (['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'] as const)
      .filter((k) => tls[k] !== undefined)
      .map((k) => [k, text(tls[k])]),
  );
}
