/**
 * A proxy URL, checked once when a manager is made: its scheme, host and
 * port, the headers every request to it carries (`proxyHeaders`, plus
 * `Proxy-Authorization` from credentials in the URL), and the TLS settings
 * of an https:// proxy. The credentials live only in that header: the URL
 * kept for messages has none.
 */
import type { ConnectionOptions } from 'node:tls';
import { LocationValueError, ProxySchemeUnknown } from '../../src/errors.js';
import { base64, normalizeHeaders } from '../../src/headers.js';
import { describe } from '../../src/pool-key.js';
import { redactCredentials } from '../../src/redact.js';
import { normalizeTls } from './tls-options.js';
import type { TlsOptions } from '../../src/types.js';

/**
 * Where a manager sends proxied requests, and what it tells the proxy. The
 * headers (`Proxy-Authorization` among them) and the TLS settings (a client
 * key, maybe) are private fields read through methods, not getters: a route
 * sits in every proxied pool's key, and nothing a user can print
 * (`console.log(pool)`, `util.inspect` at any depth, with hidden properties
 * and getters evaluated) may show them.
 */
export class ProxyRoute {
  readonly scheme: 'http' | 'https';
  /** Without brackets (an IPv6 address as is), as sockets take it. */
  readonly hostname: string;
  readonly port: number;
  /** `scheme://host:port`: what messages name; never the credentials. */
  readonly origin: string;
  readonly #headers: Headers;
  readonly #tls: ConnectionOptions | undefined;

  constructor(fields: { scheme: 'http' | 'https'; hostname: string; port: number; origin: string; headers: Headers; tls: ConnectionOptions | undefined }) {
    this.scheme = fields.scheme;
    this.hostname = fields.hostname;
    this.port = fields.port;
    this.origin = fields.origin;
    this.#headers = fields.headers;
    this.#tls = fields.tls;
  }

  /** `proxyHeaders` and the URL's credentials; sent on forwarded requests and on CONNECT only. */
  headers(): Headers {
    return this.#headers;
  }

  /** Settings for TLS to an https:// proxy (`proxyTls`); undefined for an http:// proxy. */
  tls(): ConnectionOptions | undefined {
    return this.#tls;
  }
}

/** What a proxy is built from, besides its URL. */
export interface ProxyRouteOptions {
  proxyHeaders?: HeadersInit | undefined;
  proxyTls?: TlsOptions | undefined;
}

/** Checks a proxy URL and its options; throws `ProxySchemeUnknown`, `LocationValueError` or `TypeError`. */
export function parseProxyUrl(proxyUrl: unknown, options: ProxyRouteOptions = {}): ProxyRoute {
  let url: URL;
  if (proxyUrl instanceof URL) {
    url = new URL(proxyUrl.href);
  } else if (typeof proxyUrl === 'string') {
    try {
      url = new URL(proxyUrl);
    } catch (cause) {
      // The runtime's error quotes the input (in its message and `input`), password and all: left out then.
      throw new LocationValueError(`Invalid proxy URL ${JSON.stringify(redactCredentials(proxyUrl))}: use http://host:port`, proxyUrl.includes('@') ? {} : { cause });
    }
  } else {
    throw new TypeError(`proxyUrl must be a string or URL, got ${describe(proxyUrl)}`);
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') throw new ProxySchemeUnknown(scheme);
  if (url.hostname === '') {
    throw new LocationValueError(`No host specified in proxy URL ${JSON.stringify(redactCredentials(url.href))}`);
  }
  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port);
  const headers = normalizeHeaders(options.proxyHeaders, 'proxyHeaders');
  const proxyTls = normalizeTls(options.proxyTls, 'proxyTls');
  // Explicit proxyHeaders win over credentials in the URL, as in undici's ProxyAgent.
  if ((url.username !== '' || url.password !== '') && !headers.has('proxy-authorization')) {
    let user: string;
    let password: string;
    try {
      user = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch (cause) {
      // The message must not repeat the credentials, even malformed ones.
      throw new LocationValueError(`The credentials in proxy URL ${url.protocol}//***@${url.host} are not valid percent-encoding`, { cause });
    }
    headers.set('proxy-authorization', `Basic ${base64(`${user}:${password}`)}`);
  }
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return new ProxyRoute({
    scheme,
    hostname,
    port,
    origin: `${scheme}://${url.hostname}:${port}`,
    headers,
    // Checked for every proxy, used for an https:// one: a typo should not wait for the day the proxy changes.
    tls: scheme === 'https' ? connectionOptions(proxyTls) : undefined,
  });
}

/** poolfetch's TLS options as `tls.connect` options. */
export function connectionOptions(tls: TlsOptions | undefined): ConnectionOptions {
  if (tls === undefined) return {};
  return {
    ...(tls.ca === undefined ? {} : { ca: tls.ca as string | Buffer | Array<string | Buffer> }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert as string | Buffer }),
    ...(tls.key === undefined ? {} : { key: tls.key as string | Buffer }),
    ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
  };
}
