/**
 * The public option and interface types shared by every runtime entry, so
 * isomorphic code type-checks once.
 */
import type { Budget, BudgetStats } from './budget.js';
import type { PoolResponse } from './response.js';

/**
 * Headers as `fetch` takes them (a `Headers`, a record or pairs). Read from
 * the runtime's own `RequestInit` rather than named `HeadersInit`, which
 * only lib.dom declares: a Node project compiled without the DOM lib gets
 * undici's type from @types/node, a browser or Worker project lib.dom's, and
 * neither sees an unresolved name or an `any` (ky does the same).
 */
export type HeadersLike = NonNullable<RequestInit['headers']>;

/** TLS settings for https pools (Node adapter only; browsers own TLS). */
export interface TlsOptions {
  /** Certificate authorities to trust instead of the built-in list. @default the built-in list */
  ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** Client certificate (PEM). @default none */
  cert?: string | Uint8Array;
  /** Client key (PEM). @default none */
  key?: string | Uint8Array;
  /**
   * Verify the server's certificate. Turn off only for a server you control.
   * @default true
   */
  rejectUnauthorized?: boolean;
  /** Server name for SNI and verification. @default the URL's host */
  servername?: string;
}

/** Time limits in milliseconds, each at most 2^31-1 (what a timer holds; a `TypeError` past it). */
export interface TimeoutOptions {
  /** Limit on opening the connection (TCP and TLS). @default no limit (Node: undici's 10 s) */
  connect?: number;
  /** Limit on waiting for the response headers, and between body chunks. @default no limit */
  read?: number;
  /** Limit on the whole request, body included. @default no limit */
  total?: number;
}

/** When and how often to retry; the names are urllib3's `Retry`. */
export interface RetryOptions {
  /** Total retries of any kind; wins over the others. @default 3 */
  total?: number | false;
  /** Retries after a connection could not be made (nothing was sent). @default `total` decides */
  connect?: number;
  /** Retries after the request was sent but the answer broke off. @default `total` decides */
  read?: number;
  /**
   * Redirect hops to follow (a hop spends this count, never `total`); `false`
   * returns the 3xx; more hops than allowed is `MaxRetryError`.
   * @default the `redirect` option (10)
   */
  redirect?: number | boolean;
  /** Retries on a status in `statusForcelist`. @default `total` decides */
  status?: number;
  /** Statuses that are retried. @default [] */
  statusForcelist?: readonly number[];
  /**
   * Methods retried after a read error or a forced status.
   * @default ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PUT', 'TRACE']
   */
  allowedMethods?: readonly string[];
  /**
   * Seconds of backoff: the first retry goes at once, retry n >= 2 waits
   * `backoffFactor * 2 ** (n - 1)` (n counts failures in a row since the last redirect).
   * @default 0
   */
  backoffFactor?: number;
  /** Cap on one backoff, in seconds. @default 120 */
  backoffMax?: number;
  /**
   * Retry 413, 429 and 503 that carry `Retry-After` (seconds or an HTTP-date)
   * and wait as long as it says; also wait as it says on a `statusForcelist` retry.
   * @default true
   */
  respectRetryAfter?: boolean;
  /** Cap on a `Retry-After` wait, in seconds (urllib3's `retry_after_max`). @default 21600 */
  retryAfterMax?: number;
  /** Throw `MaxRetryError` when status retries run out; else return the response. @default true */
  raiseOnStatus?: boolean;
  /** Throw `MaxRetryError` when redirect hops run out; else return the 3xx. @default true (false after `redirect: false`) */
  raiseOnRedirect?: boolean;
}

/** Options of a `PoolManager`; every one is optional. */
export interface PoolManagerOptions {
  /** How many pools live at once; the least recently used leaves first. @default 10 */
  numPools?: number;
  /** Connections (Node) or in-flight requests (fetch) per origin. @default 10 on Node, 6 with fetch */
  maxSize?: number;
  /** Cap on in-flight requests across all origins. @default no cap */
  maxTotal?: number;
  /** Milliseconds a request may wait for a free slot before `EmptyPoolError`; at most 2^31-1 (a `TypeError` past it). @default wait forever */
  poolTimeout?: number;
  /** Headers sent with every request. @default none */
  headers?: HeadersLike;
  /** Retries: a count, urllib3-style options, or `false` for none. @default 3 */
  retries?: number | RetryOptions | false;
  /** Milliseconds for the whole request, or separate limits. @default no limit */
  timeout?: number | TimeoutOptions;
  /** Follow redirects (`true`: up to 10), a hop limit, or `false`. @default true */
  redirect?: boolean | number;
  /**
   * Bytes of decoded body a response may have: crossing it stops reading and
   * decoding, closes the connection, frees the slot and rejects with
   * `ResponseTooLargeError` (in `manager.fetch`, the body's read rejects with a
   * `TypeError` whose `cause` it is). @default no limit
   */
  maxResponseSize?: number;
  /**
   * A fleet-wide cap on requests in flight per origin, shared by every
   * manager (every process, every isolate) given the same budget:
   * `redisBudget(client, { limit, ttl })` from `poolfetch/budget/redis`, or
   * `durableObjectBudget(namespace, { limit, ttl })` from
   * `poolfetch/budget/durable-object`. A request asks for its lease once it
   * has its own slots (`maxSize`, `maxTotal`) and holds it as long as its
   * slot; `poolTimeout` and its signal bound the wait. @default none
   */
  budget?: Budget;
  /** TLS settings for https pools (Node adapter only; the fetch adapter throws `NotSupportedError`). @default none: verify against the built-in CAs */
  tls?: TlsOptions;
  /** Milliseconds an idle keep-alive socket stays open (Node adapter only); past 2^31-1 (or `Infinity`) taken as 2^31-1. @default 4000 */
  keepAliveTimeout?: number;
  /** The fetch to call (fetch adapter only). @default `globalThis.fetch`, read at call time */
  fetch?: typeof globalThis.fetch;
  /**
   * The time source and the wait between retries. Replace them to test
   * backoff and `Retry-After` without waiting (`sleep` may resolve at once
   * and record the delay). @default `Date.now` and a `setTimeout` that an abort cuts short
   */
  clock?: Clock;
}

