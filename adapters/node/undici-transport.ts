/**
 * The Node transport: one undici `Pool` per origin, its sockets capped at
 * `maxSize` and kept alive between requests. `request()` uses undici's
 * `Pool.request` (the fast path, no WHATWG streams unless asked for);
 * `fetch()` uses undici's own `fetch` with the pool as dispatcher.
 */
import { Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { fetch as undiciFetch, Pool, type Dispatcher } from 'undici';
import type { ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import type { Transport, WireFetch, WireRequest, WireResponse } from '../../src/transport.js';
import { translateError } from './errors.js';

/** undici's own default, stated so error messages can name it. */
const DEFAULT_CONNECT_TIMEOUT = 10_000;

export class UndiciTransport implements Transport {
  readonly followsRedirects = false;
  numConnections = 0;
  readonly #pool: Pool;
  /** The pool, or the pool behind interceptors (a proxy's absolute-form rewrite, say). */
  readonly #dispatcher: Dispatcher;
  readonly #connectTimeout: number;

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
    });
    this.#pool.on('connect', () => {
      this.numConnections += 1;
    });
    this.#dispatcher = interceptors.length === 0 ? this.#pool : this.#pool.compose(interceptors);
  }

  async send(request: WireRequest): Promise<WireResponse> {
    const { url, method, signal, timeout } = request;
    let data: Dispatcher.ResponseData;
    try {
      data = await settleOnAbort(signal, this.#dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: method as Dispatcher.HttpMethod,
        headers: toUndiciHeaders(request.headers),
        body: request.body as string | Uint8Array | Readable | null,
        signal,
        ...(timeout.read === undefined ? {} : { headersTimeout: timeout.read, bodyTimeout: timeout.read }),
      }));
    } catch (error) {
      if (signal?.aborted === true) throw signal.reason;
      throw translateError(error, method, url.href, { connect: this.#connectTimeout, read: timeout.read });
    }
    return new UndiciResponse(data, method, url.href, timeout.read, signal);
  }

  async fetch(call: WireFetch): Promise<Response> {
    try {
      // undici's own fetch with its own dispatcher: Node's global fetch bundles another undici copy.
      return (await undiciFetch(call.url, { ...(call.init as object), dispatcher: this.#dispatcher })) as unknown as Response;
    } catch (error) {
      const signal = call.init.signal;
      if (signal?.aborted === true) throw signal.reason;
      throw translateError(error, call.init.method, call.url.href, { connect: this.#connectTimeout, read: call.timeout.read });
    }
  }

  connectionStats(): { connected: number; free: number } {
    const { connected, free } = this.#pool.stats;
    return { connected, free };
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  destroy(): Promise<void> {
    return this.#pool.destroy();
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
    const onAbort = (): void => {
      pending.then((late) => late.body.destroy(), () => undefined);
      reject(signal.reason);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (data) => {
        signal.removeEventListener('abort', onAbort);
        resolve(data);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** undici takes a flat [name, value, …] array without copying it into an object. */
function toUndiciHeaders(headers: Headers): string[] {
  const flat: string[] = [];
  headers.forEach((value, name) => flat.push(name, value));
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
    const out = decoder();
    this.#data.body.on('error', (error) => out.destroy(error));
    return this.#data.body.pipe(out);
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
