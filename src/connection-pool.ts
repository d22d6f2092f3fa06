/**
 * `ConnectionPool`: one origin's slots and transport. A request holds a slot
 * from the moment it is sent until its body has been read to the end,
 * cancelled or has failed, because that is when the connection under it is
 * free again; the rest wait in a FIFO line (src/waiting-line.ts, or the
 * adapter's own), up to `poolTimeout`.
 *
 * A pool the manager let go (evicted or cleared) is *retiring*: it serves
 * what it holds and what waits for it, its transport keeps no idle
 * connection, and it closes once nothing is left; the manager may revive it
 * before then.
 */
import { ClosedPoolError, EmptyPoolError, HostChangedError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { parseUrl, type PoolKey } from './pool-key.js';
import { runFetch } from './fetch-loop.js';
import type { RequestContext } from './loop-context.js';
import { runRequest } from './request-loop.js';
import type { PoolResponse } from './response.js';
import type { Transport, WireFetch, WireRequest, WireResponse } from './transport.js';
import type { PoolStats, RequestOptions, Requester } from './types.js';
import { onAbort } from './abort-watch.js';
import type { Budget } from './budget.js';
import { WaitingLine, type Release, type SlotLine } from './waiting-line.js';
import { Held, type ContextLeases, type Lease } from './context-leases.js';
import { noop, watchResponse, whenDone, type OpenBodies } from './watch-body.js';

/** Shared between the pools of one manager: the `maxTotal` cap and its line. */
export interface SharedLimits {
  readonly total: WaitingLine | undefined;
  /**
   * Where the runtime drops an incoming request's work unsettled when it
   * ends (workerd), the leases that let another request free what it held
   * (src/context-leases.ts); undefined elsewhere.
   */
  readonly leases?: ContextLeases | undefined;
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
  /** This origin's slots (`maxSize`) and the line for them. */
  readonly #line: SlotLine;
  readonly #shared: SharedLimits;
  /** Fetch bodies not yet done, which `destroy()` aborts. */
  readonly #openBodies: OpenBodies = new Set();
  /** Set once the pool takes no new request: closed by its owner, destroyed, or retired and empty. */
  #closing: Promise<void> | undefined;
  #refusing = false;
  #destroyed: ClosedPoolError | undefined;
  /** Out of the manager's LRU (or closed): its transport keeps no idle connection, and it closes once empty. */
  #retiring = false;
  #onClosed: (() => void) | undefined;
  /** Requests sent and not yet done (their body unread); the peak is `numConnections` under fetch. */
  #running = 0;
  #peakRunning = 0;
  /** Requests holding this origin's slot while they wait under `maxTotal`. */
  #waitingTotal = 0;
  /** Requests waiting for a slot, their response headers or a body poolfetch reads itself: what disposal waits for. */
  #unanswered = 0;
  /**
   * Requests here not yet handed to the transport (waiting, or holding a slot
   * on their way to it). A retiring pool's transport is told to give up its
   * idle connections only once there are none: until then a freed connection
   * goes straight to the next request, instead of being closed while a new
   * one is opened beside it.
   */
  #unsent = 0;
  #onAnswered: Array<() => void> = [];
  /** Requests waiting for the fleet budget's lease, stopped as the lines' waiters are. */
  readonly #leaseWaits = new Set<AbortController>();
  /** Set by `settled()`: disposal is waiting, so requests stuck behind handed-out bodies are failed. */
  #disposing = false;
  /**
   * Retry waits of requests last sent here, each with whether its retry comes
   * back here whatever the manager routes (the pool's own `request()`).
   */
  readonly #retryWaits = new Map<AbortController, boolean>();
  /** In its manager's LRU (not retired): the manager sends its origin's requests here. */
  #routed = true;

  constructor(poolKey: PoolKey, options: ResolvedOptions, transport: Transport, shared: SharedLimits = { total: undefined }) {
    this.poolKey = poolKey;
    this.origin = poolKey.origin;
    this.key = poolKey.id;
    this.options = options;
    this.#transport = transport;
    this.#shared = shared;
    this.#line = new WaitingLine(options.maxSize);
  }

  /** Node: sockets opened so far; fetch: the peak number of requests in flight. */
  get numConnections(): number {
    return this.#transport.numConnections ?? this.#peakRunning;
  }

  /** Node: sockets open now; fetch (the runtime owns the sockets): requests in flight now. At most `maxSize`. */
  get openConnections(): number {
    return this.#transport.numConnections === undefined ? this.#running : this.#transport.connectionStats().connected;
  }

  /** True once it takes no new request. */
  get closed(): boolean {
    return this.#refusing || this.#closing !== undefined;
  }

  /** True while a request holds or waits for a slot here. */
  get busy(): boolean {
    return this.#line.held > 0 || this.#unanswered > 0;
  }

  stats(): PoolStats {
    this.#shared.leases?.sweep();
    // A request holding this pool's slot while it waits under maxTotal is queued, not running.
    return { running: this.#running, queued: this.#line.waiting + this.#waitingTotal, ...this.#transport.connectionStats() };
  }

  /** Same-origin requests only: a redirect elsewhere is returned, not followed. */
  route(url: URL): ConnectionPool | undefined {
    return this.serves(url) ? this : undefined;
  }

  /** Waits between retries: the `clock` option's `sleep`, as `PoolManager.sleep`. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.options.clock.sleep(ms, signal);
  }

  /**
   * The wait before a retry of a request last sent here (`Route`): cut short
   * with `ClosedPoolError` when the pool closes and the retry would come
   * back here and be refused (see `#cutRetryWaits`).
   */
  waitToRetry(wait: (signal: AbortSignal | undefined) => Promise<void>, signal: AbortSignal | undefined, own: boolean): Promise<void> {
    const stop = new AbortController();
    // The caller's abort ends the wait too (one that came just before it begins, as well).
    let unlink = noop;
    if (signal?.aborted === true) stop.abort(signal.reason);
    else if (signal !== undefined) unlink = onAbort(signal, () => stop.abort(signal.reason));
    this.#retryWaits.set(stop, own);
    // Closed already (its answer came while it closed): the wait begins cut short, and ends at once.
    if (this.closed) this.#cutRetryWaits();
    return wait(stop.signal).finally(() => {
      this.#retryWaits.delete(stop);
      unlink();
    });
  }

  /**
   * The pool closes (`close()`, `destroy()`, or retired and empty): the
   * retries that would come back here are refused now rather than after
   * their backoff. A pool's own `request()` always comes back here; a
   * manager's comes here while the pool is in its LRU (a closed pool stays
   * there until evicted), and goes to a new pool once it was evicted or
   * cleared.
   */
  #cutRetryWaits(): void {
    for (const [stop, own] of this.#retryWaits) {
      if (own || this.#routed) stop.abort(new ClosedPoolError(`The pool for ${this.origin} was closed while this request waited to retry`));
    }
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
    this.#unanswered += 1;
    this.#unsent += 1;
    const lease = this.#lease();
    const asked = this.options.observer?.watchingSlots === true ? performance.now() : undefined;
    let release: Release;
    let waitMs = 0;
    try {
      let free = this.#freeSlot(request.signal);
      if (free === undefined) {
        free = this.#checkedAfterWait(await this.#acquire(request.signal, lease), request.signal);
        if (asked !== undefined) waitMs = performance.now() - asked;
      }
      release = this.#started(free, lease);
    } catch (error) {
      this.#sent(lease);
      this.#answered(lease);
      lease?.close();
      throw error;
    }
    let sending: Promise<WireResponse>;
    try {
      if (asked !== undefined) this.#reportSlot(request.method, request.url, waitMs);
      sending = this.#transport.send(request, lease);
    } finally {
      this.#sent(lease);
    }
    let response: WireResponse;
    try {
      response = await sending;
    } catch (error) {
      release();
      this.#answered(lease);
      throw error;
    }
    lease?.onEnd(response.drop);
    // Not answered yet: a body the request loop reads itself (preloadContent, a redirect's or a
    // retried status's discarded body) is poolfetch's, and disposal waits for it. The response is
    // answered once its body is handed to the caller (stream()) or has been read or thrown away.
    // Where the release may return I/O (a fleet budget's lease) or belongs to a request that may end (a lease), a body read waits for it.
    const plainRelease = lease === undefined && this.options.budget === undefined;
    return holdUntilRead(response, release, lease === undefined ? this.#answer : () => this.#answered(lease), plainRelease);
  }

  /** Marks one exchange answered; bound, for HeldResponse. */
  readonly #answer = (): void => {
    this.#answered();
  };

  /** Fetches once it has a slot; the slot is freed when the response body is done. */
  async fetchOnce(call: WireFetch): Promise<Response> {
    const signal = call.init.signal ?? undefined;
    this.#unanswered += 1;
    this.#unsent += 1;
    const lease = this.#lease();
    const asked = this.options.observer?.watchingSlots === true ? performance.now() : undefined;
    let release: Release;
    let waitMs = 0;
    try {
      let free = this.#freeSlot(signal);
      if (free === undefined) {
        free = this.#checkedAfterWait(await this.#acquire(signal, lease), signal);
        if (asked !== undefined) waitMs = performance.now() - asked;
      }
      release = this.#started(free, lease);
    } catch (error) {
      this.#sent(lease);
      this.#answered(lease);
      lease?.close();
      throw error;
    }
    let fetching: Promise<Response>;
    // No signal to link and a transport that does not say when it is done (fetch): watched in this
    // function's own await, one async layer less per request (a promise and a turn, CPU a Worker pays for).
    const watchHere = signal === undefined && this.#transport.fetchSettled === undefined;
    try {
      if (asked !== undefined) this.#reportSlot(call.init.method, call.url, waitMs);
      fetching = watchHere ? this.#transport.fetch(call, lease) : this.#fetchWithSlot(call, signal, release, lease);
    } catch (error) {
      release();
      this.#answered(lease);
      throw error;
    } finally {
      this.#sent(lease);
    }
    try {
      let response: Response;
      if (watchHere) {
        try {
          response = await fetching;
        } catch (error) {
          release();
          throw error;
        }
        // destroy() aborts the body: the transport may have sent the request without a signal.
        // With a fleet budget, reads wait for the lease's release: in a Worker it is I/O that must end inside the request.
        const watched = watchResponse(response, release, this.#openBodies, call, this.options.budget !== undefined);
        response = watched instanceof Promise ? await watched : watched;
      } else response = await fetching;
      // A body whose request ends (workerd) never finishes: it leaves the open bodies with the lease.
      lease?.dropBody(response, this.#openBodies);
      return response;
    } finally {
      this.#answered(lease);
    }
  }

  /** A lease for an exchange starting now, where requests can end under it (workerd); else undefined. */
  #lease(): Lease | undefined {
    const leases = this.#shared.leases;
    if (leases === undefined) return undefined;
    const lease = leases.open();
    lease.held = Held.Unsent | Held.Unanswered;
    lease.undo = this.#undoLease;
    return lease;
  }

  /** Uncounts what an exchange whose request ended had counted here. */
  readonly #undoLease = (lease: Lease): void => {
    this.#sent(lease);
    this.#answered(lease);
    if ((lease.held & Held.WaitingTotal) !== 0) {
      lease.held &= ~Held.WaitingTotal;
      this.#waitingTotal -= 1;
    }
  };

  /** Tells the observer (someone listens: the wait was timed) that a request has its slot and goes to the transport now. */
  #reportSlot(method: string, url: URL, waitMs: number): void {
    this.options.observer?.slotTaken({ method, url, origin: this.origin, key: this.key, waitMs });
  }

  #fetchWithSlot(call: WireFetch, signal: AbortSignal | undefined, release: Release, lease: Lease | undefined): Promise<Response> {
    if (signal !== undefined && !signal.aborted) {
      // The runtime's fetch keeps a listener on the signal it is handed until that request is
      // garbage-collected (Node's warns past 1,500), and callers share one signal over many
      // requests: fetch gets a signal of this exchange's own, which the caller's abort reaches
      // through one listener per signal, unlinked when the exchange ends.
      const own = new AbortController();
      const caller = signal;
      const unlink = onAbort(caller, () => own.abort(caller.reason));
      const free = release;
      release = () => {
        unlink();
        // What the release returns (the budget's I/O) goes back to a body read that waits for it.
        return free();
      };
      call = { ...call, init: { ...call.init, signal: own.signal } };
      signal = own.signal;
    }
    const fetchSettled = this.#transport.fetchSettled;
    if (fetchSettled === undefined) return this.#fetchWatched(call, release, lease);
    if (signal !== undefined) return this.#fetchSettled(call, signal, release);
    return fetchSettled.call(this.#transport, call, release).catch((error: unknown) => {
      release();
      throw error;
    });
  }

  async #fetchWatched(call: WireFetch, release: Release, lease: Lease | undefined): Promise<Response> {
    let response: Response;
    try {
      response = await this.#transport.fetch(call, lease);
    } catch (error) {
      release();
      throw error;
    }
    // destroy() aborts the body: the transport may have sent the request without a signal.
    // With a fleet budget, reads wait for the lease's release: in a Worker it is I/O that must end inside the request.
    return watchResponse(response, release, this.#openBodies, call, this.options.budget !== undefined);
  }

  /**
   * The transport says when the exchange is over, so the response needs no
   * watching. An abort frees the slot at once, without waiting for the
   * transport to notice (undici may report it a tick later).
   */
  async #fetchSettled(call: WireFetch, signal: AbortSignal, release: Release): Promise<Response> {
    const fetchSettled = this.#transport.fetchSettled as NonNullable<Transport['fetchSettled']>;
    let unwatch = noop;
    const settled = (): void => {
      unwatch();
      release();
    };
    if (signal.aborted) settled();
    else {
      // Not aborted, so the exchange's own signal (see #fetchWithSlot), which nothing else watches: a plain listener.
      signal.addEventListener('abort', settled, { once: true });
      unwatch = () => signal.removeEventListener('abort', settled);
    }
    try {
      return await fetchSettled.call(this.#transport, call, settled);
    } catch (error) {
      settled();
      throw error;
    }
  }

  /**
   * Takes no new request; resolves once no request waits here for a slot or
   * for its response headers. Bodies already handed out stay readable: each
   * connection closes as its body ends, and the transport once all have.
   */
  async close(): Promise<void> {
    this.#refusing = true;
    this.#cutRetryWaits();
    this.#retire();
    await this.settled();
    await this.closedIfEmpty();
  }

  /** Fails waiting requests with `ClosedPoolError`, aborts running ones and unread bodies, and closes. */
  async destroy(): Promise<void> {
    const reason = (this.#destroyed ??= new ClosedPoolError(`The pool for ${this.origin} was destroyed`));
    this.#refusing = true;
    this.#closing ??= Promise.resolve();
    this.#cutRetryWaits();
    this.#line.shutdown(reason);
    this.#shared.total?.shutdown(reason, this);
    for (const wait of this.#leaseWaits) wait.abort(reason);
    for (const body of this.#openBodies) body.abort(reason);
    await this.#transport.destroy();
  }

  /**
   * Out of the manager's LRU (evicted or cleared): serve what is held and
   * waiting, keep no idle connection, and call `onClosed` once closed.
   */
  retire(onClosed: () => void): void {
    this.#routed = false;
    if (this.#closing !== undefined) {
      void this.#closing.then(onClosed, onClosed);
      return;
    }
    this.#onClosed = onClosed;
    this.#retire();
  }

  /** Back into the LRU before it closed: keep connections again. False once it is closed or closing. */
  revive(): boolean {
    if (this.closed || !this.#retiring) return false;
    this.#routed = true;
    this.#retiring = false;
    this.#disposing = false;
    this.#onClosed = undefined;
    return true;
  }

  /**
   * Disposal (`clear()`, `close()`): resolves once no request waits here for
   * a slot, its response headers, or a body the request loop is reading
   * itself (preloadContent; a redirect's or retried status's body thrown
   * away): such a body is not handed out. A request whose only way to a slot
   * is a body already handed to the caller would wait on that caller, who may
   * be waiting on this disposal (`return response.body` under `await using`):
   * once every request holding a slot has its body handed out, those still
   * in line fail with `ClosedPoolError`, never sent.
   */
  settled(): Promise<void> {
    // Requests that have ended (workerd) wait for nothing: uncount them first.
    this.#shared.leases?.sweep();
    if (this.#unanswered === 0) return Promise.resolve();
    this.#disposing = true;
    const done = new Promise<void>((resolve) => this.#onAnswered.push(resolve));
    this.#failStuckWaiters();
    return done;
  }

  /**
   * A manager's disposal is under way while this pool was made or revived
   * (by a redirect hop of a call made before it): a request that joins a
   * line held only by bodies handed out is refused, as in `settled()`.
   */
  disposing(): void {
    this.#disposing = true;
  }

  #failStuckWaiters(): void {
    // Called whenever an answer comes while others are out: not disposing is the common case, checked first.
    if (!this.#disposing) return;
    const waiting = this.#line.waiting + this.#waitingTotal;
    if (waiting === 0 || this.#unanswered > waiting) return;
    // A free slot here with requests in line is a hand-over under way: nobody is stuck yet.
    if (this.#line.waiting > 0 && this.#line.held < this.options.maxSize) return;
    const reason = new ClosedPoolError(`The pool for ${this.origin} was closed while this request waited for a connection held by a response body already handed out`);
    this.#line.shutdown(reason);
    this.#shared.total?.shutdown(reason, this);
    for (const wait of this.#leaseWaits) wait.abort(reason);
  }

  /** Resolves once the transport has closed, if the pool is closing (retired with nothing held); otherwise at once. */
  async closedIfEmpty(): Promise<void> {
    await this.#closing?.catch(noop);
  }

  #retire(): void {
    if (!this.#retiring) {
      this.#retiring = true;
      this.#closeIdleUnlessTaken();
    }
    this.#closeIfEmpty();
  }

  /** One request less on its way to the transport (sent, or given up); once per lease. */
  #sent(lease?: Lease): void {
    if (lease !== undefined) {
      if ((lease.held & Held.Unsent) === 0) return;
      lease.held &= ~Held.Unsent;
    }
    this.#unsent -= 1;
    this.#closeIdleUnlessTaken();
  }

  /**
   * A retiring pool closes its idle connections unless a request here is
   * about to take one. A request waiting under `maxTotal` is not: it may
   * wait behind every other origin, and the idle sockets kept for it would
   * push the sockets open past maxTotal + numPools × maxSize; it opens a
   * connection when its turn comes.
   */
  #closeIdleUnlessTaken(): void {
    if (this.#retiring && this.#closing === undefined && this.#unsent === this.#waitingTotal) this.#transport.closeIdle?.();
  }

  #answered(lease?: Lease): void {
    if (lease !== undefined) {
      if ((lease.held & Held.Unanswered) === 0) return;
      lease.held &= ~Held.Unanswered;
    }
    this.#unanswered -= 1;
    if (this.#unanswered > 0) {
      this.#failStuckWaiters();
      return;
    }
    if (this.#retiring) this.#closeIfEmpty();
    const waiting = this.#onAnswered;
    if (waiting.length === 0) return;
    this.#onAnswered = [];
    for (const resolve of waiting) resolve();
  }

  /** A request of a retiring pool ended: close its connection unless a waiting request takes it, and the pool once empty. */
  #retiredRequestEnded(): void {
    this.#closeIfEmpty();
    this.#closeIdleUnlessTaken();
  }

  /** A retiring pool with nothing held or waiting closes its transport. */
  #closeIfEmpty(): void {
    if (!this.#retiring || this.#closing !== undefined || this.#unanswered > 0 || this.#line.held > 0) return;
    const onClosed = this.#onClosed;
    this.#onClosed = undefined;
    this.#closing = this.#transport.close().finally(() => onClosed?.());
    // Retired (evicted, or its manager cleared) and now closed: its own request()s' retries would be refused.
    this.#cutRetryWaits();
  }

  /** Counts a request that has its slots and is about to be sent; the returned release uncounts it. */
  #started(release: Release, lease?: Lease): Release {
    this.numRequests += 1;
    this.#running += 1;
    if (this.#running > this.#peakRunning) this.#peakRunning = this.#running;
    let released = false;
    const started = (): unknown => {
      if (released) return undefined;
      released = true;
      this.#running -= 1;
      // What the release returns (the budget's I/O) goes back to a body read that waits for it.
      const done: unknown = release();
      lease?.close();
      if (this.#retiring) this.#retiredRequestEnded();
      return done;
    };
    if (lease !== undefined) lease.release = started;
    return started;
  }

  serves(url: URL): boolean {
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return url.protocol === `${this.poolKey.scheme}:` && url.hostname === this.poolKey.host && port === this.poolKey.port;
  }

  #assertServes(url: string | URL | Request, method: string): void {
    const parsed = parseUrl(typeof url === 'object' && !(url instanceof URL) ? url.url : url, method);
    if (!this.serves(parsed)) throw new HostChangedError(this.origin, { method, url: parsed.href });
  }

  /**
   * Waits for a slot here, then one under `maxTotal`; resolves with the
   * function that frees both, which the caller checks (`#checkedAfterWait`).
   * With this origin's line alone (no `maxTotal`, fleet budget or leases), the
   * line's own promise, with no async layer around it.
   */
  #acquire(signal: AbortSignal | undefined, lease: Lease | undefined): Promise<Release> {
    if (this.closed) return Promise.reject(this.#destroyed ?? new ClosedPoolError(`The pool for ${this.origin} is closed`));
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const shared = this.#shared;
    if (shared.total !== undefined || shared.leases !== undefined || this.options.budget !== undefined) return this.#acquireShared(signal, lease);
    const local = this.#line.tryTake();
    if (local !== undefined) return Promise.resolve(local);
    const waiting = this.#line.wait({ signal, timeout: this.options.poolTimeout, onTimeout: this.#poolTimedOut });
    // Disposal under way: a request that joins behind bodies handed out would wait on their reader.
    if (this.#disposing) this.#failStuckWaiters();
    return waiting;
  }

  /** Why a wait for this origin's slot gave up. */
  readonly #poolTimedOut = (): Error => new EmptyPoolError(`No free connection to ${this.origin} within poolTimeout ${String(this.options.poolTimeout)} ms`);

  /** `#acquire` with `maxTotal`, a fleet budget or leases to reckon with. */
  async #acquireShared(signal: AbortSignal | undefined, lease: Lease | undefined): Promise<Release> {
    const poolTimeout = this.options.poolTimeout;
    const deadline = poolTimeout === undefined ? undefined : Date.now() + poolTimeout;
    let local = this.#line.tryTake();
    if (local === undefined) {
      // Before waiting, free what requests that have ended still hold (workerd).
      this.#shared.leases?.sweep();
      local = this.#line.tryTake();
      if (local === undefined) {
        const waiting = this.#line.wait({ signal, timeout: poolTimeout, onTimeout: this.#poolTimedOut, lease });
        // Disposal under way: a request that joins behind bodies handed out would wait on their reader.
        if (this.#disposing) this.#failStuckWaiters();
        local = await waiting;
      }
    }
    if (lease !== undefined) lease.release = local;
    const total = this.#shared.total;
    const budget = this.options.budget;
    if (total === undefined) return this.#checkedAfterWait(budget === undefined ? local : await this.#leased(budget, local, signal, deadline, lease), signal);
    let releaseTotal = total.tryTake();
    if (releaseTotal === undefined && lease !== undefined) {
      this.#shared.leases?.sweep();
      releaseTotal = total.tryTake();
    }
    if (releaseTotal === undefined) {
      this.#waitingTotal += 1;
      if (lease !== undefined) lease.held |= Held.WaitingTotal;
      this.#closeIdleUnlessTaken();
      try {
        // One poolTimeout for the whole wait, both lines together.
        const waiting = total.wait({
          signal,
          timeout: deadline === undefined ? undefined : Math.max(0, deadline - Date.now()),
          onTimeout: () => new EmptyPoolError(`No free connection under maxTotal ${String(this.options.maxTotal)} within poolTimeout ${String(poolTimeout)} ms`),
          owner: this,
          lease,
        });
        if (this.#disposing) this.#failStuckWaiters();
        releaseTotal = await waiting;
      } catch (error) {
        local();
        throw error;
      } finally {
        if (lease === undefined) this.#waitingTotal -= 1;
        else if ((lease.held & Held.WaitingTotal) !== 0) {
          lease.held &= ~Held.WaitingTotal;
          this.#waitingTotal -= 1;
        }
      }
    }
    const both = releaseTotal;
    const slots = (): void => {
      both();
      local();
    };
    return this.#checkedAfterWait(budget === undefined ? slots : await this.#leased(budget, slots, signal, deadline, lease), signal);
  }

  /**
   * The fleet budget's lease (src/budget.ts), asked for once the request
   * holds its own slots, so it is consulted last; it goes back with them. The
   * release returns the budget's I/O, which a body read waits for.
   */
  async #leased(budget: Budget, slots: Release, signal: AbortSignal | undefined, deadline: number | undefined, context: Lease | undefined): Promise<Release> {
    // destroy() and a stuck disposal stop this wait as they stop the lines'.
    const stop = new AbortController();
    const unlink = signal === undefined ? noop : onAbort(signal, () => stop.abort(signal.reason));
    this.#leaseWaits.add(stop);
    this.#waitingTotal += 1;
    // Where requests end under the wait (workerd): the request's end, found by another request's sweep, takes the
    // wait out of the budget's line unsettled (its ask withdrawn in the sweeper's context), as from the slots' lines.
    let dropped: (() => void) | undefined;
    const undo = context?.undo;
    if (context !== undefined) {
      context.undo = (ended) => {
        dropped?.();
        undo?.(ended);
      };
    }
    try {
      const lease = await budget.acquire(this.origin, {
        signal: stop.signal,
        timeout: deadline === undefined ? undefined : Math.max(0, deadline - Date.now()),
        ...(context === undefined ? {} : { onEnded: (drop: () => void) => (dropped = drop) }),
      });
      return () => {
        const done = lease.release();
        slots();
        return done;
      };
    } catch (error) {
      slots();
      throw error;
    } finally {
      this.#waitingTotal -= 1;
      this.#leaseWaits.delete(stop);
      unlink();
      if (context !== undefined) context.undo = undo;
    }
  }

  /**
   * A slot handed over in the same turn as an abort or a destroy: the request
   * is not sent, and the slot goes back (to the next in line).
   */
  #checkedAfterWait(release: Release, signal: AbortSignal | undefined): Release {
    const stop: unknown = this.#destroyed ?? (signal?.aborted === true ? signal.reason : undefined);
    if (stop === undefined) return release;
    release();
    throw stop;
  }

  /**
   * The fast path, synchronous: a free slot here and under `maxTotal` with
   * nobody waiting for either, taken at once; otherwise undefined and `#acquire` decides
   * (including the errors for a closed pool or an aborted signal).
   */
  #freeSlot(signal: AbortSignal | undefined): Release | undefined {
    if (this.#refusing || this.#closing !== undefined || signal?.aborted === true || this.options.budget !== undefined) return undefined;
    const local = this.#line.tryTake();
    const total = this.#shared.total;
    if (local === undefined || total === undefined) return local;
    // Under maxTotal (a Worker's 6) too: both slots at once or neither, so the common call skips #acquire's awaits.
    const both = total.tryTake();
    if (both === undefined) {
      // Nobody waits here (tryTake said so), so this only counts the slot free again.
      local();
      return undefined;
    }
    return () => {
      both();
      local();
    };
  }
}

/**
 * A response whose reading frees the slot at the end, on error or on cancel,
 * and which counts as answered (what disposal waits for) once its body is
 * handed out as a stream, or read or thrown away by the request loop.
 */
function holdUntilRead(response: WireResponse, release: Release, answered: () => void, plainRelease: boolean): WireResponse {
  return new HeldResponse(response, release, answered, plainRelease) as WireResponse;
}

/**
 * A class rather than an object literal: one is made per request, and a
 * literal with a getter and spreads is built the slow way every time.
 */
class HeldResponse {
  readonly #response: WireResponse;
  readonly #release: Release;
  #answered: (() => void) | undefined;
  /** The release returns nothing to wait for: a body that is in may be handed over synchronously (`bytesNow`). */
  readonly #plainRelease: boolean;
  constructor(response: WireResponse, release: Release, answered: () => void, plainRelease: boolean) {
    this.#response = response;
    this.#answered = answered;
    this.#plainRelease = plainRelease;
    // The slot first, then the answer: a slot handed to the next in line keeps it counted
    // as on its way, so disposal does not take it for stuck in between.
    // What the release returns (the budget's I/O) is handed on, so a body read waits for it.
    this.#release = (): unknown => {
      const done: unknown = release();
      this.#answer();
      return done;
    };
  }
  /** Once: the first of body read, thrown away, handed out or abandoned. */
  #answer(): void {
    const answered = this.#answered;
    this.#answered = undefined;
    answered?.();
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
  bytesNow(): Uint8Array | undefined {
    if (!this.#plainRelease) return undefined;
    const data = this.#response.bytesNow?.();
    if (data !== undefined) this.#release();
    return data;
  }
  discard(): Promise<void> {
    return this.#response.discard().finally(this.#release);
  }
  stream(): ReadableStream<Uint8Array> {
    const response = this.#response;
    // The slot is the connection's: freed once the body has arrived, where the transport can tell, not once it is read.
    const stream = response.streamSettled !== undefined ? response.streamSettled(this.#release) : whenDone(response.stream(), this.#release, undefined);
    // Handed to the caller from here: disposal no longer waits on it.
    this.#answer();
    return stream;
  }
  abandon(): void {
    this.#response.abandon?.();
    this.#release();
  }
}
