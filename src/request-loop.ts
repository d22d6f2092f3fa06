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
import { mayHaveBeenSent, normalizeRetry, RETRY_AFTER_STATUSES, RetryBudget } from './retry.js';
import { normalizeTimeout, withTotalTimeout } from './timeout.js';
import type { WireBody, WireRequest, WireResponse } from './transport.js';
import type { RequestOptions } from './types.js';
import type { ConnectionPool } from './connection-pool.js';
import { noop, whenCollected, whenDone } from './watch-body.js';

/** What the loop needs from whoever runs it. */
export interface RequestContext {
  readonly options: ResolvedOptions;
  /** The pool that serves `url`, or undefined where this requester does not follow. */
  route(url: URL): ConnectionPool | undefined;
  /** Waits between retries: by default the `clock` option's `sleep`, so tests need not wait. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const KNOWN = new Set(['body', 'json', 'headers', 'retries', 'timeout', 'redirect', 'signal', 'preloadContent']);

/** Checks the per-request options against the manager's. */
function resolveRequest(ctx: RequestContext, options: RequestOptions) {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`request options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new TypeError(`Unknown request option ${JSON.stringify(key)}; known: ${[...KNOWN].join(', ')}`);
    }
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

/**
 * Methods that may be sent twice with the effect of once (RFC 9110 §9.2.2):
 * the ones a broken keep-alive socket is retried for without asking.
 */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

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
  const { signal, cleanup } = withTotalTimeout(resolved.signal, resolved.timeout.total, () => ({
    method: currentMethod,
    url: currentUrl.href,
  }));
  const budget = new RetryBudget(resolved.retry, resolved.redirect, ctx.options.clock.now);
  const redirects: string[] = [];
  /** A body that can go out again: a string or bytes, or a stream nobody has started reading. */
  const canResend = (): boolean => prepared.replayable || body === null || (body instanceof ReadableStream && !body.locked);
  let staleRetried = false;
  let streaming = false;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const pool = ctx.route(currentUrl);
      if (pool === undefined) throw new Error(`poolfetch bug: no pool routes ${currentUrl.href}`);
      const where = { method: currentMethod, url: currentUrl.href };
      const wire: WireRequest = {
        method: currentMethod,
        url: currentUrl,
        headers,
        body,
        signal,
        timeout: resolved.timeout,
        // A runtime that follows redirects itself is asked not to when no hop may be taken.
        redirect: resolved.redirect > 0 && resolved.retry.redirect !== 0 ? 'follow' : 'manual',
      };
      let response: WireResponse;
      try {
        response = await pool.exchange(wire);
      } catch (error) {
        if (signal?.aborted === true) throw signal.reason;
        const kind = failureKind(error);
        // A keep-alive socket the server closed as we reused it: nothing was answered, so
        // an idempotent request goes once more at no cost to its retries (as browsers do).
        if (isDroppedSocket(error) && !staleRetried && IDEMPOTENT.has(currentMethod) && canResend()) {
          staleRetried = true;
          continue;
        }
        if (!resolved.retry.enabled || kind === undefined) throw error;
        // A connect error means nothing was sent: any method may go again. After a read
        // error the server may have acted on the request: only allowedMethods go again.
        const safe = kind === 'connect' && !mayHaveBeenSent.has(error as Error)
          ? canResend()
          : budget.canRetryRead(currentMethod) && prepared.replayable;
        if (!safe) throw error;
        await ctx.sleep(budget.spend({ kind, error: error as Error }, where), signal);
        continue;
      }

      // Headers are read only for the statuses that need them: a Headers lookup is not free per request.
      const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
      if (location !== null && resolved.redirect > 0 && !pool.followsRedirects) {
        let nextUrl: URL;
        try {
          nextUrl = redirectTarget(location, currentUrl, currentMethod);
        } catch (error) {
          await response.discard();
          throw error;
        }
        if (ctx.route(nextUrl) !== undefined) {
          const next = redirectMethod(response.status, currentMethod);
          try {
            budget.spend({ kind: 'redirect' }, where);
          } catch (error) {
            if (!resolved.retry.raiseOnRedirect) return await finish(response);
            await response.discard();
            throw error;
          }
          await response.discard();
          if (!next.dropBody && body !== null && !prepared.replayable) {
            throw new TypeError(
              `Cannot follow the ${response.status} redirect from ${currentUrl.href} to ${nextUrl.href}: ` +
                'the request body was a ReadableStream and is spent; send a string or bytes, or pass redirect: false',
            );
          }
          headers = redirectHeaders(headers, currentUrl, nextUrl, next.dropBody);
          if (next.dropBody) body = null;
          currentMethod = next.method;
          currentUrl = nextUrl;
          redirects.push(nextUrl.href);
          continue;
        }
      }

      const retryable = RETRY_AFTER_STATUSES.has(response.status) || resolved.retry.statusForcelist.has(response.status);
      const retryAfter = retryable ? response.headers.get('retry-after') : null;
      if (budget.isRetryableStatus(currentMethod, response.status, retryAfter !== null) && canResend()) {
        let delay: number;
        try {
          delay = budget.spend({ kind: 'status', status: response.status, retryAfter }, where);
        } catch (error) {
          if (!resolved.retry.raiseOnStatus) return await finish(response);
          await response.discard();
          throw error;
        }
        await response.discard();
        await ctx.sleep(delay, signal);
        continue;
      }

      if (!resolved.preloadContent) return await finish(response);
      try {
        return await finish(response);
      } catch (error) {
        if (signal?.aborted === true) throw signal.reason;
        const kind = failureKind(error);
        // The body broke off: urllib3 retries a preloaded read like any read error.
        if (!resolved.retry.enabled || kind !== 'read' || !budget.canRetryRead(currentMethod) || !prepared.replayable) throw error;
        await ctx.sleep(budget.spend({ kind, error: error as Error }, where), signal);
      }
    }
  } catch (error) {
    throw abortReasonOr(error, signal);
  } finally {
    if (!streaming) cleanup();
  }

  /** The response as the caller sees it: read into `data`, or a stream that ends the timeout when done. */
  async function finish(response: WireResponse): Promise<PoolResponse> {
    const finalUrl = response.url ?? currentUrl.href;
    // A transport that followed redirects itself tells only where it ended up.
    if (response.redirected === true && finalUrl !== currentUrl.href) redirects.push(finalUrl);
    // Headers are handed over as a function: a transport may build them only when the caller looks.
    const headers = (): Headers => response.headers;
    const { status, statusText } = response;
    if (resolved.preloadContent) return new PoolResponse({ status, statusText, headers, url: finalUrl, redirects, data: await response.bytes() });
    let forget = noop;
    const body = whenDone(response.stream(), () => {
      forget();
      cleanup();
    }, signal);
    // A body dropped unread would keep its connection (and slot) busy for good: close it once collected.
    // Not with a signal: the signal's listener keeps the body reachable, and its abort or timeout ends it.
    if (signal === undefined) forget = whenCollected(body, () => response.abandon?.());
    // From here the body stream ends the total timeout, not the loop.
    streaming = true;
    return new PoolResponse({ status, statusText, headers, url: finalUrl, redirects, body });
  }
}



/** After an abort, the abort's reason is the error, whatever the transport wrapped it in. */
function abortReasonOr(error: unknown, signal: AbortSignal | undefined): unknown {
  return signal?.aborted === true ? signal.reason : error;
}

/** Codes of a socket the server closed under us, as opposed to a malformed answer (HPE_*), which is no reason to resend. */
const DROPPED_SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** A `ProtocolError` whose cause (at any depth) is a dropped socket. */
function isDroppedSocket(error: unknown): boolean {
  if (!(error instanceof ProtocolError)) return false;
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 4 && typeof cause === 'object' && cause !== null; depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && DROPPED_SOCKET_CODES.has(code)) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}
