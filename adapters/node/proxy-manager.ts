/**
 * `ProxyManager` (urllib3's): a `PoolManager` that sends everything through
 * one proxy, and `proxyFromEnvironment()`, one that reads `HTTP_PROXY`,
 * `HTTPS_PROXY` and `NO_PROXY` to choose per request. Both only override the
 * two seams: `keyForUrl` (which pool) and `newPool` (what a pool is).
 */
import type { SharedLimits } from '../../src/connection-pool.js';
import type { ConnectionPool } from '../../src/connection-pool.js';
import type { ResolvedOptions } from '../../src/options.js';
import { describe, type PoolKey } from '../../src/pool-key.js';
import { LocationValueError, ProxySchemeUnknown, type PoolfetchError } from '../../src/errors.js';
import type { PoolOverrides } from '../../src/pool-manager.js';
import type { PoolManagerOptions, ProxyEnvironmentOptions, ProxyManagerOptions } from '../../src/types.js';
import { noProxyMatcher, type ProxyBypass } from './no-proxy.js';
import { PoolManager } from './pool-manager.js';
import { isProxiedKey, newProxiedPool, proxiedKey } from './proxy-pools.js';
import { parseProxyUrl, type ProxyRoute } from './proxy-url.js';

export type { ProxyEnvironmentOptions, ProxyManagerOptions } from '../../src/types.js';

/** Splits a proxy manager's own options from the PoolManager's. */
function splitOptions<T extends ProxyManagerOptions>(options: number | T | undefined, extra: readonly string[] = []) {
  if (typeof options === 'number') return { manager: options, own: {} as Partial<T> };
  if (options === undefined) return { manager: {}, own: {} as Partial<T> };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`ProxyManager options must be a number (numPools) or an object, got ${describe(options)}`);
  }
  const manager: Record<string, unknown> = {};
  const own: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options)) {
    if (name === 'proxyHeaders' || name === 'proxyTls' || extra.includes(name)) own[name] = value;
    else manager[name] = value;
  }
  return { manager: manager as PoolManagerOptions, own: own as Partial<T> };
}

/**
 * Sends every request through one proxy: all `http:` targets share ONE pool
 * to the proxy (absolute-form requests); each `https:` target gets its own
 * pool of `CONNECT host:port` tunnels with TLS to the origin inside.
 *
 * ```ts
 * const proxy = new ProxyManager('http://localhost:3128', {
 *   proxyHeaders: makeHeaders({ proxyBasicAuth: 'myusername:mypassword' }),
 * });
 * ```
 */
export class ProxyManager extends PoolManager {
  /** The proxy as `scheme://host:port`; credentials in the URL are never kept here. */
  readonly proxy: string;
  readonly #route: ProxyRoute;

  constructor(proxyUrl: string | URL, options: number | ProxyManagerOptions = {}) {
    const { manager, own } = splitOptions(options);
    const route = parseProxyUrl(proxyUrl, own);
    super(manager);
    this.#route = route;
    this.proxy = route.origin;
  }

  protected override keyForUrl(url: URL, overrides?: PoolOverrides): PoolKey {
    return proxiedKey(url, this.#route, () => super.keyForUrl(url, overrides));
  }

  protected override newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
    return isProxiedKey(key) ? newProxiedPool(key, options, shared) : super.newPool(key, options, shared);
  }
}

/**
 * A manager that sends each request direct or through a proxy as the
 * environment says, read once, here: `http_proxy`/`HTTP_PROXY` for http
 * targets, `https_proxy`/`HTTPS_PROXY` for https targets (https never falls
 * back on the http proxy, as in curl and Python), and `no_proxy`/`NO_PROXY`
 * for the targets that go direct (see `no-proxy.ts`). The lower-case name
 * wins when it is set, even to '' (which means "none", as in Python and
 * undici); a value without a scheme means `http://`. Under CGI
 * (`REQUEST_METHOD` set) `HTTP_PROXY` is ignored: a client can set it with a
 * `Proxy:` header ("httpoxy").
 */
export function proxyFromEnvironment(options: number | ProxyEnvironmentOptions = {}): PoolManager {
  return new EnvironmentProxyManager(options);
}

class EnvironmentProxyManager extends PoolManager {
  readonly #http: ProxyRoute | Unusable | undefined;
  readonly #https: ProxyRoute | Unusable | undefined;
  readonly #bypass: ProxyBypass;

  constructor(options: number | ProxyEnvironmentOptions) {
    const { manager, own } = splitOptions(options, ['env']);
    const env = own.env ?? process.env;
    if (typeof env !== 'object' || env === null) throw new TypeError(`env must be an object, got ${describe(env)}`);
    const cgi = env['REQUEST_METHOD'] !== undefined;
    const httpName = env['http_proxy'] !== undefined ? 'http_proxy' : cgi ? undefined : 'HTTP_PROXY';
    const httpsName = env['https_proxy'] !== undefined ? 'https_proxy' : 'HTTPS_PROXY';
    const http = httpName === undefined ? undefined : proxyFrom(httpName, env[httpName], own);
    const https = proxyFrom(httpsName, env[httpsName], own);
    const bypass = noProxyMatcher(env['no_proxy'] ?? env['NO_PROXY']);
    super(manager);
    this.#http = http;
    this.#https = https;
    this.#bypass = bypass;
  }

  protected override keyForUrl(url: URL, overrides?: PoolOverrides): PoolKey {
    const route = url.protocol === 'https:' ? this.#https : this.#http;
    if (route === undefined || this.#bypass(url)) return super.keyForUrl(url, overrides);
    if (route instanceof Unusable) throw route.error(url);
    return proxiedKey(url, route, () => super.keyForUrl(url, overrides));
  }

  protected override newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
    return isProxiedKey(key) ? newProxiedPool(key, options, shared) : super.newPool(key, options, shared);
  }
}

/**
 * A proxy variable poolfetch cannot use (`socks5://...`, a bad port): the
 * requests it would carry fail, naming the variable; targets it does not
 * cover (the other scheme, `NO_PROXY`) go on working. Throwing when the
 * manager is made would break every target for one variable that
 * concerns a few (or that another tool in the same environment reads).
 */
class Unusable {
  readonly #variable: string;
  readonly #why: PoolfetchError;

  constructor(variable: string, why: PoolfetchError) {
    this.#variable = variable;
    this.#why = why;
  }

  /** A new error per request, so each names its own request and has its own stack. */
  error(url: URL): PoolfetchError {
    const variable = this.#variable;
    if (this.#why instanceof ProxySchemeUnknown) return new ProxySchemeUnknown(this.#why.scheme, { url: url.href, variable });
    return new LocationValueError(
      `${variable} names a proxy poolfetch cannot use (${this.#why.message}), needed for ${url.href}: fix ${variable}, or list the host in NO_PROXY`,
      { url: url.href, cause: this.#why },
    );
  }
}

/**
 * The proxy a variable names; none when it is unset or blank. `127.0.0.1:3128`
 * means `http://127.0.0.1:3128`, as in curl. One poolfetch cannot use is
 * reported when a request would go through it (`Unusable`).
 */
function proxyFrom(variable: string, value: string | undefined, options: ProxyManagerOptions): ProxyRoute | Unusable | undefined {
  const text = value?.trim();
  if (text === undefined || text === '') return undefined;
  try {
    return parseProxyUrl(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`, options);
  } catch (error) {
    if (error instanceof ProxySchemeUnknown || error instanceof LocationValueError) return new Unusable(variable, error);
    throw error;
  }
}
