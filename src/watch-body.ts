/**
 * Watching a body stream: a slot (and a timeout's timer) must be let go the
 * moment a body has been read to the end, has failed or was cancelled, and
 * nothing else says when that is.
 */

import { onAbort } from './abort-watch.js';
import { ProtocolError, ResponseTooLargeError } from './errors.js';
import { hasNativeArrayBuffer, headerLength, readAhead, wholeReadFits, type BodyAhead, type ReadAheadHooks } from './read-ahead.js';
import type { WireFetch } from './transport.js';

export function noop(): void {}

/**
 * Passes a stream through and calls `done` once it ends, fails or is
 * cancelled. An abort of `signal` errors it at once, even while nobody is
 * reading, and cancels the stream under it, so its slot is free at once.
 */
export function whenDone(body: ReadableStream<Uint8Array>, done: () => void, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  if (done === noop && signal === undefined) return body;
  const reader = body.getReader();
  let finished = false;
  let unwatch = noop;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    unwatch();
    done();
  };
  let stream!: ReadableStreamDefaultController<Uint8Array>;
  const aborted = (): void => {
    if (finished) return;
    const reason: unknown = signal?.reason;
    stream.error(reason);
    reader.cancel(reason).catch(noop);
    finish();
  };
  return pulling(
    async () => (await reader.read()).value,
    finish,
    (reason) => reader.cancel(reason).catch(noop),
    (controller) => {
      stream = controller;
      if (signal?.aborted === true) aborted();
      else if (signal !== undefined) unwatch = onAbort(signal, aborted);
    },
  );
}

/**
 * A stream that pulls chunks from `next` (undefined at the end) one at a
 * time, and calls `finish` once it ends, fails or is cancelled. A chunk or
 * an end that comes after the stream was errored or cancelled is dropped
 * (the controller refuses it and erroring it again does nothing).
 */
