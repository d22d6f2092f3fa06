/**
 * urllib3's `Retry`, as data plus one function that spends it. A request
 * carries a `RetryBudget`; every failure asks `spend()` whether to go again
 * and how long to wait first, and `spend()` throws `MaxRetryError` once the
 * budget is gone.
 */
import { MaxRetryError } from './errors.js';
import { describe } from './pool-key.js';
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
const KNOWN = new Set([
  'total', 'connect', 'read', 'redirect', 'status', 'statusForcelist', 'allowedMethods',
  'backoffFactor', 'backoffMax', 'respectRetryAfter', 'retryAfterMax', 'raiseOnStatus', 'raiseOnRedirect',
]);

/** Checks `retries` as a count, `false`, or `RetryOptions`. */
export function normalizeRetry(value: unknown, name: string, base: ResolvedRetry = retryDefaults): ResolvedRetry {
  if (value === undefined) return base;
  if (value === false) return NONE;
  // A manager with retries off leaves nothing to lay a request's settings over but the defaults.
  const from = base.enabled ? base : retryDefaults;
  if (typeof value === 'number') return { ...from, total: count(name, value) };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${name} must be a number, false or an object of retry options, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!KNOWN.has(key)) {
      throw new TypeError(`Unknown ${name} option ${JSON.stringify(key)}; known: ${[...KNOWN].join(', ')}`);
    }
  }
  const o = value as RetryOptions;
  const opt = (key: 'connect' | 'read' | 'status'): number | undefined =>
    o[key] === undefined ? from[key] : count(`${name}.${key}`, o[key]);
  return {
    enabled: true,
    total: o.total === undefined ? from.total : o.total === false ? undefined : count(`${name}.total`, o.total),
    connect: opt('connect'),
    read: opt('read'),
    redirect: o.redirect === undefined ? from.redirect : o.redirect === true ? undefined : o.redirect === false ? 0 : count(`${name}.redirect`, o.redirect),
    status: opt('status'),
    statusForcelist: o.statusForcelist === undefined ? from.statusForcelist : statuses(`${name}.statusForcelist`, o.statusForcelist),
    allowedMethods: o.allowedMethods === undefined ? from.allowedMethods : methods(`${name}.allowedMethods`, o.allowedMethods),
    backoffFactor: o.backoffFactor === undefined ? from.backoffFactor : seconds(`${name}.backoffFactor`, o.backoffFactor),
    backoffMax: o.backoffMax === undefined ? from.backoffMax : seconds(`${name}.backoffMax`, o.backoffMax),
    respectRetryAfter: o.respectRetryAfter === undefined ? from.respectRetryAfter : bool(`${name}.respectRetryAfter`, o.respectRetryAfter),
    retryAfterMax: o.retryAfterMax === undefined ? from.retryAfterMax : seconds(`${name}.retryAfterMax`, o.retryAfterMax),
    raiseOnStatus: o.raiseOnStatus === undefined ? from.raiseOnStatus : bool(`${name}.raiseOnStatus`, o.raiseOnStatus),
    raiseOnRedirect: o.redirect === false
      ? false
      : o.raiseOnRedirect === undefined ? (o.redirect === undefined ? from.raiseOnRedirect : true) : bool(`${name}.raiseOnRedirect`, o.raiseOnRedirect),
  };
}

function count(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new TypeError(`${name} must be a non-negative integer, got ${describe(v)}`);
  }
  return v;
}
function seconds(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new TypeError(`${name} must be a non-negative number of seconds, got ${describe(v)}`);
  }
  return v;
}
function bool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(v)}`);
  return v;
}
function statuses(name: string, v: unknown): ReadonlySet<number> {
  if (!Array.isArray(v)) throw new TypeError(`${name} must be an array of HTTP statuses, got ${describe(v)}`);
  const bad: unknown = v.find((s) => !(Number.isInteger(s) && (s as number) >= 100 && (s as number) <= 599));
  if (bad !== undefined || v.includes(undefined)) {
    throw new TypeError(`${name} must be an array of HTTP statuses (100-599), got ${describe(bad)} in it`);
  }
  return new Set(v as number[]);
}
function methods(name: string, v: unknown): ReadonlySet<string> {
  if (!Array.isArray(v)) throw new TypeError(`${name} must be an array of method names, got ${describe(v)}`);
  const bad: unknown = v.find((m) => typeof m !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(m));
  if (bad !== undefined || v.includes(undefined)) {
    throw new TypeError(`${name} must be an array of method names, got ${describe(bad)} in it`);
  }
  return new Set((v as string[]).map((m) => m.toUpperCase()));
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
  private total: number | undefined;
  private connect: number | undefined;
  private read: number | undefined;
  private status: number | undefined;
  private redirect: number;
  private readonly redirectLimit: number;
  /** Errors (and retried statuses) since the last redirect, for the backoff. */
  private errorsInARow = 0;

  constructor(readonly config: ResolvedRetry, redirectLimit: number, private readonly now: () => number = Date.now) {
    this.total = config.total;
    this.connect = config.connect;
    this.read = config.read;
    this.status = config.status;
    this.redirect = config.redirect ?? redirectLimit;
    this.redirectLimit = this.redirect;
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
    return this.config.respectRetryAfter && hasRetryAfter && RETRY_AFTER_STATUSES.has(status) && this.total !== undefined && this.total > 0;
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
    let exhausted = false;
    let reason: Error;
    if (cause.kind !== 'redirect' && this.total !== undefined) {
      this.total -= 1;
      if (this.total < 0) exhausted = true;
    }
    switch (cause.kind) {
      case 'connect':
        reason = cause.error;
        if (this.connect !== undefined && --this.connect < 0) exhausted = true;
        break;
      case 'read':
        reason = cause.error;
        if (this.read !== undefined && --this.read < 0) exhausted = true;
        break;
      case 'status':
        reason = new Error(`too many ${cause.status} error responses`);
        if (this.status !== undefined && --this.status < 0) exhausted = true;
        break;
      case 'redirect':
        reason = new Error(`too many redirects (more than ${this.redirectLimit})`);
        if (--this.redirect < 0) exhausted = true;
        break;
    }
    if (exhausted) throw new MaxRetryError(reason, where);
    if (cause.kind === 'redirect') {
      this.errorsInARow = 0;
      return 0;
    }
    this.errorsInARow += 1;
    if (cause.kind === 'status' && this.config.respectRetryAfter) {
      const after = parseRetryAfter(cause.retryAfter, this.now());
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
    if (this.errorsInARow <= 1 || this.config.backoffFactor === 0) return 0;
    const seconds = this.config.backoffFactor * 2 ** (this.errorsInARow - 1);
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
