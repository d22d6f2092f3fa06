/**
 * `fetch()` through the pools: a standard fetch whose every hop takes a
 * slot in its origin's pool. Where the runtime lets us (Node), redirects are
 * followed here, hop by hop, so each hop is counted in its own pool; in
 * browsers the browser follows them itself. No retries: code that calls
 * fetch brings its own (ky's, for one).
 */
import { LocationValueError, MaxRetryError } from './errors.js';
import { checkMethod } from './methods.js';
import { normalizeHeaders } from './headers.js';
import { parseUrl } from './pool-key.js';
import { REDIRECT_STATUSES, redirectHeaders, redirectMethod, redirectTarget } from './redirect.js';
import type { RequestContext } from './request-loop.js';
import type { WireFetch } from './transport.js';

/** Request fields a browser's fetch uses and the core passes through untouched. */
const PASSED_THROUGH = ['cache', 'credentials', 'integrity', 'keepalive', 'mode', 'referrer', 'referrerPolicy', 'priority'] as const;

export async function runFetch(
  ctx: RequestContext,
  input: string | URL | Request,
  init: RequestInit | undefined,
  check?: (url: URL) => void,
): Promise<Response> {
  // Headers would strip a trailing CRLF silently; a header injection must fail instead.
  if (init?.headers !== undefined && !(init.headers instanceof Headers)) normalizeHeaders(init.headers, 'fetch headers');
  let request: Request;
  try {
    request = new Request(input instanceof URL ? input.href : input, init);
  } catch (error) {
    if (typeof input === 'string' && !URL.canParse(input, globalThis.location?.href)) {
      throw new LocationValueError(`No host specified in URL ${JSON.stringify(input)}: use an absolute http(s) URL`, { cause: error, url: input });
    }
    throw error;
  }
  let method = checkMethod(request.method);
  let url = parseUrl(request.url, method);
  check?.(url);
  let headers = new Headers(ctx.options.headers);
  request.headers.forEach((value, name) => headers.set(name, value));
  // Keep a body we can send again (a string, bytes) rather than the Request's one-shot stream.
  const initBody = init?.body;
  const replayable = initBody !== undefined && initBody !== null && !(initBody instanceof ReadableStream);
  let body: BodyInit | null = replayable ? initBody : request.body;
  const mode = request.redirect;
  const passed: RequestInit = {};
  for (const field of PASSED_THROUGH) {
    const value = (init as Record<string, unknown> | undefined)?.[field];
    if (value !== undefined) (passed as Record<string, unknown>)[field] = value;
  }
  const redirects: string[] = [];
  for (;;) {
    const pool = ctx.route(url);
    if (pool === undefined) throw new Error(`poolfetch bug: no pool routes ${url.href}`);
    const followHere = !pool.followsRedirects;
    const call: WireFetch = {
      url,
      init: {
        ...passed,
        method,
        headers,
        body,
        signal: request.signal,
        redirect: followHere ? 'manual' : mode,
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      },
      timeout: ctx.options.timeout,
    };
    const response = await pool.fetchOnce(call);
    const location = response.headers.get('location');
    if (!followHere || mode === 'manual' || !REDIRECT_STATUSES.has(response.status) || location === null) {
      return redirects.length === 0 ? response : markRedirected(response, url);
    }
    const where = { method, url: url.href };
    if (mode === 'error') {
      await response.body?.cancel();
      throw new TypeError(`fetch failed: ${url.href} redirected with ${response.status} and the redirect mode is 'error'`);
    }
    const nextUrl = redirectTarget(location, url, method);
    if (ctx.route(nextUrl) === undefined) return markRedirected(response, url);
    if (redirects.length >= ctx.options.redirect) {
      await response.body?.cancel();
      throw new MaxRetryError(new Error('too many redirects'), where);
    }
    const next = redirectMethod(response.status, method);
    await response.body?.cancel();
    if (!next.dropBody && body !== null && !replayable) {
      throw new TypeError(`Cannot follow the ${response.status} redirect from ${url.href}: the request body was a stream and is spent`);
    }
    headers = redirectHeaders(headers, url, nextUrl, next.dropBody);
    if (next.dropBody) body = null;
    method = next.method;
    url = nextUrl;
    redirects.push(url.href);
  }
}

/** A Response cannot be built with `url` and `redirected` set; set them on the instance as fetch would. */
function markRedirected(response: Response, url: URL): Response {
  Object.defineProperty(response, 'url', { value: url.href });
  Object.defineProperty(response, 'redirected', { value: true });
  return response;
}
