/**
 * Defaults and the one `normalizeOptions` that checks what users pass, one
 * table entry per option. Every bad option is a `TypeError` that names the
 * option and the value (src/checks.ts builds them). What only one runtime
 * understands (`tls`) is checked by the adapter that takes it.
 */
import { knownKeys, MAX_TIMER_MS, mustBe, numberCheck, timerMs, type Check } from './checks.js';
import { normalizeHeaders, refuseClientHeaders } from './headers.js';
import { normalizeRetry, type ResolvedRetry } from './retry.js';
import { normalizeTimeout, realClock, type ResolvedTimeout } from './timeout.js';
import type { ContextLeases } from './context-leases.js';
import type { PoolObserver } from './observer.js';
import type { RedirectFollower } from './redirect-follower.js';
import type { Budget } from './budget.js';
import type { Clock, PoolManagerOptions, TlsOptions } from './types.js';

/** What every manager starts from; adapters override `maxSize`. */
export const defaults = {
  numPools: 10,
  maxSize: 10,
  redirect: 10,
  keepAliveTimeout: 4000,
} as const;

/** What a runtime adapter adds to the option checks. */
export interface AdapterOptions {
  /** `maxSize` when none is given. */
  readonly maxSize: number;
  /**
   * Checks a `tls` option that is set: the Node adapter's returns it, the
   * fetch adapter's refuses it (browsers and Workers own TLS).
   */
  readonly tls?: (value: unknown) => TlsOptions | undefined;
  /** Follows redirects hop by hop wherever the transport shows the 3xx (both entries; a browser follows them itself). */
  readonly redirectFollower?: RedirectFollower;
  /**
   * Where the runtime drops an incoming request's work unsettled when it
   * ends (workerd), makes the manager's leases: each exchange holds one, with
   * a heartbeat (src/context-leases.ts). A factory, so only the entry that
   * needs them (adapters/fetch/workerd.ts) carries their code. Unset
   * elsewhere: no timer per exchange.
   */
  readonly leases?: (() => ContextLeases) | undefined;
  /** Watches pool events and slot waits where the runtime has somewhere to publish them (Node: diagnostics_channel). */
  readonly observer?: PoolObserver;
}

/** Options after checking, with defaults filled in. */
export interface ResolvedOptions {
  readonly numPools: number;
  readonly maxSize: number;
  readonly maxTotal: number | undefined;
  readonly poolTimeout: number | undefined;
  /** Bytes of decoded body a response may have; undefined: no limit. */
  readonly maxResponseSize: number | undefined;
  /** The fleet budget, if any. */
  readonly budget: Budget | undefined;
  readonly headers: Headers;
  readonly retry: ResolvedRetry;
  readonly timeout: ResolvedTimeout;
  readonly redirect: number;
  readonly tls: TlsOptions | undefined;
  readonly keepAliveTimeout: number;
  readonly fetch: typeof globalThis.fetch | undefined;
  readonly clock: Required<Clock>;
  /** The adapter's, where the core follows redirects itself (Node). */
  readonly redirectFollower: RedirectFollower | undefined;
  /** The adapter's, where it publishes what happens in the pools (Node). */
  readonly observer: PoolObserver | undefined;
}

const positiveInteger = numberCheck('a positive integer', (n) => Number.isInteger(n) && n >= 1);
const milliseconds = numberCheck('a non-negative number of milliseconds', (n) => Number.isFinite(n) && n >= 0);
/**
 * `keepAliveTimeout` is clamped instead: it is how long an idle socket may
 * stay, not a wait anyone is promised, so "as long as a timer holds" is
 * what a longer one (or `Infinity`) can mean.
 */
const idleMilliseconds: Check<number> = (value, name) =>
  Math.min(typeof value === 'number' && value >= 0 ? value : mustBe(name, 'a non-negative number of milliseconds', value), MAX_TIMER_MS);
/** A byte count for `maxResponseSize`. */
export const byteCount = numberCheck('a non-negative integer number of bytes', (n) => Number.isSafeInteger(n) && n >= 0);
const hops = numberCheck('a boolean or a non-negative integer', (n) => Number.isInteger(n) && n >= 0);
const fn = <T>(value: unknown, name: string): T => (typeof value === 'function' ? (value as T) : mustBe(name, 'a function', value));

/** `true` → the default hop limit, `false` → 0 (return the 3xx), n → n hops. */
export function normalizeRedirect(value: unknown, name: string, fallback: number): number {
  return value === undefined || value === true ? fallback : value === false ? 0 : hops(value, name);
}

function normalizeClock(value: unknown, name: string): Required<Clock> {
  if (value === undefined) return realClock;
  const { now, sleep } = knownKeys(value, name, 'an object { now, sleep }', ['now', 'sleep']);
  return {
    now: now === undefined ? realClock.now : fn(now, `${name}.now`),
    sleep: sleep === undefined ? realClock.sleep : fn(sleep, `${name}.sleep`),
  };
}

/** Unset → `fallback` (none: undefined), else checked. */
const or = <T>(check: Check<T>, fallback?: T): Check<T | undefined> => (value, name) => (value === undefined ? fallback : check(value, name));

/**
 * Each option and how it resolves (checked in this order), to the field of
 * the same name (`retries` to `retry`).
 * The adapter is passed for the entries that depend on the runtime.
 */
const OPTIONS: { [K in keyof Required<PoolManagerOptions>]: (value: unknown, name: string, adapter: AdapterOptions) => unknown } = {
  numPools: or(positiveInteger, defaults.numPools),
  maxSize: (value, name, adapter) => or(positiveInteger, adapter.maxSize)(value, name),
  maxTotal: or(positiveInteger),
  // A wait the caller is promised: refused past what a timer holds, as `timeout` is.
  poolTimeout: or(timerMs(milliseconds)),
  maxResponseSize: or(byteCount),
  budget: (value, name) => (typeof (value as Budget | undefined)?.acquire === 'function' || value === undefined ? value : mustBe(name, 'a budget', value)),
  headers: (value, name) => {
    const headers = normalizeHeaders(value, name);
    refuseClientHeaders(headers, name);
    return headers;
  },
  retries: (value, name) => normalizeRetry(value, name),
  timeout: (value, name) => normalizeTimeout(value, name),
  redirect: (value, name) => normalizeRedirect(value, name, defaults.redirect),
  tls: (value, _name, adapter) => (value === undefined ? undefined : (adapter.tls ?? refuseTls)(value)),
  keepAliveTimeout: or(idleMilliseconds, defaults.keepAliveTimeout),
  fetch: or(fn),
  clock: normalizeClock,
};
const KNOWN = Object.keys(OPTIONS);

function refuseTls(value: unknown): never {
  return mustBe('tls', 'unset: this adapter makes no TLS connections of its own', value);
}

/** Accepts `new PoolManager(10)` as urllib3 does, or an options object. */
export function normalizeOptions(input: number | PoolManagerOptions | undefined, adapter: AdapterOptions): ResolvedOptions {
  const given = typeof input === 'number' ? { numPools: input } : input ?? {};
  const options = knownKeys(given, 'PoolManager options', 'a number (numPools) or an object', KNOWN, 'PoolManager');
  const resolved: Record<string, unknown> = {};
  for (const [name, check] of Object.entries(OPTIONS)) resolved[name === 'retries' ? 'retry' : name] = check(options[name], name, adapter);
  resolved.redirectFollower = adapter.redirectFollower;
  resolved.observer = adapter.observer;
  return resolved as unknown as ResolvedOptions;
}
