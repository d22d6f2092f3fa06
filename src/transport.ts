/**
 * The seam between the core and a runtime: what one pool needs to send
 * requests to its origin. The Node adapter implements it over an undici
 * `Pool`, the fetch adapter over `fetch`. Queueing, the LRU, retries and
 * redirects stay in the core, so both runtimes behave the same.
 */
import type { Untracks } from './context-leases.js';
import type { ResolvedOptions } from './options.js';
import type { PoolKey } from './pool-key.js';
import type { ResolvedTimeout } from './timeout.js';

/** A request body in the forms every transport takes. */
export type WireBody = string | Uint8Array | ReadableStream<Uint8Array>;

/** One request as the transport sends it: already checked and routed. */
export interface WireRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: WireBody | null;
  readonly signal: AbortSignal | undefined;
  readonly timeout: ResolvedTimeout;
  /** Bytes of decoded body allowed; past it the transport stops reading, closes the connection and fails with `ResponseTooLargeError`. */
  readonly maxResponseSize: number | undefined;
  /**
   * For transports that follow redirects themselves (`followsRedirects`):
   * 'manual' when the caller wants the 3xx back. Others never follow.
   */
  readonly redirect?: 'follow' | 'manual';
}

/** A response whose body has not been read yet. */
export interface WireResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  /** The final URL, where the transport followed redirects itself. */
  readonly url?: string;
  /** True where the transport followed at least one redirect itself. */
  readonly redirected?: boolean;
  /** Reads the whole body (decoded). Call at most one of bytes/stream/discard. */
  bytes(): Promise<Uint8Array>;
  /**
   * Optional: the whole body (decoded), synchronously, if it has all arrived
   * and nothing stands between it and the caller; it is then read, as by
   * `bytes()`. Undefined otherwise, and nothing happened: call another.
   */
  bytesNow?(): Uint8Array | undefined;
  /** The body as a stream (decoded). */
  stream(): ReadableStream<Uint8Array>;
  /**
   * Optional: the body as a stream (decoded) that itself reports, through
   * `settled`, when the exchange is done with its connection: the body has
   * fully arrived (read or not), failed, was cancelled or aborted. The fetch
   * adapter reads ahead to know it; the pool frees the slot on `settled`
   * rather than when the caller has read the stream. Calls `settled` once.
   */
  streamSettled?(settled: () => void): ReadableStream<Uint8Array>;
  /** Throws the body away so the connection can be reused. */
  discard(): Promise<void>;
  /**
   * Optional: the caller dropped the response with its body unread (it was
   * garbage-collected), so close the connection under it.
   */
  abandon?(): void;
  /**
   * Optional: the exchange's incoming request has ended (workerd), and the
   * runtime dropped its I/O with it: forget what tracks the exchange,
   * touching none of its I/O (another request's context may not).
   */
  readonly drop?: () => void;
}

/** One fetch as the transport sends it; redirects are the core's business unless `followsRedirects`. */
export interface WireFetch {
  readonly url: URL;
  readonly init: RequestInit & { headers: Headers; method: string };
  readonly timeout: ResolvedTimeout;
  /** As in `WireRequest`: past it the body's read fails with a `TypeError` whose cause is `ResponseTooLargeError`. */
  readonly maxResponseSize: number | undefined;
}

/**
 * The exchange's lease where the runtime can end its incoming request under
 * it (workerd; src/context-leases.ts): `leaveOnEnd(from, member)` takes
 * `member` out of `from` should that request end before the exchange is
 * over, so a wait the runtime will never settle leaves nothing behind in the
 * transport.
 */
export interface EndsWithRequest {
  leaveOnEnd<T>(from: Untracks<T>, member: T): void;
}

/** What a runtime provides for one origin. */
export interface Transport {
  /**
   * True where the runtime follows redirects itself and cannot be stopped
   * from doing so (browsers), so the core leaves them to it.
   */
  readonly followsRedirects: boolean;
  /** Sockets opened so far; undefined where the runtime hides them (then the pool reports its peak in flight). */
  readonly numConnections: number | undefined;
  /** `ending`: where the exchange's request can end under it (see `EndsWithRequest`). */
  send(request: WireRequest, ending?: EndsWithRequest): Promise<WireResponse>;
  fetch(call: WireFetch, ending?: EndsWithRequest): Promise<Response>;
  /**
   * Optional: a fetch that itself reports, through `settled`, when the
   * exchange is over (the response body fully received, failed or aborted),
   * where the runtime can see it (Node: undici's dispatcher handler). The
   * pool then frees the slot on `settled` and hands the Response back as is,
   * instead of rebuilding it around a stream that watches the body, which
   * costs tens of µs per request. Must return this runtime's own `Response`
   * class and call `settled` at least once whatever happens (the pool
   * ignores repeats). Without it (browsers) the pool watches the body.
   */
  fetchSettled?(call: WireFetch, settled: () => void): Promise<Response>;
  connectionStats(): { connected: number; free: number };
  /**
   * Optional: close every connection that carries no request, now. The pool
   * calls it while it is retiring (out of the manager's LRU) each time a
   * request ends with nothing waiting to be sent, so no idle connection
   * outlives an eviction, while a connection a waiting request can take is
   * handed over rather than closed beside a new one. Without it (fetch: the
   * runtime owns the sockets) nothing is closed early.
   */
  closeIdle?(): void;
  /** Closes once in-flight work is done. */
  close(): Promise<void>;
  /** Aborts in-flight work and closes. */
  destroy(): Promise<void>;
}

/** Builds a transport for one pool key. */
export type TransportFactory = (key: PoolKey, options: ResolvedOptions) => Transport;
