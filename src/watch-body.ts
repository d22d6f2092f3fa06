/**
 * Watching a body stream: a slot (and a timeout's timer) must be let go the
 * moment a body has been read to the end, has failed or was cancelled, and
 * nothing else says when that is.
 */

import { onAbort } from './abort-watch.js';
import { ProtocolError } from './errors.js';
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

/** Watched bodies still open, so their owner (a pool being destroyed) can abort them all. */
export type OpenBodies = Set<{ abort(reason: unknown): void }>;

/**
 * The response itself, watched: `done` is called once its body has been read
 * to the end, has failed or was cancelled, or was aborted through `open`.
 * A read that fails rejects with fetch's kind of error, a `TypeError`, whose
 * `cause` is the poolfetch error naming `call`'s method and URL.
 *
 * `arrayBuffer()`, `bytes()`, `text()` and `json()` read the runtime's stream
 * directly: no second stream and no second Response are built, and in Node
 * each of those costs more than the pool's whole bookkeeping. `body` hands
 * out a watched stream instead, and `blob()`, `formData()` and `clone()` read
 * through a Response over it.
 */
export function watchResponse(response: Response, done: () => void, open: OpenBodies, call: WireFetch): Response {
  const source = response.body;
  if (source === null) {
    done();
    return response;
  }
  const watch = new BodyWatch(source, done, open, call);
  // The response object is what an unread body's owner drops; a stream handed out is registered in its place.
  watch.guard(response);
  // One shared prototype per Response class rather than own methods per response: defining
  // seven properties on every response costs more than the rest of the pool's bookkeeping.
  Object.setPrototypeOf(response, watchedPrototype(Object.getPrototypeOf(response) as Response));
  (response as Watched)[WATCH] = watch;
  return response;
}

const WATCH = Symbol('poolfetch.watch');
/** The watched stream the body moved to once asked for; on the response, as the watch must not reach it. */
const BODY = Symbol('poolfetch.body');
/** A Response over that stream, for the methods that read it after that. */
const INNER = Symbol('poolfetch.inner');
type Watched = Response & { [WATCH]: BodyWatch; [BODY]?: ReadableStream<Uint8Array>; [INNER]?: Response };
type Bytes = Response & { bytes(): Promise<Uint8Array> };
const watchedPrototypes = new WeakMap<Response, Response>();

/**
 * `own` (the runtime's Response prototype) with the body methods watched. A
 * direct read builds nothing; `body`, `blob()`, `formData()` and `clone()`
 * move the body to a watched stream (and the last three to a Response over
 * it). Once a direct read has begun, the runtime's own methods answer (with
 * its "body already used" error).
 */
