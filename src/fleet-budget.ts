/**
 * `FleetBudget`: the `Budget` (src/budget.ts) that the coordinator entries
 * (`poolfetch/budget/redis`, `poolfetch/budget/durable-object`) build over
 * their engine. The engine only keeps leases and a FIFO line of asks
 * (`Coordinator`); this keeps what is the same for every engine: the local
 * line of requests waiting for a lease, local slices, one renewal timer per
 * origin, lost leases, and what happens when the coordinator is down. It is
 * imported by those entries only, never by the main bundle.
 */
import type { Budget, BudgetAcquireOptions, BudgetEvent as BudgetEventShape, BudgetLease, BudgetStats } from './budget.js';
import { knownKeys, mustBe } from './checks.js';
import { BudgetUnavailableError, EmptyPoolError } from './errors.js';
import { WaiterList, type Release, type Waiter } from './waiting-line.js';

/** What an engine does for a `FleetBudget`: leases with a TTL, by the engine's clock, and a FIFO line of asks across the fleet. */
export interface Coordinator {
  /**
   * One lease for `origin` under `limit`, expiring `ttl` ms after it is
   * granted unless renewed; waits in the fleet's FIFO line as long as it
   * takes and resolves with the lease's id. Aborting `signal` takes the ask
   * out of the line (a lease granted meanwhile goes back) and rejects with
   * the signal's reason; any other rejection means the engine is unreachable.
   * `queued` is called when the ask had to join the line (the budget is
   * full), where the engine can tell.
   */
  acquire(origin: string, limit: number, ttl: number, signal: AbortSignal, queued: () => void): Promise<string>;
  /** Gives leases back (the next asks in line get them). */
  release(origin: string, ids: readonly string[], limit: number): Promise<void>;
  /** Moves the leases' expiry to now + `ttl`; resolves with the ids that had already expired (lost). */
  renew(origin: string, ids: readonly string[], ttl: number, limit: number): Promise<string[]>;
  /** Resolves once the engine answers. */
  probe(): Promise<void>;
  /** Calls made to the engine so far (withdrawals included). */
  readonly calls: number;
  /** Closes what the coordinator opened itself (never the user's client). */
  close?(): Promise<void>;
}

/** Options every coordinator entry takes (`redisBudget(client, options)`, `durableObjectBudget(namespace, options)`). */
export interface FleetBudgetOptions {
  /** Requests in flight per origin across the fleet: a number, or a function of the origin (`scheme://host:port`). */
  limit: number | ((origin: string) => number);
  /**
   * Ms a lease lives at the coordinator unless renewed. Held leases are
   * renewed every `ttl / 3`; a holder that dies gives its leases back after
   * at most `ttl`. @default 30000
   */
  ttl?: number;
  /**
   * When the coordinator cannot be reached: `'local'` lets requests go under
   * this process's own caps (`maxSize`, `maxTotal`) and probes the
   * coordinator with backoff until it answers; `'fail'` rejects them with
   * `BudgetUnavailableError` (probing the same way). @default 'local'
   */
  onUnavailable?: 'local' | 'fail';
  /**
   * Local slices: a lease freed while another request of this process
   * waits for the same origin goes to that request directly, without a round
   * trip, at most `uses` requests in all and for at most `ms` after the
   * coordinator granted it; then it goes back to the fleet's line. A lease
   * nobody here waits for goes back at once, so an idle process hoards
   * nothing. `false`: every request asks the coordinator.
   * @default { uses: 8, ms: 1000 }
   */
  slices?: false | { uses?: number; ms?: number };
}

/** `FleetBudgetOptions` after checking. */
interface Resolved {
  readonly limit: (origin: string) => number;
  readonly ttl: number;
  readonly onUnavailable: 'local' | 'fail';
  readonly sliceUses: number;
  readonly sliceMs: number;
}

const positive = (value: unknown, name: string): number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : mustBe(name, 'a positive integer', value);
const nonNegative = (value: unknown, name: string): number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : mustBe(name, 'a non-negative integer', value);

