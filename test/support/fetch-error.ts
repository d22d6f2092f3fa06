/**
 * fetch's error contract, as `manager.fetch` keeps it: a rejection is a
 * `TypeError` whose `cause` is the poolfetch error.
 */
import { expect } from 'vitest';

/** Asserts `error` is fetch's TypeError and returns its cause (the poolfetch error). */
export function fetchCause(error: unknown): unknown {
  expect(error).toBeInstanceOf(TypeError);
  return (error as TypeError).cause;
}
