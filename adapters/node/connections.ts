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

/** One connection: its client, and whether an exchange holds it. */
export interface Connection {
  readonly client: Client;
  /** The client, behind the transport's interceptors, if any. */
  readonly dispatcher: Dispatcher;
  busy: boolean;
  connected: boolean;
  /** The connect timeout of the exchange that holds it: a (re)connect made for that exchange honours it. */
  connectTimeout: number;
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
}

export class Connections {
  readonly #options: ConnectionsOptions;
  readonly #all = new Set<Connection>();
  /** Free connections, the most recently freed last (its socket is the least likely to have timed out). */
  #idle: Connection[] = [];
  readonly #connectors = new Map<number, buildConnector.connector>();
  #closed = false;

  constructor(options: ConnectionsOptions) {
    this.#options = options;
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
        this.#connector(building.connectTimeout)(opts, callback);
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
    for (const connection of this.#all) closing.push(connection.client.close().catch(noop));
    this.#all.clear();
    await Promise.all(closing);
  }

  async destroy(reason?: Error): Promise<void> {
    this.#closed = true;
    this.#idle = [];
    const destroying: Array<Promise<void>> = [];
    for (const connection of this.#all) destroying.push(connection.client.destroy(reason ?? null).catch(noop));
    this.#all.clear();
    await Promise.all(destroying);
  }

  get closed(): boolean {
    return this.#closed;
  }
}
