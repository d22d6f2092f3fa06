/**
 * Credentials in a request URL (`http://user:pass@host/`): sent as
 * `Authorization: Basic` to that origin, as curl, Node's `http` and axios
 * do, and taken out of the URL that goes to the runtime (fetch refuses such
 * a URL; undici would drop them silently).
 */
import { LocationValueError } from './errors.js';
import { base64, NativeHeaders } from './headers.js';

/** True when `url` has a user name or a password. */
export function hasCredentials(url: URL): boolean {
  return url.username !== '' || url.password !== '';
}

/** `url` without its user name and password (a copy: the caller's URL is never changed). */
export function withoutCredentials(url: URL): URL {
  const bare = new URL(url.href);
  bare.username = bare.password = '';
  return bare;
}

/**
 * `headers` with `authorization: Basic` from `url`'s credentials, unless
 * they already have an `authorization` (the request's own wins, as in curl).
 */
export function authorizeFromUrl(headers: Headers, url: URL): Headers {
  if (headers.has('authorization')) return headers;
  let pair: string;
  try {
    pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  } catch (cause) {
    // The message must not repeat the credentials, even malformed ones.
    throw new LocationValueError(`Credentials in ${url.origin} URL: not valid percent-encoding`, { cause });
  }
  const authorized = new NativeHeaders(headers);
  authorized.set('authorization', `Basic ${base64(pair)}`);
  return authorized;
}
