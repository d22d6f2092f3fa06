/**
 * One origin's connections, as urllib3's pool owns its connections: an undici
 * `Client` per connection, handed to one exchange at a time. poolfetch's
 * waiting line (src/waiting-line.ts) already decides who goes next and caps
 * the exchanges at `maxSize`, so there is no second queue here: an exchange
 * takes the most recently freed connection, or a new one. undici's `Pool`
 * would keep a queue of its own behind the line, and offers no way to close
 * one idle connection or to give one connection another connect timeout.
 */
import { buildConnector, Client, type Dispatcher } from 'undici';
import { noop } from '../../src/watch-body.js';

/** What an idle or empty connection is closed with; nothing is in flight to see it. */
const IDLE_CLOSED = new Error('poolfetch: idle connection closed');

/** A connect still waiting for a socket of its origin to close, given up because its connection went. */
const CONNECT_GIVEN_UP = Object.assign(new Error('poolfetch: connection closed before its socket was opened'), { code: 'UND_ERR_DESTROYED' });

type ConnectCallback = Parameters<buildConnector.connector>[1];

/**
 * For every connector: the socket options undici's connector sets (no delay; TCP keep-alive after
 * 60 s), given to `net.connect` as well, so that Node takes the connector's own calls as done. Set
 * only after `net.connect`, each went to the kernel twice, then and again when the connect completed
 * (ten `setsockopt` calls a new socket instead of five, seen with strace).
 */
export const SOCKET_OPTIONS = { noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 } as const;

/** A connect waiting at the gate: started when a socket of the origin has closed, or given up. */
interface WaitingConnect {
  start(): void;
  giveUp(): void;
}

/**
 * The sockets of one origin, open or opening, counted until each has
 * actually closed, across the pools that served the origin (a retiring
 * pool's and the one made after it): as urllib3's pool owns its
 * connections, a closing socket still counts against `maxSize`, and a new
 * one is connected only once an old one is gone. Closing is quick (the
 * client's end goes out at once) except for a socket still connecting,
 * which closes only once its connect completes.
 */
export class SocketGate {
  #open = 0;
  #waiting: WaitingConnect[] = [];
  readonly #onEmpty: () => void;

  constructor(onEmpty: () => void = () => {}) {
    this.#onEmpty = onEmpty;
  }

  /** Sockets open or opening (and not yet closed). */
  get open(): number {
    return this.#open;
  }

  /** Runs `connect.start` now if fewer than `limit` sockets are open, else once one closes. */
  enter(limit: number, connect: WaitingConnect): void {
    if (this.#open < limit) {
      this.#open += 1;
      connect.start();
    } else this.#waiting.push(connect);
  }

  /** A connect that waits no longer (its connection was closed): told at once, and out of the line. */
  leave(connect: WaitingConnect): void {
    const at = this.#waiting.indexOf(connect);
    if (at === -1) return;
    this.#waiting.splice(at, 1);
    connect.giveUp();
    if (this.#open === 0 && this.#waiting.length === 0) this.#onEmpty();
  }

  /** A socket closed (or its connect failed): the next waiting connect takes its place. */
  closed(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) {
      next.start();
      return;
    }
    this.#open -= 1;
    if (this.#open === 0) this.#onEmpty();
  }
}

/** The gates of one manager's origins, by pool key: a gate lives only while a socket of its origin is open or waited for. */
const gatesByOwner = new WeakMap<object, Map<string, SocketGate>>();

/**
 * The socket gate of `key` among the pools of `owner` (a manager's shared
 * limits), looked up at each connect: with thousands of origins, no gate is
 * kept for an origin with no socket.
 */
export function socketGate(owner: object, key: string): () => SocketGate {
  return () => {
    let gates = gatesByOwner.get(owner);
    if (gates === undefined) {
      gates = new Map();
      gatesByOwner.set(owner, gates);
    }
    let gate = gates.get(key);
    if (gate === undefined) {
      const all = gates;
      const made = new SocketGate(() => {
        if (all.get(key) === made) all.delete(key);
      });
      gates.set(key, made);
      gate = made;
    }
    return gate;
  };
}

/** One connection: its client, and whether an exchange holds it. */
export interface Connection {
  readonly client: Client;
  /** The client, behind the transport's interceptors, if any. */
  readonly dispatcher: Dispatcher;
  busy: boolean;
  connected: boolean;
  /** The connect timeout of the exchange that holds it: a (re)connect made for that exchange honours it. */
  connectTimeout: number;
  /** Its connect, while it waits at the origin's socket gate. */
  waiting?: { gate: SocketGate; connect: WaitingConnect } | undefined;
}

/** Stands in for a connection of a closed set: every dispatch fails at once, through the handler. */
const CLOSED = {
  client: undefined as unknown as Client,
  dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const error = Object.assign(new Error('poolfetch: the connections of this pool are closed'), { code: 'UND_ERR_DESTROYED' });
    (handler as { onError(error: Error): void }).onError(error);
    return false;
  },
} as unknown as Dispatcher & { client: Client };

