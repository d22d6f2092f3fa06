/**
 * One exchange over undici's `dispatch` API (`request()`'s, and
 * `manager.fetch`'s through adapters/node/direct-fetch.ts): the handler
 * undici calls, and the response the core reads. The body is collected straight
 * from the chunks undici hands over (no Node `Readable`, no web stream
 * unless the caller streams), decoded only when `content-encoding` says so,
 * and counted against `maxResponseSize` as it is decoded. Aborts go through
 * the abort function undici gives the handler; the caller's signal is
 * watched through src/abort-watch.ts (one listener per signal, however many
 * exchanges share it).
 */
import type { Transform } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ProtocolError, ResponseTooLargeError } from '../../src/errors.js';
import { onAbort } from '../../src/abort-watch.js';
import type { WireRequest, WireResponse } from '../../src/transport.js';
import { noop } from '../../src/watch-body.js';
import { NativeHeaders } from '../../src/headers.js';
import type { Connection, Connections } from './connections.js';
import { decodersFor, mayHaveBody } from './content-decoding.js';
import { translateError } from './errors.js';

/** What `discard()` reads of a body before it closes the connection instead (undici's `dump()` default). */
const DISCARD_LIMIT = 128 * 1024;

/** Bytes a streamed body reads ahead of its reader before the socket is paused. */
const STREAM_READ_AHEAD = 64 * 1024;

/** What an exchange's connection is closed with once its caller is done with it early. */
const GIVEN_UP = new Error('poolfetch: response given up by its reader');

type Mode = 'buffer' | 'collect' | 'stream' | 'discard';

/** What a body stream's controller is, a byte stream's or a default one's. */
interface BodyController {
  enqueue(chunk: Uint8Array<ArrayBuffer>): void;
  close(): void;
  error(reason?: unknown): void;
  readonly desiredSize: number | null;
}

/** The parts of a request the exchange needs to send it and to name it in errors. */
export interface ExchangeLimits {
  readonly connect: number;
  readonly read: number | undefined;
}

/** What `manager.fetch` adds to an exchange (adapters/node/fetch-response.ts); `request()` passes none. */
export interface FetchHooks {
  /** Called once the exchange is done with its connection: body arrived, failed or aborted. */
  readonly settled: () => void;
  /** A failure after the headers, as the body's reader sees it (fetch's error contract). */
  readonly bodyError: (error: unknown) => unknown;
  /** Bytes kept before anyone reads; past them the socket pauses until a reader comes. */
  readonly readAhead: number;
}

export class Exchange implements WireResponse {
  status = 0;
  statusText = '';
  readonly #method: string;
  readonly #url: string;
  readonly #limits: ExchangeLimits;
  readonly #maxSize: number | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #connections: Connections;
  readonly #connection: Connection;
  #unwatch = noop;
  #abort: ((reason?: Error) => void) | undefined;
  #resumeSocket: (() => void) | undefined;
  #socketPaused = false;
  #resolveHeaders: ((response: WireResponse) => void) | undefined;
  #rejectHeaders: ((error: unknown) => void) | undefined;
  #rawHeaders: Array<Buffer | string> | undefined;
  #headers: Headers | undefined;
  /** The decoders the body goes through, first to last, if it is encoded. */
  #decoders: Transform[] | undefined;
  #mode: Mode = 'buffer';
  #chunks: Uint8Array[] = [];
  /** Bytes of decoded body seen (what maxResponseSize bounds). */
  #size = 0;
  /** Bytes dropped by discard(). */
  #discarded = 0;
  /** The whole body has arrived (and been decoded). */
  #ended = false;
  /** The exchange failed: before the headers, or in the body. */
  #error: unknown;
  #failed = false;
  /** bytes() or discard() waiting for the end. */
  #settleBody: { resolve: (value: Uint8Array | undefined) => void; reject: (error: unknown) => void } | undefined;
  #controller: BodyController | undefined;
  /** The stream is a byte stream: chunks go in as copies. */
  #copy = false;
  readonly #hooks: FetchHooks | undefined;

  constructor(request: WireRequest, connections: Connections, limits: ExchangeLimits, hooks?: FetchHooks) {
    this.#hooks = hooks;
    this.#method = request.method;
    this.#url = request.url.href;
    this.#limits = limits;
    this.#maxSize = request.maxResponseSize;
    this.#signal = request.signal;
    this.#connections = connections;
    this.#connection = connections.take(limits.connect);
  }

