/**
 * `ConnectionPool`: one origin's slots and transport. A request holds a slot
 * from the moment it is sent until its body has been read to the end,
 * cancelled or has failed, because that is when the connection under it is
 * free again; the rest wait in order (p-queue), up to `poolTimeout`.
 */
import PQueue from 'p-queue';
import { ClosedPoolError, EmptyPoolError, HostChangedError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { parseUrl, type PoolKey } from './pool-key.js';
import { runFetch } from './fetch-loop.js';
import type { RequestContext } from './loop-context.js';
import { runRequest } from './request-loop.js';
import type { PoolResponse } from './response.js';
import type { Transport, WireFetch, WireRequest, WireResponse } from './transport.js';
import type { PoolStats, RequestOptions, Requester } from './types.js';
import { watchResponse, whenDone, type OpenBodies } from './watch-body.js';

type Release = () => void;

/** Shared between the pools of one manager: the `maxTotal` cap. */
export interface SharedLimits {
  readonly total: PQueue | undefined;
}

export class ConnectionPool implements Requester, RequestContext {
  /** `scheme://host:port`. */
  readonly origin: string;
  /** The pool key: the origin plus the TLS options' identity, if any. */
  readonly key: string;
  readonly poolKey: PoolKey;
  readonly options: ResolvedOptions;
  /** Requests sent through this pool, each retry and redirect hop counted. */
  numRequests = 0;
  readonly #transport: Transport;
  readonly #queue: PQueue;
  readonly #shared: SharedLimits;
  /** Aborts every request still waiting for a slot when the pool is destroyed. */
  readonly #shutdown = new AbortController();
  /** Fetch bodies not yet done, which `destroy()` aborts. */
  readonly #openBodies: OpenBodies = new Set();
  #closing: Promise<void> | undefined;
  /** Requests sent and not yet done (their body unread); the peak is `numConnections` under fetch. */
  #running = 0;
  #peakRunning = 0;
  /**
   * Slots held here (at most `maxSize`). Slots are counted here rather than
   * as p-queue tasks so that a request finding a free slot takes it without
   * p-queue's per-task work; `#queue` (concurrency 1) is only the line of
   * requests waiting for one, in order, with abort and timeout support.
   */
  #held = 0;
  /** Hands a freed slot to the request at the head of the line, if one waits. */
  #wake: (() => void) | undefined;
  /** Resolves `close()` once the last slot is freed. */
  #drained: (() => void) | undefined;

  constructor(poolKey: PoolKey, options: ResolvedOptions, transport: Transport, shared: SharedLimits = { total: undefined }) {
    this.poolKey = poolKey;
    this.origin = poolKey.origin;
    this.key = poolKey.id;
    this.options = options;
    this.#transport = transport;
    this.#shared = shared;
    this.#queue = new PQueue({ concurrency: 1 });
  }

  /** Node: sockets opened so far; fetch: the peak number of requests in flight. */
  get numConnections(): number {
    return this.#transport.numConnections ?? this.#peakRunning;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** True while a request holds or waits for a slot here. */
  get busy(): boolean {
    return this.#held > 0 || this.#queue.pending > 0 || this.#queue.size > 0;
  }

  stats(): PoolStats {
    // A request holding this pool's slot while it waits under maxTotal is queued, not running.
    const queued = this.#queue.size + this.#queue.pending + this.#held - this.#running;
    return { running: this.#running, queued, ...this.#transport.connectionStats() };
  }

  /** Same-origin requests only: a redirect elsewhere is returned, not followed. */
  route(url: URL): ConnectionPool | undefined {
    return this.serves(url) ? this : undefined;
  }

  /** Waits between retries: the `clock` option's `sleep`, as `PoolManager.sleep`. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.options.clock.sleep(ms, signal);
  }

  request(method: string, url: string | URL, options?: RequestOptions): Promise<PoolResponse> {
    try {
      this.#assertServes(url, method);
    } catch (error) {
      return Promise.reject(error);
    }
    return runRequest(this, method, url, options);
  }

  /** A standard fetch to this pool's origin; also bound, so it can be passed around. */
  readonly fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    return runFetch(this, input, init, (url) => this.#assertServes(url, init?.method ?? 'GET'));
  };

  /** Whether the transport follows redirects itself (browsers). */
  get followsRedirects(): boolean {
    return this.#transport.followsRedirects;
  }

  /** Sends one request once it has a slot; the slot is freed when its body is done. */
  async exchange(request: WireRequest): Promise<WireResponse> {
    const release = this.#started(this.#freeSlot(request.signal) ?? (await this.#acquire(request.signal)));
    let response: WireResponse;
    try {
      response = await this.#transport.send(request);
    } catch (error) {
      release();
      throw error;
    }
    return holdUntilRead(response, release);
  }

  /** Fetches once it has a slot; the slot is freed when the response body is done. */
  async fetchOnce(call: WireFetch): Promise<Response> {
    const signal = call.init.signal ?? undefined;
    const release = this.#started(this.#freeSlot(signal) ?? (await this.#acquire(signal)));
    const fetchSettled = this.#transport.fetchSettled;
    if (fetchSettled !== undefined) {
      // The common case inline: each async layer costs a request a promise and a turn.
      if (signal !== undefined) return this.#fetchSettled(call, signal, release);
      try {
        return await fetchSettled.call(this.#transport, call, release);
      } catch (error) {
        release();
        throw error;
      }
    }
    let response: Response;
    try {
      response = await this.#transport.fetch(call);
    } catch (error) {
      release();
      throw error;
    }
    // destroy() aborts the body: the transport may have sent the request without a signal.
    return watchResponse(response, release, this.#openBodies);
  }

  /**
   * The transport says when the exchange is over, so the response needs no
   * watching. An abort frees the slot at once, without waiting for the
   * transport to notice (undici may report it a tick later).
   */
  async #fetchSettled(call: WireFetch, signal: AbortSignal, release: Release): Promise<Response> {
    const fetchSettled = this.#transport.fetchSettled as NonNullable<Transport['fetchSettled']>;
    const settled = (): void => {
      signal.removeEventListener('abort', settled);
      release();
    };
    signal.addEventListener('abort', settled, { once: true });
    try {
      return await fetchSettled.call(this.#transport, call, settled);
    } catch (error) {
      settled();
      throw error;
    }
  }

  /** Stops new requests, lets queued and running ones finish, then closes the connections. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#queue.onIdle();
      while (this.#held > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      await this.#transport.close();
    })();
    return this.#closing;
  }

  /** Fails waiting requests with `ClosedPoolError`, aborts running ones, and closes. */
  async destroy(): Promise<void> {
    this.#shutdown.abort(new ClosedPoolError(`The pool for ${this.origin} was destroyed`));
    for (const body of this.#openBodies) body.abort(this.#shutdown.signal.reason);
    this.#closing ??= Promise.resolve();
    this.#queue.clear();
    await this.#transport.destroy();
  }

  /** Counts a request that has its slots and is about to be sent; the returned release uncounts it. */
  #started(release: Release): Release {
    this.numRequests += 1;
    this.#running += 1;
    if (this.#running > this.#peakRunning) this.#peakRunning = this.#running;
    return once(() => {
      this.#running -= 1;
      release();
    });
  }

  serves(url: URL): boolean {
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return url.protocol === `${this.poolKey.scheme}:` && url.hostname === this.poolKey.host && port === this.poolKey.port;
  }

  #assertServes(url: string | URL | Request, method: string): void {
    const parsed = parseUrl(typeof url === 'object' && !(url instanceof URL) ? url.url : url, method);
    if (!this.serves(parsed)) throw new HostChangedError(this.origin, { method, url: parsed.href });
  }

  /** Waits for a slot here, then one under `maxTotal`; resolves with the function that frees both. */
  async #acquire(signal: AbortSignal | undefined): Promise<Release> {
    if (this.#closing !== undefined) {
      throw new ClosedPoolError(`The pool for ${this.origin} is closed`);
    }
    signal?.throwIfAborted();
    const total = this.#shared.total;
    const lineEmpty = this.#queue.size === 0 && this.#queue.pending === 0;
    // The fast path (a free slot, nobody waiting) allocates no timer, controller, listener or p-queue task.
    if (lineEmpty && this.#held < this.options.maxSize && (total === undefined || !isFull(total))) {
      const releaseLocal = this.#takeSlot();
      if (total === undefined) return releaseLocal;
      const releaseTotal = await take(total, undefined);
      return once(() => {
        releaseTotal();
        releaseLocal();
      });
    }
    const wait = new AbortController();
    const onAbort = (): void => wait.abort(signal?.reason);
    const onShutdown = (): void => wait.abort(this.#shutdown.signal.reason);
    signal?.addEventListener('abort', onAbort);
    this.#shutdown.signal.addEventListener('abort', onShutdown);
    const poolTimeout = this.options.poolTimeout;
    const timer = poolTimeout === undefined ? undefined : setTimeout(() => {
      // Holding this origin's slot already means the wait is for maxTotal.
      const where = releaseLocal === undefined ? `to ${this.origin}` : `under maxTotal ${String(this.options.maxTotal)}`;
      wait.abort(new EmptyPoolError(`No free connection ${where} within poolTimeout ${poolTimeout} ms`));
    }, poolTimeout);
    let releaseLocal: Release | undefined;
    try {
      releaseLocal = await this.#waitForSlot(wait.signal);
      const releaseTotal = total === undefined ? undefined : await take(total, wait.signal);
      const local = releaseLocal;
      return releaseTotal === undefined ? local : once(() => {
        releaseTotal();
        local();
      });
    } catch (error) {
      releaseLocal?.();
      throw error;
    } finally {
      // Once the slots are held, nothing may abort them.
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.#shutdown.signal.removeEventListener('abort', onShutdown);
    }
  }

  /**
   * The fast path, synchronous: a free slot here with nobody waiting and no
   * `maxTotal`, taken at once; otherwise undefined and `#acquire` decides
   * (including the errors for a closed pool or an aborted signal).
   */
  #freeSlot(signal: AbortSignal | undefined): Release | undefined {
    if (this.#closing !== undefined || signal?.aborted === true || this.#shared.total !== undefined) return undefined;
    if (this.#held >= this.options.maxSize || this.#queue.size > 0 || this.#queue.pending > 0) return undefined;
    return this.#takeSlot();
  }

  #takeSlot(): Release {
    this.#held += 1;
    return once(() => {
      this.#held -= 1;
      const wake = this.#wake;
      if (wake !== undefined) {
        this.#wake = undefined;
        wake();
      } else if (this.#held === 0) {
        this.#drained?.();
      }
    });
  }

  /** Joins the line; its head takes the next slot freed. Aborting `signal` leaves the line. */
  async #waitForSlot(signal: AbortSignal): Promise<Release> {
    let granted: Release | undefined;
    try {
      return await this.#queue.add(
        () =>
          new Promise<Release>((resolve, reject) => {
            if (this.#held < this.options.maxSize) {
              resolve((granted = this.#takeSlot()));
              return;
            }
            const onAbort = (): void => {
              this.#wake = undefined;
              reject(signal.reason);
            };
            this.#wake = () => {
              signal.removeEventListener('abort', onAbort);
              resolve((granted = this.#takeSlot()));
            };
            signal.addEventListener('abort', onAbort, { once: true });
          }),
        { signal },
      );
    } catch (error) {
      // Aborted just as a slot was handed over: give it back.
      granted?.();
      throw error;
    }
  }
}


function isFull(queue: PQueue): boolean {
  return queue.pending >= queue.concurrency || queue.size > 0;
}

/** Takes one slot of `queue`: a task that runs until the returned function is called. */
function take(queue: PQueue, signal: AbortSignal | undefined): Promise<Release> {
  return new Promise((resolve, reject) => {
    queue
      .add(() => new Promise<void>((release) => resolve(once(release))), signal === undefined ? {} : { signal })
      .catch(reject);
  });
}

function once(fn: Release): Release {
  let called = false;
  return () => {
    if (!called) {
      called = true;
      fn();
    }
  };
}

/** A response whose reading frees the slot at the end, on error or on cancel. */
function holdUntilRead(response: WireResponse, release: Release): WireResponse {
  return new HeldResponse(response, release) as WireResponse;
}

/**
 * A class rather than an object literal: one is made per request, and a
 * literal with a getter and spreads is built the slow way every time.
 */
class HeldResponse {
  readonly #response: WireResponse;
  readonly #release: Release;
  constructor(response: WireResponse, release: Release) {
    this.#response = response;
    this.#release = release;
  }
  get status(): number {
    return this.#response.status;
  }
  get statusText(): string {
    return this.#response.statusText;
  }
  /** Passed through as a getter: a transport may build its Headers only when someone looks. */
  get headers(): Headers {
    return this.#response.headers;
  }
  get url(): string | undefined {
    return this.#response.url;
  }
  get redirected(): boolean | undefined {
    return this.#response.redirected;
  }
  bytes(): Promise<Uint8Array> {
    return this.#response.bytes().finally(this.#release);
  }
  discard(): Promise<void> {
    return this.#response.discard().finally(this.#release);
  }
  stream(): ReadableStream<Uint8Array> {
    return whenDone(this.#response.stream(), this.#release, undefined);
  }
  abandon(): void {
    this.#response.abandon?.();
    this.#release();
  }
}
