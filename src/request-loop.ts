/**
 * `request()`: check the input, then send it through the right pool, again
 * after a retryable failure and once per redirect hop. A manager and a pool
 * share this loop and differ only in `route`: a manager routes every URL to
 * its pool, a pool only its own origin (urllib3's split between
 * `PoolManager.urlopen` and `HTTPConnectionPool.urlopen`).
 */
import { ConnectTimeoutError, NewConnectionError, ProtocolError, ReadTimeoutError } from './errors.js';
import { mergeHeaders, normalizeHeaders } from './headers.js';
import { prepareBody } from './body.js';
import { checkMethod } from './methods.js';
import { normalizeRedirect, type ResolvedOptions } from './options.js';
import { describe, parseUrl } from './pool-key.js';
import { REDIRECT_STATUSES, redirectHeaders, redirectMethod, redirectTarget } from './redirect.js';
import { PoolResponse } from './response.js';
import { normalizeRetry, RetryBudget, type RetryCause } from './retry.js';
import { normalizeTimeout, type ResolvedTimeout } from './timeout.js';
import type { WireBody, WireRequest, WireResponse } from './transport.js';
import type { RequestOptions } from './types.js';
import type { ConnectionPool } from './connection-pool.js';

/** What the loop needs from whoever runs it. */
export interface RequestContext {
  readonly options: ResolvedOptions;
  /** The pool that serves `url`, or undefined where this requester does not follow. */
  route(url: URL): ConnectionPool | undefined;
  /** Waits between retries; injectable so tests need not wait. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const KNOWN = new Set(['body', 'json', 'headers', 'retries', 'timeout', 'redirect', 'signal', 'preloadContent']);

/** Checks the per-request options against the manager's. */
function resolveRequest(ctx: RequestContext, options: RequestOptions) {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`request options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`Unknown request option ${JSON.stringify(key)}`);
  }
  const base = ctx.options;
  const { signal, preloadContent = true } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`signal must be an AbortSignal, got ${describe(signal)}`);
  }
  if (typeof preloadContent !== 'boolean') {
    throw new TypeError(`preloadContent must be a boolean, got ${describe(preloadContent)}`);
  }
  return {
    headers: options.headers === undefined ? base.headers : mergeHeaders(base.headers, normalizeHeaders(options.headers, 'headers')),
    retry: normalizeRetry(options.retries, 'retries', base.retry),
    timeout: normalizeTimeout(options.timeout, 'timeout', base.timeout),
    redirect: options.redirect === undefined ? base.redirect : normalizeRedirect(options.redirect, 'redirect', base.redirect),
    signal,
    preloadContent,
  };
}

/** Which retry counter a failure spends, or undefined when it is not retryable at all. */
function failureKind(error: unknown): 'connect' | 'read' | undefined {
  if (error instanceof NewConnectionError || error instanceof ConnectTimeoutError) return 'connect';
  if (error instanceof ProtocolError || error instanceof ReadTimeoutError) return 'read';
  return undefined;
}

export async function runRequest(
  ctx: RequestContext,
  method: string,
  url: string | URL,
  options: RequestOptions = {},
): Promise<PoolResponse> {
  let currentMethod = checkMethod(method);
  let currentUrl = parseUrl(url, currentMethod);
  const resolved = resolveRequest(ctx, options);
  let prepared = prepareBody(options.body, options.json, 'json' in options);
  if (prepared instanceof Promise) prepared = await prepared;
  let headers = resolved.headers;
  if (prepared.contentType !== undefined && !headers.has('content-type')) {
    headers = new Headers(headers);
    headers.set('content-type', prepared.contentType);
  }
  let body: WireBody | null = prepared.body;
  const { signal, cleanup } = withTotalTimeout(resolved.signal, resolved.timeout, () => ({
    method: currentMethod,
    url: currentUrl.href,
  }));
  const budget = new RetryBudget(resolved.retry, resolved.redirect);
  const redirects: string[] = [];
  try {
    for (;;) {
      const pool = ctx.route(currentUrl);
      if (pool === undefined) throw new Error(`poolfetch bug: no pool routes ${currentUrl.href}`);
      const where = { method: currentMethod, url: currentUrl.href };
      const wire: WireRequest = { method: currentMethod, url: currentUrl, headers, body, signal, timeout: resolved.timeout };
      let response: WireResponse;
      try {
        response = await pool.exchange(wire);
      } catch (error) {
        if (signal?.aborted === true) throw signal.reason;
        const failure = error;
        const kind = failureKind(failure);
        const safe = kind === 'connect' || (kind === 'read' && budget.canRetryRead(currentMethod) && prepared.replayable);
        if (!resolved.retry.enabled || kind === undefined || !safe) throw failure;
        const cause: RetryCause = { kind, error: failure as Error };
        await ctx.sleep(budget.spend(cause, where), signal);
        continue;
      }

      const location = response.headers.get('location');
      if (REDIRECT_STATUSES.has(response.status) && location !== null && resolved.redirect > 0) {
        const nextUrl = redirectTarget(location, currentUrl, currentMethod);
        if (ctx.route(nextUrl) !== undefined && !pool.followsRedirects) {
          const next = redirectMethod(response.status, currentMethod);
          if (!next.dropBody && !prepared.replayable && body !== null) {
            await response.discard();
            throw new TypeError(
              `Cannot follow the ${response.status} redirect from ${currentUrl.href} to ${nextUrl.href}: ` +
                'the request body was a stream and is spent; send a string or bytes, or pass redirect: false',
            );
          }
          await response.discard();
          budget.spend({ kind: 'redirect' }, where);
          headers = redirectHeaders(headers, currentUrl, nextUrl, next.dropBody);
          if (next.dropBody) body = null;
          currentMethod = next.method;
          currentUrl = nextUrl;
          redirects.push(nextUrl.href);
          continue;
        }
      }

      if (budget.isRetryableStatus(currentMethod, response.status) && prepared.replayable) {
        let delay: number;
        try {
          delay = budget.spend({ kind: 'status', status: response.status, retryAfter: response.headers.get('retry-after') }, where);
        } catch (error) {
          if (!resolved.retry.raiseOnStatus) return await finish(response, currentUrl, redirects, resolved.preloadContent);
          await response.discard();
          throw error;
        }
        await response.discard();
        await ctx.sleep(delay, signal);
        continue;
      }
      return await finish(response, currentUrl, redirects, resolved.preloadContent);
    }
  } catch (error) {
    throw abortReasonOr(error, signal);
  } finally {
    if (resolved.preloadContent) cleanup();
  }
}

async function finish(response: WireResponse, url: URL, redirects: string[], preload: boolean): Promise<PoolResponse> {
  const init = { status: response.status, statusText: response.statusText, headers: response.headers, url: url.href, redirects };
  return preload ? new PoolResponse({ ...init, data: await response.bytes() }) : new PoolResponse({ ...init, body: response.stream() });
}

/**
 * The caller's signal, joined with one that fires after `timeout.total`.
 * The abort reason is the `ReadTimeoutError` itself, so whatever a transport
 * or a body stream throws on abort is already the right error.
 */
function withTotalTimeout(
  signal: AbortSignal | undefined,
  timeout: ResolvedTimeout,
  where: () => { method: string; url: string },
): { signal: AbortSignal | undefined; cleanup: () => void } {
  const total = timeout.total;
  if (total === undefined) return { signal, cleanup: noop };
  const controller = new AbortController();
  const timer = setTimeout(() => {
    const { method, url } = where();
    controller.abort(new ReadTimeoutError(`Request exceeded the total timeout of ${total} ms (${method} ${url})`, { method, url, timeout: total }));
  }, total);
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted === true) controller.abort(signal.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    cleanup: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** After an abort, the abort's reason is the error, whatever the transport wrapped it in. */
function abortReasonOr(error: unknown, signal: AbortSignal | undefined): unknown {
  return signal?.aborted === true ? signal.reason : error;
}

function noop(): void {}
