/**
 * Timeouts: `timeout` is either total milliseconds or `{ connect, read, total }`.
 * Adapters map them: the Node adapter onto undici's connect, headers and body
 * timeouts; both adapters enforce `total` with an `AbortSignal`.
 */
import { ReadTimeoutError } from './errors.js';
import { knownKeys, MAX_TIMER_MS, numberCheck, timerMs } from './checks.js';
import { onAbort } from './abort-watch.js';
import { noop } from './watch-body.js';

export interface ResolvedTimeout {
  readonly connect: number | undefined;
  readonly read: number | undefined;
  readonly total: number | undefined;
}

export const NO_TIMEOUT: ResolvedTimeout = { connect: undefined, read: undefined, total: undefined };

const positiveMs = timerMs(numberCheck('a positive number of milliseconds', (n) => Number.isFinite(n) && n > 0));

/** Checks a `timeout` option; a per-request value overlays the manager's `base`. */
export function normalizeTimeout(value: unknown, name: string, base: ResolvedTimeout = NO_TIMEOUT): ResolvedTimeout {
  if (value === undefined) return base;
  if (typeof value === 'number') return { ...base, total: positiveMs(value, name) };
  const o = knownKeys(value, name, 'milliseconds or { connect, read, total }', ['connect', 'read', 'total']);
  const limit = (key: keyof ResolvedTimeout): number | undefined => (o[key] === undefined ? base[key] : positiveMs(o[key], `${name}.${key}`));
  return { connect: limit('connect'), read: limit('read'), total: limit('total') };
}

/**
 * `setTimeout` as a promise that an abort cuts short (rejecting with the
 * signal's reason). A wait longer than a timer holds (a `Retry-After` or a
 * backoff under raised caps) is served in steps, never cut short.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(signal.reason);
  if (!(ms > 0)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const until = Date.now() + ms;
    let timer: ReturnType<typeof setTimeout>;
    // Through abort-watch: many requests sharing one signal may wait out a retry at once.
    const unwatch = signal === undefined ? undefined : onAbort(signal, () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
    const step = (left: number): void => {
      timer = setTimeout(() => {
        const rest = until - Date.now();
        if (left > MAX_TIMER_MS && rest > 0) {
          step(rest);
          return;
        }
        unwatch?.();
        resolve();
      }, Math.min(left, MAX_TIMER_MS));
    };
    step(ms);
  });
}

/** The real time and the real wait: the default `clock` option. */
export const realClock = { now: (): number => Date.now(), sleep } as const;

/** Neither a signal nor a total timeout, made once. */
const NO_DEADLINE: { readonly signal: undefined; cleanup(): void } = { signal: undefined, cleanup: noop };

/**
 * The caller's signal, joined with one that fires after `timeout.total`.
 * The abort reason is the `ReadTimeoutError` itself, so whatever a transport
 * or a body stream throws on abort is already the right error.
 */
export function withTotalTimeout(
  signal: AbortSignal | undefined,
  total: number | undefined,
  where: { readonly method: string; readonly url: URL },
): { signal: AbortSignal | undefined; cleanup: () => void } {
  // No total timeout (the default): no object of its own per call without a signal either.
  if (total === undefined) return signal === undefined ? NO_DEADLINE : { signal, cleanup: noop };
  const controller = new AbortController();
  const timer = setTimeout(() => {
    // Named as the request stands when it fires (a redirect hop may have changed it).
    const { method } = where;
    const url = where.url.href;
    controller.abort(
      new ReadTimeoutError(`Request exceeded the total timeout of ${total} ms (${method} ${url})`, { method, url, timeout: total }),
    );
  }, total);
  let unwatch = noop;
  if (signal?.aborted === true) controller.abort(signal.reason);
  else if (signal !== undefined) unwatch = onAbort(signal, () => controller.abort(signal.reason));
  let cleaned = false;
  return {
    signal: controller.signal,
    cleanup: () => {
      if (cleaned) return;
      cleaned = true;
      clearTimeout(timer);
      unwatch();
    },
  };
}
