/**
 * Redirects followed hop by hop, wherever the runtime shows the 3xx (Node's
 * undici, and `redirect: 'manual'` in Node's fetch, Deno, Bun and workerd;
 * browsers answer manual with an opaque redirect and follow by themselves):
 * what a redirect does to the next request (RFC 9110 §15.4, and urllib3's
 * `Retry.remove_headers_on_redirect`), and the follower both entries hand
 * the core (src/redirect-follower.ts).
 */
import { LocationValueError, MaxRetryError } from './errors.js';
import { describe, parseUrl } from './pool-key.js';
import { hasCredentials, withoutCredentials } from './credentials.js';
import { NativeHeaders } from './headers.js';
import { redactCredentials } from './redact.js';
import type { FetchHop, RedirectFollower, RequestHop } from './redirect-follower.js';
import type { PoolResponse } from './response.js';
import type { WireResponse } from './transport.js';

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
    throw new LocationValueError(`Invalid Location header ${describe(location)} in the redirect from ${from.href}`, {
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
  const next = new NativeHeaders(headers);
  if (crossOrigin) for (const name of CREDENTIAL_HEADERS) next.delete(name);
  if (dropBody) for (const name of BODY_HEADERS) next.delete(name);
  return next;
}

/**
 * The Node adapter's redirect follower: undici follows no redirects for a
 * pool, so the core follows them here, hop by hop, each hop through its own
 * origin's pool (and counted there).
 */
export const followRedirects: RedirectFollower = {
  request(run, response) {
    // Headers are read only for the statuses that need them: a Headers lookup is not free per request.
    const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
    if (location === null) return undefined;
    let nextUrl: URL;
    try {
      nextUrl = redirectTarget(location, run.url, run.method);
    } catch (error) {
      return response.discard().then(() => Promise.reject(error));
    }
    return run.serves(nextUrl) ? requestHop(run, response, nextUrl) : undefined;
  },

  fetch(run, response) {
    const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
    return location === null ? undefined : fetchHop(run, response, location);
  },
};

async function requestHop(run: RequestHop, response: WireResponse, nextUrl: URL): Promise<PoolResponse | true> {
  const next = redirectMethod(response.status, run.method);
  try {
    run.spendHop();
  } catch (error) {
    const kept = run.keep(response);
    if (kept !== undefined) return await kept;
    await response.discard();
    throw error;
  }
  await response.discard();
  if (!next.dropBody && run.body !== null && !run.replayable) {
    throw new TypeError(
      redactCredentials(`Cannot follow the ${response.status} redirect from ${run.url.href} to ${nextUrl.href}: `) +
        'the request body was a ReadableStream and is spent; send a string or bytes, or pass redirect: false',
    );
  }
  hop(run, next, nextUrl);
  return true;
}

async function fetchHop(run: FetchHop, response: Response, location: string): Promise<boolean> {
  const { url, method } = run;
  if (run.mode === 'error') {
    await response.body?.cancel();
    // As the runtime's fetch words it: code that tells network errors by message sees one.
    throw new TypeError('fetch failed', {
      cause: new Error(`unexpected redirect: ${redactCredentials(url.href)} answered ${response.status} and the redirect mode is 'error'`),
    });
  }
  let nextUrl: URL;
  try {
    nextUrl = redirectTarget(location, url, method);
  } catch (error) {
    await response.body?.cancel();
    throw error;
  }
  // A manager made with redirect: false hands back the 3xx, as request() does.
  if (!run.serves(nextUrl) || run.limit === 0) return false;
  if (run.redirects.length >= run.limit) {
    await response.body?.cancel();
    throw new MaxRetryError(new Error(`too many redirects (more than ${run.limit})`), { method, url: url.href });
  }
  const next = redirectMethod(response.status, method, 'fetch');
  await response.body?.cancel();
  if (!next.dropBody && run.body !== null && !run.replayable) {
    throw new TypeError(`Cannot follow the ${response.status} redirect from ${url.href}: the request body was a stream and is spent`);
  }
  // fetch refuses a URL with credentials; a Location that carries some is followed without them.
  hop(run, next, hasCredentials(nextUrl) ? withoutCredentials(nextUrl) : nextUrl);
  return true;
}

/** Moves `run` on to `to`: method and body as the status says, credentials left behind on another origin. */
function hop(run: RequestHop | FetchHop, next: { method: string; dropBody: boolean }, to: URL): void {
  run.headers = redirectHeaders(run.headers, run.url, to, next.dropBody);
  if (next.dropBody) run.body = null;
  run.method = next.method;
  run.url = to;
  run.redirects.push(redactCredentials(to.href));
}