export interface ConnectionsOptions {
  readonly origin: string;
  readonly maxSize: number;
  /** undici `Client` options (keep-alive, read timeouts) for every connection. */
  readonly client: Client.Options;
  /** Builds the connector for a connect timeout (TLS settings, or a proxy's tunnel, inside). */
  readonly connector: (timeout: number) => buildConnector.connector;
  readonly interceptors: Dispatcher.DispatcherComposeInterceptor[];
  readonly onConnect: () => void;
  /**
   * Where the origin's sockets are counted until closed, shared with the
   * origin's other pools of the same manager (see socketGate); one of its own
   * if none.
   */
  readonly gate?: (() => SocketGate) | undefined;
}

export class Connections {
  readonly #options: ConnectionsOptions;
  readonly #all = new Set<Connection>();
  /** Free connections, the most recently freed last (its socket is the least likely to have timed out). */
  #idle: Connection[] = [];
  readonly #connectors = new Map<number, buildConnector.connector>();
  readonly #gate: () => SocketGate;
  #closed = false;

  constructor(options: ConnectionsOptions) {
    this.#options = options;
    if (options.gate === undefined) {
      const own = new SocketGate();
      this.#gate = () => own;
    } else this.#gate = options.gate;
  }

  /**
   * A connection for one exchange: a free connected one, or a new one that
   * connects with `connectTimeout`. The caller must `release` it once the
   * exchange is over (response complete or failed).
   */
  take(connectTimeout: number): Connection {
    // The pool refuses requests once its transport closes; should one get here all the same, it
    // fails as undici fails a request to a closed client, and no connection is opened for it.
    if (this.#closed) return { client: CLOSED.client, dispatcher: CLOSED, busy: true, connected: false, connectTimeout };
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      idle.busy = true;
      idle.connectTimeout = connectTimeout;
      return idle;
    }
    return this.#open(connectTimeout);
  }

  /** The exchange on `connection` is over: it is free for the next, unless it is gone or surplus. */
  release(connection: Connection): void {
    if (!connection.busy) return;
    connection.busy = false;
    // An exchange given up while connecting may have left a surplus connection behind it.
    if (this.#closed || !connection.connected || this.#all.size > this.#options.maxSize || !this.#all.has(connection)) {
      this.#drop(connection);
      return;
    }
    this.#idle.push(connection);
  }

  /** Closes a connection whose exchange was given up before it could be aborted (still connecting). */
  discard(connection: Connection): void {
    connection.busy = false;
    this.#drop(connection);
  }

