/** Request method checks shared by `request()` and `fetch()`. */
import { TOKEN } from './checks.js';
import { describe } from './pool-key.js';

/** Fetch upper-cases these whatever case they come in; every other method is case-sensitive. */
const NORMALISED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH']);
/** Fetch forbids these; CONNECT would also turn a pooled connection into a tunnel. */
const FORBIDDEN = new Set(['CONNECT', 'TRACE', 'TRACK']);

/**
 * Checks a method and returns it as it goes on the wire. The standard
 * methods are accepted in any case (`get` → `GET`, and unlike fetch also
 * `patch` → `PATCH`, whose lower-case form servers reject); any other
 * method must be an upper-case token, since a lower-case one is almost
 * always a typo that a server would answer with 400 or 405.
 */
export function checkMethod(method: unknown): string {
  // The common case at once: an upper-case standard method is a token, allowed, and sent as it is.
  if (typeof method === 'string' && NORMALISED.has(method)) return method;
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw new TypeError(`method must be an HTTP token such as 'GET', got ${describe(method)}`);
  }
  const upper = method.toUpperCase();
  if (FORBIDDEN.has(upper)) throw new TypeError(`method ${describe(method)} is not allowed`);
  if (NORMALISED.has(upper)) return upper;
  if (upper !== method) {
    throw new TypeError(`method ${describe(method)} must be upper-case: non-standard methods are case-sensitive`);
  }
  return method;
}
