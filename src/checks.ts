/**
 * The pieces every option checker is built from, so that each bad option
 * gets the same `TypeError`, built in one place: `<name> must be <what>,
 * got <value>`, and `Unknown <owner> option "<key>"`.
 */
import { describe } from './pool-key.js';

/** Checks one option: returns it as resolved, or throws a `TypeError` naming `name` and the value. */
export type Check<T> = (value: unknown, name: string) => T;

/** Throws the `TypeError` of a bad option. */
export function mustBe(name: string, what: string, value: unknown): never {
  throw new TypeError(`${name} must be ${what}, got ${describe(value)}`);
}

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `value` as an object (else `<name> must be <what>`) whose every key is
 * `known` (else `Unknown <owner> option "<key>"`, with its value and the
 * known names).
 */
export function knownKeys(value: unknown, name: string, what: string, known: readonly string[], owner = name): Record<string, unknown> {
  if (!isRecord(value)) mustBe(name, what, value);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new TypeError(`Unknown ${owner} option ${describe(key)} (value ${describe(value[key])}); known: ${known.join(', ')}`);
    }
  }
  return value;
}

/** A number that passes `test`, else `<name> must be <what>`. */
export const numberCheck = (what: string, test: (n: number) => boolean): Check<number> => (value, name) =>
  typeof value === 'number' && test(value) ? value : mustBe(name, what, value);

/** A whole number of at least 0. */
export const count: Check<number> = numberCheck('a non-negative integer', (n) => Number.isInteger(n) && n >= 0);

/** `true` or `false`. */
export const bool: Check<boolean> = (value, name) => (typeof value === 'boolean' ? value : mustBe(name, 'a boolean', value));

/** An HTTP token (RFC 9110 §5.6.2): what a method or a header name must be. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The longest delay a timer holds: `setTimeout` takes a signed 32-bit
 * count of milliseconds everywhere (HTML, Node, workerd), and a longer one
 * fires at once (Node adds a `TimeoutOverflowWarning`). About 24.8 days.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `check`, and then no more than `MAX_TIMER_MS`: a limit a caller waits on
 * is refused past what a timer holds rather than clamped, since it must
 * never fire early, and one of weeks is a unit mistake or means "none",
 * which leaving it out says.
 */
export const timerMs = (check: Check<number>): Check<number> => (value, name) => {
  const ms = check(value, name);
  if (ms > MAX_TIMER_MS) {
    throw new TypeError(`${name} must be at most ${MAX_TIMER_MS} ms (the longest a timer holds; leave it out for none), got ${describe(value)}`);
  }
  return ms;
};
