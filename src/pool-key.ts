/**
 * The one normaliser from (scheme, host, port, pool options) to a pool key,
 * and the URL checks that come before it. urllib3 keys pools on a tuple of
 * normalised fields; here the tuple is flattened into a string so that a
 * `Map` compares keys by value.
 */
import { LocationValueError, URLSchemeUnknown } from './errors.js';

export type Scheme = 'http' | 'https';

const DEFAULT_PORTS: Readonly<Record<Scheme, number>> = { http: 80, https: 443 };

/** A normalised pool identity. */
export interface PoolKey {
  readonly scheme: Scheme;
  /** Lower-cased; IPv6 addresses in brackets. */
  readonly host: string;
  readonly port: number;
  /** `scheme://host:port`, always with the port. */
  readonly origin: string;
  /** `origin`, plus a suffix naming the TLS options when an https pool has any. */
  readonly id: string;
}

/**
 * The last few strings parsed and their URLs: code calls a few endpoints
 * over and over (round-robin over origins, say) with the same strings, and
 * parsing one costs more than the rest of the lookup. Safe to share because
 * the core never mutates a URL. The last one is checked first, without a
 * hash lookup.
 */
let lastParsed: { input: string; url: URL } | undefined;
const recentlyParsed = new Map<string, URL>();
const RECENT = 16;

/** Parses a request URL (a copy of a `URL` object: never the caller's own), refusing what no pool can serve. */
export function parseUrl(url: string | URL, method?: string): URL {
  if (lastParsed !== undefined && url === lastParsed.input) return lastParsed.url;
  // The caller's URL object is theirs to change after the call: what is sent and reported is
  // what it said when the call was made. Through its text, so the parse is shared as a string's is.
  if (url instanceof URL) return parseUrl(url.href, method);
  if (typeof url !== 'string') throw new TypeError(`url must be a string or URL, got ${describe(url)}`);
  let parsed = recentlyParsed.get(url);
  if (parsed === undefined) {
    try {
      parsed = new URL(url);
    } catch (cause) {
      // The runtime's error quotes the input, and with it any password: left out then.
      throw new LocationValueError(`No host specified in URL ${describe(url)}: use an absolute http(s) URL`, {
        ...(url.includes('@') ? {} : { cause }),
        method,
        url,
      });
    }
    const scheme = parsed.protocol.slice(0, -1);
    if (scheme !== 'http' && scheme !== 'https') {
      throw new URLSchemeUnknown(scheme, { method, url: parsed.href });
    }
    if (parsed.hostname === '') {
      throw new LocationValueError(`No host specified in URL ${describe(parsed.href)}`, { method, url: parsed.href });
    }
    // Oldest out first: a Map iterates in insertion order.
    if (recentlyParsed.size >= RECENT) recentlyParsed.delete(recentlyParsed.keys().next().value as string);
    recentlyParsed.set(url, parsed);
  }
  lastParsed = { input: url, url: parsed };
  return parsed;
}

/** The key of the pool that serves `url`; `tlsId` is '' unless the pool has TLS options. */
export function poolKeyForUrl(url: URL, tlsId = ''): PoolKey {
  if (tlsId !== '') return keyOf(url, tlsId);
  // parseUrl hands out one URL object per URL text, which poolfetch never changes: its key is worked out once.
  let key = keysByUrl.get(url);
  if (key === undefined) {
    key = keyOf(url, '');
    keysByUrl.set(url, key);
  }
  return key;
}

const keysByUrl = new WeakMap<URL, PoolKey>();

function keyOf(url: URL, tlsId: string): PoolKey {
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
  return makeKey(scheme, url.hostname, port, tlsId);
}

/** The key for urllib3-style `connectionFromHost(host, port, scheme)` arguments. */
export function poolKeyForHost(host: string, port: number | undefined, scheme: string, tlsId = ''): PoolKey {
  if (typeof host !== 'string' || host.trim() === '') {
    throw new LocationValueError(`No host specified: ${describe(host)}`);
  }
  const lowerScheme = typeof scheme === 'string' ? scheme.toLowerCase() : scheme;
  if (lowerScheme !== 'http' && lowerScheme !== 'https') {
    throw new URLSchemeUnknown(String(scheme));
  }
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new TypeError(`port must be an integer from 1 to 65535, got ${describe(port)}`);
  }
  // An unbracketed IPv6 address would otherwise read as host:port.
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  // Let the URL parser do the lower-casing, IDNA and IPv4/IPv6 canonical forms.
  let url: URL;
  try {
    url = new URL(`${lowerScheme}://${bracketed}`);
  } catch (cause) {
    throw new LocationValueError(`Invalid host ${describe(host)}`, { cause });
  }
  if (url.pathname !== '/' || url.username !== '' || url.port !== '' || url.search !== '') {
    throw new LocationValueError(`Invalid host ${describe(host)}: pass the port as its own argument`);
  }
  return makeKey(lowerScheme, url.hostname, port ?? DEFAULT_PORTS[lowerScheme], tlsId);
}

function makeKey(scheme: Scheme, host: string, port: number, tlsId: string): PoolKey {
  const origin = `${scheme}://${host}:${port}`;
  return { scheme, host, port, origin, id: scheme === 'https' && tlsId !== '' ? `${origin} ${tlsId}` : origin };
}

/** Shows a bad value in an error message without dumping large objects. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  return Array.isArray(value) ? 'an array' : `an object (${Object.prototype.toString.call(value)})`;
}
