/**
 * Defaults and the one `normalizeOptions` that checks what users pass.
 * Every bad option is a `TypeError` that names the option and the value.
 */
import { describe } from './pool-key.js';
import { normalizeHeaders } from './headers.js';
import { normalizeRetry, type ResolvedRetry } from './retry.js';
import { normalizeTimeout, type ResolvedTimeout } from './timeout.js';
import type { Clock, PoolManagerOptions, TlsOptions } from './types.js';
import { realClock } from './timeout.js';

/** What every manager starts from; adapters override `maxSize`. */
export const defaults = {
  numPools: 10,
  maxSize: 10,
  redirect: 10,
  keepAliveTimeout: 4000,
} as const;

/** Options after checking, with defaults filled in. */
export interface ResolvedOptions {
  readonly numPools: number;
  readonly maxSize: number;
  readonly maxTotal: number | undefined;
  readonly poolTimeout: number | undefined;
  readonly headers: Headers;
  readonly retry: ResolvedRetry;
  readonly timeout: ResolvedTimeout;
  readonly redirect: number;
  readonly tls: TlsOptions | undefined;
  readonly keepAliveTimeout: number;
  readonly fetch: typeof globalThis.fetch | undefined;
  readonly clock: Required<Clock>;
}

const KNOWN = new Set([
  'numPools', 'maxSize', 'maxTotal', 'poolTimeout', 'headers', 'retries', 'timeout',
  'redirect', 'tls', 'keepAliveTimeout', 'fetch', 'clock',
]);

/** Accepts `new PoolManager(10)` as urllib3 does, or an options object. */
export function normalizeOptions(
  input: number | PoolManagerOptions | undefined,
  adapterDefaults: { maxSize: number },
): ResolvedOptions {
  const options: PoolManagerOptions = typeof input === 'number' ? { numPools: input } : input ?? {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`PoolManager options must be a number (numPools) or an object, got ${describe(input)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      const value = (options as Record<string, unknown>)[key];
      throw new TypeError(`Unknown PoolManager option ${JSON.stringify(key)} (value ${describe(value)})`);
    }
  }
  const o = options;
  return {
    numPools: positiveInteger('numPools', o.numPools, defaults.numPools),
    maxSize: positiveInteger('maxSize', o.maxSize, adapterDefaults.maxSize),
    maxTotal: o.maxTotal === undefined ? undefined : positiveInteger('maxTotal', o.maxTotal, 0),
    poolTimeout: o.poolTimeout === undefined ? undefined : milliseconds('poolTimeout', o.poolTimeout),
    headers: normalizeHeaders(o.headers, 'headers'),
    retry: normalizeRetry(o.retries, 'retries'),
    timeout: normalizeTimeout(o.timeout, 'timeout'),
    redirect: normalizeRedirect(o.redirect, 'redirect', defaults.redirect),
    tls: normalizeTls(o.tls),
    keepAliveTimeout: o.keepAliveTimeout === undefined
      ? defaults.keepAliveTimeout
      : milliseconds('keepAliveTimeout', o.keepAliveTimeout),
    fetch: normalizeFetch(o.fetch),
    clock: normalizeClock(o.clock),
  };
}

/** A whole number of at least 1. */
export function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`${name} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

/** A finite, non-negative number of milliseconds. */
export function milliseconds(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a non-negative number of milliseconds, got ${describe(value)}`);
  }
  return value;
}

/** `true` → the default hop limit, `false` → 0 (return the 3xx), n → n hops. */
export function normalizeRedirect(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === true) return fallback;
  if (value === false) return 0;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  throw new TypeError(`${name} must be a boolean or a non-negative integer, got ${describe(value)}`);
}

const TLS_KEYS = new Set(['ca', 'cert', 'key', 'rejectUnauthorized', 'servername']);

/** Checks TLS settings: the `tls` option, and the Node entry's `proxyTls` (as `name`). */
export function normalizeTls(value: unknown, name = 'tls'): TlsOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!TLS_KEYS.has(key)) throw new TypeError(`Unknown ${name} option ${JSON.stringify(key)}`);
  }
  const tls = value as TlsOptions;
  if (tls.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== 'boolean') {
    throw new TypeError(`${name}.rejectUnauthorized must be a boolean, got ${describe(tls.rejectUnauthorized)}`);
  }
  if (tls.servername !== undefined && typeof tls.servername !== 'string') {
    throw new TypeError(`${name}.servername must be a string, got ${describe(tls.servername)}`);
  }
  return tls;
}

function normalizeClock(value: unknown): Required<Clock> {
  if (value === undefined) return realClock;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`clock must be an object { now, sleep }, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (key !== 'now' && key !== 'sleep') throw new TypeError(`Unknown clock option ${JSON.stringify(key)}`);
  }
  const { now, sleep } = value as Clock;
  if (now !== undefined && typeof now !== 'function') throw new TypeError(`clock.now must be a function, got ${describe(now)}`);
  if (sleep !== undefined && typeof sleep !== 'function') throw new TypeError(`clock.sleep must be a function, got ${describe(sleep)}`);
  return { now: now ?? realClock.now, sleep: sleep ?? realClock.sleep };
}

function normalizeFetch(value: unknown): typeof globalThis.fetch | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new TypeError(`fetch must be a function, got ${describe(value)}`);
  return value as typeof globalThis.fetch;
}

/**
 * A stable identity for TLS options, so pools with different trust settings
 * never share a key (and so never share sockets).
 */
export function tlsFingerprint(tls: TlsOptions | undefined): string {
  if (tls === undefined) return '';
  const text = (v: unknown): string =>
    v instanceof Uint8Array ? new TextDecoder().decode(v) : Array.isArray(v) ? v.map(text).join('\n') : String(v);
  return JSON.stringify(
    (['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'] as const)
      .filter((k) => tls[k] !== undefined)
      .map((k) => [k, text(tls[k])]),
  );
}
