/**
 * `RetryBudget` and `normalizeRetry`, after urllib3's test/test_retry.py.
 * urllib3 makes a new `Retry` per `increment()`; here one budget is spent in
 * place, so each case spends it step by step.
 */
import { describe, expect, it } from 'vitest';
import { ConnectTimeoutError, MaxRetryError, NewConnectionError, ReadTimeoutError } from './errors.js';
import { normalizeRetry, parseHttpDate, parseRetryAfter, RetryBudget, retryDefaults } from './retry.js';

const where = { method: 'GET', url: 'http://127.0.0.1/' };
const connect = { kind: 'connect', error: new ConnectTimeoutError('connect timed out') } as const;
const read = { kind: 'read', error: new ReadTimeoutError('read timed out') } as const;
const status = (code: number, retryAfter: string | null = null) => ({ kind: 'status', status: code, retryAfter }) as const;
const budget = (options: unknown, redirect = 10, now?: () => number): RetryBudget => new RetryBudget(normalizeRetry(options, 'retries'), redirect, now);

describe('RetryBudget counters (test_retry.py)', () => {
  it('lets total win when it is lower than connect (test_retry_both_specified)', () => {
    const b = budget({ connect: 3, total: 2 });
    b.spend(connect, where);
    b.spend(connect, where);
    const error = (() => {
      try {
        b.spend(connect, where);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MaxRetryError);
    expect((error as MaxRetryError).reason).toBe(connect.error);
  });

  it('honours a connect or read count lower than total (test_retry_higher_total_loses*)', () => {
    for (const cause of [connect, read]) {
      const b = budget({ [cause.kind]: 2, total: 3 });
      b.spend(cause, where);
      b.spend(cause, where);
      expect(() => b.spend(cause, where)).toThrow(MaxRetryError);
    }
  });

  it('falls back on the other counts when total is false (test_retry_total_none)', () => {
    const b = budget({ connect: 2, total: false });
    b.spend(connect, where);
    b.spend(connect, where);
    expect(() => b.spend(connect, where)).toThrow(MaxRetryError);
    const reads = budget({ connect: 2, total: false });
    for (let i = 0; i < 10; i += 1) reads.spend(read, where);
  });

  it('gives no second chance with read: 0 (test_retry_read_zero)', () => {
    expect(() => budget({ read: 0 }).spend(read, where)).toThrow(/Max retries exceeded \(GET http:\/\/127\.0\.0\.1\/\): caused by ReadTimeoutError/);
  });

  it('counts status retries and says which status ran out (test_status_counter)', () => {
    const b = budget({ status: 2 });
    b.spend(status(400), where);
    b.spend(status(400), where);
    expect(() => b.spend(status(400), where)).toThrow(/too many 400 error responses/);
  });

  it('defaults to 3 retries in all, and total: 0 fails on the first retry (test_exhausted)', () => {
    const b = budget(undefined);
    for (let i = 0; i < 3; i += 1) b.spend(connect, where);
    expect(() => b.spend(connect, where)).toThrow(MaxRetryError);
    expect(() => budget(0).spend(connect, where)).toThrow(MaxRetryError);
  });

  it('counts redirects apart from total, and names the limit', () => {
    const b = budget({ total: 0 }, 2);
    b.spend({ kind: 'redirect' }, where);
    b.spend({ kind: 'redirect' }, where);
    expect(() => b.spend({ kind: 'redirect' }, where)).toThrow(/too many redirects \(more than 2\)/);
    expect(() => budget({ redirect: 0 }).spend({ kind: 'redirect' }, where)).toThrow(MaxRetryError);
  });
});

describe('backoff (test_backoff, test_configurable_backoff_max, test_backoff_reset_after_redirect)', () => {
  it('waits nothing on the first retry, then factor * 2^(n-1) seconds, capped at backoffMax', () => {
    const b = budget({ total: 100, backoffFactor: 0.2, backoffMax: 1 });
    const waits = Array.from({ length: 6 }, () => b.spend(status(500), where));
    expect(waits).toEqual([0, 400, 800, 1000, 1000, 1000]);
    const uncapped = budget({ total: 100, backoffFactor: 0.2 });
    expect(Array.from({ length: 4 }, () => uncapped.spend(connect, where))).toEqual([0, 400, 800, 1600]);
  });

  it('caps at 120 s by default and waits nothing with factor 0 (test_zero_backoff)', () => {
    const b = budget({ total: 100, backoffFactor: 10 });
    const waits = Array.from({ length: 6 }, () => b.spend(connect, where));
    expect(waits.at(-1)).toBe(120_000);
    const zero = budget({ total: 100 });
    expect([zero.spend(connect, where), zero.spend(connect, where), zero.spend(connect, where)]).toEqual([0, 0, 0]);
  });

  it('starts counting again after a redirect', () => {
    const b = budget({ total: 100, backoffFactor: 0.2 });
    b.spend(connect, where);
    expect(b.spend(connect, where)).toBe(400);
    expect(b.spend({ kind: 'redirect' }, where)).toBe(0);
    expect(b.spend(connect, where)).toBe(0);
    expect(b.spend(connect, where)).toBe(400);
  });
});

describe('Retry-After (test_parse_retry_after*, test_respect_retry_after_header_sleep)', () => {
  const now = Date.UTC(2019, 5, 3, 11);

  it.each([
    ['0', 0],
    ['1000', 1_000_000],
    ['\t42 ', 42_000],
    ['Mon, 3 Jun 2019 12:00:00 UTC', 3_600_000],
    ['Mon, 03 Jun 2019 11:30:12 GMT', 1_812_000],
    ['Monday, 03-Jun-19 11:30:12 GMT', 1_812_000],
    ['Mon Jun  3 11:30:12 2019', 1_812_000],
    ['Mon, 3 Jun 2019 11:00:00 UTC', 0],
    ['Mon, 03 Jun 2019 10:00:00 GMT', 0],
  ])('reads %j as %d ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it.each(['-1', '+1', '1.0', '\u00b2', 'soon', 'Mon, 32 Foo 2019 11:00:00 GMT'])('ignores the unreadable %j (backoff applies)', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });

  it('reads asctime as UTC whatever the local zone', () => {
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
  });

  it('waits as Retry-After says, capped at retryAfterMax, or the backoff when it is unreadable', () => {
    const b = budget({ total: 10, backoffFactor: 1 }, 10, () => now);
    expect(b.spend(status(503, '3600'), where)).toBe(3_600_000);
    expect(b.spend(status(503, 'Mon, 03 Jun 2019 11:30:12 GMT'), where)).toBe(1_812_000);
    expect(b.spend(status(503, 'nonsense'), where)).toBe(4000);
    const capped = budget({ retryAfterMax: 1 }, 10, () => now);
    expect(capped.spend(status(429, '2'), where)).toBe(1000);
    expect(budget(undefined, 10, () => now).spend(status(503, '99999'), where)).toBe(21_600_000);
  });

  it('ignores Retry-After with respectRetryAfter: false', () => {
    const b = budget({ respectRetryAfter: false, statusForcelist: [503] }, 10, () => now);
    expect(b.spend(status(503, '3600'), where)).toBe(0);
    expect(b.isRetryableStatus('GET', 503, true)).toBe(true);
    expect(budget({ respectRetryAfter: false }).isRetryableStatus('GET', 503, true)).toBe(false);
  });
});

describe('which responses are retried (test_status_forcelist, test_allowed_methods_with_status_forcelist)', () => {
  it('retries a status in statusForcelist for allowed methods only', () => {
    const b = budget({ statusForcelist: [500, 502] });
    expect(b.isRetryableStatus('GET', 200)).toBe(false);
    expect(b.isRetryableStatus('GET', 400)).toBe(false);
    expect(b.isRetryableStatus('GET', 500)).toBe(true);
    expect(b.isRetryableStatus('POST', 500)).toBe(false);
    const post = budget({ statusForcelist: [500], allowedMethods: ['post'] });
    expect(post.isRetryableStatus('GET', 500)).toBe(false);
    expect(post.isRetryableStatus('POST', 500)).toBe(true);
  });

  it('retries 413, 429 and 503 that carry Retry-After without a forcelist', () => {
    const b = budget(undefined);
    for (const code of [413, 429, 503]) {
      expect(b.isRetryableStatus('GET', code, true)).toBe(true);
      expect(b.isRetryableStatus('GET', code, false)).toBe(false);
    }
    expect(b.isRetryableStatus('GET', 500, true)).toBe(false);
    expect(b.isRetryableStatus('POST', 503, true)).toBe(false);
    expect(budget(false).isRetryableStatus('GET', 503, true)).toBe(false);
    expect(budget({ total: false }).isRetryableStatus('GET', 503, true)).toBe(false);
    expect(budget(0).isRetryableStatus('GET', 503, true)).toBe(false);
  });

  it('allows read retries only for allowedMethods (idempotent by default)', () => {
    const b = budget(undefined);
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']) expect(b.canRetryRead(method)).toBe(true);
    expect(b.canRetryRead('POST')).toBe(false);
    expect(b.canRetryRead('PATCH')).toBe(false);
  });
});

describe('normalizeRetry', () => {
  it('takes a count, false, or an object with every key', () => {
    expect(normalizeRetry(5, 'retries').total).toBe(5);
    expect(normalizeRetry(false, 'retries').enabled).toBe(false);
    const all = normalizeRetry(
      {
        total: 4, connect: 1, read: 2, redirect: 3, status: 4, statusForcelist: [500], allowedMethods: ['get', 'POST'],
        backoffFactor: 0.5, backoffMax: 10, respectRetryAfter: false, retryAfterMax: 60, raiseOnStatus: false, raiseOnRedirect: false,
      },
      'retries',
    );
    expect(all).toMatchObject({ total: 4, connect: 1, read: 2, redirect: 3, status: 4, backoffFactor: 0.5, backoffMax: 10 });
    expect(all).toMatchObject({ respectRetryAfter: false, retryAfterMax: 60, raiseOnStatus: false, raiseOnRedirect: false });
    expect([...all.allowedMethods]).toEqual(['GET', 'POST']);
    expect(normalizeRetry({ redirect: false }, 'retries')).toMatchObject({ redirect: 0, raiseOnRedirect: false });
    expect(normalizeRetry(undefined, 'retries')).toBe(retryDefaults);
  });

  it('overlays a per-request object or count on the manager settings', () => {
    const base = normalizeRetry({ total: 7, connect: 2, read: 1, status: 4, redirect: 3, statusForcelist: [502] }, 'retries');
    const overlaid = normalizeRetry({ backoffFactor: 1 }, 'retries', base);
    expect(overlaid).toMatchObject({ total: 7, connect: 2, read: 1, status: 4, redirect: 3, backoffFactor: 1 });
    expect([...overlaid.statusForcelist]).toEqual([502]);
    expect(normalizeRetry(2, 'retries', base)).toMatchObject({ total: 2, connect: 2, redirect: 3 });
    expect(normalizeRetry({ redirect: true }, 'retries', base).redirect).toBeUndefined();
    // Over a manager with retries off, a request's settings start from the defaults.
    expect(normalizeRetry({ statusForcelist: [500] }, 'retries', normalizeRetry(false, 'retries'))).toMatchObject({ enabled: true, total: 3 });
    expect(normalizeRetry(1, 'retries', normalizeRetry(false, 'retries'))).toMatchObject({ enabled: true, total: 1 });
  });

  it.each([
    [{ totl: 3 }, /Unknown retries option "totl"/],
    [{ backoff: 1 }, /Unknown retries option "backoff"/],
    [-1, /retries must be a non-negative integer, got -1/],
    [Number.NaN, /got NaN/],
    [1.5, /got 1\.5/],
    ['3', /retries must be a number, false or an object of retry options, got "3"/],
    [true, /got true/],
    [{ total: -2 }, /retries\.total must be a non-negative integer, got -2/],
    [{ backoffFactor: Number.NaN }, /retries\.backoffFactor must be a non-negative number of seconds, got NaN/],
    [{ backoffMax: -1 }, /retries\.backoffMax .* got -1/],
    [{ retryAfterMax: Infinity }, /retries\.retryAfterMax .* got Infinity/],
    [{ statusForcelist: [500, '503'] }, /retries\.statusForcelist .* got "503"/],
    [{ statusForcelist: [700] }, /got 700/],
    [{ allowedMethods: ['GET', 'bad method'] }, /retries\.allowedMethods .* got "bad method"/],
    [{ raiseOnStatus: 'no' }, /retries\.raiseOnStatus must be a boolean, got "no"/],
  ])('rejects %j with a TypeError naming it', (value, message) => {
    expect(() => normalizeRetry(value, 'retries')).toThrow(TypeError);
    expect(() => normalizeRetry(value, 'retries')).toThrow(message);
  });

  it('keeps connect errors in the reason of MaxRetryError', () => {
    const error = new NewConnectionError('refused');
    const b = budget(0);
    try {
      b.spend({ kind: 'connect', error }, where);
      expect.unreachable();
    } catch (e) {
      expect((e as MaxRetryError).reason).toBe(error);
      expect((e as MaxRetryError).cause).toBe(error);
    }
  });
});
