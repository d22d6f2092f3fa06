/**
 * Reading a response body ahead of its caller. A slot stands for a
 * connection, and a connection is free once the response has fully arrived,
 * not once somebody reads it: browsers and undici pull the bytes off the
 * socket and let it go. A fetch-based runtime does not say when that is, so
 * the fetch adapter pulls the body into memory itself as it arrives, up to
 * `READ_AHEAD_BYTES` per response, and frees the slot when it has all
 * arrived. A body larger than that waits for its reader (its slot held:
 * that is the connection's real state) until it is read, cancelled, aborted
 * or garbage-collected. Workers have no FinalizationRegistry by default, so
 * there reading ahead is what frees an unread body's slot at all.
 */

/**
 * Bytes of body read ahead per response before reading waits for the
 * caller: 1 MiB. Large enough for the JSON and HTML answers that make up
 * most traffic (so an unread or slowly read one never holds a slot), small
 * enough that six unread bodies per origin stay a few MiB.
 */
export const READ_AHEAD_BYTES = 1024 * 1024;

/**
 * A body of a known length up to this (and not encoded) is read ahead by the
 * runtime's own `arrayBuffer()` where that is native code: one call instead
 * of a JavaScript read loop, which in workerd costs more than the pool's
 * whole bookkeeping. Kept small because such a read cannot be cut short
 * (`destroy()` frees the slot at once, but the runtime finishes the read)
 * and hands a streaming caller the whole body at once.
 */
export const NATIVE_READ_BYTES = 64 * 1024;

const nativeCode = new WeakMap<object, boolean>();

/**
 * The runtime's own `arrayBuffer()`, bound to `response`, where it is native
 * code (workerd, browsers, Bun): there one call beats any read loop of ours.
 * Where it is JavaScript (Node's fetch is undici, Deno's is JS too) it runs a
 * read loop of its own with more around it than ours (measured in Node: ~8 %
 * more CPU per 1 KiB request), so ours reads. Looked at once per function.
 */
export function nativeArrayBuffer(response: Response): (() => Promise<ArrayBuffer>) | undefined {
  // Bound rather than a closure: the caller's hooks must not share a scope that holds the response.
  return hasNativeArrayBuffer(response) ? response.arrayBuffer.bind(response) : undefined;
}

/** Whether `response.arrayBuffer()` is the runtime's native code (see `nativeArrayBuffer`). */
export function hasNativeArrayBuffer(response: Response): boolean {
  const method = response.arrayBuffer;
  let native = nativeCode.get(method);
  if (native === undefined) {
    native = /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(method));
    nativeCode.set(method, native);
  }
  return native;
}

/** What a read-ahead reports and how it names its failures (fetch's `TypeError`s or poolfetch's own errors). */
export interface ReadAheadHooks {
  /** Called once the exchange is done with its connection: the body arrived, failed, was cancelled or was too large. */
  readonly settled: () => void;
  /** Bytes of body allowed; undefined for no limit. */
  readonly maxResponseSize: number | undefined;
  /** The error for a body past `maxResponseSize`. */
  tooLarge(): unknown;
  /** The error for a read that failed (the runtime's error given). */
  broke(error: unknown): unknown;
}

/**
 * The decoded body's length as far as the method, status and headers tell
 * it for certain: 0 where there is none (HEAD, 1xx, 204, 205, 304,
 * `content-length: 0`, a null body; RFC 9110 §6.4.1), the `content-length`
 * where no content coding changes it, undefined otherwise. A cross-origin
 * response in a browser may hide its `content-encoding`, so there only 0 is
 * believed. One call per response, each header and getter read once (in
 * workerd each is a call into the runtime): it runs for every body. `body`:
 * the response's, when the caller has it.
 */
export function bodyLength(method: string, response: Response, body = response.body): number | undefined {
  return body === null ? 0 : headerLength(method, response);
}

/**
 * `bodyLength` without looking at the body: in workerd the getter makes the
 * stream's wrappers, a call a body read by the runtime's own `arrayBuffer()`
 * never needs. A fetch answer has a null body only with a status that has
 * none, which this sees; the caller that reads the stream checks it.
 */
