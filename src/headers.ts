/**
 * Header checks and `makeHeaders`. Values are checked for CR, LF and NUL
 * before they reach a `Headers` object, because `Headers` strips a trailing
 * CRLF silently and a header injection should be an error, not a fix-up.
 */
import { describe } from './pool-key.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;

/** Throws `TypeError` naming the header when a name or value could split a request. */
export function checkHeader(name: string, value: string, where: string): void {
  if (!TOKEN.test(name)) {
    throw new TypeError(`${where}: invalid header name ${JSON.stringify(name)}`);
  }
  if (BAD_VALUE.test(value)) {
    throw new TypeError(`${where}: header ${JSON.stringify(name)} has a value with CR, LF or NUL: ${JSON.stringify(value)}`);
  }
}

/** Turns any `HeadersInit` into checked `Headers`. */
export function normalizeHeaders(init: unknown, where: string): Headers {
  if (init === undefined || init === null) return new Headers();
  if (typeof init !== 'object') {
    throw new TypeError(`${where} must be a Headers object, an array of pairs or a record, got ${describe(init)}`);
  }
  const headers = new Headers();
  const add = (name: unknown, value: unknown): void => {
    if (typeof name !== 'string') throw new TypeError(`${where}: header name must be a string, got ${describe(name)}`);
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new TypeError(`${where}: header ${JSON.stringify(name)} must have a string value, got ${describe(value)}`);
    }
    const text = String(value);
    checkHeader(name, text, where);
    headers.append(name, text);
  };
  if (init instanceof Headers) {
    init.forEach((value, name) => add(name, value));
  } else if (typeof (init as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') {
    // Pairs: an array, a Map, or another Headers class (npm undici's, a polyfill's), not a record.
    for (const pair of init as Iterable<unknown>) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError(`${where}: each header entry must be a [name, value] pair, got ${describe(pair)}`);
      }
      add(pair[0], pair[1]);
    }
  } else {
    for (const [name, value] of Object.entries(init)) {
      if (value !== undefined) add(name, value);
    }
  }
  return headers;
}

/** `base` overlaid with `over`: a name set in `over` replaces it in `base`. */
export function mergeHeaders(base: Headers, over: Headers): Headers {
  const merged = new Headers(base);
  const seen = new Set<string>();
  over.forEach((value, name) => {
    if (!seen.has(name)) {
      merged.delete(name);
      seen.add(name);
    }
    merged.append(name, value);
  });
  return merged;
}

/** Options of `makeHeaders`, after urllib3's `make_headers`. */
export interface MakeHeadersOptions {
  /** `connection: keep-alive`. */
  keepAlive?: boolean;
  /** `true` for the encodings both adapters decode, or your own list. */
  acceptEncoding?: boolean | string | readonly string[];
  userAgent?: string;
  /** `'user:password'` for `authorization: Basic …`. */
  basicAuth?: string;
  /** `'user:password'` for `proxy-authorization: Basic …`. */
  proxyBasicAuth?: string;
  /** `cache-control: no-cache`. */
  disableCache?: boolean;
}

/**
 * Both adapters decode these: the Node adapter with zlib, fetch natively.
 * (zstd is left out: Node 20's zlib cannot decode it.)
 */
const DECODED_ENCODINGS = 'gzip, deflate, br';

/** Builds common request headers as a plain object with lower-case names. */
export function makeHeaders(options: MakeHeadersOptions = {}): Record<string, string> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`makeHeaders options must be an object, got ${describe(options)}`);
  }
  const known = new Set(['keepAlive', 'acceptEncoding', 'userAgent', 'basicAuth', 'proxyBasicAuth', 'disableCache']);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`Unknown makeHeaders option ${JSON.stringify(key)}`);
  }
  const out: Record<string, string> = {};
  const { acceptEncoding, keepAlive, userAgent, basicAuth, proxyBasicAuth, disableCache } = options;
  // A wrong type would otherwise become a wrong header (`proxyBasicAuth: null` → "Basic bnVsbA==").
  for (const [name, value] of [['keepAlive', keepAlive], ['disableCache', disableCache]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`makeHeaders ${name} must be a boolean, got ${describe(value)}`);
  }
  for (const [name, value] of [['userAgent', userAgent], ['basicAuth', basicAuth], ['proxyBasicAuth', proxyBasicAuth]] as const) {
    if (value !== undefined && typeof value !== 'string') throw new TypeError(`makeHeaders ${name} must be a string, got ${describe(value)}`);
  }
  if (
    acceptEncoding !== undefined &&
    typeof acceptEncoding !== 'boolean' &&
    typeof acceptEncoding !== 'string' &&
    !(Array.isArray(acceptEncoding) && acceptEncoding.every((e) => typeof e === 'string'))
  ) {
    throw new TypeError(`makeHeaders acceptEncoding must be a boolean, a string or an array of strings, got ${describe(acceptEncoding)}`);
  }
  if (acceptEncoding !== undefined && acceptEncoding !== false) {
    out['accept-encoding'] = acceptEncoding === true
      ? DECODED_ENCODINGS
      : typeof acceptEncoding === 'string' ? acceptEncoding : acceptEncoding.join(',');
  }
  if (userAgent !== undefined) out['user-agent'] = userAgent;
  if (keepAlive === true) out['connection'] = 'keep-alive';
  if (basicAuth !== undefined) out['authorization'] = `Basic ${base64(basicAuth)}`;
  if (proxyBasicAuth !== undefined) out['proxy-authorization'] = `Basic ${base64(proxyBasicAuth)}`;
  if (disableCache === true) out['cache-control'] = 'no-cache';
  for (const [name, value] of Object.entries(out)) checkHeader(name, value, 'makeHeaders');
  return out;
}

/** UTF-8 safe base64 (`btoa` alone takes only Latin-1). */
export function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
