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
  readonly raiseOnStatus: boolean;
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
  raiseOnStatus: true,
};

const NONE: ResolvedRetry = { ...retryDefaults, enabled: false, total: 0 };
const KNOWN = new Set([
  'total', 'connect', 'read', 'redirect', 'status', 'statusForcelist', 'allowedMethods',
  'backoffFactor', 'backoffMax', 'respectRetryAfter', 'raiseOnStatus',
]);

/** Checks `retries` as a count, `false`, or `RetryOptions`. */
export function normalizeRetry(value: unknown, name: string, base: ResolvedRetry = retryDefaults): ResolvedRetry {
  if (value === undefined) return base;
  if (value === false) return NONE;
  if (typeof value === 'number') return { ...base, enabled: true, total: count(name, value) };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${name} must be a number, false or an object of retry options, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!KNOWN.has(key)) throw new TypeError(`Unknown ${name} option ${JSON.stringify(key)}`);
  }
  const o = value as RetryOptions;
  const opt = (key: 'connect' | 'read' | 'status'): number | undefined =>
    o[key] === undefined ? undefined : count(`${name}.${key}`, o[key]);
  return {
    enabled: true,
    total: o.total === undefined ? base.total : o.total === false ? undefined : count(`${name}.total`, o.total),
    connect: opt('connect'),
    read: opt('read'),
    redirect: o.redirect === undefined ? undefined : o.redirect === false ? 0 : count(`${name}.redirect`, o.redirect),
    status: opt('status'),
    statusForcelist: o.statusForcelist === undefined ? base.statusForcelist : statuses(`${name}.statusForcelist`, o.statusForcelist),
    allowedMethods: o.allowedMethods === undefined ? base.allowedMethods : methods(`${name}.allowedMethods`, o.allowedMethods),
    backoffFactor: o.backoffFactor === undefined ? base.backoffFactor : seconds(`${name}.backoffFactor`, o.backoffFactor),
    backoffMax: o.backoffMax === undefined ? base.backoffMax : seconds(`${name}.backoffMax`, o.backoffMax),
    respectRetryAfter: o.respectRetryAfter === undefined ? base.respectRetryAfter : bool(`${name}.respectRetryAfter`, o.respectRetryAfter),
    raiseOnStatus: o.raiseOnStatus === undefined ? base.raiseOnStatus : bool(`${name}.raiseOnStatus`, o.raiseOnStatus),
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
  if (!Array.isArray(v) || !v.every((s) => Number.isInteger(s) && s >= 100 && s <= 599)) {
    throw new TypeError(`${name} must be an array of HTTP statuses, got ${describe(v)}`);
  }
  return new Set(v as number[]);
}
function methods(name: string, v: unknown): ReadonlySet<string> {
  if (!Array.isArray(v) || !v.every((m) => typeof m === 'string')) {
    throw new TypeError(`${name} must be an array of method names, got ${describe(v)}`);
  }
  return new Set((v as string[]).map((m) => m.toUpperCase()));
}

/** Why a request is being tried again. */
export type RetryCause =
  | { kind: 'connect'; error: Error }
  | { kind: 'read'; error: Error }
  | { kind: 'status'; status: number; retryAfter: string | null }
  | { kind: 'redirect' };

/** What is left of one request's retries; mutated as they are spent. */
export class RetryBudget {
  private total: number | undefined;
  private connect: number | undefined;
  private read: number | undefined;
  private status: number | undefined;
  private redirect: number;
  /** Consecutive errors since the last redirect, for the backoff. */
  private errorsInARow = 0;

  constructor(readonly config: ResolvedRetry, redirectLimit: number, private readonly now: () => number = Date.now) {
    this.total = config.total;
    this.connect = config.connect;
    this.read = config.read;
    this.status = config.status;
    this.redirect = config.redirect ?? redirectLimit;
  }

  /** May this status be retried for this method? */
  isRetryableStatus(method: string, status: number): boolean {
    if (!this.config.enabled) return false;
    if (this.config.statusForcelist.has(status)) return this.config.allowedMethods.has(method);
    return false;
  }

  /** Would the next hop stay within the redirect limit? */
  get redirectsLeft(): number {
    return this.redirect;
  }

  /** May a read-side failure of this method be retried (was it safe to send twice)? */
  canRetryRead(method: string): boolean {
    return this.config.enabled && this.config.allowedMethods.has(method);
  }

  /**
   * Spends one retry of `cause`'s kind and returns the milliseconds to wait
   * before the next try; throws `MaxRetryError` when that was the last one.
   */
  spend(cause: RetryCause, where: { method: string; url: string }): number {
    if (this.total !== undefined) this.total -= 1;
    let exhausted = this.total !== undefined && this.total < 0;
    let reason: Error;
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
        reason = new Error('too many redirects');
        if (--this.redirect < 0) exhausted = true;
        break;
    }
    if (exhausted) throw new MaxRetryError(reason, where);
    if (cause.kind === 'redirect') {
      this.errorsInARow = 0;
      return 0;
    }
    this.errorsInARow += 1;
    if (cause.kind === 'status' && this.config.respectRetryAfter && RETRY_AFTER_STATUSES.has(cause.status)) {
      const after = parseRetryAfter(cause.retryAfter, this.now());
      if (after !== undefined) return Math.min(after, this.config.backoffMax * 1000);
    }
    return this.backoff();
  }

  /** `backoffFactor * 2 ** (n - 1)` seconds for the n-th error in a row, capped at `backoffMax`. */
  backoff(): number {
    if (this.errorsInARow === 0 || this.config.backoffFactor === 0) return 0;
    const seconds = this.config.backoffFactor * 2 ** (this.errorsInARow - 1);
    return Math.min(seconds, this.config.backoffMax) * 1000;
  }
}

/** `Retry-After` as delta-seconds or an HTTP-date, in milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