function pulling(
  next: () => Promise<Uint8Array | undefined>,
  finish: () => void,
  cancel: (reason: unknown) => unknown,
  start: (controller: ReadableStreamDefaultController<Uint8Array>) => void = noop,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start,
      async pull(controller) {
        try {
          const chunk = await next();
          if (chunk === undefined) {
            finish();
            controller.close();
          } else {
            controller.enqueue(chunk);
          }
        } catch (error) {
          finish();
          controller.error(error);
        }
      },
      cancel(reason) {
        // Free the slot now, without waiting for the runtime's own cancel: some never settle
        // it (msw's mocked bodies), and a cancelled body's connection is being dropped anyway.
        finish();
        cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * The same response over another body (or none): status, headers, `url` and
 * `redirected` kept. A constructed Response has an empty `url` and
 * `redirected: false`, and neither can be passed to the constructor.
 */
export function rebody(from: Response, body: ReadableStream<Uint8Array> | null): Response {
  const response = new Response(body, from);
  Object.defineProperty(response, 'url', { value: from.url, configurable: true });
  if (from.redirected) Object.defineProperty(response, 'redirected', { value: true, configurable: true });
  return response;
}

/**
 * A body that is never read keeps its slot until the response, or the stream
 * taken from it, is garbage-collected; this ends it then, so a forgotten body
 * cannot starve the pool forever.
 * Cloudflare Workers have no FinalizationRegistry unless the `enable_weak_ref`
 * compatibility flag is set: there a forgotten body holds its slot until the
 * request is aborted or the isolate goes.
 */
const forgotten = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<() => void>((done) => done()) : undefined;

/**
 * Calls `callback` once `target` has been garbage-collected, unless the
 * returned function is called first. `callback` must not reach `target`, or
 * it never will be collected.
 */
export function whenCollected(target: object, callback: () => void): () => void {
  if (forgotten === undefined) return noop;
  const registry = forgotten;
  const token = {};
  registry.register(target, callback, token);
  return () => registry.unregister(token);
}

const utf8 = new TextDecoder();

/**
 * The poolfetch error for a body that broke off while being read: the
 * request was sent and its answer is lost. Says why where the runtime does
 * (Node's fetch: `terminated`, caused by `other side closed`).
 */
export function bodyBroke(error: unknown, method: string, url: string): ProtocolError {
  const why = error as { message?: unknown; cause?: { message?: unknown } } | undefined;
  const detail = String(why?.cause?.message ?? why?.message ?? error);
  return new ProtocolError(`Connection broken while reading the body: ${detail} (${method} ${url})`, { method, url, cause: error });
}

/** A watched body still open: its owner (a pool being destroyed) can abort it. */
export interface OpenBody {
  abort(reason: unknown): void;
}

/** Watched bodies still open, so their owner (a pool being destroyed) can abort them all. */
export type OpenBodies = Set<OpenBody>;

/** The body `watchResponse` watches on `response` (in the open bodies until it has finished); undefined for one it did not watch. */
export function openBodyOf(response: Response): OpenBody | undefined {
  return (response as Partial<Watched>)[WATCH];
}

/**
 * The response itself, watched: its body is read ahead (src/read-ahead.ts)
 * and `done` is called once the exchange is done with the connection: the
 * body has fully arrived (whether or not anybody has read it yet), has
 * failed, was cancelled, aborted through `open`, or was garbage-collected
 * unread. A response that cannot have a body (HEAD, 1xx, 204, 304,
 * `content-length: 0`) is done with its headers and returned as it is.
 * A read that fails rejects with fetch's kind of error, a `TypeError`, whose
 * `cause` is the poolfetch error naming `call`'s method and URL (a
 * `ProtocolError`, or `ResponseTooLargeError` past `call.maxResponseSize`).
 *
 * With `awaitDone`, what `done` returns (a fleet budget's release, which is
 * I/O) is waited for before a read resolves: the body's last read, or a
 * whole-body read. workerd cancels I/O still running once the incoming
 * request has returned, and the caller returns once its read resolves.
 *
 * `arrayBuffer()`, `bytes()`, `text()` and `json()` take what was read
 * ahead: no second stream and no second Response are built, and a small
 * body of known length was read by the runtime's own `arrayBuffer()`. `body`
 * hands out a stream over the read-ahead instead, and `blob()`,
 * `formData()` and `clone()` read through a Response over it.
 */
export function watchResponse(response: Response, done: () => unknown, open: OpenBodies, call: WireFetch, awaitDone = false): Response | Promise<Response> {
  let length = headerLength(call.init.method, response);
  // The runtime's own whole read, begun here (still its own method: the prototype is swapped below) where the
  // length is known, small and within the limit: readAhead() takes it begun, so no bound function is made for it.
  const native = length !== 0 && wholeReadFits(length, call.maxResponseSize) && hasNativeArrayBuffer(response) ? response.arrayBuffer() : undefined;
  // The stream only where a reader reads it (or cancels it, past a maxResponseSize): in workerd the
  // body getter is a call into the runtime that the runtime's own whole read does without.
  let source: ReadableStream<Uint8Array> | null | undefined;
  if (length !== 0 && native === undefined) {
    source = response.body;
    if (source === null) length = 0;
  }
  if (length === 0) {
    const released = done();
    // No body to read: the response itself waits for the release.
    return awaitDone && isThenable(released) ? Promise.resolve(released).then(() => response, () => response) : response;
  }
  const watch = new BodyWatch(source as ReadableStream<Uint8Array> | undefined, length, native, done, open, call, awaitDone);
  // The response object is what an unread body's owner drops; a stream handed out is registered in its place.
  watch.guard(response);
  // One shared prototype per Response class rather than own methods per response: defining
  // seven properties on every response costs more than the rest of the pool's bookkeeping.
  // Every own property before the prototype swap, none after: V8 shares the hidden class of responses
  // changed in the same order, but a property added after setPrototypeOf gives each response a class of its
  // own (a new map per response, and every property access on it megamorphic: 1.5-2.4 µs against 0.3-0.5 µs
  // for the two steps in Node). BODY and INNER start out undefined, so the stream paths that fill them later
  // change no hidden class either.
  const watched = response as Watched;
  watched[WATCH] = watch;
  watched[BODY] = undefined;
  watched[INNER] = undefined;
  Object.setPrototypeOf(response, watchedPrototype(Object.getPrototypeOf(response) as Response));
  return response;
}

const WATCH = Symbol('poolfetch.watch');
/** The watched stream the body moved to once asked for; on the response, as the watch must not reach it. */
const BODY = Symbol('poolfetch.body');
/** A Response over that stream, for the methods that read it after that. */
const INNER = Symbol('poolfetch.inner');
type Watched = Response & { [WATCH]: BodyWatch; [BODY]?: ReadableStream<Uint8Array> | undefined; [INNER]?: Response | undefined };
type Bytes = Response & { bytes(): Promise<Uint8Array> };
const watchedPrototypes = new WeakMap<Response, Response>();
/** The last prototype looked up and its watched one. Holds a runtime's Response prototype, which lives as long as the runtime does. */
let lastPrototype: { readonly own: Response; readonly watched: Response } | undefined;

/**
 * `own` (the runtime's Response prototype) with the body methods watched. A
 * direct read builds nothing; `body`, `blob()`, `formData()` and `clone()`
 * move the body to a watched stream (and the last three to a Response over
 * it). Once a direct read has begun, the runtime's own methods answer (with
 * its "body already used" error).
 */
function watchedPrototype(own: Response): Response {
  // Nearly always the one Response class of the runtime: the last answer first, before the WeakMap.
  if (own === lastPrototype?.own) return lastPrototype.watched;
  let proto = watchedPrototypes.get(own);
  if (proto !== undefined) {
    lastPrototype = { own, watched: proto };
    return proto;
  }
  const method = (value: (this: Watched) => unknown): PropertyDescriptor => ({ value, configurable: true, writable: true });
  const methods: PropertyDescriptorMap = {
    clone: method(function () {
      const response = inner(this);
      return response === undefined ? own.clone.call(this) : rebody(this, response.clone().body);
    }),
    body: {
      get(this: Watched) {
        // Once a direct read began: the runtime's own (used) stream.
        return watchedBody(this) ?? (Reflect.get(own, 'body', this) as ReadableStream<Uint8Array> | null);
      },
      configurable: true,
    },
    // The response's own stream is read ahead by the watcher, not by the caller: used once the caller reads.
    bodyUsed: {
      get(this: Watched) {
        const response = this[INNER];
        return response === undefined ? this[WATCH].used : response.bodyUsed;
      },
      configurable: true,
    },
  };
  for (const [name, fromBytes] of Object.entries(DIRECT_READS)) {
    // `bytes()` only where the runtime has it.
    if (typeof (own as unknown as Record<string, unknown>)[name] !== 'function') continue;
    methods[name] = method(function () {
      return this[BODY] !== undefined || fromBytes === undefined || this[WATCH].used
        ? viaInner(this, own, name as ReadName)
        : this[WATCH].readAll().then(fromBytes);
    });
  }
  proto = Object.create(own, methods) as Response;
  watchedPrototypes.set(own, proto);
  lastPrototype = { own, watched: proto };
  return proto;
}

type ReadName = 'arrayBuffer' | 'text' | 'json' | 'blob' | 'formData' | 'bytes';

/** The body methods, and how each turns the bytes read directly into its answer (`blob` and `formData` never read directly). */
const DIRECT_READS: Record<ReadName, ((bytes: Uint8Array) => unknown) | undefined> = {
  arrayBuffer: exactBuffer,
  text: (bytes) => utf8.decode(bytes),
  json: (bytes) => JSON.parse(utf8.decode(bytes)) as unknown,
  bytes: exactCopy,
  blob: undefined,
  formData: undefined,
};

/** The body as a watched stream, made on first call; undefined once a direct read began. */
function watchedBody(response: Watched): ReadableStream<Uint8Array> | undefined {
  if (response[BODY] === undefined) {
    const stream = response[WATCH].stream();
    if (stream !== undefined) response[BODY] = stream;
  }
  return response[BODY];
}

/**
 * `name` read through the Response over the watched stream, or through the
 * runtime's own method once a direct read began; a rejection, never a throw,
 * when the stream was already used.
 */
function viaInner(response: Watched, own: Response, name: ReadName): Promise<unknown> {
  try {
    const target = inner(response);
    return target === undefined ? (own as Bytes)[name].call(response) : (target as Bytes)[name]();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A Response over the watched stream, made when a method needs one. Not
 * made for `body` alone: Node cancels an unlocked body once its Response is
 * collected, and a caller may hold the stream without the response.
 */
function inner(response: Watched): Response | undefined {
  if (response[INNER] === undefined) {
    const body = watchedBody(response);
    if (body !== undefined) response[INNER] = rebody(response, body);
  }
  return response[INNER];
}

/**
 * The state of one watched body. Kept apart from the Response: what the
 * FinalizationRegistry and the open set hold must not reach the response,
 * or it could never be collected.
 */
class BodyWatch implements ReadAheadHooks {
  /** True once the caller began reading: directly, or from the stream handed out. */
  #used = false;
  /** True once the body was handed out as a stream. */
  #streamed = false;
  #finished = false;
  #guarded = false;
  readonly maxResponseSize: number | undefined;
  readonly #done: () => unknown;
  readonly #open: OpenBodies;
  readonly #ahead: BodyAhead;
  /** Reads wait for what `done` returned (see `watchResponse`). */
  readonly #awaitDone: boolean;
  /** What `done` returned, once called, when it is a promise to wait for. */
  #released: PromiseLike<unknown> | undefined;
  /** What a failure names; not the call itself, which would hold its request body. Its text only on failure. */
  readonly #method: string;
  readonly #url: URL;

  /** `native`: the runtime's own whole read, begun (see watchResponse); `source` only where it is read otherwise. */
  constructor(source: ReadableStream<Uint8Array> | undefined, length: number | undefined, native: Promise<ArrayBuffer> | undefined, done: () => unknown, open: OpenBodies, call: WireFetch, awaitDone: boolean) {
    // Nothing here may reach the response: the read-ahead keeps it while the body is read.
    this.#done = done;
    this.#awaitDone = awaitDone;
    this.#open = open;
    open.add(this);
    this.#method = call.init.method;
    this.#url = call.url;
    this.maxResponseSize = call.maxResponseSize;
    // The watch is the read-ahead's hooks itself: no object and closures of their own per response.
    this.#ahead = readAhead(source, this, length, native);
  }

  tooLarge(): TypeError {
    return asFetchError(new ResponseTooLargeError(this.maxResponseSize ?? 0, { method: this.#method, url: this.#url.href }));
  }

  broke(error: unknown): TypeError {
    const broke = bodyBroke(error, this.#method, this.#url.href);
    return new TypeError(error instanceof Error ? error.message : 'terminated', { cause: broke });
  }

  /** The read-ahead reports the exchange over with the connection: the slot goes back. */
  settled(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#open.delete(this);
    this.#unguard();
    const released = this.#done();
    if (this.#awaitDone && isThenable(released)) this.#released = released;
  }

  /** `value`, once the release `done` started has completed (failed or not: the read has what it came for). */
  #afterRelease<T>(value: T): T | Promise<T> {
    const released = this.#released;
    return released === undefined ? value : Promise.resolve(released).then(() => value, () => value);
  }

  /** True once a direct read began or the stream handed out was read. */
  get used(): boolean {
    return this.#used;
  }

  /**
   * Ends the body (its connection too) when `owner` is garbage-collected
   * before it has all arrived; one owner at a time. Once it has arrived
   * there is nothing to end: the buffered bytes go with the owner.
   */
  guard(owner: object): void {
    if (forgotten === undefined || this.#finished) return;
    forgotten.register(owner, this.#forgotten, this.#forgotten);
    this.#guarded = true;
  }

  #unguard(): void {
    if (!this.#guarded) return;
    this.#guarded = false;
    forgotten?.unregister(this.#forgotten);
  }

  readonly #forgotten = (): void => {
    this.#ahead.cancel('poolfetch: the response was garbage-collected unread');
  };

  abort(reason: unknown): void {
    this.#ahead.abort(reason);
  }

  readAll(): Promise<Uint8Array> {
    this.#used = true;
    // From here the read itself holds the slot; the response may be collected while it runs.
    this.#unguard();
    const all = this.#ahead.all();
    // The read-ahead settles (and so releases) before it hands the whole body over.
    return this.#awaitDone ? all.then((bytes) => this.#afterRelease(bytes)) : all;
  }

  /**
   * The body as a stream over the read-ahead, whose holder now holds the
   * slot (until the body has all arrived); undefined once a direct read
   * began. The stream reaches this watch, never the other way round: what
   * the open set and the FinalizationRegistry hold must not keep the stream
   * alive.
   */
  stream(): ReadableStream<Uint8Array> | undefined {
    if (this.#used || this.#streamed) return undefined;
    this.#streamed = true;
    this.#unguard();
    const ahead = this.#ahead;
    const stream = pulling(
      this.#awaitDone
        ? async () => {
          this.#used = true;
          const chunk = await ahead.next();
          // The end is reported once the release has completed.
          return chunk === undefined ? this.#afterRelease(chunk) : chunk;
        }
        : () => {
          this.#used = true;
          return ahead.next();
        },
      noop,
      (reason) => ahead.cancel(reason),
    );
    this.guard(stream);
    return stream;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

/** fetch's error for a failed body read: a `TypeError` caused by the poolfetch error. */
function asFetchError(error: Error): TypeError {
  return new TypeError(error.message, { cause: error });
}

/** A stream over a read-ahead, for a caller that streams the body. */
export function readAheadStream(ahead: BodyAhead): ReadableStream<Uint8Array> {
  return pulling(() => ahead.next(), noop, (reason) => ahead.cancel(reason));
}

/** Chunks may be views into a larger (pooled) buffer; callers get a buffer of their own. */
function exactCopy(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  return exactCopy(bytes).buffer as ArrayBuffer;
}
