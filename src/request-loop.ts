/**
 * `request()`: check the input, then send it through the right pool, again
 * after a retryable failure and once per redirect hop (where the adapter
 * follows redirects: see src/redirect-follower.ts). A manager and a pool
 * share this loop and differ only in `route`: a manager routes every URL to
 * its pool, a pool only its own origin (urllib3's split between
 * `PoolManager.urlopen` and `HTTPConnectionPool.urlopen`).
 */
import { ConnectTimeoutError, NewConnectionError, ProtocolError, ReadTimeoutError } from './errors.js';
import { checkContentLength, mergeHeaders, normalizeHeaders, refuseClientHeaders } from './headers.js';
import { prepareBody } from './body.js';
import { checkMethod } from './methods.js';
import { byteCount, normalizeRedirect } from './options.js';
import { parseUrl } from './pool-key.js';
import { redactCredentials } from './redact.js';
import { bool, knownKeys, mustBe } from './checks.js';
import { PoolResponse } from './response.js';
import { mayHaveBeenSent, normalizeRetry, RETRY_AFTER_STATUSES, RetryBudget } from './retry.js';
import { normalizeTimeout, withTotalTimeout } from './timeout.js';
import type { WireBody, WireRequest, WireResponse } from './transport.js';
import type { RequestOptions } from './types.js';
import type { RequestContext, Route } from './loop-context.js';
import type { RunTicket } from './run-tracker.js';
import type { RequestHop } from './redirect-follower.js';
import { noop, whenCollected, whenDone } from './watch-body.js';

const KNOWN = ['body', 'json', 'headers', 'retries', 'timeout', 'redirect', 'signal', 'preloadContent', 'maxResponseSize'];

/**
 * A call with no options (or `{}`) takes the manager's as they are: resolved
 * once per manager's options object, not per call. Its headers are the
 * manager's own Headers, as they are on the per-call path without `headers`.
 */
const defaultsFor = new WeakMap<object, ResolvedRequest>();

/** True for `undefined` and an object with no own enumerable key: nothing to lay over the manager's options. */
function noOptions(options: RequestOptions | undefined): boolean {
  if (options === undefined) return true;
  if (typeof options !== 'object' || options === null || Object.getPrototypeOf(options) !== Object.prototype) return false;
  for (const key in options) if (Object.hasOwn(options, key)) return false;
  return true;
}

/** Checks the per-request options against the manager's. */
function resolveRequest(ctx: RequestContext, options: RequestOptions | undefined): ResolvedRequest {
  if (noOptions(options)) {
    const base = ctx.options;
    let defaults = defaultsFor.get(base);
    if (defaults === undefined) {
      defaults = resolveGiven(ctx, {});
      defaultsFor.set(base, defaults);
    }
    return defaults;
  }
  return resolveGiven(ctx, options as RequestOptions);
}

function resolveGiven(ctx: RequestContext, options: RequestOptions) {
  knownKeys(options, 'request options', 'an object', KNOWN, 'request');
  const base = ctx.options;
  const { signal, preloadContent = true } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) mustBe('signal', 'an AbortSignal', signal);
  bool(preloadContent, 'preloadContent');
  return {
    headers: options.headers === undefined ? base.headers : mergeHeaders(base.headers, requestHeaders(options.headers)),
    retry: normalizeRetry(options.retries, 'retries', base.retry),
    timeout: normalizeTimeout(options.timeout, 'timeout', base.timeout),
    redirect: options.redirect === undefined ? base.redirect : normalizeRedirect(options.redirect, 'redirect', base.redirect),
    signal,
    preloadContent,
    maxResponseSize: options.maxResponseSize === undefined ? base.maxResponseSize : byteCount(options.maxResponseSize, 'maxResponseSize'),
  };
}

