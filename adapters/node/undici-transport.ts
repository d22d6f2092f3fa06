/**
 * The Node transport: one undici `Pool` per origin, its sockets capped at
 * `maxSize` and kept alive between requests. `request()` uses undici's
 * `Pool.request` (the fast path, no WHATWG streams unless asked for);
 * `fetch()` uses undici's own `fetch` with the pool as dispatcher.
 */
import { pipeline, Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Socket } from 'node:net';
import { Client, fetch as undiciFetch, Pool, type buildConnector, type Dispatcher } from 'undici';
import type { ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import type { Transport, WireFetch, WireRequest, WireResponse } from '../../src/transport.js';
import { DEFAULT_CONNECT_TIMEOUT, translateError } from './errors.js';
import { leanInit } from '../../src/fetch-init.js';
import { authorizeFromUrl, hasCredentials } from '../../src/credentials.js';
import { noop } from '../../src/watch-body.js';
import { onAbort } from '../../src/abort-watch.js';

/** What an empty pool's sockets are closed with; nothing is in flight to see it. */
const EMPTY_POOL_CLOSED = new Error('poolfetch: pool closed with nothing in flight');

export class UndiciTransport implements Transport {
  readonly followsRedirects = false;
  numConnections = 0;
  readonly #pool: Pool;
  /** The pool, or the pool behind interceptors (a proxy's absolute-form rewrite, say). */
  readonly #dispatcher: Dispatcher;
  readonly #connectTimeout: number;
  /** The pool's clients (one connection each) and their sockets, so a retiring pool can close the idle ones. */
  readonly #clients = new Set<Client>();
  readonly #sockets = new WeakMap<Client, Socket>();

  /**
   * `poolOptions` are undici `Pool` options laid over the ones made here (a
   * `connect` function replaces the TLS settings too); `interceptors` wrap
   * every request and fetch, and see the target's origin in `opts.origin`.
   */
  constructor(key: PoolKey, options: ResolvedOptions, poolOptions: Pool.Options = {}, interceptors: Dispatcher.DispatcherComposeInterceptor[] = []) {
    this.#connectTimeout = options.timeout.connect ?? DEFAULT_CONNECT_TIMEOUT;
    const tls = options.tls;
    const isHttps = key.scheme === 'https';
    this.#pool = new Pool(key.origin, {
      connections: options.maxSize,
      pipelining: 1,
      keepAliveTimeout: options.keepAliveTimeout,
      ...(options.timeout.read === undefined ? {} : { headersTimeout: options.timeout.read, bodyTimeout: options.timeout.read }),
      connect: {
        timeout: this.#connectTimeout,
        ...(isHttps && tls !== undefined
          ? {
              ...(tls.ca === undefined ? {} : { ca: tls.ca as string | Buffer | Array<string | Buffer> }),
              ...(tls.cert === undefined ? {} : { cert: tls.cert as string | Buffer }),
              ...(tls.key === undefined ? {} : { key: tls.key as string | Buffer }),
              ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
              ...(tls.servername === undefined ? {} : { servername: tls.servername }),
            }
          : {}),
      },
      ...poolOptions,
      factory: (origin, clientOptions) => this.#newClient(origin, clientOptions),
    });
    this.#pool.on('connect', () => {
      this.numConnections += 1;
    });
    this.#dispatcher = interceptors.length === 0 ? this.#pool : this.#pool.compose(interceptors);
  }

  /**
   * A client as undici's Pool makes it, over a connector that remembers the
   * socket: undici has no way to close a pool's idle connections and keep
   * the pool, and a retiring pool needs exactly that (it may be revived).
   */
  #newClient(origin: string | URL, clientOptions: object): Client {
    const connect = (clientOptions as { connect: buildConnector.connector }).connect;
    const client: Client = new Client(origin, {
      ...clientOptions,
      connect: (opts, callback) => {
        connect(opts, (...result) => {
          if (result[1] !== null) this.#sockets.set(client, result[1]);
          callback(...result);
        });
      },
    });
    this.#clients.add(client);
    return client;
  }

  async send(request: WireRequest): Promise<WireResponse> {
    const { url, method, signal, timeout } = request;
    let data: Dispatcher.ResponseData;
    try {
      const options: Dispatcher.RequestOptions = {
        origin: url.origin,
        path: url.pathname + url.search,
        method: method as Dispatcher.HttpMethod,
        // undici would drop credentials in the URL silently: they become `authorization` here.
        headers: toUndiciHeaders(hasCredentials(url) ? authorizeFromUrl(request.headers, url) : request.headers),
        body: request.body as string | Uint8Array | Readable | null,
      };
      // Only what is set: undici checks every option it is given, on every request.
      if (signal !== undefined) options.signal = signal;
      if (timeout.read !== undefined) {
        options.headersTimeout = timeout.read;
        options.bodyTimeout = timeout.read;
      }
      data = await settleOnAbort(signal, this.#dispatcher.request(options));
    } catch (error) {
      if (signal?.aborted === true) throw signal.reason;
      throw translateError(error, method, url.href, { connect: this.#connectTimeout, read: timeout.read });
    }
    return new UndiciResponse(data, method, url.href, timeout.read, signal);
  }

  /** Unused by the pools, which call fetchSettled; here for the Transport contract. */
  fetch(call: WireFetch): Promise<Response> {
    return this.fetchSettled(call, noop);
  }

  /**
   * undici's fetch over a per-call dispatcher whose handler reports the end
   * of the exchange, handed back behind the global `Response` class.
   */
  async fetchSettled(call: WireFetch, settled: () => void): Promise<Response> {
    const init = leanInit(call.init, call.init.signal ?? undefined) as UndiciFetchInit & object;
    init.dispatcher = new SettledDispatcher(this.#dispatcher, settled, call, this.#connectTimeout) as unknown as Dispatcher;
    let fetched: UndiciFetchResponse;
    try {
      // undici's own fetch with its own dispatcher: Node's global fetch bundles another undici copy.
      fetched = await undiciFetch(call.url, init);
    } catch (error) {
      const signal = call.init.signal;
      if (signal?.aborted === true) throw signal.reason;
      throw translateError(error, call.init.method, call.url.href, { connect: this.#connectTimeout, read: call.timeout.read });
    }
    // 1xx other than 101 never reaches here; 101 cannot be built.
    if (fetched.status < 200) return fetched as unknown as Response;
    return new FetchedResponse(fetched);
  }

  connectionStats(): { connected: number; free: number } {
    const { connected, free } = this.#pool.stats;
    return { connected, free };
  }

  /**
   * Closes every connection that carries no request. A client whose socket
   * is closed stays in undici's pool and connects again when next used, so
   * a revived pool goes on as before.
   */
  closeIdle(): void {
    for (const client of this.#clients) {
      if (client.destroyed || client.closed) {
        this.#clients.delete(client);
        continue;
      }
      const { connected, size } = client.stats;
      if (connected && size === 0) this.#sockets.get(client)?.destroy();
    }
  }

  /**
   * Graceful: whatever is in flight finishes first. An empty pool (what a
   * retiring pool is when it closes, and every pool LRU churn closes) is
   * ended with one shared error, as undici's close() of an empty pool would
   * end it, but without building an error and its stack trace per client.
   */
  close(): Promise<void> {
    if (this.#pool.stats.size === 0) return this.#pool.destroy(EMPTY_POOL_CLOSED);
    return this.#pool.close();
  }

  destroy(): Promise<void> {
    return this.#pool.destroy();
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
    this.#headers ??= new Headers(responseHeaders(this.#fetched.headers));
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
  readonly #dispatcher: Dispatcher;
  readonly settled: () => void;
  readonly #call: WireFetch;
  readonly #connect: number;

  constructor(dispatcher: Dispatcher, settled: () => void, call: WireFetch, connect: number) {
    this.#dispatcher = dispatcher;
    this.settled = settled;
    this.#call = call;
    this.#connect = connect;
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: LegacyHandler): boolean {
    return this.#dispatcher.dispatch(options, new SettledHandler(handler, this) as Dispatcher.DispatchHandler);
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

  constructor(handler: LegacyHandler, owner: SettledDispatcher) {
    this.#handler = handler;
    this.#owner = owner;
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
      this.#owner.settled();
    }
  }

  onError(error: Error): void {
    try {
      this.#handler.onError(this.#owner.translate(error));
    } finally {
      this.#owner.settled();
    }
  }
}

/**
 * undici settles a request aborted while its socket is still connecting
 * only when the connect ends (up to the connect timeout); reject at once
 * instead, so the caller and the pool slot are free, and drop a late answer.
 */
function settleOnAbort(signal: AbortSignal | undefined, pending: Promise<Dispatcher.ResponseData>): Promise<Dispatcher.ResponseData> {
  if (signal === undefined) return pending;
  return new Promise((resolve, reject) => {
    const stop = (): void => {
      pending.then((late) => late.body.destroy(), () => undefined);
      reject(signal.reason);
    };
    if (signal.aborted) {
      stop();
      return;
    }
    const unwatch = onAbort(signal, stop);
    pending.then(
      (data) => {
        unwatch();
        resolve(data);
      },
      (error: unknown) => {
        unwatch();
        reject(error);
      },
    );
  });
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

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

class UndiciResponse implements WireResponse {
  readonly status: number;
  readonly statusText: string;
  readonly #data: Dispatcher.ResponseData;
  #headers: Headers | undefined;
  readonly #where: [method: string, url: string, read: number | undefined];
  readonly #signal: AbortSignal | undefined;

  constructor(data: Dispatcher.ResponseData, method: string, url: string, read: number | undefined, signal: AbortSignal | undefined) {
    this.#data = data;
    this.#where = [method, url, read];
    this.#signal = signal;
    this.status = data.statusCode;
    this.statusText = data.statusText ?? '';
  }

  /** Built on first use: most requests never look at them, and a Headers object costs microseconds to fill. */
  get headers(): Headers {
    if (this.#headers === undefined) {
      const headers = new Headers();
      for (const [name, value] of Object.entries(this.#data.headers)) {
        if (Array.isArray(value)) for (const v of value) headers.append(name, v);
        else if (value !== undefined) headers.append(name, value);
      }
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** `content-encoding` from undici's own header record, without building Headers. */
  #encoding(): string | undefined {
    const value = this.#data.headers['content-encoding'];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  /** The body with any content-encoding undone. */
  #decoded(): Readable {
    const encoding = this.#encoding()?.trim().toLowerCase();
    const decoder = encoding === undefined ? undefined : DECODERS[encoding];
    if (decoder === undefined || this.#where[0] === 'HEAD' || this.status === 204 || this.status === 304) return this.#data.body;
    // pipeline, not pipe: a body that fails to decode must also destroy the undici body,
    // or its socket stays busy forever and the pool's next request waits for it.
    return pipeline(this.#data.body, decoder(), noop);
  }

  async bytes(): Promise<Uint8Array> {
    try {
      if (this.#encoding() !== undefined) {
        const chunks: Buffer[] = [];
        for await (const chunk of this.#decoded()) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      }
      return await this.#data.body.bytes();
    } catch (error) {
      throw this.#translate(error);
    }
  }

  /**
   * Pulled chunk by chunk, so a slow reader slows the socket (flat memory
   * for any size), with errors translated as `bytes()` does.
   */
  stream(): ReadableStream<Uint8Array> {
    const decoded = this.#decoded();
    const chunks = decoded[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          try {
            const { done, value } = await chunks.next();
            if (done === true) controller.close();
            else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
          } catch (error) {
            controller.error(this.#translate(error));
          }
        },
        cancel: () => {
          // Not chunks.return(): before the first read it would not run, leaving the request open.
          decoded.destroy();
          this.#data.body.destroy();
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** Destroying an unfinished undici body aborts its request and closes the socket under it. */
  abandon(): void {
    this.#data.body.destroy();
  }

  async discard(): Promise<void> {
    try {
      await this.#data.body.dump();
    } catch {
      // The connection is closed instead of reused; nothing the caller can act on.
    }
  }

  #translate(error: unknown): unknown {
    if (this.#signal?.aborted === true) return this.#signal.reason;
    const [method, url, read] = this.#where;
    return translateError(error, method, url, { read });
  }
}
