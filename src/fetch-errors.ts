/**
 * fetch's error contract for `manager.fetch` (and a pool's `fetch`): code
 * written for fetch catches a `TypeError` for a bad URL, a network failure
 * or any pool failure, and tells network errors by the message (Node's
 * `fetch failed`, Chrome's `Failed to fetch`: ky 2 and p-retry use
 * is-network-error, which compares messages exactly) and by
 * `error.cause.code` (Node's `ECONNREFUSED`, undici's `UND_ERR_SOCKET`).
 * `request()` rejects with the poolfetch errors themselves.
 */
import { PoolfetchError } from './errors.js';

/** What a failure without a runtime error of its own says (a closed pool, a poolTimeout): Node's words. */
const FETCH_FAILED = 'fetch failed';

/**
 * `error` as fetch would reject: a poolfetch error becomes a `TypeError`
 * whose `cause` is that error, with the runtime's message and, where the
 * runtime gave a code, that code as the cause's `code` (as `error.cause.code`
 * reads with the runtime's own fetch); the runtime's error stays one `cause`
 * further down. Anything else (an abort's reason, fetch's own TypeErrors)
 * is returned as it is.
 */
export function asFetchError(error: unknown): unknown {
  if (!(error instanceof PoolfetchError)) return error;
  let message = FETCH_FAILED;
  let code: string | undefined;
  let cause: unknown = error.cause;
  // The runtime's error is at most a few causes down (fetch's TypeError, then the socket's error).
  for (let depth = 0; depth < 4 && typeof cause === 'object' && cause !== null && !(cause instanceof PoolfetchError); depth += 1) {
    if (cause instanceof TypeError && depth === 0) message = cause.message;
    const given = (cause as { code?: unknown }).code;
    if (typeof given === 'string') {
      code = given;
      break;
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  // An own property on this instance only: `request()` errors keep their POOLFETCH_ code.
  if (code !== undefined) Object.defineProperty(error, 'code', { value: code, configurable: true, enumerable: true });
  return new TypeError(message, { cause: error });
}
