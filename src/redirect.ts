/**
 * What a redirect does to the next request (RFC 9110 §15.4, and urllib3's
 * `Retry.remove_headers_on_redirect`).
 */
import { LocationValueError } from './errors.js';
import { parseUrl } from './pool-key.js';

export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Sent only to the origin they were meant for. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];
/** Describe a body that 301/302/303 drop. */
const BODY_HEADERS = [
  'content-type', 'content-length', 'content-encoding', 'content-language', 'content-location', 'transfer-encoding',
  'digest', 'last-modified',
];

/** The next URL, or a clear error when `Location` is unusable (never followed to a non-http scheme). */
export function redirectTarget(location: string, from: URL, method: string): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch (cause) {
    throw new LocationValueError(`Invalid Location header ${JSON.stringify(location)} in the redirect from ${from.href}`, {
      cause,
      method,
      url: from.href,
    });
  }
  return parseUrl(next, method);
}

/**
 * `request()`: 301/302/303 turn anything but GET and HEAD into GET without a
 * body (what servers mean by them, and what requests/ky users expect);
 * 307/308 keep both. `fetch` rules (for `manager.fetch`, so that Node and
 * browsers agree): 301/302 change only POST, 303 anything but GET and HEAD.
 */
export function redirectMethod(status: number, method: string, rules: 'request' | 'fetch' = 'request'): { method: string; dropBody: boolean } {
  const changes = status === 303
    ? method !== 'GET' && method !== 'HEAD'
    : (status === 301 || status === 302) && (rules === 'fetch' ? method === 'POST' : method !== 'GET' && method !== 'HEAD');
  return changes ? { method: 'GET', dropBody: true } : { method, dropBody: false };
}

/** The headers for the next hop: credentials stay behind when the origin changes, body headers when the body does. */
export function redirectHeaders(headers: Headers, from: URL, to: URL, dropBody: boolean): Headers {
  const crossOrigin = from.origin !== to.origin;
  if (!crossOrigin && !dropBody) return headers;
  const next = new Headers(headers);
  if (crossOrigin) for (const name of CREDENTIAL_HEADERS) next.delete(name);
  if (dropBody) for (const name of BODY_HEADERS) next.delete(name);
  return next;
}