  /** Sends the request; resolves with this response once its headers are in. */
  start(options: Dispatcher.DispatchOptions): Promise<WireResponse> {
    const signal = this.#signal;
    if (signal?.aborted === true) {
      this.#connections.release(this.#connection);
      return Promise.reject(signal.reason as Error);
    }
    const headers = new Promise<WireResponse>((resolve, reject) => {
      this.#resolveHeaders = resolve;
      this.#rejectHeaders = reject;
    });
    if (signal !== undefined) this.#unwatch = onAbort(signal, () => this.#callerAborted());
    // undici reports a refused request (a bad header, say) through onError, sometimes before dispatch
    // returns; an interceptor in front of it may throw instead, and the exchange must end the same way.
    try {
      this.#connection.dispatcher.dispatch(options, this as unknown as Dispatcher.DispatchHandler);
    } catch (error) {
      this.onError(error as Error);
    }
    return headers;
  }

  // --- undici's handler API (the one its core calls directly, without an adapter in between) ---

  onConnect(abort: (reason?: Error) => void): void {
    if (this.#failed) {
      abort(this.#error as Error);
      return;
    }
    this.#abort = abort;
  }

  onHeaders(status: number, rawHeaders: Array<Buffer | string>, resume: () => void, statusText: string): boolean {
    // 1xx: undici goes on to the final response.
    if (status < 200) return true;
    this.status = status;
    this.statusText = statusText;
    // undici's header record is views of the socket's read buffer. Kept for a lazy `headers`, views of a large
    // one kept it all alive as long as the response: at 64 KiB bodies another 64 KiB per response, and V8's run of
    // major collections (bench/gc-modes.ts: 3-12 a run against undici's 0-1; 1 a run as text). A small read's
    // views stay as they are: turning every header into text costs 10 k instructions a request at 1 KiB.
    this.#rawHeaders = viewsOfLargeBuffer(rawHeaders) ? rawHeaders.map(latin1) : rawHeaders;
    this.#resumeSocket = resume;
    const encoding = mayHaveBody(this.#method, status) ? contentEncoding(rawHeaders) : undefined;
    if (encoding !== undefined) {
      const decoders = decodersFor(encoding);
      if (typeof decoders === 'string') {
        this.#failAndClose(new ProtocolError(`Malformed response: ${decoders} (${this.#method} ${this.#url})`, { method: this.#method, url: this.#url }));
        return false;
      }
      if (decoders !== undefined) this.#chain(decoders);
    }
    const resolve = this.#resolveHeaders;
    this.#resolveHeaders = undefined;
    this.#rejectHeaders = undefined;
    resolve?.(this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#failed) return false;
    // undici hands over an empty chunk when it resumes a paused parser: pausing on it again would loop.
    if (chunk.byteLength === 0) return true;
    const first = this.#decoders?.[0];
    if (first !== undefined) {
      if (first.write(chunk)) return true;
      // The socket goes on once the first decoder drains (its listener is set in #chain).
      this.#pauseSocket();
      return false;
    }
    if (this.#take(chunk)) return true;
    this.#pauseSocket();
    return false;
  }

  onComplete(): void {
    this.#connections.release(this.#connection);
    this.#hooks?.settled();
    const decoders = this.#decoders;
    if (decoders !== undefined) (decoders[0] as Transform).end();
    else this.#bodyEnded();
  }

  onError(error: Error): void {
    this.#connections.release(this.#connection);
    this.#hooks?.settled();
    this.#fail(this.#translate(error));
  }

  // --- the response, as the core reads it ---

  /** The exchange is over: the body has all arrived, or it failed. */
  get done(): boolean {
    return this.#ended || this.#failed;
  }

  /** Built on first use: most callers never look, and a Headers object costs microseconds to fill. */
  get headers(): Headers {
    if (this.#headers === undefined) {
      const headers = new NativeHeaders();
      const raw = this.#rawHeaders ?? [];
      for (let i = 0; i + 1 < raw.length; i += 2) headers.append(latin1(raw[i] as Buffer | string).toLowerCase(), latin1(raw[i + 1] as Buffer | string));
      this.#headers = headers;
    }
    return this.#headers;
  }

  bytes(): Promise<Uint8Array> {
    this.#mode = 'collect';
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(this.#collected());
    // A fetch body may have paused at its read-ahead bound.
    if (this.#hooks !== undefined) this.#resume();
    return new Promise<Uint8Array | undefined>((resolve, reject) => {
      this.#settleBody = { resolve, reject };
    }) as Promise<Uint8Array>;
  }

  /** The body, if it has all arrived and nothing has read it: a small one comes with its headers. */
  bytesNow(): Uint8Array | undefined {
    if (!this.#ended || this.#failed || this.#mode !== 'buffer') return undefined;
    this.#mode = 'collect';
    return this.#collected();
  }

  /**
   * Pulled as the reader reads: a slow reader pauses the socket, so memory stays flat whatever the size.
   * `bytes`: a byte stream, as fetch's body is (BYOB readers work), whose chunks are copies, since
   * enqueueing a chunk there transfers its buffer, which may hold other bytes of the socket's.
   */
  stream(bytes = false): ReadableStream<Uint8Array> {
    this.#mode = 'stream';
    this.#copy = bytes;
    const source = {
      start: (controller: BodyController) => {
        this.#controller = controller;
        const buffered = this.#chunks;
        this.#chunks = [];
        for (const chunk of buffered) this.#enqueue(chunk);
        if (this.#failed) controller.error(this.#error);
        else if (this.#ended) controller.close();
      },
      pull: () => {
        this.#resume();
      },
      cancel: () => {
        this.#giveUp();
      },
    };
    // A little read ahead (what undici's own body Readable keeps), so the socket is not paused for every chunk.
    if (bytes) return new ReadableStream({ type: 'bytes', ...source }, { highWaterMark: STREAM_READ_AHEAD });
    return new ReadableStream<Uint8Array<ArrayBuffer>>(source, { highWaterMark: STREAM_READ_AHEAD, size: (chunk) => chunk.byteLength });
  }

  /** Reads the rest and drops it so the connection is reused, unless more than a little is left. */
  discard(): Promise<void> {
    this.#mode = 'discard';
    this.#discarded = this.#size;
    this.#chunks = [];
    this.#destroyDecoders();
    if (this.#ended || this.#failed) return Promise.resolve();
    this.#resume();
    return new Promise<Uint8Array | undefined>((resolve) => {
      this.#settleBody = { resolve, reject: () => resolve(undefined) };
    }) as Promise<unknown> as Promise<void>;
  }

  /** The caller dropped the response unread: close the connection under it. */
  abandon(): void {
    this.#giveUp();
  }

  // --- inside ---

  #chain(decoders: Transform[]): void {
    this.#decoders = decoders;
    const last = decoders[decoders.length - 1] as Transform;
    (decoders[0] as Transform).on('drain', () => this.#resumeSocketIfPaused());
    for (let i = 0; i < decoders.length; i += 1) {
      const decoder = decoders[i] as Transform;
      decoder.on('error', (error: Error) => this.#decodeFailed(error));
      const next = decoders[i + 1];
      if (next !== undefined) decoder.pipe(next);
    }
    last.on('data', (chunk: Buffer) => {
      if (!this.#take(chunk)) last.pause();
    });
    last.on('end', () => this.#bodyEnded());
  }

  /** A chunk of decoded body; false when the reader wants no more for now. */
  #take(chunk: Buffer): boolean {
    if (this.#failed) return false;
    const size = this.#size + chunk.byteLength;
    this.#size = size;
    const max = this.#maxSize;
    if (max !== undefined && size > max) {
      this.#tooLarge(max);
      return false;
    }
    switch (this.#mode) {
      case 'stream':
        this.#enqueue(chunk);
        return ((this.#controller as BodyController).desiredSize ?? 0) > 0;
      case 'discard':
        if (size - this.#discarded > DISCARD_LIMIT) {
          // Too much left to read for nothing: closing the connection is cheaper.
          this.#giveUp();
          return false;
        }
        return true;
      default:
        this.#chunks.push(chunk);
        // Unread (buffer mode), a fetch body stops at its read-ahead bound until a reader comes.
        return this.#mode === 'collect' || this.#hooks === undefined || size < this.#hooks.readAhead;
    }
  }

  #enqueue(chunk: Uint8Array): void {
    const controller = this.#controller as BodyController;
    if (!this.#copy) controller.enqueue(new Uint8Array(chunk.buffer as ArrayBuffer, chunk.byteOffset, chunk.byteLength));
    else if (chunk.byteLength > 0) controller.enqueue(new Uint8Array(chunk));
  }

  #bodyEnded(): void {
    if (this.#failed || this.#ended) return;
    this.#ended = true;
    this.#unwatch();
    const settle = this.#settleBody;
    this.#settleBody = undefined;
    if (this.#mode === 'stream') this.#controller?.close();
    else if (settle !== undefined) settle.resolve(this.#mode === 'collect' ? this.#collected() : undefined);
  }

  /** The chunks as one array of its own (never a view of a socket's read buffer, which holds other bytes). */
  #collected(): Uint8Array {
    const chunks = this.#chunks;
    this.#chunks = [];
    const size = this.#size;
    // Not zero-filled first: at 64 KiB the fill was a third of the body's copying (callgrind: 66 k of 197 k
    // instructions a request in memset/memcpy), and undici's own body.bytes() skips it the same way.
    const data = size === 0 ? new Uint8Array(0) : new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
    let at = 0;
    for (const chunk of chunks) {
      data.set(chunk, at);
      at += chunk.byteLength;
    }
    // Never expected (the chunks are what was counted), but no uninitialised memory is ever handed out.
    if (at < size) data.fill(0, at);
    return data;
  }

  #tooLarge(limit: number): void {
    this.#failAndClose(new ResponseTooLargeError(limit, { method: this.#method, url: this.#url }));
  }

  #decodeFailed(error: Error): void {
    if (!this.#failed) this.#failAndClose(this.#translate(error) as Error);
  }

  /** Fails the exchange and closes its connection, whose response can no longer be read to the end. */
  #failAndClose(error: Error): void {
    this.#fail(error);
    this.#abort?.(error);
  }

  /** The first failure wins: the exchange's end is reported once, and what comes after it is dropped. */
  #fail(error: unknown): void {
    if (this.#failed || this.#ended) return;
    const hooks = this.#hooks;
    if (hooks !== undefined && this.#rejectHeaders === undefined) error = hooks.bodyError(error);
    this.#failed = true;
    this.#error = error;
    this.#chunks = [];
    this.#unwatch();
    this.#destroyDecoders();
    const rejectHeaders = this.#rejectHeaders;
    if (rejectHeaders !== undefined) {
      this.#resolveHeaders = undefined;
      this.#rejectHeaders = undefined;
      rejectHeaders(error);
      return;
    }
    const settle = this.#settleBody;
    this.#settleBody = undefined;
    if (this.#mode === 'stream') this.#controller?.error(error);
    else settle?.reject(error);
  }

  /** The caller's signal aborted: fail now; the connection closes (or, still connecting, is dropped). */
  #callerAborted(): void {
    const reason = (this.#signal as AbortSignal).reason as Error;
    if (this.#failed || this.#ended) return;
    this.#fail(reason);
    if (this.#abort !== undefined) this.#abort(reason);
    // undici settles a request aborted while its socket connects only when the connect ends.
    else this.#connections.discard(this.#connection);
  }

  /** The reader is done early: close the connection (its exchange cannot be finished for nothing). */
  #giveUp(): void {
    if (this.#ended || this.#failed) return;
    this.#failAndClose(GIVEN_UP);
  }

  #pauseSocket(): void {
    this.#socketPaused = true;
  }

  /** The reader wants more: let the last decoder go on (the socket follows once the first drains), or the socket. */
  #resume(): void {
    const decoders = this.#decoders;
    if (decoders !== undefined) (decoders[decoders.length - 1] as Transform).resume();
    else this.#resumeSocketIfPaused();
  }

  #resumeSocketIfPaused(): void {
    if (!this.#socketPaused) return;
    this.#socketPaused = false;
    this.#resumeSocket?.();
  }

  #destroyDecoders(): void {
    const decoders = this.#decoders;
    if (decoders === undefined) return;
    this.#decoders = undefined;
    for (const decoder of decoders) decoder.destroy();
  }

  #translate(error: unknown): unknown {
    if (this.#signal?.aborted === true) return this.#signal.reason;
    return translateError(error, this.#method, this.#url, this.#limits);
  }
}

/** The `content-encoding` of raw headers (several fields joined, as a list), without building Headers. */
function contentEncoding(raw: Array<Buffer | string>): string | undefined {
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as Buffer | string;
    if (name.length !== 16 || latin1(name).toLowerCase() !== 'content-encoding') continue;
    const field = latin1(raw[i + 1] as Buffer | string);
    value = value === undefined ? field : `${value}, ${field}`;
  }
  return value;
}

/** Bytes of read buffer past which header views are turned into text rather than kept. */
const HEADER_VIEWS_UP_TO = 16 * 1024;

/** Whether the record's first or last field is a view of a read buffer larger than `HEADER_VIEWS_UP_TO`. */
function viewsOfLargeBuffer(raw: Array<Buffer | string>): boolean {
  const first = raw[0];
  const last = raw[raw.length - 1];
  return (typeof first === 'object' && first.buffer.byteLength > HEADER_VIEWS_UP_TO) || (typeof last === 'object' && last.buffer.byteLength > HEADER_VIEWS_UP_TO);
}

function latin1(value: Buffer | string): string {
  return typeof value === 'string' ? value : value.toString('latin1');
}
