/**
 * The Node transport: one origin's connections (adapters/node/connections.ts,
 * an undici `Client` per socket, at most `maxSize`, kept alive between
 * requests). `request()` drives undici's `dispatch` API with a handler of
 * its own (adapters/node/exchange.ts). `fetch()` does too for what fetch
 * sends as it is (adapters/node/direct-fetch.ts: the common calls, with the
 * headers and body framing of Node's fetch), and uses undici's own `fetch`
 * over the same connections for the rest (a stream or a Blob body, a cache
 * mode, conditional or range headers, …), which undici's machinery does
 * as the standard says.
 */
import { buildConnector, type Client, fetch as undiciFetch, type Dispatcher } from 'undici';
import type { ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import type { Transport, WireFetch, WireRequest, WireResponse } from '../../src/transport.js';
import { DEFAULT_CONNECT_TIMEOUT, translateError } from './errors.js';
import { leanInit } from '../../src/fetch-init.js';
import { authorizeFromUrl, hasCredentials } from '../../src/credentials.js';
import { noop } from '../../src/watch-body.js';
import { Connections, SOCKET_OPTIONS, type Connection, type SocketGate } from './connections.js';
import { Exchange } from './exchange.js';
import { directFetch } from './direct-fetch.js';
import { ResponseHeaders } from './fetch-response.js';
import { limitedResponse } from './limited-response.js';

/** What an empty pool's sockets are closed with; nothing is in flight to see it. */
const EMPTY_POOL_CLOSED = new Error('poolfetch: pool closed with nothing in flight');

/** How a transport's connections are made, where the default (direct, with the `tls` option) does not do. */
export interface ConnectionSetup {
  /** The connector for a connect timeout: a proxy's forward or tunnel connector. */
  readonly connector?: (timeout: number) => buildConnector.connector;
  /** Wrap every request and fetch; they see the target's origin in `opts.origin`. */
  readonly interceptors?: Dispatcher.DispatcherComposeInterceptor[];
  /** Where the origin's sockets are counted until closed, across the manager's pools for it (connections.ts socketGate). */
  readonly gate?: () => SocketGate;
}

export class UndiciTransport implements Transport {
  readonly followsRedirects = false;
  numConnections = 0;
  readonly #connections: Connections;
  readonly #connectTimeout: number;

  constructor(key: PoolKey, options: ResolvedOptions, setup: ConnectionSetup = {}) {
    this.#connectTimeout = options.timeout.connect ?? DEFAULT_CONNECT_TIMEOUT;
    const tls = options.tls;
    const isHttps = key.scheme === 'https';
    const tlsOptions = isHttps && tls !== undefined
      ? {
          ...(tls.ca === undefined ? {} : { ca: tls.ca as string | Buffer | Array<string | Buffer> }),
          ...(tls.cert === undefined ? {} : { cert: tls.cert as string | Buffer }),
          ...(tls.key === undefined ? {} : { key: tls.key as string | Buffer }),
          ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
          ...(tls.servername === undefined ? {} : { servername: tls.servername }),
        }
      : {};
    const client: Client.Options = {
      pipelining: 1,
      keepAliveTimeout: options.keepAliveTimeout,
      ...(options.timeout.read === undefined ? {} : { headersTimeout: options.timeout.read, bodyTimeout: options.timeout.read }),
    };
    this.#connections = new Connections({
      origin: key.origin,
      maxSize: options.maxSize,
      client,
      connector: setup.connector ?? ((timeout) => buildConnector({ ...tlsOptions, ...SOCKET_OPTIONS, timeout } as buildConnector.BuildOptions)),
      interceptors: setup.interceptors ?? [],
      gate: setup.gate,
      onConnect: () => {
        this.numConnections += 1;
      },
    });
  }

  send(request: WireRequest): Promise<WireResponse> {
    const { url, method, timeout } = request;
    const options: Dispatcher.DispatchOptions = {
      origin: url.origin,
      path: url.pathname + url.search,
      method: method as Dispatcher.HttpMethod,
      // undici would drop credentials in the URL silently: they become `authorization` here.
      headers: toUndiciHeaders(hasCredentials(url) ? authorizeFromUrl(request.headers, url) : request.headers),
      body: request.body as string | Uint8Array | null,
    };
    // Only what is set: undici checks every option it is given, on every request.
    if (timeout.read !== undefined) {
      options.headersTimeout = timeout.read;
      options.bodyTimeout = timeout.read;
    }
    const connect = timeout.connect ?? this.#connectTimeout;
    return new Exchange(request, this.#connections, { connect, read: timeout.read }).start(options);
  }

  /** Unused by the pools, which call fetchSettled; here for the Transport contract. */
  fetch(call: WireFetch): Promise<Response> {
    return this.fetchSettled(call, noop);
  }

  /** The dispatch exchange where it frames the call as Node's fetch would, else undici's fetch. */
  fetchSettled(call: WireFetch, settled: () => void): Promise<Response> {
    const connect = call.timeout.connect ?? this.#connectTimeout;
    return directFetch(call, settled, this.#connections, connect) ?? this.#fetchThroughUndici(call, settled);
  }

  /**
   * undici's fetch over a per-call dispatcher whose handler reports the end
   * of the exchange, handed back behind the global `Response` class.
   */
  async #fetchThroughUndici(call: WireFetch, settled: () => void): Promise<Response> {
    const init = leanInit(call.init, call.init.signal ?? undefined) as UndiciFetchInit & object;
    // Node's own fetch says `user-agent: node`; undici's package fetch would say `undici`.
    const headers = (init.headers ??= {}) as Record<string, string>;
    if (!Object.hasOwn(headers, 'user-agent')) headers['user-agent'] = 'node';
    const connect = call.timeout.connect ?? this.#connectTimeout;
    init.dispatcher = new SettledDispatcher(this.#connections, settled, call, connect) as unknown as Dispatcher;
    let fetched: UndiciFetchResponse;
    try {
      // undici's own fetch with its own dispatcher: Node's global fetch bundles another undici copy.
      fetched = await undiciFetch(call.url, init);
    } catch (error) {
      const signal = call.init.signal;
      if (signal?.aborted === true) throw signal.reason;
      throw translateError(error, call.init.method, call.url.href, { connect, read: call.timeout.read });
    }
    // 1xx other than 101 never reaches here; 101 cannot be built.
    if (fetched.status < 200) return fetched as unknown as Response;
    const response = new FetchedResponse(fetched);
    if (call.maxResponseSize === undefined) return response;
    return limitedResponse(response, call.maxResponseSize, call.init.method, call.url.href);
  }

  connectionStats(): { connected: number; free: number } {
    return this.#connections.stats();
  }

  /** Closes every connection that carries no request; a revived pool opens new ones as it needs them. */
  closeIdle(): void {
    this.#connections.closeIdle();
  }

  /**
   * Graceful: whatever is in flight finishes first. An empty pool (what a
   * retiring pool is when it closes, and every pool LRU churn closes) is
   * ended with one shared error, without building an error and its stack
   * trace per connection.
   */
  close(): Promise<void> {
    return this.#connections.close(EMPTY_POOL_CLOSED);
  }

  destroy(): Promise<void> {
    return this.#connections.destroy();
  }
}

type UndiciFetchResponse = Awaited<ReturnType<typeof undiciFetch>>;
type UndiciFetchInit = Parameters<typeof undiciFetch>[1];

/**
 * A global `Response` in front of undici's: `instanceof Response` holds as
 * callers expect, while status, headers and body stay undici's and are read
 * through it. Building the global Response over the same body and headers
 * would cost more than the pool's whole bookkeeping (Node's fetch bundles
 * another undici copy, so undici's Response is not the global class). The
 * global base holds neither body nor headers: Response.prototype's own
 * methods called directly on this object would see an empty response.
 */
class FetchedResponse extends Response {
  /**
   * undici cancels the body of an undici Response once that is collected,
   * unless the stream is locked; holding it here keeps it alive as long as
   * this one lives.
   */
  readonly #fetched: UndiciFetchResponse;
  #headers: Headers | undefined;

  constructor(fetched: UndiciFetchResponse) {
    super(null, { status: fetched.status, statusText: fetched.statusText });
    this.#fetched = fetched;
  }

  /** Built on first use, as the global class, from undici's. */
  override get headers(): Headers {
    this.#headers ??= new ResponseHeaders(responseHeaders(this.#fetched.headers));
    return this.#headers;
  }

  override get body(): Response['body'] {
    return this.#fetched.body as Response['body'];
  }

  override get bodyUsed(): boolean {
    return this.#fetched.bodyUsed;
  }

  override get type(): ResponseType {
    return this.#fetched.type;
  }

  override get url(): string {
    return this.#fetched.url;
  }

  override get redirected(): boolean {
    return this.#fetched.redirected;
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return this.#fetched.arrayBuffer();
  }

  override bytes(): ReturnType<Response['bytes']> {
    return this.#fetched.bytes() as ReturnType<Response['bytes']>;
  }

  override text(): Promise<string> {
    return this.#fetched.text();
  }

  override json(): Promise<unknown> {
    return this.#fetched.json();
  }

  override blob(): Promise<Blob> {
    return this.#fetched.blob() as Promise<Blob>;
  }

  /** Through the global class, so the FormData is the global one too. */
  override formData(): Promise<FormData> {
    return new Response(this.body, { headers: this.headers }).formData();
  }

  override clone(): Response {
    return new FetchedResponse(this.#fetched.clone());
  }
}

/**
 * One fetch's dispatcher: the pool's own, with the handler watched so that
 * `settled` is called once the response has been received to the end or the
 * exchange failed or was aborted, and a network failure reaches fetch as a
 * poolfetch error (fetch then rejects, or errors the body, with a
 * `TypeError` whose `cause` it is).
 */
class SettledDispatcher {
  readonly #connections: Connections;
  readonly settled: () => void;
  readonly #call: WireFetch;
  readonly #connect: number;

  constructor(connections: Connections, settled: () => void, call: WireFetch, connect: number) {
    this.#connections = connections;
    this.settled = settled;
    this.#call = call;
    this.#connect = connect;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: LegacyHandler): boolean {
    const connection = this.#connections.take(this.#connect);
    return connection.dispatcher.dispatch(options, new SettledHandler(handler, this, connection) as Dispatcher.DispatchHandler);
  }

  /** The exchange is over: the connection is free for the next (before the slot is, so the next finds it). */
  done(connection: Connection): void {
    this.#connections.release(connection);
    this.settled();
  }

  /** An abort stays the caller's reason; a network failure becomes poolfetch's error. */
  translate(error: Error): Error {
    const { init, url, timeout } = this.#call;
    if (init.signal?.aborted === true) return error;
    return translateError(error, init.method, url.href, { connect: this.#connect, read: timeout.read }) as Error;
  }
}

/** The handler API undici's fetch uses (undici calls these on any handler without `onRequestStart`). */
interface LegacyHandler {
  onConnect(abort: (reason?: Error) => void, context?: object): void;
  onResponseStarted?(): void;
  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: string[] | null): void;
  onError(error: Error): void;
}

/** Passes every callback to undici fetch's own handler, and reports the end. */
class SettledHandler implements LegacyHandler {
  readonly #handler: LegacyHandler;
  readonly #owner: SettledDispatcher;
  readonly #connection: Connection;

  constructor(handler: LegacyHandler, owner: SettledDispatcher, connection: Connection) {
    this.#handler = handler;
    this.#owner = owner;
    this.#connection = connection;
  }

  onConnect(abort: (reason?: Error) => void, context?: object): void {
    this.#handler.onConnect(abort, context);
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.();
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    return this.#handler.onHeaders(statusCode, headers, resume, statusText);
  }

  onData(chunk: Buffer): boolean {
    return this.#handler.onData(chunk);
  }

  onComplete(trailers: string[] | null): void {
    try {
      this.#handler.onComplete(trailers);
    } finally {
      this.#owner.done(this.#connection);
    }
  }

  onError(error: Error): void {
    try {
      this.#handler.onError(this.#owner.translate(error));
    } finally {
      this.#owner.done(this.#connection);
    }
  }
}

/**
 * A response's headers as a plain record, or as pairs where a record cannot
 * hold them (a repeated name, such as set-cookie, or `__proto__`).
 */
function responseHeaders(headers: UndiciFetchResponse['headers']): Record<string, string> | Array<[string, string]> {
  let record: Record<string, string> | undefined = {};
  let pairs: Array<[string, string]> | undefined;
  headers.forEach((value, name) => {
    if (record !== undefined && (name === '__proto__' || Object.hasOwn(record, name))) {
      pairs = Object.entries(record);
      record = undefined;
    }
    if (record === undefined) (pairs as Array<[string, string]>).push([name, value]);
    else record[name] = value;
  });
  return record ?? (pairs as Array<[string, string]>);
}

/** undici takes a flat [name, value, …] array without copying it into an object. */
function toUndiciHeaders(headers: Headers): string[] | null {
  let flat: string[] | null = null;
  headers.forEach((value, name) => (flat ??= []).push(name, value));
  return flat;
}