/** What retries read the time from and wait with. */
export interface Clock {
  /** Epoch milliseconds, for `Retry-After` dates. @default `Date.now` */
  now?: () => number;
  /** Waits `ms` milliseconds; rejects with `signal.reason` when it aborts. @default a `setTimeout` that an abort cuts short */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A request body poolfetch knows how to send. */
export type BodyInit = string | Uint8Array | ArrayBuffer | ReadableStream<Uint8Array> | URLSearchParams | FormData | Blob;

/** Options of one `request()`. */
export interface RequestOptions {
  /**
   * The request body; a string, a form or `json` also sets the content-type fetch would.
   * A `ReadableStream` is streamed (Node) and can be sent once: no retry, no 307/308 after it.
   * @default none
   */
  body?: BodyInit | null;
  /** Serialised with `JSON.stringify`; sets `content-type: application/json`. @default none */
  json?: unknown;
  /** Laid over the manager's `headers`, name by name. @default the manager's */
  headers?: HeadersLike;
  /** Overrides the manager's `retries`; an object is laid over the manager's settings. @default the manager's */
  retries?: number | RetryOptions | false;
  /** Overrides the manager's `timeout`, field by field. @default the manager's */
  timeout?: number | TimeoutOptions;
  /** Follow redirects (`true`: up to the manager's limit), a hop limit, or `false` for the 3xx. @default the manager's */
  redirect?: boolean | number;
  /** Aborts the request at any stage, its streamed body included, with the signal's reason. @default none */
  signal?: AbortSignal;
  /** Read the body into `data` before resolving; else stream it from `body`. @default true */
  preloadContent?: boolean;
  /** Overrides the manager's `maxResponseSize` for this request. @default the manager's */
  maxResponseSize?: number;
}

/** What a pool and a manager have in common, so they pass for each other. */
export interface Requester {
  request(method: string, url: string | URL, options?: RequestOptions): Promise<PoolResponse>;
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/** A pool's live counters. */
export interface PoolStats {
  /** Requests holding a slot: sent and not yet fully read. */
  running: number;
  /** Requests waiting for a slot. */
  queued: number;
  /** Open connections (Node) or requests in flight (fetch). */
  connected: number;
  /** Idle connections ready for reuse (Node); 0 with fetch. */
  free: number;
}

/** One row of `manager.stats()`. */
export interface PoolStatsRow {
  key: string;
  origin: string;
  /** Requests sent through the pool, each retry and redirect hop counted. */
  numRequests: number;
  /**
   * A running total, not a count of what is open: sockets opened so far
   * (Node; it passes `maxSize` as idle sockets close and new ones open) or
   * the peak number of requests in flight (fetch). See `openConnections`.
   */
  numConnections: number;
  /** Open now, at most `maxSize`: sockets open (Node) or requests in flight (fetch, where the runtime owns the sockets). */
  openConnections: number;
  /** Requests holding a slot. */
  running: number;
  /** Requests waiting for a slot. */
  queued: number;
  /** The fleet budget's state for this origin, with the `budget` option. */
  budget?: BudgetStats;
}

/** Options of `ProxyManager` (Node entry; the fetch entry's throws `NotSupportedError`). */
export interface ProxyManagerOptions extends PoolManagerOptions {
  /**
   * Headers for the proxy only: sent on every forwarded (http) request and on
   * every CONNECT, never inside a tunnel to an https origin. A
   * `proxy-authorization` here wins over credentials in the proxy URL.
   * @default none (plus `proxy-authorization` from credentials in the URL)
   */
  proxyHeaders?: HeadersLike;
  /**
   * TLS settings for the connection to an `https://` proxy (its CA, say).
   * `tls` is for the origins, inside the tunnels; neither falls back on the
   * other. Ignored for an `http://` proxy.
   * @default verify the proxy against the built-in CAs
   */
  proxyTls?: TlsOptions;
}

/** Options of `proxyFromEnvironment`. */
export interface ProxyEnvironmentOptions extends ProxyManagerOptions {
  /** Where to read `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY`. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
}
