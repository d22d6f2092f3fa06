/**
 * urllib3's `Retry`, as data plus one function that spends it. A request
 * carries a `RetryBudget`; every failure asks `spend()` whether to go again
 * and how long to wait first, and `spend()` throws `MaxRetryError` once the
 * budget is gone.
 */
import { MaxRetryError } from './errors.js';
import { bool, count, knownKeys, mustBe, numberCheck, TOKEN, type Check } from './checks.js';
import type { RetryOptions } from './types.js';

export const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([413, 429, 503]);
const DEFAULT_ALLOWED_METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PUT', 'TRACE'];

/** Retry settings after checking; `undefined` counters fall back on `total`. */
export interface ResolvedRetry {
  /** `false` when retries are off: errors surface as they are, unwrapped. */
  readonly enabled: boolean;
  readonly total: number | undefined;
  readonly connect: number | undefined;
  readonly read: number | undefined;
  /** `undefined`: the request's `redirect` option decides. */
  readonly redirect: number | undefined;
  readonly status: number | undefined;
  readonly statusForcelist: ReadonlySet<number>;
  readonly allowedMethods: ReadonlySet<string>;
  readonly backoffFactor: number;
  readonly backoffMax: number;
  readonly respectRetryAfter: boolean;
  /** Cap on a `Retry-After` wait, in seconds. */
  readonly retryAfterMax: number;
  readonly raiseOnStatus: boolean;
  /** False after `redirect: false`: the 3xx is returned rather than followed or thrown. */
  readonly raiseOnRedirect: boolean;
}

export const retryDefaults: ResolvedRetry = {
  enabled: true,
  total: 3,
  connect: undefined,
  read: undefined,
  redirect: undefined,
  status: undefined,
  statusForcelist: new Set(),
  allowedMethods: new Set(DEFAULT_ALLOWED_METHODS),
  backoffFactor: 0,
  backoffMax: 120,
  respectRetryAfter: true,
  retryAfterMax: 21_600,
  raiseOnStatus: true,
  raiseOnRedirect: true,
};

const NONE: ResolvedRetry = { ...retryDefaults, enabled: false, total: 0 };

const seconds = numberCheck('a non-negative number of seconds', (n) => Number.isFinite(n) && n >= 0);

/** An array whose every item is `ok`, as `map` makes it; else `<name> must be <what>`, naming the first bad item. */
const list = <T>(what: string, ok: (item: unknown) => boolean, map: (items: unknown[]) => T): Check<T> => (value, name) => {
  if (!Array.isArray(value)) return mustBe(name, what, value);
  const bad = value.findIndex((item) => !ok(item));
  return bad < 0 ? map(value) : mustBe(name, what, value[bad]);
};

/** Each retry option and its check, in the order they are checked; `raiseOnRedirect` also depends on `redirect`. */
const RETRY_OPTIONS: Record<Exclude<keyof RetryOptions, 'raiseOnRedirect'>, Check<unknown>> = {
  total: (value, name) => (value === false ? undefined : count(value, name)),
  connect: count,
  read: count,
  redirect: (value, name) => (value === true ? undefined : value === false ? 0 : count(value, name)),
  status: count,
  statusForcelist: list(
    'an array of HTTP statuses (100-599)',
    (status) => Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599,
    (statuses) => new Set(statuses),
  ),
  allowedMethods: list(
    'an array of method names',
    (method) => typeof method === 'string' && TOKEN.test(method),
    (methods) => new Set((methods as string[]).map((m) => m.toUpperCase())),
  ),
  backoffFactor: seconds,
  backoffMax: seconds,
  respectRetryAfter: bool,
  retryAfterMax: seconds,
  raiseOnStatus: bool,
};
const KNOWN = [...Object.keys(RETRY_OPTIONS), 'raiseOnRedirect'];

/** Checks `retries` as a count, `false`, or `RetryOptions`, laid over `base` (the manager's, for a request). */
export function normalizeRetry(value: unknown, name: string, base: ResolvedRetry = retryDefaults): ResolvedRetry {
  if (value === undefined) return base;
  if (value === false) return NONE;
  // A manager with retries off leaves nothing to lay a request's settings over but the defaults.
  const from = base.enabled ? base : retryDefaults;
  if (typeof value === 'number') return { ...from, total: count(value, name) };
  const options = knownKeys(value, name, 'a number, false or an object of retry options', KNOWN);
  const resolved: Record<string, unknown> = { ...from, enabled: true };
  for (const [key, check] of Object.entries(RETRY_OPTIONS)) {
    if (options[key] !== undefined) resolved[key] = check(options[key], `${name}.${key}`);
  }
  // `redirect: false` returns the 3xx; any other redirect count given raises once spent, unless told otherwise.
  const { redirect, raiseOnRedirect } = options;
  resolved.raiseOnRedirect = redirect === false
    ? false
    : raiseOnRedirect === undefined ? (redirect === undefined ? from.raiseOnRedirect : true) : bool(raiseOnRedirect, `${name}.raiseOnRedirect`);
  return resolved as unknown as ResolvedRetry;
}

/**
 * Connection errors after which nobody can tell whether the request reached
 * the server (a browser's bare "Failed to fetch"): retried only for
 * `allowedMethods`, like a read error, never for any method.
 */
export const mayHaveBeenSent = new WeakSet<Error>();

/** Why a request is being tried again. */
export type RetryCause =
  | { kind: 'connect'; error: Error }
  | { kind: 'read'; error: Error }
  | { kind: 'status'; status: number; retryAfter: string | null }
  | { kind: 'redirect' };

