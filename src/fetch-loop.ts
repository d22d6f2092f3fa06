/**
 * `fetch()` through the pools: a standard fetch whose every hop takes a
 * slot in its origin's pool, and which the caller cannot tell from the
 * runtime's own: the same bytes on the wire (a body of known length goes
 * with its `Content-Length`, only a stream goes chunked) and the same error
 * contract (src/fetch-errors.ts). Where the runtime shows a 3xx (Node,
 * Deno, Bun, workerd) redirects are followed hop by hop by the follower
 * (src/redirects.ts), so each hop is counted in its own pool; in browsers
 * the browser follows them itself. No retries: code that calls fetch brings
 * its own (ky's, for one).
 */
import { LocationValueError } from './errors.js';
import { asFetchError } from './fetch-errors.js';
import { checkMethod } from './methods.js';
import { authorizeFromUrl, hasCredentials, withoutCredentials } from './credentials.js';
import { mergeHeaders, NativeHeaders, normalizeHeaders, refuseClientHeaders } from './headers.js';
import { describe, parseUrl } from './pool-key.js';
import type { RequestContext } from './loop-context.js';
import type { FetchHop } from './redirect-follower.js';
import { redactCredentials } from './redact.js';
import { withTotalTimeout } from './timeout.js';
import { noop, rebody, whenDone } from './watch-body.js';
import type { WireFetch } from './transport.js';

/** Request fields a browser's fetch uses and the core passes through untouched. */
const PASSED_THROUGH = ['cache', 'credentials', 'integrity', 'keepalive', 'mode', 'referrer', 'referrerPolicy', 'priority'] as const;

/** fetch's own hop limit (the Fetch standard's 20), which `manager.fetch` keeps whatever `redirect` says for `request()`. */
const FETCH_REDIRECTS = 20;