export function headerLength(method: string, response: Response): number | undefined {
  const status = response.status;
  if (method === 'HEAD' || status < 200 || status === 204 || status === 205 || status === 304) return 0;
  const headers = response.headers;
  const length = headers.get('content-length');
  if (length === '0') return 0;
  const type = length === null ? '' : response.type;
  if (length === null || type === 'cors' || type === 'opaque') return undefined;
  const coding = headers.get('content-encoding');
  if (coding !== null && coding !== 'identity') return undefined;
  const n = Number(length);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** A body being read ahead: by a reader (`ReadAhead`) or by the runtime's own whole read (`NativeReadAhead`). */
export interface BodyAhead {
  /** True once the body is all here, failed, or was cancelled. */
  readonly settled: boolean;
  /** The next chunk, undefined at the end. */
  next(): Promise<Uint8Array | undefined>;
  /** The whole body, in one buffer. */
  all(): Promise<Uint8Array>;
  /** The consumer is done with it: stop reading, drop what is buffered. */
  cancel(reason: unknown): void;
  /** Ends it with `error`, which every later read rejects with. */
  abort(error?: unknown): void;
}

/**
 * Starts reading a body ahead at once: with the runtime's own
 * `arrayBuffer()` (`native`) where the decoded `length` is known, at most
 * `nativeUpTo` and within `maxResponseSize`, else with a reader of `source`.
 * `source` may be left out where `native` reads. `native` may be that read
 * already begun (the caller checked the length against both bounds): no
 * bound function made per response to begin it.
 */
export function readAhead(
  source: ReadableStream<Uint8Array> | undefined,
  hooks: ReadAheadHooks,
  length: number | undefined,
  native: (() => Promise<ArrayBuffer>) | Promise<ArrayBuffer> | undefined,
  nativeUpTo = NATIVE_READ_BYTES,
): BodyAhead {
  if (native !== undefined && wholeReadFits(length, hooks.maxResponseSize, nativeUpTo)) {
    return new NativeReadAhead(typeof native === 'function' ? native() : native, hooks);
  }
  return new ReadAhead(source as ReadableStream<Uint8Array>, hooks, length);
}

/**
 * Whether the runtime may read a body of decoded `length` whole: known, at most `upTo`, and within
 * `max` (its read could not be stopped at the limit). Where this holds a caller may begin that read
 * itself and hand it to `readAhead` begun.
 */
export function wholeReadFits(length: number | undefined, max: number | undefined, upTo = NATIVE_READ_BYTES): length is number {
  return length !== undefined && length <= upTo && (max === undefined || length <= max);
}

/**
 * What both read-aheads keep: how the body ended, and the consumer waiting
 * to hear of it.
 */
abstract class Ahead implements BodyAhead {
  protected readonly hooks: ReadAheadHooks;
  /** The whole body has arrived. */
  protected ended = false;
  protected failure: { error: unknown } | undefined;
  #settled = false;
  /** The consumer waiting for a chunk, an end or a failure. */
  #wake: (() => void) | undefined;

  constructor(hooks: ReadAheadHooks) {
    this.hooks = hooks;
  }

  get settled(): boolean {
    return this.#settled;
  }

  abstract next(): Promise<Uint8Array | undefined>;
  abstract all(): Promise<Uint8Array>;

  cancel(reason: unknown): void {
    if (this.failure === undefined && !this.ended) this.failure = { error: reason };
    this.drop(reason, true);
  }

  abort(error?: unknown): void {
    this.failure = { error };
    this.drop(error, true);
  }

  /** Drops what is buffered (and stops the source, `stopSource`), settles and wakes the consumer. */
  protected drop(reason: unknown, stopSource: boolean): void {
    this.clear(reason, stopSource);
    this.settle();
    this.notify();
  }

  protected abstract clear(reason: unknown, stopSource: boolean): void;

  protected fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = { error };
    this.drop(error, false);
  }

  protected settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.hooks.settled();
  }

  protected notify(): void {
    const wake = this.#wake;
    if (wake === undefined) return;
    this.#wake = undefined;
    wake();
  }

  /** Resolves at the next `notify()`. */
  protected news(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wake = resolve));
  }
}

/**
 * A body the runtime reads whole: one promise, nothing of a reader's (a
 * chunk list, a pump), which in workerd is CPU billed per subrequest.
 */
class NativeReadAhead extends Ahead {
  readonly #read: Promise<Uint8Array>;
  /** The body once it has arrived, until a `next()` takes it. */
  #bytes: Uint8Array | undefined;