/**
 * What is left of one request's retries; mutated as they are spent.
 *
 * Where this differs from urllib3's `Retry`, on purpose: a redirect hop
 * spends only the redirect count (`retries.redirect`, else the `redirect`
 * option, 10 by default), never `total`, because the hop limit is its own
 * option here, as in fetch and undici; and `retries: false` turns retries
 * off but leaves redirects to the `redirect` option.
 */
export class RetryBudget {
  readonly config: ResolvedRetry;
  /** Retries left of each kind (`undefined`: only `total` counts), and redirect hops left. */
  readonly #left: Record<'total' | 'connect' | 'read' | 'status', number | undefined> & { redirect: number };
  readonly #redirectLimit: number;
  readonly #now: () => number;
  /** Errors (and retried statuses) since the last redirect, for the backoff. */
  #errorsInARow = 0;

  constructor(config: ResolvedRetry, redirectLimit: number, now: () => number = Date.now) {
    this.config = config;
    this.#now = now;
    const { total, connect, read, status } = config;
    this.#redirectLimit = config.redirect ?? redirectLimit;
    this.#left = { total, connect, read, status, redirect: this.#redirectLimit };
  }

  /**
   * May this response be retried? A status in `statusForcelist`, or 413, 429
   * and 503 that carry `Retry-After` (urllib3's `Retry.is_retry`); either way
   * only for `allowedMethods`.
   */
  isRetryableStatus(method: string, status: number, hasRetryAfter = false): boolean {
    if (!this.config.enabled || !this.config.allowedMethods.has(method)) return false;
    if (this.config.statusForcelist.has(status)) return true;
    // As urllib3: only while `total` has retries left (never with `total: false`, which could loop forever).
    const { total } = this.#left;
    return this.config.respectRetryAfter && hasRetryAfter && RETRY_AFTER_STATUSES.has(status) && total !== undefined && total > 0;
  }

  /** May a read-side failure of this method be retried (was it safe to send twice)? */
  canRetryRead(method: string): boolean {
    return this.config.enabled && this.config.allowedMethods.has(method);
  }

  /**
   * Spends one retry of `cause`'s kind and returns the milliseconds to wait
   * before the next try; throws `MaxRetryError` (its `reason` the last
   * error, or why the responses were refused) once that was the last one.
   */
  spend(cause: RetryCause, where: { method: string; url: string }): number {
    const left = this.#left;
    const { kind } = cause;
    // A redirect hop spends only the hop count; anything else `total` too. Both counters go down, either may run out.
    let exhausted = kind !== 'redirect' && left.total !== undefined && --left.total < 0;
    const own = left[kind];
    if (own !== undefined && (left[kind] = own - 1) < 0) exhausted = true;
    if (exhausted) {
      const reason = kind === 'connect' || kind === 'read'
        ? cause.error
        : new Error(kind === 'status' ? `too many ${cause.status} error responses` : `too many redirects (more than ${this.#redirectLimit})`);
      throw new MaxRetryError(reason, where);
    }
    if (kind === 'redirect') {
      this.#errorsInARow = 0;
      return 0;
    }
    this.#errorsInARow += 1;
    if (kind === 'status' && this.config.respectRetryAfter) {
      const after = parseRetryAfter(cause.retryAfter, this.#now());
      if (after !== undefined && after > 0) return Math.min(after, this.config.retryAfterMax * 1000);
    }
    return this.backoff();
  }

  /**
   * urllib3's backoff: the first retry goes at once (most failures are gone
   * by then), retry n >= 2 waits `backoffFactor * 2 ** (n - 1)` seconds,
   * n counting the failures in a row since the last redirect, capped at
   * `backoffMax`.
   */
  backoff(): number {
    if (this.#errorsInARow <= 1 || this.config.backoffFactor === 0) return 0;
    const seconds = this.config.backoffFactor * 2 ** (this.#errorsInARow - 1);
    return Math.min(seconds, this.config.backoffMax) * 1000;
  }
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** IMF-fixdate, RFC 850 and asctime (RFC 9110 §5.6.7), read as UTC. */
const [IMF_FIXDATE, RFC_850, ASCTIME] = [
  /^[a-z]{3}, (\d{1,2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:gmt|utc|ut|z)$/i,
  /^[a-z]+, (\d{1,2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) (?:gmt|utc|ut|z)$/i,
  /^[a-z]{3} ([a-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i,
] as const;

/** An HTTP-date as epoch milliseconds, or undefined when it is not one. */
export function parseHttpDate(text: string): number | undefined {
  let day: string, month: string, year: string, h: string, m: string, s: string;
  let match = IMF_FIXDATE.exec(text) ?? RFC_850.exec(text);
  if (match !== null) {
    [, day = '', month = '', year = '', h = '', m = '', s = ''] = match;
    // RFC 850 two-digit years: RFC 9110 says read a year more than 50 years ahead as the past century.
    if (year.length === 2) year = String(Number(year) + (Number(year) + 2000 > new Date().getUTCFullYear() + 50 ? 1900 : 2000));
  } else {
    match = ASCTIME.exec(text);
    if (match === null) return undefined;
    [, month = '', day = '', h = '', m = '', s = '', year = ''] = match;
  }
  const monthIndex = MONTHS.indexOf(month.toLowerCase());
  if (monthIndex < 0) return undefined;
  const time = Date.UTC(Number(year), monthIndex, Number(day), Number(h), Number(m), Number(s));
  return Number.isNaN(time) ? undefined : time;
}

/**
 * `Retry-After` as delta-seconds or an HTTP-date, in milliseconds from
 * `now` (0 when the date has passed); undefined when absent or unreadable,
 * in which case the usual backoff applies (urllib3 raises `InvalidHeader`;
 * a bad header should not fail a request that a retry may fix).
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = parseHttpDate(text);
  if (date === undefined) return undefined;
  return Math.max(0, date - now);
}