export async function runFetch(
  ctx: RequestContext,
  input: string | URL | Request,
  init: RequestInit | undefined,
  check?: (url: URL) => void,
): Promise<Response> {
  // Every failure as fetch's (src/fetch-errors.ts), caught here rather than by a .catch() on this
  // call: that would be one more promise and turn per request, CPU a Worker pays for.
  try {
    // Headers would strip a trailing CRLF silently; a header injection must fail instead. Checked as
    // given: a browser's Request drops the headers only the client may set without a word.
    if (init?.headers != null) refuseClientHeaders(init.headers instanceof NativeHeaders ? init.headers : normalizeHeaders(init.headers, 'fetch headers'), 'fetch headers');
    if (input instanceof Request) refuseClientHeaders(input.headers, 'fetch headers');
    // fetch refuses a URL with credentials: they become `authorization`, which a redirect to another origin drops.
    const given = typeof input === 'string' ? (input.includes('@') ? absoluteUrl(input) : undefined) : input instanceof URL ? input : undefined;
    const credentialed = given !== undefined && hasCredentials(given) ? given : undefined;
    if (credentialed !== undefined) input = withoutCredentials(credentialed);
    let request: RequestParts | undefined = plainRequest(input, init);
    if (request === undefined) try {
      request = new Request(input instanceof URL ? input.href : input, init);
    } catch (error) {
      if (typeof input === 'string' && !URL.canParse(input, globalThis.location?.href)) {
        // The runtime's error quotes the input, and with it any password: left out then.
        throw new LocationValueError(`No host specified in URL ${JSON.stringify(input)}: use an absolute http(s) URL`, {
          ...(input.includes('@') ? {} : { cause: error }),
          url: input,
        });
      }
      const method = String(init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
      if ((method === 'GET' || method === 'HEAD') && init?.body !== undefined && init.body !== null) {
        const target = input instanceof Request ? input.url : String(input);
        throw new TypeError(
          `fetch: a ${method} request cannot have a body (${method} ${target}, body ${describe(init.body)}); ` +
            'send it with POST or PUT, or use manager.request(), which allows it on Node',
          { cause: error },
        );
      }
      throw error;
    }
    const method = checkMethod(request.method);
    const url = parseUrl(request.url, method);
    check?.(url);
    // Only a body that must be read first costs a turn: a request goes into its pool's line in the caller's turn.
    let toSend = bodyToSend(request, init?.body);
    if (toSend instanceof Promise) toSend = await toSend;
    const { body, replayable } = toSend;
    /** What goes out now; a redirect hop taken here changes it. */
    // The manager's headers as they are when the request has none: nothing here changes them in place.
    let headers = request.headers === NO_HEADERS ? ctx.options.headers : withManagerHeaders(ctx.options.headers, request.headers);
    // A plain call (no headers, no body) has no content-length of its own to check.
    if (request.headers !== NO_HEADERS && !(body instanceof ReadableStream)) headers = checkedLength(headers, body, method, url);
    const run: FetchHop = {
      method,
      url,
      headers: credentialed === undefined ? headers : authorizeFromUrl(headers, credentialed),
      body,
      redirects: [],
      replayable,
      mode: request.redirect,
      // A manager made with redirect: false hands the 3xx back, as request() does.
      limit: ctx.options.redirect === 0 ? 0 : FETCH_REDIRECTS,
      serves: (target) => ctx.route(target) !== undefined,
    };
    const passed: RequestInit = {};
    for (const field of PASSED_THROUGH) {
      const value = (init as Record<string, unknown> | undefined)?.[field];
      if (value !== undefined) (passed as Record<string, unknown>)[field] = value;
    }
    const timeout = withTotalTimeout(request.signal, ctx.options.timeout.total, run);
    const ticket = ctx.begin?.();
    const follower = ctx.options.redirectFollower;
    try {
      // The hops inline rather than in an async function of their own: each async layer is a promise
      // and a turn per request, which in workerd is CPU billed per subrequest.
      let response: Response;
      for (;;) {
        const pool = ctx.route(run.url);
        if (pool === undefined) throw new Error(`poolfetch bug: no pool routes ${run.url.href}`);
        const followHere = follower !== undefined && !pool.followsRedirects;
        const hopBody = run.body;
        const call: WireFetch = {
          url: run.url,
          init: {
            ...passed,
            method: run.method,
            headers: run.headers,
            body: hopBody,
            signal: timeout.signal ?? null,
            redirect: followHere ? 'manual' : run.mode,
            ...(hopBody instanceof ReadableStream ? { duplex: 'half' } : {}),
          },
          timeout: ctx.options.timeout,
          maxResponseSize: ctx.options.maxResponseSize,
        };
        response = await pool.fetchOnce(call);
        const hop = followHere && run.mode !== 'manual' ? follower.fetch(run, response) : undefined;
        if (hop === undefined || !(await hop)) break;
      }
      if (run.redirects.length > 0) response = markRedirected(response, run.url);
      // The total limit covers the body too: it ends when the body does. An abort errors
      // the body at once and frees the slot, even while nobody reads it.
      const abortable = init?.signal != null || input instanceof Request || timeout.cleanup !== noop;
      if (!abortable || response.body === null) {
        timeout.cleanup();
        return response;
      }
      return rebody(response, whenDone(response.body, timeout.cleanup, timeout.signal));
    } catch (error) {
      timeout.cleanup();
      throw timeout.signal?.aborted === true ? timeout.signal.reason : error;
    } finally {
      if (ticket !== undefined) ctx.end?.(ticket);
    }
  } catch (error) {
    throw asFetchError(error);
  }
}

/**
 * The body as the runtime's fetch would frame it. A stream is sent as it
 * comes (chunked, `duplex: 'half'`) and only once. Every other init body goes
 * as given, and the transport's fetch sends it with its `Content-Length`,
 * except a `FormData`, sent as the bytes the runtime encodes it to (with the
 * boundary of the content-type the Request set): undici's own fetch, under
 * the Node entry, cannot read the global `FormData`. A `Request`'s body is a
 * stream whatever it was made from, so it is read whole first and goes with
 * its length too (a Request made over a stream is read whole as well: pass
 * the stream in `init.body` to stream it).
 */
function bodyToSend(request: RequestParts, given: BodyInit | null | undefined): ToSend | Promise<ToSend> {
  if (given !== undefined && given !== null) {
    if (given instanceof ReadableStream) return { body: given, replayable: false };
    if (typeof FormData === 'undefined' || !(given instanceof FormData)) return { body: given, replayable: true };
  } else if (request.body === null) {
    return NO_BODY;
  }
  return (request as Request).arrayBuffer().then((bytes) => ({ body: new Uint8Array(bytes), replayable: true }));
}

interface ToSend {
  readonly body: BodyInit | null;
  readonly replayable: boolean;
}

const NO_BODY: ToSend = { body: null, replayable: true };

/** The request's headers over the manager's, with no global constructor called when the manager has none. */
function withManagerHeaders(base: Headers, own: Headers): Headers {
  return base.keys().next().done === true ? own : mergeHeaders(base, own);
}

const DIGITS = /^\d+$/;

/**
 * A caller's `content-length` that the body does not have would make the
 * runtime wait for bytes that never come, or cut the body short: refused
 * before anything is sent. Without a body it is dropped, as Node's fetch
 * drops it.
 */
function checkedLength(headers: Headers, body: Exclude<BodyInit, ReadableStream> | null, method: string, url: URL): Headers {
  const declared = headers.get('content-length');
  if (declared === null) return headers;
  if (body === null) {
    if (declared.trim() === '0') return headers;
    const without = new NativeHeaders(headers);
    without.delete('content-length');
    return without;
  }
  const actual = byteLength(body);
  if (!DIGITS.test(declared.trim()) || Number(declared.trim()) !== actual) {
    // As Node's fetch rejects it where it does not hang: its message, and undici's code for the mismatch.
    const mismatch = new TypeError(
      redactCredentials(`content-length ${JSON.stringify(declared)} does not match the body's ${actual} bytes (${method} ${url.href}): `) +
        'leave content-length out and fetch sets it',
    );
    throw new TypeError('fetch failed', { cause: Object.assign(mismatch, { code: 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' }) });
  }
  return headers;
}

/** Bytes of a body of known length, as fetch counts them. */
function byteLength(body: Exclude<BodyInit, ReadableStream>): number {
  if (typeof body === 'string') return new TextEncoder().encode(body).byteLength;
  if (body instanceof URLSearchParams) return new TextEncoder().encode(body.toString()).byteLength;
  if (typeof Blob !== 'undefined' && body instanceof Blob) return body.size;
  return (body as ArrayBufferLike | ArrayBufferView).byteLength;
}

/** The parts of a `Request` the loop reads; no signal when the caller gave none (an AbortSignal is not free). */
type RequestParts = Pick<Request, 'method' | 'url' | 'headers' | 'body' | 'redirect'> & {
  readonly signal: AbortSignal | undefined;
};

/** The init keys a body-less request may have and still skip building a `Request`. */
const PLAIN_INIT = new Set(['method', 'headers', 'signal', 'redirect']);
const REDIRECT_MODES = new Set(['follow', 'error', 'manual']);
const NO_HEADERS = new NativeHeaders();

/**
 * A body-less fetch to an absolute URL, as `new Request(input, init)` would
 * see it, without building one: a `Request` costs more than a whole request
 * over a kept-alive socket. Anything else (a Request input, a body, another
 * init key, a relative URL, credentials in the URL) returns undefined and
 * goes through `new Request`, which also gives the standard errors.
 */
function plainRequest(input: string | URL | Request, init: RequestInit | undefined): RequestParts | undefined {
  if (typeof input !== 'string' && !(input instanceof URL)) return undefined;
  if (init !== undefined) {
    for (const key in init) {
      if (!PLAIN_INIT.has(key) && (init as Record<string, unknown>)[key] !== undefined) return undefined;
    }
    if (init.redirect !== undefined && !REDIRECT_MODES.has(init.redirect)) return undefined;
    if (init.signal != null && !(init.signal instanceof AbortSignal)) return undefined;
  }
  // A string through parseUrl's cache: the loop parses it there next, and a Worker calls the same few
  // URLs over and over (each parse and each getter is a call into the runtime). A scheme it refuses
  // goes through new Request, which gives the standard errors.
  let url: URL;
  try {
    url = parseUrl(input);
  } catch {
    return undefined;
  }
  if ((typeof input !== 'string' || input.includes('@')) && (url.username !== '' || url.password !== '')) return undefined;
  return {
    method: init?.method ?? 'GET',
    url: typeof input === 'string' ? input : url.href,
    headers: init?.headers === undefined ? NO_HEADERS : new NativeHeaders(init.headers),
    body: null,
    redirect: init?.redirect ?? 'follow',
    signal: init?.signal ?? undefined,
  };
}

/** The URL when `input` is absolute (one parse; `URL.canParse` first would be a second). */
function absoluteUrl(input: string): URL | undefined {
  try {
    return new URL(input);
  } catch {
    return undefined;
  }
}

/** A Response cannot be built with `url` and `redirected` set; set them on the instance as fetch would. */
function markRedirected(response: Response, url: URL): Response {
  Object.defineProperty(response, 'url', { value: url.href, configurable: true });
  Object.defineProperty(response, 'redirected', { value: true, configurable: true });
  return response;
}