function watchedPrototype(own: Response): Response {
  let proto = watchedPrototypes.get(own);
  if (proto !== undefined) return proto;
  const method = (value: (this: Watched) => unknown): PropertyDescriptor => ({ value, configurable: true, writable: true });
  const methods: PropertyDescriptorMap = {
    clone: method(function () {
      const response = inner(this);
      return response === undefined ? own.clone.call(this) : rebody(this, response.clone().body);
    }),
    body: {
      get(this: Watched) {
        return watchedBody(this) ?? this[WATCH].source;
      },
      configurable: true,
    },
    // Once the body moved, the response's own stream is read by the watcher, not by the caller.
    bodyUsed: {
      get(this: Watched) {
        const response = this[INNER];
        return response === undefined ? (Reflect.get(own, 'bodyUsed', this) as boolean) : response.bodyUsed;
      },
      configurable: true,
    },
  };
  for (const [name, fromBytes] of Object.entries(DIRECT_READS)) {
    // `bytes()` only where the runtime has it.
    if (typeof (own as unknown as Record<string, unknown>)[name] !== 'function') continue;
    methods[name] = method(function () {
      return this[BODY] !== undefined || fromBytes === undefined
        ? viaInner(this, own, name as ReadName)
        : this[WATCH].readAll().then(fromBytes);
    });
  }
  proto = Object.create(own, methods) as Response;
  watchedPrototypes.set(own, proto);
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
class BodyWatch {
  /** True once the body is read directly or handed out as a stream. */
  #started = false;
  #finished = false;
  #guarded = false;
  #aborted: { reason: unknown } | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  readonly source: ReadableStream<Uint8Array>;
  readonly #done: () => void;
  readonly #open: OpenBodies;
  /** What a broken body's error names; not the call itself, which would hold its request body. */
  readonly #method: string;
  readonly #url: URL;

  constructor(source: ReadableStream<Uint8Array>, done: () => void, open: OpenBodies, call: WireFetch) {
    this.source = source;
    this.#done = done;
    this.#open = open;
    this.#method = call.init.method;
    this.#url = call.url;
    open.add(this);
  }

  readonly finish = (): void => {
    if (this.#finished) return;
    this.#finished = true;
    this.#open.delete(this);
    this.#unguard();
    this.#done();
  };

  /** Ends the body (its connection too) when `owner` is garbage-collected unread; one owner at a time. */
  guard(owner: object): void {
    if (forgotten === undefined) return;
    forgotten.register(owner, this.#forgotten, this.#forgotten);
    this.#guarded = true;
  }

  #unguard(): void {
    if (!this.#guarded) return;
    this.#guarded = false;
    forgotten?.unregister(this.#forgotten);
  }

  readonly #forgotten = (): void => {
    (this.#reader ?? this.source).cancel('poolfetch: the response was garbage-collected unread').catch(noop);
    this.finish();
  };

  abort(reason: unknown): void {
    this.#aborted = { reason };
    // A cancelled reader ends its pending read as if the body were complete; #aborted says otherwise.
    (this.#reader ?? this.source).cancel(reason).catch(noop);
    this.finish();
  }

  async readAll(): Promise<Uint8Array> {
    const reader = this.#take();
    // From here the read itself holds the slot; the response may be collected while it runs.
    this.#unguard();
    const chunks: Uint8Array[] = [];
    let length = 0;
    try {
      for (;;) {
        const chunk = await this.#next(reader);
        if (chunk === undefined) break;
        chunks.push(chunk);
        length += chunk.byteLength;
      }
    } finally {
      this.finish();
    }
    return concat(chunks, length);
  }

  /**
   * The body as a watched stream, whose holder now holds the slot; undefined
   * once a direct read began. The stream reaches this watch, never the other
   * way round: what the open set and the FinalizationRegistry hold must not
   * keep the stream alive.
   */
  stream(): ReadableStream<Uint8Array> | undefined {
    if (this.#started) return undefined;
    this.#unguard();
    // Locked now, not at the first read: Node cancels an unlocked body once its Response is
    // collected, and the caller may keep this stream without the response.
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    try {
      reader = this.#take();
    } catch {
      // Aborted already: the stream says so when read.
    }
    const stream = pulling(
      () => this.#next((reader ??= this.#take())),
      this.finish,
      (reason) => (reader ?? this.source).cancel(reason).catch(noop),
    );
    this.#started = true;
    this.guard(stream);
    return stream;
  }

  /** Locks the body for this watch's reads; throws TypeError when it was already used, as fetch does. */
  #take(): ReadableStreamDefaultReader<Uint8Array> {
    if (this.#aborted !== undefined) throw this.#aborted.reason;
    const reader = this.source.getReader();
    this.#reader = reader;
    this.#started = true;
    return reader;
  }

  /**
   * The next chunk, undefined at the end; an abort while waiting is an error,
   * not an end. A body that broke off is fetch's `TypeError` (code written for
   * fetch expects one) caused by the poolfetch error. `destroy()` rejects with
   * its own reason; so do the caller's abort and a total timeout, as
   * src/fetch-loop.ts's `whenDone` errors the body with it (in the abort
   * event itself, before the runtime's failed read can come back here).
   */
  async #next(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<Uint8Array | undefined> {
    let read: ReadableStreamReadResult<Uint8Array> | undefined;
    let failure: unknown;
    try {
      read = await reader.read();
    } catch (error) {
      failure = error;
    }
    // Set by abort() while the read was pending (narrowing does not see that).
    const aborted = this.#aborted as { reason: unknown } | undefined;
    if (aborted !== undefined) throw aborted.reason;
    if (read === undefined) {
      const broke = bodyBroke(failure, this.#method, this.#url.href);
      throw new TypeError(failure instanceof Error ? failure.message : 'terminated', { cause: broke });
    }
    return read.done ? undefined : read.value;
  }
}

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

/** Chunks may be views into a larger (pooled) buffer; callers get a buffer of their own. */
function exactCopy(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  return exactCopy(bytes).buffer as ArrayBuffer;
}
