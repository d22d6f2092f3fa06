/**
 * `poolfetch/budget/redis`: the fleet budget over Redis, through the user's
 * own node-redis client (`redis` package). Each operation is one Lua script
 * run by the server, so it is atomic and every expiry is by the server's
 * clock (`TIME`), never a process's. A request that finds the budget full
 * joins a FIFO list in Redis; when a lease frees, the script that freed it
 * hands it to the head of that list and pushes the grant to the waiting
 * process's mailbox, which the process reads with `BLPOP` on a connection of
 * its own: the server wakes waiters, nobody polls. A waiting process asks
 * the server again only when the earliest lease's TTL would run out (a
 * holder that died never releases).
 *
 * Keys (per origin, `{origin}` a hash tag): `<prefix>:{origin}:leases` (a
 * sorted set: lease -> expiry), `<prefix>:{origin}:line` (a list: one entry
 * per waiting request, `ticket ttl mailbox`), and one mailbox list per
 * process, `<prefix>:mailbox:<uuid>`. One Redis server (or a primary):
 * mailboxes are in other slots than the origins', so Redis Cluster is not
 * supported.
 */
import { FleetBudget, type Coordinator, type FleetBudgetOptions } from '../../src/fleet-budget.js';
import { mustBe } from '../../src/checks.js';

/**
 * What poolfetch uses of a node-redis client (`createClient()` from `redis`,
 * 6.4 or later): `sendCommand` (with its `timeout` and `rejectInFlight` options), and `duplicate` for the connection that waits on
 * the mailbox. Structural, so poolfetch's types do not depend on `redis`.
 */
export interface RedisClientLike {
  sendCommand(args: string[], options?: { timeout?: number; rejectInFlight?: boolean }): Promise<unknown>;
  duplicate(): RedisBlockingClient;
}

/** The duplicated connection poolfetch opens, blocks on and closes. */
export interface RedisBlockingClient {
  sendCommand(args: string[]): Promise<unknown>;
  connect(): Promise<unknown>;
  destroy(): void;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  ref?(): void;
  unref?(): void;
}

/**
 * What poolfetch uses of an ioredis client (`new Redis()` from `ioredis`,
 * 5 or later): `call` for the same few commands (EVALSHA, SCRIPT LOAD,
 * PING, BLPOP), `duplicate` for the connection that waits on the mailbox, and
 * `status`, by which it is told from a node-redis client.
 */
export interface IoredisClientLike {
  readonly status: string;
  call(command: string, ...args: string[]): Promise<unknown>;
  duplicate(override?: { lazyConnect?: boolean }): IoredisBlockingClient;
}

