/** `timeout` checks and the default clock's `sleep`. */
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
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
  afterEach(() => {
    vi.useRealTimers();
  });

  it('puts one listener on a signal shared by many waits, and none once they are over', async () => {
    vi.useFakeTimers();
    const shared = new AbortController();
    const waits = Array.from({ length: 20 }, () => sleep(1_000, shared.signal));
    // Node warns past ten listeners on one signal: requests that share it wait out retries together.
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(waits);
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
    const cut = [sleep(1_000, shared.signal), sleep(1_000, shared.signal)];
    shared.abort(new Error('stop'));
    for (const wait of cut) await expect(wait).rejects.toThrow('stop');
  });

  it('resolves once the wait is over, not before (on a fake clock: no real waiting)', async () => {
    vi.useFakeTimers();
    let done = false;
    const waiting = sleep(5_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    await waiting;
  });

  it('the default clock reads the system time and waits with sleep', () => {
    vi.useFakeTimers({ now: Date.UTC(2019, 5, 3, 11) });
    expect(realClock.now()).toBe(Date.UTC(2019, 5, 3, 11));
    vi.advanceTimersByTime(1_500);
    expect(realClock.now()).toBe(Date.UTC(2019, 5, 3, 11) + 1_500);
    expect(realClock.sleep).toBe(sleep);
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
