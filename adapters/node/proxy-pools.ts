/**
 * Pools behind a proxy, as urllib3 makes them: ONE pool to the proxy for
 * every http target (requests in absolute form, `GET http://host/path`), and
 * one pool per https target whose sockets are CONNECT tunnels with TLS to
 * the origin inside. The keys say which: the forward pool's is the proxy's
 * origin with a ` (proxy)` suffix (so it can never be mistaken for a direct
 * pool to the proxy host); a tunnel pool keeps its target's key.
 */
import type { Dispatcher } from 'undici';
import { ConnectionPool, type SharedLimits } from '../../src/connection-pool.js';
import { ProxyError } from '../../src/errors.js';
import type { ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import type { WireFetch, WireRequest, WireResponse } from '../../src/transport.js';
import { forwardConnector, tunnelConnector } from './proxy-connect.js';
import type { ProxyRoute } from './proxy-url.js';
import { UndiciTransport } from './undici-transport.js';
import { socketGate } from './connections.js';

/** A pool key that also says which proxy serves it, and how. */
export interface ProxiedKey extends PoolKey {
  readonly proxy: ProxyRoute;
  readonly mode: 'forward' | 'tunnel';
}

export function isProxiedKey(key: PoolKey): key is ProxiedKey {
  return 'proxy' in key && 'mode' in key;
}

/**
 * The key of the pool that carries `url` through `route`: the one forward
 * pool for http, or `direct` (the key a PoolManager would use) for https.
 */
export function proxiedKey(url: URL, route: ProxyRoute, direct: () => PoolKey): ProxiedKey {
  if (url.protocol === 'https:') return { ...direct(), proxy: route, mode: 'tunnel' };
  const host = route.hostname.includes(':') ? `[${route.hostname}]` : route.hostname;
  return { scheme: route.scheme, host, port: route.port, origin: route.origin, id: `${route.origin} (proxy)`, proxy: route, mode: 'forward' };
}

/** The pool for a proxied key. */
export function newProxiedPool(key: ProxiedKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
  // The connect timeout is the request's, where it sets one (adapters/node/connections.ts).
  if (key.mode === 'forward') {
    const transport = new UndiciTransport(key, options, { connector: (timeout) => forwardConnector(key.proxy, timeout), interceptors: [absoluteForm(key.proxy)], gate: socketGate(shared, key.id) });
    return new ForwardPool(key, options, transport, shared);
  }
  const transport = new UndiciTransport(key, options, { connector: (timeout) => tunnelConnector(key.proxy, options.tls, timeout), interceptors: [withoutProxyAuthorization], gate: socketGate(shared, key.id) });
  return new TunnelPool(key, options, transport, shared);
}

/** What every pool behind a proxy does with the errors of its connector. */
class ProxiedPool extends ConnectionPool {
  override async exchange(request: WireRequest): Promise<WireResponse> {
    try {
      return await super.exchange(request);
    } catch (error) {
      throw withRequest(error, request.method, request.url.href);
    }
  }

  override async fetchOnce(call: WireFetch): Promise<Response> {
    try {
      return await super.fetchOnce(call);
    } catch (error) {
      // undici's fetch wraps what the connector failed with in `TypeError('fetch failed')`.
      const inner = error instanceof TypeError && error.cause instanceof ProxyError ? error.cause : error;
      throw withRequest(inner, call.init.method, call.url.href);
    }
  }
}

/** The one pool to the proxy that every http target shares. */
class ForwardPool extends ProxiedPool {
  /** Every http URL goes through here, whatever its host. */
  override serves(url: URL): boolean {
    return url.protocol === 'http:';
  }
}

/** A pool of CONNECT tunnels to one https origin. */
class TunnelPool extends ProxiedPool {}

/** A connector's ProxyError knows the proxy but not the request: add it. */
function withRequest(error: unknown, method: string, url: string): unknown {
  if (!(error instanceof ProxyError) || error.url !== undefined) return error;
  return new ProxyError(`${error.message} (${method} ${url})`, { status: error.status, cause: error.cause, method, url });
}

/** Rewrites a request to the proxy into absolute form, with the target's Host and the proxy's headers. */
function absoluteForm(route: ProxyRoute): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) => {
    const origin = options.origin instanceof URL ? options.origin.origin : options.origin;
    if (origin === undefined) throw new TypeError('poolfetch bug: a request through the proxy has no origin');
    const headers = flatHeaders(options.headers);
    const names = new Set<string>();
    for (let i = 0; i < headers.length; i += 2) names.add(String(headers[i]).toLowerCase());
    if (!names.has('host')) headers.push('host', new URL(origin).host);
    route.headers().forEach((value, name) => {
      if (!names.has(name)) headers.push(name, value);
    });
    return dispatch({ ...options, path: `${origin}${options.path}`, headers }, refusing407(route, handler));
  };
}

/**
 * An origin never sends 407 (RFC 9110 §15.5.8): on a forwarded request it is
 * the proxy's answer, and a ProxyError as on CONNECT. (undici's fetch would
 * turn it into a bare network error.)
 */
function refusing407(route: ProxyRoute, handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
  return {
    onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
    onRequestUpgrade: (controller, status, headers, socket) => handler.onRequestUpgrade?.(controller, status, headers, socket),
    onResponseStart(controller, status, headers, statusMessage) {
      if (status !== 407) {
        handler.onResponseStart?.(controller, status, headers, statusMessage);
        return;
      }
      const challenge = headers['proxy-authenticate'];
      controller.abort(
        new ProxyError(
          `Proxy authentication required: ${route.origin} answered 407${challenge === undefined ? '' : ` (it asks for ${String(challenge)})`}. ` +
            'Put the credentials in the proxy URL or pass proxyHeaders: makeHeaders({ proxyBasicAuth })',
          { status },
        ),
      );
    },
    onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
    onResponseEnd: (controller, trailers) => handler.onResponseEnd?.(controller, trailers),
    onResponseError: (controller, error) => handler.onResponseError?.(controller, error),
  };
}

/**
 * `Proxy-Authorization` is for the first hop only; inside a tunnel that hop
 * is the origin, which must never see the proxy's credentials.
 */
const withoutProxyAuthorization: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (options, handler) => {
  const headers = flatHeaders(options.headers);
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() !== 'proxy-authorization') kept.push(headers[i] ?? '', headers[i + 1] ?? '');
  }
  return dispatch({ ...options, headers: kept }, handler);
};

/** undici takes headers as a flat array, pairs, a record or an iterable: make them a flat array. */
function flatHeaders(headers: Dispatcher.DispatchOptions['headers']): string[] {
  const flat: string[] = [];
  if (headers === undefined || headers === null) return flat;
  const add = (name: unknown, value: unknown): void => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) for (const v of value) flat.push(String(name), String(v));
    else flat.push(String(name), Buffer.isBuffer(value) ? value.toString('latin1') : String(value));
  };
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const pair of headers as unknown as Array<[string, string]>) add(pair[0], pair[1]);
    } else {
      for (let i = 0; i < headers.length; i += 2) add(headers[i], headers[i + 1]);
    }
  } else if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [name, value] of headers as Iterable<[string, unknown]>) add(name, value);
  } else {
    for (const [name, value] of Object.entries(headers)) add(name, value);
  }
  return flat;
}