/** The duplicated ioredis connection poolfetch opens, blocks on and closes. */
export interface IoredisBlockingClient {
  call(command: string, ...args: string[]): Promise<unknown>;
  connect(): Promise<unknown>;
  disconnect(): void;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

const isIoredis = (client: unknown): client is IoredisClientLike =>
  typeof (client as IoredisClientLike | undefined)?.call === 'function' && typeof (client as IoredisClientLike).status === 'string' && typeof (client as IoredisClientLike).duplicate === 'function';

/**
 * An ioredis client seen as node-redis's shape. ioredis has no per-command
 * timeout, so `timeout` races the reply: a call Redis does not answer in
 * time counts as Redis being unavailable (its reply, if it comes, is
 * dropped, as node-redis drops it).
 */
function fromIoredis(client: IoredisClientLike): RedisClientLike {
  const send = (target: Pick<IoredisClientLike, 'call'>, args: string[]): Promise<unknown> => target.call(args[0] as string, ...args.slice(1));
  return {
    sendCommand(args, options) {
      const reply = send(client, args);
      const timeout = options?.timeout;
      if (timeout === undefined) return reply;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer ${args[0] ?? ''} within ${timeout} ms`)), timeout);
      });
      reply.catch(noop);
      return Promise.race([reply, late]).finally(() => clearTimeout(timer));
    },
    duplicate() {
      const blocking = client.duplicate({ lazyConnect: true });
      return {
        sendCommand: (args) => send(blocking, args),
        connect: () => blocking.connect(),
        destroy: () => blocking.disconnect(),
        on: (event, listener) => blocking.on(event, listener),
        // ioredis has no ref/unref of its own: its socket's, once connected.
        ref: () => (blocking as { stream?: { ref?: () => void } }).stream?.ref?.(),
        unref: () => (blocking as { stream?: { unref?: () => void } }).stream?.unref?.(),
      };
    },
  };
}

/** Options of `redisBudget`. */
export interface RedisBudgetOptions extends FleetBudgetOptions {
  /** Prefix of every key poolfetch writes. @default 'poolfetch:budget' */
  prefix?: string;
  /**
   * Ms a call to Redis may take (queued or sent) before the coordinator
   * counts as unavailable and `onUnavailable` applies. @default 2000
   */
  callTimeout?: number;
}

/** Lines shared by every script: the keys, the server's time in ms, and `drain`, which grants freed leases to the line in order. */
const PRELUDE = `
local leases, line = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function drain(limit)
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  while redis.call('ZCARD', leases) < limit do
    local entry = redis.call('LPOP', line)
    if not entry then break end
    local ticket, ttl, mailbox = string.match(entry, '^(%S+) (%d+) (.+)$')
    redis.call('ZADD', leases, now + tonumber(ttl), ticket)
    redis.call('RPUSH', mailbox, ticket)
    redis.call('PEXPIRE', mailbox, tonumber(ttl) * 2)
  end
end
local function nextExpiry()
  if redis.call('LLEN', line) == 0 then return -1 end
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  if first[2] == nil then return 0 end
  return math.max(0, tonumber(first[2]) - now)
end
local function keep(ttl)
  redis.call('PEXPIRE', leases, ttl * 4)
  redis.call('PEXPIRE', line, ttl * 4)
end
`;

/**
 * Each operation's script. `acquire` returns -2 for a lease granted at once,
 * else (queued) the ms until the earliest lease expires; `renew` the ids
 * already expired; `cancel` 1 if the entry left the line, else 0 (after
 * giving back the lease it had been granted); `check` the same as a queued
 * `acquire`, or -1 when nobody waits.
 */
const SCRIPTS = {
  // ARGV: limit, ttl, ticket, mailbox
  acquire: `${PRELUDE}
local limit, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
drain(limit)
keep(ttl)
if redis.call('ZCARD', leases) < limit then
  redis.call('ZADD', leases, now + ttl, ARGV[3])
  return -2
end
redis.call('RPUSH', line, ARGV[3] .. ' ' .. ARGV[2] .. ' ' .. ARGV[4])
return nextExpiry()`,
  // ARGV: limit, ids...
  release: `${PRELUDE}
for i = 2, #ARGV do redis.call('ZREM', leases, ARGV[i]) end
drain(tonumber(ARGV[1]))
return 0`,
  // ARGV: limit, ttl, ids...
  renew: `${PRELUDE}
local ttl = tonumber(ARGV[2])
drain(tonumber(ARGV[1]))
local lost = {}
for i = 3, #ARGV do
  if redis.call('ZSCORE', leases, ARGV[i]) then redis.call('ZADD', leases, 'XX', now + ttl, ARGV[i])
  else lost[#lost + 1] = ARGV[i] end
end
keep(ttl)
return lost`,
  // ARGV: limit, ticket, ttl, mailbox
  cancel: `${PRELUDE}
local removed = redis.call('LREM', line, 1, ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
if removed == 0 and redis.call('ZREM', leases, ARGV[2]) == 1 then drain(tonumber(ARGV[1])) end
return removed`,
  // ARGV: limit
  check: `${PRELUDE}
drain(tonumber(ARGV[1]))
return nextExpiry()`,
} as const;

type Script = keyof typeof SCRIPTS;

/** An ask waiting in Redis's line for its grant to arrive in the mailbox. */
interface Waiting {
  readonly origin: string;
  readonly limit: number;
  readonly resolve: (id: string) => void;
  readonly reject: (error: unknown) => void;
}

const noop = (): void => {};

/** The `Coordinator` over Redis (see the module comment). */
export class RedisCoordinator implements Coordinator {
  calls = 0;
  readonly #client: RedisClientLike;
  readonly #prefix: string;
  readonly #callTimeout: number;
  /** This process's mailbox: grants for its queued asks arrive here. */
  readonly #mailbox: string;
  readonly #id = globalThis.crypto.randomUUID();
  #seq = 0;
  readonly #shas = new Map<Script, Promise<string>>();
  /** Tickets whose acquire script has not answered yet. */
  readonly #asking = new Set<string>();
  /** Grants that arrived for tickets in `#asking`. */
  readonly #early = new Set<string>();
  /** Queued asks by ticket. */
  readonly #waiting = new Map<string, Waiting>();
  /** Tickets whose acquire got no answer (timed out): a grant for one arriving later goes back at once. */
  readonly #unanswered = new Map<string, { origin: string; limit: number }>();
  /** One timer per origin with queued asks: the earliest lease's expiry, when the server must be asked to drain. */
  readonly #checks = new Map<string, { timer: ReturnType<typeof setTimeout>; at: number; limit: number }>();
  #blocker: RedisBlockingClient | undefined;
  #closed = false;

  constructor(client: RedisClientLike, prefix: string, callTimeout: number) {
    this.#client = client;
    this.#prefix = prefix;
    this.#callTimeout = callTimeout;
    this.#mailbox = `${prefix}:mailbox:${this.#id}`;
  }

  async acquire(origin: string, limit: number, ttl: number, signal: AbortSignal, queued: () => void): Promise<string> {
    const ticket = `${this.#id}:${(this.#seq += 1).toString(36)}`;
    let reply: unknown;
    this.#asking.add(ticket);
    try {
      reply = await this.#run('acquire', origin, [limit, ttl, ticket, this.#mailbox]);
    } catch (error) {
      this.#forget(ticket, origin, limit);
      throw error;
    } finally {
      this.#asking.delete(ticket);
    }
    // Queued, and granted already: the grant reached the mailbox before the script's reply reached us.
    if (this.#early.delete(ticket)) reply = -2;
    if (reply === -2) {
      if (!signal.aborted) return ticket;
      // Withdrawn while the script ran: the lease goes straight back.
      void this.release(origin, [ticket], limit).catch(noop);
      throw signal.reason;
    }
    queued();
    if (signal.aborted) {
      void this.#cancel(origin, limit, ticket, ttl);
      throw signal.reason;
    }
    return new Promise<string>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.#waiting.delete(ticket)) return;
        this.#idleCheck(origin);
        void this.#cancel(origin, limit, ticket, ttl);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.set(ticket, {
        origin,
        limit,
        resolve: (id) => {
          signal.removeEventListener('abort', onAbort);
          resolve(id);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      this.#consume();
      this.#check(origin, limit, Number(reply));
    });
  }

  async release(origin: string, ids: readonly string[], limit: number): Promise<void> {
    await this.#run('release', origin, [limit, ...ids]);
  }

  async renew(origin: string, ids: readonly string[], ttl: number, limit: number): Promise<string[]> {
    const lost = await this.#run('renew', origin, [limit, ttl, ...ids]);
    return Array.isArray(lost) ? lost.map(String) : [];
  }

  async probe(): Promise<void> {
    this.calls += 1;
    await this.#client.sendCommand(['PING'], { timeout: this.#callTimeout, rejectInFlight: true });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const check of this.#checks.values()) clearTimeout(check.timer);
    this.#checks.clear();
    this.#failWaiting(new Error('redisBudget was closed'));
    this.#blocker?.destroy();
    this.#blocker = undefined;
  }

  /** The withdrawn ask leaves the line, or its lease, granted meanwhile, goes back; if Redis cannot be reached it expires by its TTL. */
  async #cancel(origin: string, limit: number, ticket: string, ttl: number): Promise<void> {
    await this.#run('cancel', origin, [limit, ticket, ttl, this.#mailbox]).catch(noop);
  }

  /** Runs one script by its SHA, loading it first (and again after a server restart lost it). */
  async #run(script: Script, origin: string, args: ReadonlyArray<string | number>): Promise<unknown> {
    this.calls += 1;
    const keys = [`${this.#prefix}:{${origin}}:leases`, `${this.#prefix}:{${origin}}:line`];
    const options = { timeout: this.#callTimeout, rejectInFlight: true };
    const call = (sha: string): Promise<unknown> => this.#client.sendCommand(['EVALSHA', sha, '2', ...keys, ...args.map(String)], options);
    const sha = await (this.#shas.get(script) ?? this.#load(script));
    try {
      return await call(sha);
    } catch (error) {
      if (!String((error as Error | undefined)?.message).startsWith('NOSCRIPT')) throw error;
      return call(await this.#load(script));
    }
  }

  /** Loads a script once, however many calls wait for it; a failed load is tried again by the next call. */
  #load(script: Script): Promise<string> {
    const loading = this.#client.sendCommand(['SCRIPT', 'LOAD', SCRIPTS[script]], { timeout: this.#callTimeout, rejectInFlight: true }).then(String);
    this.#shas.set(script, loading);
    loading.catch(() => {
      if (this.#shas.get(script) === loading) this.#shas.delete(script);
    });
    return loading;
  }

  /** Reads the mailbox with BLPOP on a connection of its own, opened on the first queued ask and kept referenced only while asks wait. */
  #consume(): void {
    this.#blocker?.ref?.();
    if (this.#blocker !== undefined || this.#closed) return;
    const blocker = this.#client.duplicate();
    this.#blocker = blocker;
    // node-redis reports each failed reconnection here; the waiting asks learn of it from BLPOP's rejection.
    blocker.on('error', noop);
    void (async () => {
      let pause = 50;
      try {
        await blocker.connect();
      } catch (error) {
        if (this.#blocker === blocker) this.#blocker = undefined;
        this.#failWaiting(error);
        return;
      }
      while (!this.#closed && this.#blocker === blocker) {
        let reply: unknown;
        try {
          reply = await blocker.sendCommand(['BLPOP', this.#mailbox, '0']);
          pause = 50;
        } catch (error) {
          if (this.#closed) return;
          // Redis went away: asks waiting now would wait blind, so they fail (onUnavailable decides); the
          // connection reconnects itself, and a grant pushed meanwhile waits in the mailbox list.
          this.#failWaiting(error);
          await new Promise((resolve) => setTimeout(resolve, pause));
          pause = Math.min(pause * 2, 2000);
          continue;
        }
        if (Array.isArray(reply)) this.#delivered(String(reply[1]));
      }
    })();
  }

  #delivered(ticket: string): void {
    if (this.#asking.has(ticket)) {
      this.#early.add(ticket);
      return;
    }
    const waiting = this.#waiting.get(ticket);
    if (waiting !== undefined) {
      this.#waiting.delete(ticket);
      this.#idleCheck(waiting.origin);
      waiting.resolve(ticket);
      return;
    }
    const lost = this.#unanswered.get(ticket);
    if (lost !== undefined) {
      this.#unanswered.delete(ticket);
      void this.release(lost.origin, [ticket], lost.limit).catch(noop);
    }
  }

  /** A ticket this process no longer waits for: if its grant arrives after all, the lease goes back. */
  #forget(ticket: string, origin: string, limit: number): void {
    this.#unanswered.set(ticket, { origin, limit });
    // Most never arrive (the call never reached Redis): keep the newest only.
    if (this.#unanswered.size > 1000) this.#unanswered.delete(this.#unanswered.keys().next().value as string);
  }

  #failWaiting(error: unknown): void {
    const waiting = [...this.#waiting.values()];
    for (const [ticket, w] of this.#waiting) this.#forget(ticket, w.origin, w.limit);
    this.#waiting.clear();
    for (const check of this.#checks.values()) clearTimeout(check.timer);
    this.#checks.clear();
    this.#blocker?.unref?.();
    for (const w of waiting) w.reject(error);
  }

  /** Asks the server to drain when the earliest lease would expire: the only way a dead holder's lease reaches the line. */
  #check(origin: string, limit: number, inMs: number): void {
    if (inMs < 0) return;
    const at = Date.now() + inMs + 5;
    const existing = this.#checks.get(origin);
    if (existing !== undefined && existing.at <= at) return;
    if (existing !== undefined) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.#checks.delete(origin);
      if (!this.#waitsFor(origin)) return;
      this.#run('check', origin, [limit]).then(
        (next) => {
          if (this.#waitsFor(origin)) this.#check(origin, limit, Number(next));
        },
        (error: unknown) => this.#failWaiting(error),
      );
    }, at - Date.now());
    this.#checks.set(origin, { timer, at, limit });
  }

  #waitsFor(origin: string): boolean {
    for (const w of this.#waiting.values()) if (w.origin === origin) return true;
    return false;
  }

  /** No ask waits for `origin` any more: its check timer goes, and the mailbox connection no longer keeps the process alive once nothing waits. */
  #idleCheck(origin: string): void {
    if (!this.#waitsFor(origin)) {
      const check = this.#checks.get(origin);
      if (check !== undefined) clearTimeout(check.timer);
      this.#checks.delete(origin);
    }
    if (this.#waiting.size === 0) this.#blocker?.unref?.();
  }
}

/**
 * A fleet budget kept in Redis, for a cluster of Node processes (or any
 * runtime with node-redis): every manager given a `redisBudget` over the same
 * Redis shares `limit` requests in flight per origin. The client is
 * node-redis's or ioredis's (`new Redis(url)`), used for the same commands.
 *
 * ```ts
 * import { createClient } from 'redis';
 * import { PoolManager } from 'poolfetch';
 * import { redisBudget } from 'poolfetch/budget/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const manager = new PoolManager({ budget: redisBudget(redis, { limit: 20, ttl: 30_000 }) });
 * ```
 *
 * `close()` the budget before the client: it closes the one connection it
 * opened (`client.duplicate()`, for BLPOP).
 */
export function redisBudget(client: RedisClientLike | IoredisClientLike, options: RedisBudgetOptions): FleetBudget {
  if (isIoredis(client)) client = fromIoredis(client);
  else if (typeof (client as RedisClientLike | undefined)?.sendCommand !== 'function' || typeof client.duplicate !== 'function') {
    mustBe('redisBudget client', 'a node-redis client (createClient() from the redis package) or an ioredis client (new Redis())', client);
  }
  const { prefix = 'poolfetch:budget', callTimeout = 2000 } = (options ?? {}) as RedisBudgetOptions;
  if (typeof prefix !== 'string' || prefix === '') mustBe('redisBudget prefix', 'a non-empty string', prefix);
  if (typeof callTimeout !== 'number' || !Number.isInteger(callTimeout) || callTimeout < 1) mustBe('redisBudget callTimeout', 'a positive integer number of milliseconds', callTimeout);
  return new FleetBudget(new RedisCoordinator(client, prefix, callTimeout), options, 'redisBudget', ['prefix', 'callTimeout']);
}

export { BudgetEvent, FleetBudget } from '../../src/fleet-budget.js';
export type { FleetBudgetOptions } from '../../src/fleet-budget.js';
export { BudgetUnavailableError } from '../../src/errors.js';
