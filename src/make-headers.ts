/**
 * `makeHeaders`, after urllib3's `make_headers`: common request headers as a
 * plain object with lower-case names. A module of its own, so a bundle that
 * does not import it does not carry it.
 */
import { base64, checkHeader } from './headers.js';
import { describe } from './pool-key.js';

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