  #open(connectTimeout: number): Connection {
    const { origin, client: clientOptions, interceptors } = this.#options;
    // Built in two steps: the client's connector reads the connect timeout off its connection.
    const building: Omit<Connection, 'client' | 'dispatcher'> & Partial<Connection> = { busy: true, connected: false, connectTimeout };
    const client: Client = new Client(origin, {
      ...clientOptions,
      connect: (opts, callback) => {
        this.#connect(building as Connection, opts, callback);
      },
    });
    const connection = Object.assign(building, {
      client,
      dispatcher: interceptors.length === 0 ? client : client.compose(interceptors),
    }) as Connection;
    client.on('connect', () => {
      connection.connected = true;
      this.#options.onConnect();
    });
    client.on('disconnect', () => {
      connection.connected = false;
      // An idle connection the server or the keep-alive timer closed is not reconnected: it goes.
      if (!connection.busy) this.#drop(connection);
    });
    // Errors reach the exchanges; a client without a listener would make them uncaught.
    client.on('connectionError', noop);
    this.#all.add(connection);
    return connection;
  }

  /**
   * Connects once the origin has fewer than `maxSize` sockets open or
   * closing; the socket counts until its `close` event. The connect timeout
   * starts when the connect does: the wait at the gate is for a socket
   * already on its way out.
   */
  #connect(connection: Connection, opts: buildConnector.Options, callback: ConnectCallback): void {
    const gate = this.#gate();
    const waiting: WaitingConnect = {
      start: () => {
        connection.waiting = undefined;
        let counted = true;
        const closed = (): void => {
          if (!counted) return;
          counted = false;
          gate.closed();
        };
        const done = callback as (error: Error | null, socket: unknown) => void;
        try {
          this.#connector(connection.connectTimeout)(opts, (error, socket) => {
            if (error === null) socket.once('close', closed);
            else closed();
            done(error, socket);
          });
        } catch (error) {
          // Started from another socket's close, a throw would be uncaught there: it goes to undici as a failed connect.
          closed();
          done(error as Error, null);
        }
      },
      giveUp: () => {
        connection.waiting = undefined;
        (callback as (error: Error, socket: null) => void)(CONNECT_GIVEN_UP, null);
      },
    };
    connection.waiting = { gate, connect: waiting };
    gate.enter(this.#options.maxSize, waiting);
  }

  #connector(timeout: number): buildConnector.connector {
    let connector = this.#connectors.get(timeout);
    if (connector === undefined) {
      connector = this.#options.connector(timeout);
      this.#connectors.set(timeout, connector);
    }
    return connector;
  }

  #drop(connection: Connection): void {
    if (!this.#all.delete(connection)) return;
    const at = this.#idle.indexOf(connection);
    if (at !== -1) this.#idle.splice(at, 1);
    connection.client.destroy(IDLE_CLOSED).catch(noop);
    this.#stopWaiting(connection);
  }

  /** A connection that goes while its connect waits at the gate: the connect is given up, never made. */
  #stopWaiting(connection: Connection): void {
    const waiting = connection.waiting;
    if (waiting !== undefined) waiting.gate.leave(waiting.connect);
  }

  /** Closes every connection that carries no exchange. */
  closeIdle(): void {
    const idle = this.#idle;
    this.#idle = [];
    for (const connection of idle) this.#drop(connection);
  }

  /** undici Pool's figures: sockets connected, and those of them free. */
  stats(): { connected: number; free: number } {
    let connected = 0;
    for (const connection of this.#all) if (connection.connected) connected += 1;
    let free = 0;
    for (const connection of this.#idle) if (connection.connected) free += 1;
    return { connected, free };
  }

  /**
   * Graceful: idle connections close now, busy ones once their exchange is
   * over. With nothing busy, every client is destroyed with `emptyReason`
   * (undici's close() of an idle client builds an error and its stack).
   */
  async close(emptyReason: Error): Promise<void> {
    let busy = false;
    for (const connection of this.#all) busy ||= connection.busy;
    if (!busy) return this.destroy(emptyReason);
    this.#closed = true;
    this.closeIdle();
    const closing: Array<Promise<void>> = [];
    // A busy connection still waiting at the gate connects when its turn comes, and serves its exchange.
    for (const connection of this.#all) closing.push(connection.client.close().catch(noop));
    this.#all.clear();
    await Promise.all(closing);
  }

  async destroy(reason?: Error): Promise<void> {
    this.#closed = true;
    this.#idle = [];
    const destroying: Array<Promise<void>> = [];
    for (const connection of this.#all) {
      destroying.push(connection.client.destroy(reason ?? null).catch(noop));
      this.#stopWaiting(connection);
    }
    this.#all.clear();
    await Promise.all(destroying);
  }

  get closed(): boolean {
    return this.#closed;
  }
}
