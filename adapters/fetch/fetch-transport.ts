/**
 * The fetch transport, for browsers, Workers and Deno: no sockets to pool,
 * so a "connection" is a request in flight, capped per origin by the core's
 * queue. The runtime owns the sockets; the core follows redirects hop by hop
 * where the runtime shows them, the browser follows them itself.
 */
import {
  ClosedPoolError, MaxRetryError, NewConnectionError, NotSupportedError, ProtocolError, ReadTimeoutError, ResponseTooLargeError,
} from '../../src/errors.js';
import { authorizeFromUrl, hasCredentials, withoutCredentials } from '../../src/credentials.js';
import { describe } from '../../src/pool-key.js';
import { redactCredentials } from '../../src/redact.js';
import { mayHaveBeenSent } from '../../src/retry.js';
import { bodyBroke, noop, readAheadStream } from '../../src/watch-body.js';
import { bodyLength, NATIVE_READ_BYTES, nativeArrayBuffer, readAhead, wholeReadFits } from '../../src/read-ahead.js';
import { leanInit } from '../../src/fetch-init.js';
import { onAbort } from '../../src/abort-watch.js';
import type { ResolvedOptions } from '../../src/options.js';
import type { EndsWithRequest, Transport, WireFetch, WireRequest, WireResponse } from '../../src/transport.js';

const EMPTY = new Uint8Array(0);

/** The globals `runtimeShowsRedirects` looks at. */
export interface RuntimeGlobals {
  readonly Deno?: unknown;
  readonly Bun?: unknown;
  readonly document?: unknown;
  readonly process?: { readonly versions?: { readonly node?: unknown } };
}

/**
 * Whether the runtime's fetch answers `redirect: 'manual'` with the 3xx
 * itself (Deno, Bun, Node), so the core can follow hop by hop, each hop
 * through its own origin's pool. Browsers answer it with an opaque redirect
 * (no status, no Location): there, and in any runtime not named here, the
 * runtime follows by itself. workerd shows the 3xx too, but is not guessed
 * at here: its entry (adapters/fetch/workerd.ts) says so.
 */
export function runtimeShowsRedirects(g: RuntimeGlobals): boolean {
  return typeof g.Deno === 'object' || typeof g.Bun === 'object' || (typeof g.process?.versions?.node === 'string' && g.document === undefined);
}

/** This runtime's answer, for the entries that do not know it (the fetch entry runs in browsers, Deno, Bun and Node). */
export const SHOWS_REDIRECTS = runtimeShowsRedirects(globalThis as RuntimeGlobals);

/** What `destroy()` stops: an exchange's AbortController, its body's read-ahead, or the wait for a whole read. */
interface Abortable {
  abort(reason?: unknown): void;
}

export class FetchTransport implements Transport {
  /** True where the runtime follows redirects itself (browsers): the core then leaves them to it. */
  readonly followsRedirects: boolean;
  /** The runtime hides its sockets; the pool reports its peak in flight instead. */
  readonly numConnections = undefined;
  readonly #options: ResolvedOptions;
  /** `send()` hands fetch a signal only when the caller gave one (see the constructor). */
  readonly #callerSignalOnly: boolean;

  /**
   * `showsRedirects`: whether the runtime's fetch shows a 3xx to `redirect: 'manual'` (the entry
   * knows; see SHOWS_REDIRECTS). `callerSignalOnly`: where a signal handed to fetch is dear (workerd:
   * ~40 k instructions per request, its fetch ties the request and the body to it, more than the pool's
   * whole bookkeeping), `send()` hands one only when the caller gave one; `destroy()` then stops
   * the wait for the headers and the body's read instead of aborting the request.
   */
  constructor(options: ResolvedOptions, showsRedirects: boolean = SHOWS_REDIRECTS, callerSignalOnly = false) {
    this.#options = options;
    this.followsRedirects = !showsRedirects;
    this.#callerSignalOnly = callerSignalOnly;
  }