/** Checks a coordinator entry's options; `owner` names the entry in errors (`redisBudget`). */
export function normalizeBudgetOptions(input: unknown, owner: string, extra: readonly string[] = []): Resolved {
  const o = knownKeys(input, `${owner} options`, 'an object { limit, ttl, onUnavailable, slices }', ['limit', 'ttl', 'onUnavailable', 'slices', ...extra], owner);
  const { limit, ttl, onUnavailable, slices } = o;
  let limitOf: (origin: string) => number;
  if (typeof limit === 'function') {
    limitOf = (origin) => positive((limit as (origin: string) => unknown)(origin), `${owner} limit(${JSON.stringify(origin)})`);
  } else {
    const n = positive(limit, `${owner} limit`);
    limitOf = () => n;
  }
  if (onUnavailable !== undefined && onUnavailable !== 'local' && onUnavailable !== 'fail') mustBe(`${owner} onUnavailable`, "'local' or 'fail'", onUnavailable);
  let sliceUses = 8;
  // Counted from the grant, so it must outlast a few requests to a real upstream under load.
  let sliceMs = 1000;
  if (slices === false) sliceUses = 1;
  else if (slices !== undefined) {
    const s = knownKeys(slices, `${owner} slices`, 'false or an object { uses, ms }', ['uses', 'ms']);
    if (s.uses !== undefined) sliceUses = positive(s.uses, `${owner} slices.uses`);
    if (s.ms !== undefined) sliceMs = nonNegative(s.ms, `${owner} slices.ms`);
  }
  return {
    limit: limitOf,
    // Below a second, renewal (every ttl / 3) would be most of the traffic.
    ttl: ttl === undefined ? 30_000 : ttl !== 0 && typeof ttl === 'number' && ttl >= 1000 && Number.isInteger(ttl) ? ttl : mustBe(`${owner} ttl`, 'an integer number of milliseconds >= 1000', ttl),
    onUnavailable: onUnavailable ?? 'local',
    sliceUses,
    sliceMs,
  };
}

/** A budget's event (see `BudgetEvent` in src/budget.ts), dispatched on the budget and on every manager given it. */
export class BudgetEvent extends Event implements BudgetEventShape {
  declare readonly type: BudgetEventShape['type'];
  readonly origin: string | undefined;
  readonly error: unknown;
  constructor(type: BudgetEventShape['type'], origin?: string, error?: unknown) {
    super(type);
    this.origin = origin;
    this.error = error;
  }
}

/** A lease this process holds for one origin. */
class Held {
  readonly id: string;
  /** Requests it has served (slices). */
  uses = 1;
  /** When the coordinator granted it. */
  readonly since = Date.now();
  /** Expired at the coordinator while held: it is not given back and not sliced. */
  lost = false;
  constructor(id: string) {
    this.id = id;
  }
}

/** One ask in the coordinator's line, made for a waiter; with slices, handed on to another waiter when its own was served otherwise. */
interface Ask {
  readonly controller: AbortController;
  /** The waiter whose ask it is now; undefined while it is spare. */
  waiter: Waiter | undefined;
}

/** One origin's state in this process. */
interface OriginState {
  readonly origin: string;
  readonly limit: number;
  /** Requests waiting for a lease, in arrival order. */
  readonly waiters: WaiterList;
  readonly held: Set<Held>;
  /**
   * Each waiter's own ask in the coordinator's line. An ask is made in the
   * waiter's own turn (in a Worker, its own request's context, so that the
   * I/O is not cancelled when another request ends) and its grant goes to
   * that waiter.
   */
  readonly asks: Map<Waiter, Ask>;
  /**
   * Asks whose waiter was served by a slice (or left) while no waiter here
   * lacked one: kept for the next waiter that needs one while this process
   * has waiters (its place in the fleet's line is older than a new ask's),
   * withdrawn once none waits. Only with slices: in a Worker an ask is I/O of
   * its own request and must not serve another's.
   */
  readonly spare: Set<Ask>;
  /** Waiters in line without an ask: a held lease was expected to serve them (a slice). */
  readonly unasked: Set<Waiter>;
  lost: number;
  /**
   * When an ask last had to wait in the coordinator's line. Slices serve
   * only while the budget is full: since then (within `slices.ms`), or while
   * this process holds all of it. An ask answered at once does not end it:
   * it may only have taken the lease this process just gave back.
   */
  fullAt: number;
  /** When the held leases were last renewed (or the first was granted). */
  renewedAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  timerAt: number;
}

const noop = (): void => {};
const LOCAL_LEASE: BudgetLease = { release: noop };