/** A request's own headers, checked: no CR/LF, nothing only the client may set. */
function requestHeaders(init: unknown): Headers {
  const headers = normalizeHeaders(init, 'headers');
  refuseClientHeaders(headers, 'headers');
  return headers;
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

/** What a step of the loop may answer instead of a response: send again (a retry or a redirect hop). */
const AGAIN = Symbol('again');

/**
 * Not an async function: the checks throw into the returned promise, and a
 * call whose body is ready goes to the loop without an extra promise and turn.
 */
export function runRequest(
  ctx: RequestContext,
  method: string,
  url: string | URL,
  options?: RequestOptions,
): Promise<PoolResponse> {
  try {
    const checkedMethod = checkMethod(method);
    const checkedUrl = parseUrl(url, checkedMethod);
    const resolved = resolveRequest(ctx, options);
    const prepared = options === undefined ? prepareBody(undefined, undefined, false) : prepareBody(options.body, options.json, 'json' in options);
    const start = (body: PreparedBody): Promise<PoolResponse> => {
      checkContentLength(resolved.headers, body.body, 'headers');
      return new RequestRun(ctx, checkedMethod, checkedUrl, resolved, body).run();
    };
    return prepared instanceof Promise ? prepared.then(start) : start(prepared);
  } catch (error) {
    return Promise.reject(error);
  }
}

type ResolvedRequest = ReturnType<typeof resolveGiven>;
type PreparedBody = Exclude<ReturnType<typeof prepareBody>, Promise<unknown>>;

/**
 * One call of `request()`: what it sends now (method, URL, headers, body
 * change across redirect hops) and what it has spent (retries, the stale
 * keep-alive resend). `run()` reads as the loop; each step below it either
 * hands back the response, asks to send again (`AGAIN`), or passes.
 */
class RequestRun implements RequestHop {
  method: string;
  url: URL;
  headers: Headers;
  body: WireBody | null;
  readonly redirects: string[] = [];
  readonly #ctx: RequestContext;
  readonly #resolved: ResolvedRequest;
  readonly #replayable: boolean;
  /** Made on first use: most requests are answered at once and never spend a retry or a hop. */
  #spent: RetryBudget | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #cleanup: () => void;
  #staleRetried = false;
  /** This call as the manager counts it, for disposal. */
  #ticket: RunTicket | undefined;
  /** Set once a streamed body owns the total timeout: the loop must not end it. */
  #streaming = false;

  constructor(ctx: RequestContext, method: string, url: URL, resolved: ResolvedRequest, prepared: PreparedBody) {
    this.#ctx = ctx;
    this.method = method;
    this.url = url;
    this.#resolved = resolved;
    this.#replayable = prepared.replayable;
    let headers = resolved.headers;
    if (prepared.contentType !== undefined && !headers.has('content-type')) {
      headers = new Headers(headers);
      headers.set('content-type', prepared.contentType);
    }
    this.headers = headers;
    this.body = prepared.body;
    const { signal, cleanup } = withTotalTimeout(resolved.signal, resolved.timeout.total, this);
    this.#signal = signal;
    this.#cleanup = cleanup;
  }

  get #budget(): RetryBudget {
    return (this.#spent ??= new RetryBudget(this.#resolved.retry, this.#resolved.redirect, this.#ctx.options.clock.now));
  }

  async run(): Promise<PoolResponse> {
    this.#ticket = this.#ctx.begin?.();
    try {
      for (;;) {
        this.#signal?.throwIfAborted();
        const route = this.#ctx.route(this.url);
        if (route === undefined) throw new Error(`poolfetch bug: no pool routes ${this.url.href}`);
        // The exchange is awaited here, not in a method of its own: each async layer costs every request a promise and a turn.
        let response: WireResponse;
        try {
          response = await route.exchange(this.#wire());
        } catch (error) {
          await this.#retryAfterSendFailure(error, route);
          continue;
        }
        const next = this.#followRedirect(response, route) ?? this.#retryStatus(response, route) ?? this.#deliverNow(response) ?? this.#deliver(response, route);
        // A body that had all arrived with its headers is taken there and then: no promise, no turn.
        if (next instanceof PoolResponse) return next;
        const step = await next;
        if (step !== AGAIN) return step;
      }
    } catch (error) {
      throw abortReasonOr(error, this.#signal);
    } finally {
      if (!this.#streaming) this.#cleanup();
      if (this.#ticket !== undefined) this.#ctx.end?.(this.#ticket);
    }
  }

  #where(): { method: string; url: string } {
    return { method: this.method, url: this.url.href };
  }

  /** A body that can go out again: a string or bytes, or a stream nobody has started reading. */
  #canResend(): boolean {
    const body = this.body;
    return this.#replayable || body === null || (body instanceof ReadableStream && !body.locked);
  }

  /** What one exchange sends; a failure either ends the request or, after the retry wait, sends again (see `run`). */
  #wire(): WireRequest {
    return {
      method: this.method,
      url: this.url,
      headers: this.headers,
      body: this.body,
      signal: this.#signal,
      timeout: this.#resolved.timeout,
      maxResponseSize: this.#resolved.maxResponseSize,
      // A runtime that follows redirects itself is asked not to when no hop may be taken.
      redirect: this.#resolved.redirect > 0 && this.#resolved.retry.redirect !== 0 ? 'follow' : 'manual',
    };
  }

  /** Throws `error` unless the request may go again; returns once it may (after the backoff). */
  async #retryAfterSendFailure(error: unknown, route: Route): Promise<void> {
    if (this.#signal?.aborted === true) throw this.#signal.reason;
    // A keep-alive socket the server closed as we reused it: nothing was answered, so
    // an idempotent request goes once more at no cost to its retries (as browsers do).
    if (isDroppedSocket(error) && !this.#staleRetried && IDEMPOTENT.has(this.method) && this.#canResend()) {
      this.#staleRetried = true;
      return;
    }
    const kind = failureKind(error);
    if (!this.#resolved.retry.enabled || kind === undefined) throw error;
    // A connect error means nothing was sent: any method may go again. After a read
    // error the server may have acted on the request: only allowedMethods go again.
    const safe = kind === 'connect' && !mayHaveBeenSent.has(error as Error)
      ? this.#canResend()
      : this.#budget.canRetryRead(this.method) && this.#replayable;
    if (!safe) throw error;
    await this.#waitToRetry(this.#budget.spend({ kind, error: error as Error }, this.#where()), route);
  }

  /**
   * The backoff before a retry: the requester's sleep, which disposal cuts
   * short, inside the pool's (`route`) watch, which cuts it short when that
   * pool is closed under it: a retry it would refuse is refused now, not
   * after a backoff or a `Retry-After` that may be hours.
   */
  #waitToRetry(ms: number, route: Route): Promise<void> {
    return route.waitToRetry((signal) => this.#ctx.sleep(ms, signal, this.#ticket), this.#signal, (route as unknown) === this.#ctx);
  }

  /**
   * A redirect the adapter's follower takes (Node; browsers follow their
   * own): the next hop (`AGAIN`), or the 3xx itself once hops are spent.
   * Undefined, synchronously, when `response` is none to follow: each async
   * layer costs every request a promise and a turn.
   */
  #followRedirect(response: WireResponse, route: Route): Promise<PoolResponse | typeof AGAIN> | undefined {
    const follower = this.#ctx.options.redirectFollower;
    if (follower === undefined || this.#resolved.redirect <= 0 || route.followsRedirects) return undefined;
    return follower.request(this, response)?.then((step) => (step === true ? AGAIN : step));
  }

  /** For the redirect follower (`RequestHop`): a stream body cannot go to a 307/308 target. */
  get replayable(): boolean {
    return this.#replayable;
  }

  serves(url: URL): boolean {
    return this.#ctx.route(url) !== undefined;
  }

  spendHop(): void {
    this.#budget.spend({ kind: 'redirect' }, this.#where());
  }

  keep(response: WireResponse): Promise<PoolResponse> | undefined {
    return this.#resolved.retry.raiseOnRedirect ? undefined : this.#finish(response);
  }

  /** A status the retry options name: send again after the wait (`AGAIN`), or the response once retries are spent. */
  #retryStatus(response: WireResponse, route: Route): Promise<PoolResponse | typeof AGAIN> | undefined {
    const retry = this.#resolved.retry;
    const retryable = RETRY_AFTER_STATUSES.has(response.status) || retry.statusForcelist.has(response.status);
    // Neither a forced status nor one that Retry-After may make retryable: no retry (see RetryBudget.isRetryableStatus).
    if (!retryable) return undefined;
    const retryAfter = response.headers.get('retry-after');
    if (!this.#budget.isRetryableStatus(this.method, response.status, retryAfter !== null) || !this.#canResend()) return undefined;
    return this.#waitAndResend(response, retryAfter, route);
  }

  async #waitAndResend(response: WireResponse, retryAfter: string | null, route: Route): Promise<PoolResponse | typeof AGAIN> {
    let delay: number;
    try {
      delay = this.#budget.spend({ kind: 'status', status: response.status, retryAfter }, this.#where());
    } catch (error) {
      if (!this.#resolved.retry.raiseOnStatus) return await this.#finish(response);
      await response.discard();
      throw error;
    }
    await response.discard();
    await this.#waitToRetry(delay, route);
    return AGAIN;
  }

  /** The final response; a preloaded body that breaks off is a read error, retried as urllib3 does. */
  async #deliver(response: WireResponse, route: Route): Promise<PoolResponse | typeof AGAIN> {
    if (!this.#resolved.preloadContent) return await this.#finish(response);
    try {
      return await this.#finish(response);
    } catch (error) {
      if (this.#signal?.aborted === true) throw this.#signal.reason;
      const kind = failureKind(error);
      if (!this.#resolved.retry.enabled || kind !== 'read' || !this.#budget.canRetryRead(this.method) || !this.#replayable) throw error;
      await this.#waitToRetry(this.#budget.spend({ kind, error: error as Error }, this.#where()), route);
      return AGAIN;
    }
  }

  /**
   * The final response, synchronously, when its whole body is in already
   * (a small body comes with its headers) and the transport hands it over
   * at once; undefined otherwise, and `#deliver` reads it.
   */
  #deliverNow(response: WireResponse): PoolResponse | undefined {
    if (!this.#resolved.preloadContent) return undefined;
    const data = response.bytesNow?.();
    return data === undefined ? undefined : this.#response(response, data);
  }

  /** The response as the caller sees it, around `data` (preloaded) or `body`. */
  #response(response: WireResponse, data: Uint8Array | undefined, body?: ReadableStream<Uint8Array>): PoolResponse {
    // Credentials in the URL go as `authorization` (the transports see to it); `url` never shows the password.
    const url = redactCredentials(response.url ?? this.url.href);
    const redirects = this.redirects;
    // A transport that followed redirects itself tells only where it ended up.
    if (response.redirected === true && url !== redactCredentials(this.url.href)) redirects.push(url);
    // Headers are handed over as a function: a transport may build them only when the caller looks.
    const headers = (): Headers => response.headers;
    const { status, statusText } = response;
    return data === undefined ? new PoolResponse({ status, statusText, headers, url, redirects, body: body ?? null }) : new PoolResponse({ status, statusText, headers, url, redirects, data });
  }

  /** The response as the caller sees it: read into `data`, or a stream that ends the timeout when done. */
  async #finish(response: WireResponse): Promise<PoolResponse> {
    if (this.#resolved.preloadContent) return this.#response(response, await response.bytes());
    let forget = noop;
    const cleanup = this.#cleanup;
    const body = whenDone(response.stream(), () => {
      forget();
      cleanup();
    }, this.#signal);
    // A body dropped unread would keep its connection (and slot) busy for good: close it once collected.
    // Not with a signal: the signal's listener keeps the body reachable, and its abort or timeout ends it.
    if (this.#signal === undefined) forget = whenCollected(body, () => response.abandon?.());
    // From here the body stream ends the total timeout, not the loop.
    this.#streaming = true;
    return this.#response(response, undefined, body);
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