  async send(request: WireRequest, ending?: EndsWithRequest): Promise<WireResponse> {
    const { url, method, body, signal } = request;
    if ((method === 'GET' || method === 'HEAD') && body !== null) {
      throw new TypeError(
        `A ${method} request cannot have a body with the fetch adapter (${method} ${redactCredentials(url.href)}, body ${describe(body)}): ` +
          'fetch forbids it; send it with POST or PUT',
      );
    }
    // A signal of its own, which destroy() aborts and the caller's abort follows, unlinked when the
    // exchange ends: linking with AbortSignal.any would leave a WeakRef on the long-lived signal per
    // request in Node 20, and handing fetch the long-lived signal itself piles up fetch's listeners.
    // None where the caller gave none and signals are dear (`callerSignalOnly`).
    const controller = signal === undefined && this.#callerSignalOnly ? undefined : new AbortController();
    // Without a signal, what destroy() aborts instead: the body's read-ahead, or the wait for a whole read.
    let ahead: Abortable | undefined;
    if (controller !== undefined) this.#live.add(controller);
    let unwatch = noop;
    if (controller !== undefined && signal !== undefined) {
      if (signal.aborted) controller.abort(signal.reason);
      else unwatch = onAbort(signal, () => controller.abort(signal.reason));
    }
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      const live = controller ?? ahead;
      if (live !== undefined) this.#live.delete(live);
      unwatch();
    };
    /** The body's read-ahead (or the wait for a whole read): where there is no signal, what destroy() aborts (at once if it came already). */
    const watch = <T extends Abortable>(read: T): T => {
      if (controller === undefined && !ended) {
        ahead = read;
        this.#live.add(read);
        if (this.#destroyed !== undefined) read.abort(this.#destroyed);
      }
      return read;
    };
    let response: Response;
    try {
      response = await this.#call(url, method, {
        method,
        headers: request.headers,
        body: body as BodyInit | null,
        redirect: this.followsRedirects ? (request.redirect ?? 'follow') : 'manual',
        signal: controller?.signal ?? null,
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      }, request.timeout.read, ending);
    } catch (error) {
      end();
      throw error;
    }
    const failed = (error: unknown): unknown => {
      if (controller === undefined ? this.#destroyed !== undefined : controller.signal.aborted) return controller?.signal.reason ?? this.#destroyed;
      return error instanceof TypeError ? bodyBroke(error, method, url.href) : error;
    };
    const max = request.maxResponseSize;
    const tooLarge = (): ResponseTooLargeError => new ResponseTooLargeError(max ?? 0, { method, url: url.href });
    // The length only where a read needs it: each header looked up is a call into the runtime (workerd),
    // and a whole-body read with no limit needs none (an answer with no body reads as empty).
    const streamSettled = (settled: () => void): ReadableStream<Uint8Array> => {
      const length = bodyLength(method, response);
      if (length === 0) {
        end();
        settled();
        return new ReadableStream({ start: (c) => c.close() });
      }
      // Read ahead, so the slot is free once the body has arrived, whether or not the caller reads it.
      const ahead = watch(readAhead(
        response.body as ReadableStream<Uint8Array>,
        {
          settled: () => {
            end();
            settled();
          },
          maxResponseSize: max,
          tooLarge,
          broke: failed,
        },
        length,
        wholeReadFits(length, max) ? nativeArrayBuffer(response) : undefined,
      ));
      return readAheadStream(ahead);
    };
    return {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
      // The runtime's URL has no credentials in it; the one asked for (shown redacted) has.
      url: response.redirected && response.url !== '' ? response.url : url.href,
      redirected: response.redirected,
      bytes: async () => {
        try {
          // The runtime's own read, unless a limit must be watched that the headers do not prove kept.
          // Without a signal to cut it short, destroy() ends the wait for it (the runtime's read goes on).
          // The wait is registered as the read-ahead is (`watch`): end() lets go of it, so a request that ended
          // with its read unsettled (workerd never settles it) leaves nothing behind in the transport.
          if (max === undefined) {
            return new Uint8Array(
              await (controller === undefined
                ? new Promise<ArrayBuffer>((resolve, reject) => {
                    watch({ abort: reject });
                    response.arrayBuffer().then(resolve, reject);
                  })
                : response.arrayBuffer()),
            );
          }
          const length = bodyLength(method, response);
          if (length === 0) return EMPTY;
          const body = response.body as ReadableStream<Uint8Array>;
          // Without a signal, only a small body is read whole by the runtime (as for fetch()): nothing could cut that read short.
          const ahead = watch(readAhead(body, { settled: noop, maxResponseSize: max, tooLarge, broke: failed }, length, () => response.arrayBuffer(), controller === undefined ? NATIVE_READ_BYTES : Infinity));
          return await ahead.all();
        } catch (error) {
          throw failed(error);
        } finally {
          end();
        }
      },
      stream: () => streamSettled(noop),
      streamSettled,
      discard: async () => {
        end();
        void response.body?.cancel().catch(noop);
      },
      // Nobody holds the body any longer: what it fails with is never read.
      abandon: () => {
        (controller ?? ahead)?.abort();
        end();
      },
      // Its request ended (workerd): aborting its controller from here would be I/O of another request.
      drop: end,
    };
  }

  fetch(call: WireFetch, ending?: EndsWithRequest): Promise<Response> {
    // The pool watches the body (src/watch-body.ts), which frees the slot on cancel without waiting.
    return this.#call(call.url, call.init.method, call.init, call.timeout.read, ending);
  }

  connectionStats(): { connected: number; free: number } {
    return { connected: 0, free: 0 };
  }

  async close(): Promise<void> {}

  /** Aborts every request this transport has in flight (their bodies included). */
  async destroy(): Promise<void> {
    const reason = (this.#destroyed ??= new ClosedPoolError('The pool was destroyed'));
    for (const stop of this.#waiting) stop(reason);
    this.#waiting.clear();
    for (const live of this.#live) live.abort(reason);
    this.#live.clear();
  }

  /** Set by `destroy()`: fetch has no sockets to close, only requests to stop. */
  #destroyed: ClosedPoolError | undefined;
  /** Stops the wait for the headers of a request in flight. */
  readonly #waiting = new Set<(reason: unknown) => void>();
  /** `send()` exchanges not yet over, aborted by `destroy()` (a `fetch()` body is the pool's to abort). */
  readonly #live = new Set<Abortable>();

  /**
   * Not an async function: the wait for the headers is one promise (`#unlessDestroyed`) whose own
   * handlers clear the timer and name the failure, rather than a second promise and turn around it
   * per request (CPU a Worker pays for).
   */
  #call(url: URL, method: string, init: RequestInit, read: number | undefined, ending: EndsWithRequest | undefined): Promise<Response> {
    let fetch: typeof globalThis.fetch;
    // Messages name the URL as given (a password in it is hidden by the error classes).
    let shown: string;
    let href: string;
    try {
      // Looked up on every call, so msw, installFetch and test doubles installed later apply.
      fetch = underlyingFetch(this.#options.fetch);
      if (this.#destroyed !== undefined) throw this.#destroyed;
      shown = url.href;
      href = shown;
      // No '@', no credentials: two calls into the runtime (each getter is one in workerd) saved per request.
      if (shown.includes('@') && hasCredentials(url)) {
        // fetch refuses a URL with credentials, in every runtime: they go as `authorization` instead.
        init = { ...init, headers: authorizeFromUrl(init.headers as Headers, url) };
        href = withoutCredentials(url).href;
      }
    } catch (error) {
      return Promise.reject(error);
    }
    // fetch does not say when the connection is made, so `read` bounds the whole wait for the
    // response headers (connect included); the body is bounded only by `total`.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let signal = init.signal ?? undefined;
    if (read !== undefined) {
      const headersDeadline = new AbortController();
      timer = setTimeout(() => {
        const message = `Read timed out waiting for the response headers after ${read} ms (${method} ${shown})`;
        headersDeadline.abort(new ReadTimeoutError(message, { method, url: shown, timeout: read }));
      }, read);
      signal = signal === undefined ? headersDeadline.signal : anySignal([signal, headersDeadline.signal]);
    }
    // A signal is passed only when the caller's or a read timeout needs one: Node's fetch spends
    // ~50 µs a request on one, and holds its listener on a shared signal until GC. destroy() does
    // not go through it: it stops the wait for the headers and cancels the body when it comes.
    const lean = leanInit(init, signal);
    let pending: Promise<Response>;
    try {
      pending = fetch(href, lean);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return this.#unlessDestroyed(pending, ending, lean, method, shown, timer);
  }

  /**
   * `pending`, unless destroy() comes first (#call checked that it had not come yet), its failure
   * named as poolfetch names it and the headers' timer cleared either way. Should the exchange's
   * request end first (workerd never settles `pending` then), the wait is forgotten.
   */
  #unlessDestroyed(
    pending: Promise<Response>,
    ending: EndsWithRequest | undefined,
    init: RequestInit,
    method: string,
    shown: string,
    timer: ReturnType<typeof setTimeout> | undefined,
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      const stop = (reason: unknown): void => {
        reject(failureOf(reason, init, method, shown, timer));
        // A response that comes after all has its body cancelled.
        pending.then((late) => late.body?.cancel().catch(noop), noop);
      };
      this.#waiting.add(stop);
      ending?.leaveOnEnd(this.#waiting, stop);
      pending.then(
        (response) => {
          this.#waiting.delete(stop);
          if (timer !== undefined) clearTimeout(timer);
          resolve(response);
        },
        (error: unknown) => {
          this.#waiting.delete(stop);
          reject(failureOf(error, init, method, shown, timer));
        },
      );
    });
  }
}

/**
 * The wait for the headers of `method` `shown` (sent with `init`) failed or was stopped: the
 * headers' timer goes, and the error is poolfetch's.
 */
function failureOf(error: unknown, init: RequestInit, method: string, shown: string, timer: ReturnType<typeof setTimeout> | undefined): unknown {
  if (timer !== undefined) clearTimeout(timer);
  if (init.signal?.aborted === true) return init.signal.reason;
  return error instanceof TypeError ? fetchFailure(error, method, shown, init.body) : error;
}

/** Codes (Node's, Bun's) that mean no connection was made, so nothing was sent. */
const NOT_SENT = /^E(CONNREFUSED|NOTFOUND|AI_AGAIN|HOSTUNREACH|NETUNREACH|ADDRNOTAVAIL)$|^UND_ERR_CONNECT|^ConnectionRefused$|CERT|^ERR_(TLS|SSL)/;
/** Codes of an answer that broke or was not HTTP: the request was sent. */
const BROKEN = /^(UND_ERR_(SOCKET|HEADERS_OVERFLOW|RES_)|ECONNRESET|EPIPE|HPE_)/;

/**
 * The poolfetch error for fetch's `TypeError`. Where the runtime says why
 * (Node's fetch, in `cause`) the error says so; where it does not (browsers
 * say "Failed to fetch" for everything) nobody can tell whether the request
 * went out, so it is treated as sent: retried only where a broken answer
 * would be.
 */
function fetchFailure(error: TypeError, method: string, url: string, body: unknown): Error {
  const where = { method, url, cause: error };
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const code = String(cause?.code ?? '');
  const detail = String(cause?.message ?? error.message);
  const target = ` (${method} ${url})`;
  if (detail === 'redirect count exceeded') return new MaxRetryError(new Error('too many redirects (more than fetch\'s 20)'), where);
  if (detail === 'bad port') return new NotSupportedError(`fetch refuses port ${new URL(url).port} (a "bad port")${target}`, where);
  if (BROKEN.test(code)) return new ProtocolError(`Connection broken: ${detail}${target}`, where);
  // A runtime that follows a 307/308 cannot send a stream body twice and says only "failed".
  const hint = body instanceof ReadableStream && code === ''
    ? '. If it answered with a 307 or 308 redirect: a ReadableStream body cannot be sent again; send a string or bytes'
    : '';
  const failure = new NewConnectionError(`Failed to fetch: ${detail}${target}${hint}`, where);
  if (!NOT_SENT.test(code)) mayHaveBeenSent.add(failure);
  return failure;
}

/**
 * One signal that aborts when any of `signals` does. `AbortSignal.any` holds
 * the sources weakly, so a long-lived caller signal collects no listeners;
 * the fallback (older runtimes) removes its listeners once one fires.
 */
function anySignal(signals: AbortSignal[]): AbortSignal {
  if (signals.length === 1) return signals[0] as AbortSignal;
  if (typeof AbortSignal.any === 'function') return AbortSignal.any(signals);
  const controller = new AbortController();
  const onAbort = (event: Event): void => {
    for (const s of signals) s.removeEventListener('abort', onAbort);
    controller.abort((event.target as AbortSignal).reason);
  };
  for (const s of signals) {
    if (s.aborted) {
      controller.abort(s.reason);
      break;
    }
    s.addEventListener('abort', onAbort);
  }
  return controller.signal;
}

/** The mark `installFetch` (src/install-fetch.ts) leaves on the fetch it installs: the one it replaced. */
const ORIGINAL_FETCH = Symbol.for('poolfetch.originalFetch');
type MaybeInstalled = typeof globalThis.fetch & { [ORIGINAL_FETCH]?: typeof globalThis.fetch };

/** The fetch that really goes to the network: `preferred`, else the global, looked through any installed manager. */
function underlyingFetch(preferred: typeof globalThis.fetch | undefined): typeof globalThis.fetch {
  let fetch = (preferred ?? globalThis.fetch) as MaybeInstalled | undefined;
  while (fetch?.[ORIGINAL_FETCH] !== undefined) fetch = fetch[ORIGINAL_FETCH];
  if (typeof fetch !== 'function') throw new TypeError('No fetch function: pass the fetch option or run where globalThis.fetch exists');
  return fetch;
}
