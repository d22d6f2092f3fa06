/**
 * What the request and fetch loops need from whoever runs them: a manager
 * or a single pool. The loops see a pool only through `Route` (one exchange
 * with one origin), so they do not depend on `ConnectionPool`, which runs
 * them in turn.
 */
import type { ResolvedOptions } from './options.js';
import type { RunTicket } from './run-tracker.js';
import type { WireFetch, WireRequest, WireResponse } from './transport.js';

/** One origin's way out: sends a request once it has a slot, which it frees when the body is done. */
export interface Route {
  /** Whether the runtime follows redirects itself (browsers), so the loop leaves them to it. */
  readonly followsRedirects: boolean;
  exchange(request: WireRequest): Promise<WireResponse>;
  fetchOnce(call: WireFetch): Promise<Response>;
  /**
   * Waits out the backoff before a retry of a request last sent here:
   * `wait(signal)` is the requester's sleep. Rejects at once, or cuts the
   * wait short, with `ClosedPoolError` when the retry would be refused here:
   * this pool closed (`close()`, `destroy()`, or retired by its manager and
   * empty) while the request's retries still come to it: always for its own
   * `request()` (`own`); for a manager's, while the pool is in its LRU.
   */
  waitToRetry(wait: (signal: AbortSignal | undefined) => Promise<void>, signal: AbortSignal | undefined, own: boolean): Promise<void>;
}

export interface RequestContext {
  readonly options: ResolvedOptions;
  /** The route that serves `url`, or undefined where this requester does not follow. */
  route(url: URL): Route | undefined;
  /**
   * Waits between retries: by default the `clock` option's `sleep`, so tests
   * need not wait. `run` (from `begin`) lets disposal refuse the wait of a
   * call it began after.
   */
  sleep(ms: number, signal?: AbortSignal, run?: RunTicket): Promise<void>;
  /**
   * Optional (a manager has both): counts a call in until it has its answer,
   * so that disposal waits for it between hops and retries; `end`, called
   * once, counts it out.
   */
  begin?(): RunTicket;
  end?(run: RunTicket): void;
}