  constructor(read: Promise<ArrayBuffer>, hooks: ReadAheadHooks) {
    super(hooks);
    const arrived = read.then(
      (buffer) => this.#arrived(new Uint8Array(buffer)),
      (error: unknown) => {
        this.fail(hooks.broke(error));
        throw (this.failure as { error: unknown }).error;
      },
    );
    // Nobody may ever read it: its failure is reported to the reader, not as an unhandled rejection.
    arrived.catch(noop);
    this.#read = arrived;
  }

  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const bytes = this.#bytes;
      if (bytes !== undefined) {
        this.#bytes = undefined;
        return bytes;
      }
      if (this.failure !== undefined) throw this.failure.error;
      if (this.ended) return undefined;
      await this.news();
    }
  }

  /** The runtime's own read answers: no promise of ours per wait. */
  all(): Promise<Uint8Array> {
    return this.failure === undefined ? this.#read : Promise.reject(this.failure.error);
  }

  protected clear(): void {
    this.#bytes = undefined;
  }

  /** The read came back: the bytes, or the failure set meanwhile (an abort, the limit). */
  #arrived(bytes: Uint8Array): Uint8Array {
    if (this.failure !== undefined) throw this.failure.error;
    const max = this.hooks.maxResponseSize;
    if (max !== undefined && bytes.byteLength > max) {
      const error = this.hooks.tooLarge();
      this.abort(error);
      throw error;
    }
    this.#bytes = bytes;
    this.ended = true;
    this.settle();
    this.notify();
    return bytes;
  }
}

/**
 * One response body being read ahead. Chunks wait here for the consumer,
 * who takes them one by one (`next`, for a stream) or all at once (`all`).
 * It must not reach the Response: an unread body's owner is found by the
 * response being collected.
 */
class ReadAhead extends Ahead {
  readonly #chunks: Uint8Array[] = [];
  /** Bytes in `#chunks`. */
  #buffered = 0;
  /** Bytes received in all, for `maxResponseSize`. */
  #received = 0;
  /** Set by a whole-body read: the bound no longer applies, the caller wants it all. */
  #whole = false;
  #pumping = false;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  /** Starts reading `source` at once. A known `length` past `maxResponseSize` fails at once, the body cancelled unread. */
  constructor(source: ReadableStream<Uint8Array>, hooks: ReadAheadHooks, length: number | undefined) {
    super(hooks);
    const max = hooks.maxResponseSize;
    if (length !== undefined && max !== undefined && length > max) {
      const error = hooks.tooLarge();
      source.cancel(error).catch(noop);
      this.fail(error);
      return;
    }
    this.#reader = source.getReader();
    void this.#pump();
  }

  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        this.#buffered -= chunk.byteLength;
        this.#resume();
        return chunk;
      }
      if (this.failure !== undefined) throw this.failure.error;
      if (this.ended) return undefined;
      this.#resume();
      await this.news();
    }
  }

  async all(): Promise<Uint8Array> {
    this.#whole = true;
    while (!this.ended && this.failure === undefined) {
      this.#resume();
      await this.news();
    }
    if (this.failure !== undefined) throw this.failure.error;
    const chunks = this.#chunks.splice(0);
    const length = this.#buffered;
    this.#buffered = 0;
    return concat(chunks, length);
  }

  protected clear(reason: unknown, stopSource: boolean): void {
    this.#chunks.length = 0;
    this.#buffered = 0;
    if (stopSource) this.#reader?.cancel(reason).catch(noop);
  }

  #resume(): void {
    if (!this.#pumping && this.#reader !== undefined && !this.ended && this.failure === undefined) void this.#pump();
  }

  async #pump(): Promise<void> {
    const reader = this.#reader as ReadableStreamDefaultReader<Uint8Array>;
    const max = this.hooks.maxResponseSize;
    this.#pumping = true;
    try {
      while (this.#whole || this.#buffered < READ_AHEAD_BYTES) {
        const read = await reader.read();
        // Cancelled or aborted while the read was pending: its end is no end.
        if (this.failure !== undefined) return;
        if (read.done) {
          this.ended = true;
          this.settle();
          return;
        }
        const chunk = read.value;
        this.#received += chunk.byteLength;
        if (max !== undefined && this.#received > max) {
          this.abort(this.hooks.tooLarge());
          return;
        }
        this.#chunks.push(chunk);
        this.#buffered += chunk.byteLength;
        this.notify();
      }
    } catch (error) {
      if (this.failure === undefined) this.fail(this.hooks.broke(error));
    } finally {
      this.#pumping = false;
      this.notify();
    }
  }
}

function noop(): void {}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
