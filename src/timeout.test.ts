/** `timeout` checks and the default clock's `sleep`. */
import { describe, expect, it } from 'vitest';
import { normalizeTimeout, realClock, sleep } from './timeout.js';

describe('normalizeTimeout', () => {
  it('reads a number as the total, and an object field by field over the base', () => {
    expect(normalizeTimeout(500, 'timeout')).toEqual({ connect: undefined, read: undefined, total: 500 });
    const base = normalizeTimeout({ connect: 100, read: 200 }, 'timeout');
    expect(normalizeTimeout({ read: 50 }, 'timeout', base)).toEqual({ connect: 100, read: 50, total: undefined });
    expect(normalizeTimeout(900, 'timeout', base)).toEqual({ connect: 100, read: 200, total: 900 });
    expect(normalizeTimeout(undefined, 'timeout', base)).toBe(base);
  });

  it.each([
    [-1, 'timeout must be a positive number of milliseconds, got -1'],
    [Number.NaN, 'got NaN'],
    [0, 'got 0'],
    [Infinity, 'got Infinity'],
    ['10', 'got "10"'],
    [null, 'got null'],
    [[100], 'got an array'],
    [{ total: '5' }, 'timeout.total must be a positive number of milliseconds, got "5"'],
    [{ reed: 5 }, 'Unknown timeout option "reed"'],
  ])('refuses %j', (value, message) => {
    expect(() => normalizeTimeout(value, 'timeout')).toThrow(TypeError);
    expect(() => normalizeTimeout(value, 'timeout')).toThrow(message);
  });
});

describe('sleep', () => {
  it('resolves after the wait, at once for 0', async () => {
    await expect(sleep(0)).resolves.toBeUndefined();
    await expect(sleep(5)).resolves.toBeUndefined();
    expect(realClock.now()).toBeGreaterThan(0);
  });

  it('rejects with the signal\'s reason when aborted, before or during the wait', async () => {
    const reason = new Error('stop');
    await expect(sleep(10_000, AbortSignal.abort(reason))).rejects.toBe(reason);
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
  });
});