/**
 * A `Budget` over a `Coordinator`. Every request asks the coordinator unless
 * a lease held here will serve it (a slice); asks are made for the waiters a
 * held lease cannot cover, and withdrawn (newest first, keeping the oldest
 * places in the fleet's line) when fewer are needed.
 */
export class FleetBudget extends EventTarget implements Budget {
  readonly #coordinator: Coordinator;
  readonly #options: Resolved;
  readonly #name: string;
  #mode: 'fleet' | 'local' | 'fail' = 'fleet';
  readonly #origins = new Map<string, OriginState>();
  #probeTimer: ReturnType<typeof setTimeout> | undefined;
  #probeDelay = 0;
  /** When the next probe is due, while the coordinator is unavailable. */
  #probeAt = 0;
  /** The probe under way, which every request that comes by while it runs waits for. */
  #probing: Promise<void> | undefined;
  #closed = false;
  /** Calls made to the coordinator so far (its own count), for `npm run bench` and the curious. */
  get calls(): number {
    return this.#coordinator.calls;
  }

  /** What each waiter was served with, so that the end of its request (`onEnded`) can give a lease back its continuation never took. */
  readonly #servedWith = new WeakMap<Waiter, Release>();

  /** The managers given this budget, held weakly: a budget shared by many must not keep each alive. */
  readonly #managers = new Set<WeakRef<EventTarget>>();

  /** `options` are checked by `normalizeBudgetOptions`, where `extra` names the entry's own options. */
  constructor(coordinator: Coordinator, options: unknown, owner: string, extra?: readonly string[]) {
    super();
    this.#coordinator = coordinator;
    this.#options = normalizeBudgetOptions(options, owner, extra);
    this.#name = owner;
  }

  /** 'fleet', or 'local'/'fail' while the coordinator is unreachable. */
  get mode(): 'fleet' | 'local' | 'fail' {
    return this.#mode;
  }

  acquire(origin: string, options: BudgetAcquireOptions): Promise<BudgetLease> {
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    // A probe that is due runs in this request (in a Worker the probe timer died with the request that set it).
    if (this.#mode !== 'fleet' && !this.#closed && (this.#probing !== undefined || Date.now() >= this.#probeAt)) {
      return this.#probeNow().then(() => this.#acquireNow(origin, options));
    }
    return this.#acquireNow(origin, options);
  }

  #acquireNow(origin: string, options: BudgetAcquireOptions): Promise<BudgetLease> {
    const { signal, timeout } = options;
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    if (this.#mode === 'local') return Promise.resolve(LOCAL_LEASE);
    if (this.#mode === 'fail' || this.#closed) return Promise.reject(this.#unavailableError(origin, undefined));
    let state: OriginState;
    try {
      state = this.#state(origin);
    } catch (error) {
      return Promise.reject(error);
    }
    const waiter = state.waiters.join({
      signal,
      timeout,
      onTimeout: () => new EmptyPoolError(`No lease from the fleet budget for ${origin} within poolTimeout (${String(timeout)} ms left of it)`),
    });
    // Served, or gone (abort, timeout): its ask, if it has one, is withdrawn.
    const left = (): void => this.#left(state, waiter);
    waiter.granted.then(left, left);
    options.onEnded?.(() => this.#ended(state, waiter));
    if (this.#covered(state, Date.now()) < state.waiters.size) this.#ask(state, waiter);
    else state.unasked.add(waiter);
    this.#pump(state);
    return waiter.granted.then((release) => ({ release }));
  }

  attach(manager: EventTarget): void {
    // workerd has no WeakRef (without a compatibility flag): there a manager is held as long as its budget.
    this.#managers.add(typeof WeakRef === 'function' ? new WeakRef(manager) : ({ deref: () => manager } as WeakRef<EventTarget>));
  }

  /** On the budget, then on each manager given it (a fresh event each: an event is dispatched once). */
  #dispatch(type: BudgetEventShape['type'], origin?: string, error?: unknown): void {
    this.dispatchEvent(new BudgetEvent(type, origin, error));
    for (const ref of this.#managers) {
      const manager = ref.deref();
      if (manager === undefined) this.#managers.delete(ref);
      else manager.dispatchEvent(new BudgetEvent(type, origin, error));
    }
  }

  stats(origin: string): BudgetStats {
    const state = this.#origins.get(origin);
    return { mode: this.#mode, leases: state?.held.size ?? 0, waiting: state?.waiters.size ?? 0, lost: state?.lost ?? 0 };
  }

  /** Stops renewing and probing and closes what the coordinator opened. Leases still held expire after their TTL. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#probeTimer);
    for (const state of this.#origins.values()) {
      clearTimeout(state.timer);
      for (const ask of [...state.asks.values(), ...state.spare]) ask.controller.abort(new BudgetUnavailableError(`${this.#name} was closed`));
      state.asks.clear();
      state.spare.clear();
      state.waiters.failAll(new BudgetUnavailableError(`${this.#name} was closed`));
    }
    await this.#coordinator.close?.();
  }

  #state(origin: string): OriginState {
    let state = this.#origins.get(origin);
    if (state === undefined) {
      state = {
        origin, limit: this.#options.limit(origin), waiters: new WaiterList(), held: new Set(), asks: new Map(), spare: new Set(), unasked: new Set(),
        lost: 0, fullAt: -Infinity, renewedAt: 0, timer: undefined, timerAt: Infinity,
      };
      this.#origins.set(origin, state);
    }
    return state;
  }

  #sliceable(held: Held, now: number): boolean {
    return !held.lost && held.uses < this.#options.sliceUses && now - held.since < this.#options.sliceMs;
  }

  /** Whether slices serve now (see `fullAt`); never without slices. */
  #full(state: OriginState, now: number): boolean {
    return this.#options.sliceUses > 1 && (now - state.fullAt < this.#options.sliceMs || state.held.size >= state.limit);
  }

  /**
   * Requests the leases held here will still serve (uses left in their
   * slices), while the budget is full; 0 while it is not, where an ask is
   * answered at once and waiting for a slice would only be slower.
   */
  #covered(state: OriginState, now: number): number {
    if (!this.#full(state, now)) return 0;
    let covered = 0;
    for (const held of state.held) if (this.#sliceable(held, now)) covered += this.#options.sliceUses - held.uses;
    return covered;
  }

  /**
   * Renews when due, and gives an ask to each waiter whose slice is no longer
   * coming (every waiter a held lease will not serve has its own ask, so the
   * fleet's line orders requests, not processes).
   */
  #pump(state: OriginState): void {
    if (this.#mode !== 'fleet' || this.#closed) return;
    const now = Date.now();
    // In a Worker a timer dies with the request that set it: any request that comes by renews when it is due.
    if (state.held.size > 0 && now - state.renewedAt >= this.#options.ttl / 3) this.#renew(state, now);
    if (state.unasked.size > 0) {
      // The first `covered` waiters wait for slices; those behind them without an ask get one.
      let slices = this.#covered(state, now);
      for (let w = state.waiters.head; w !== undefined && state.unasked.size > 0; w = w.next) {
        if (slices > 0) slices -= 1;
        else if (state.unasked.delete(w)) this.#ask(state, w);
      }
    }
    // A busy process keeps its spare asks for the waiters to come; an idle one hoards no place in the line.
    if (state.waiters.size === 0) this.#withdrawSpares(state);
    this.#schedule(state, now);
  }

  #ask(state: OriginState, waiter: Waiter): void {
    for (const spare of state.spare) {
      state.spare.delete(spare);
      spare.waiter = waiter;
      state.asks.set(waiter, spare);
      return;
    }
    const ask: Ask = { controller: new AbortController(), waiter };
    state.asks.set(waiter, ask);
    const signal = ask.controller.signal;
    this.#coordinator.acquire(state.origin, state.limit, this.#options.ttl, signal, () => {
      state.fullAt = Date.now();
    }).then(
      (id) => {
        const asker = this.#detach(state, ask);
        this.#granted(state, new Held(id), asker);
      },
      (error: unknown) => {
        this.#detach(state, ask);
        if (!signal.aborted) this.#unavailable(error, state.origin);
      },
    );
  }

  /** Takes `ask` off its waiter (or out of the spares); returns the waiter it was for. */
  #detach(state: OriginState, ask: Ask): Waiter | undefined {
    const waiter = ask.waiter;
    if (waiter === undefined) state.spare.delete(ask);
    else if (state.asks.get(waiter) === ask) state.asks.delete(waiter);
    ask.waiter = undefined;
    return waiter;
  }

  /**
   * `waiter` no longer needs its ask (served, or gone). With slices the ask
   * keeps its place in the fleet's line for the first waiter here without
   * one, or as a spare; without, it is withdrawn (a Worker's ask is its own
   * request's I/O).
   */
  #handOn(state: OriginState, waiter: Waiter): void {
    const ask = state.asks.get(waiter);
    if (ask === undefined) return;
    state.asks.delete(waiter);
    ask.waiter = undefined;
    if (this.#options.sliceUses <= 1) {
      ask.controller.abort(WITHDRAWN);
      return;
    }
    for (let w = state.waiters.head; w !== undefined; w = w.next) {
      if (!state.unasked.delete(w)) continue;
      ask.waiter = w;
      state.asks.set(w, ask);
      return;
    }
    state.spare.add(ask);
  }

  #withdrawSpares(state: OriginState): void {
    for (const ask of state.spare) ask.controller.abort(WITHDRAWN);
    state.spare.clear();
  }

  /**
   * The waiter's request has ended (a Worker's, found by another request):
   * out of the line unsettled, and its ask withdrawn from here (the
   * withdrawal's I/O is the caller's, a live request's), so the fleet's line
   * does not grant a lease nobody will use or give back. A withdrawal never
   * counts as the coordinator being down.
   */
  #ended(state: OriginState, waiter: Waiter): void {
    if (!waiter.inLine) {
      // Served after its request ended (before anyone noticed): the lease goes back from here.
      void this.#servedWith.get(waiter)?.();
      return;
    }
    waiter.drop();
    state.unasked.delete(waiter);
    const ask = state.asks.get(waiter);
    if (ask !== undefined) {
      state.asks.delete(waiter);
      ask.waiter = undefined;
      ask.controller.abort(WITHDRAWN);
    }
    this.#pump(state);
    this.#forgetIfIdle(state);
  }

  /** A waiter left the line (served or gone): its ask goes on or goes. */
  #left(state: OriginState, waiter: Waiter): void {
    state.unasked.delete(waiter);
    this.#handOn(state, waiter);
    this.#pump(state);
    this.#forgetIfIdle(state);
  }

  /**
   * A lease came from the coordinator: to the waiter that asked, or, if it
   * left meanwhile (or the ask was spare), to the first in line, or straight
   * back.
   */
  #granted(state: OriginState, held: Held, asker: Waiter | undefined): void {
    const waiter = asker?.inLine === true ? asker : state.waiters.head;
    if (waiter === undefined || this.#mode !== 'fleet') {
      void this.#giveBack(state, held);
      this.#pump(state);
      this.#forgetIfIdle(state);
      return;
    }
    if (state.held.size === 0) state.renewedAt = held.since;
    state.held.add(held);
    this.#serve(state, waiter, held);
  }

  /** Hands `held` to `waiter`; the ask it had, if any, goes on to another waiter (see `#handOn`). */
  #serve(state: OriginState, waiter: Waiter, held: Held): void {
    state.unasked.delete(waiter);
    const release = this.#releaser(state, held);
    this.#servedWith.set(waiter, release);
    waiter.grant(release);
    this.#handOn(state, waiter);
  }

  #releaser(state: OriginState, held: Held): Release {
    let released = false;
    return (): unknown => {
      if (released) return undefined;
      released = true;
      return this.#freed(state, held);
    };
  }

  /**
   * A request is done with its lease: while the budget is full, the first
   * waiter here takes it (a slice) and its ask, if it made one, keeps its
   * place in the fleet's line for a waiter behind it; otherwise it goes back.
   */
  #freed(state: OriginState, held: Held): Promise<void> | undefined {
    const now = Date.now();
    const next = state.waiters.head;
    if (next !== undefined && this.#mode === 'fleet' && this.#sliceable(held, now) && this.#full(state, now)) {
      held.uses += 1;
      this.#serve(state, next, held);
      return undefined;
    }
    state.held.delete(held);
    const done = this.#giveBack(state, held);
    this.#pump(state);
    this.#forgetIfIdle(state);
    return done;
  }

  #giveBack(state: OriginState, held: Held): Promise<void> | undefined {
    if (held.lost || this.#closed) return undefined;
    return this.#coordinator.release(state.origin, [held.id], state.limit).catch((error: unknown) => this.#unavailable(error, state.origin));
  }

  #renew(state: OriginState, now: number): void {
    state.renewedAt = now;
    const ids: string[] = [];
    for (const held of state.held) if (!held.lost) ids.push(held.id);
    if (ids.length === 0) return;
    this.#coordinator.renew(state.origin, ids, this.#options.ttl, state.limit).then(
      (lost) => {
        for (const held of state.held) {
          if (held.lost || !lost.includes(held.id)) continue;
          // The request on it goes on: cutting a request already sent would not give the upstream back anything.
          held.lost = true;
          state.lost += 1;
          this.#dispatch('budgetleaselost', state.origin);
        }
      },
      (error: unknown) => this.#unavailable(error, state.origin),
    );
  }

  /** One timer per origin: the next renewal while leases are held, or the end of a slice that waiters count on. */
  #schedule(state: OriginState, now: number): void {
    let at = Infinity;
    if (state.held.size > 0) at = state.renewedAt + this.#options.ttl / 3;
    if (state.waiters.size > 0) {
      for (const held of state.held) if (this.#sliceable(held, now)) at = Math.min(at, held.since + this.#options.sliceMs);
    }
    if (at === Infinity) {
      clearTimeout(state.timer);
      state.timer = undefined;
      state.timerAt = Infinity;
      return;
    }
    if (state.timer !== undefined && state.timerAt <= at) return;
    clearTimeout(state.timer);
    state.timerAt = at;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      state.timerAt = Infinity;
      this.#pump(state);
    }, Math.max(0, at - now));
  }

  #forgetIfIdle(state: OriginState): void {
    if (state.held.size > 0 || state.waiters.size > 0 || state.asks.size > 0 || state.spare.size > 0 || state.unasked.size > 0 || state.lost > 0) return;
    clearTimeout(state.timer);
    this.#origins.delete(state.origin);
  }

  #unavailableError(origin: string, cause: unknown): BudgetUnavailableError {
    return new BudgetUnavailableError(`The fleet budget's coordinator (${this.#name}) is unavailable, so no request to ${origin} is sent (onUnavailable: 'fail')`, { cause });
  }

  /** The coordinator failed a call: switch to `onUnavailable`'s mode, settle every waiter by it, and probe. */
  #unavailable(error: unknown, origin: string): void {
    if (this.#mode !== 'fleet' || this.#closed) return;
    const fail = this.#options.onUnavailable === 'fail';
    this.#mode = fail ? 'fail' : 'local';
    for (const state of this.#origins.values()) {
      for (const ask of [...state.asks.values(), ...state.spare]) ask.controller.abort(WITHDRAWN);
      state.asks.clear();
      state.spare.clear();
      state.unasked.clear();
      if (fail) state.waiters.failAll(this.#unavailableError(state.origin, error));
      else for (let head = state.waiters.head; head !== undefined; head = state.waiters.head) head.grant(noop);
      clearTimeout(state.timer);
      state.timer = undefined;
      state.timerAt = Infinity;
    }
    this.#dispatch('budgetunavailable', origin, error);
    this.#probeDelay = 100;
    this.#probeAt = Date.now() + this.#probeDelay;
    this.#armProbe();
  }

  /**
   * Probes with backoff (100 ms, doubling to 5 s) until the coordinator
   * answers: by timer, and by the first request that comes by once a probe
   * is due (a Worker's timer dies with the request that set it).
   */
  #armProbe(): void {
    clearTimeout(this.#probeTimer);
    if (this.#closed) return;
    this.#probeTimer = setTimeout(() => void this.#probeNow(), Math.max(0, this.#probeAt - Date.now()));
    // Probing alone does not keep a Node process alive.
    (this.#probeTimer as { unref?: () => void }).unref?.();
  }

  /** One probe at a time; resolves (never rejects) once it has answered or failed. */
  #probeNow(): Promise<void> {
    if (this.#probing !== undefined) return this.#probing;
    clearTimeout(this.#probeTimer);
    const probing = this.#coordinator.probe().then(
      () => {
        this.#probing = undefined;
        if (this.#closed || this.#mode === 'fleet') return;
        this.#mode = 'fleet';
        this.#dispatch('budgetrestored');
        for (const state of this.#origins.values()) this.#pump(state);
      },
      () => {
        this.#probing = undefined;
        this.#probeDelay = Math.min(this.#probeDelay * 2, 5000);
        this.#probeAt = Date.now() + this.#probeDelay;
        this.#armProbe();
      },
    );
    this.#probing = probing;
    return probing;
  }
}

/** The reason an ask is withdrawn: its waiter was served otherwise or left. */
const WITHDRAWN = new Error('ask withdrawn');
