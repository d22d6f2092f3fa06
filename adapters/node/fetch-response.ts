/**
 * `manager.fetch`'s `Response` in Node, read straight from the dispatch
 * exchange that `request()` uses (adapters/node/exchange.ts): no undici
 * fetch machinery (its Request, its controller, a web stream and a Node
 * stream per body), which cost about four times undici's `Pool.request`.
 *
 * It is a global `Response` (`instanceof Response` holds), but the global
 * base holds neither body nor headers: the getters and body methods here
 * answer for it, as Node's fetch would. `text()`, `json()`, `arrayBuffer()`
 * and `bytes()` take the exchange's collected bytes without a stream;
 * `body` hands out a web stream with backpressure through the socket.
 * Errors are fetch's: a used body rejects with the runtime's own
 * `TypeError`, a broken one with `TypeError('terminated')` whose cause is
 * the poolfetch error (adapters/node/exchange.ts maps it), an abort with
 * the signal's reason.
 */
import { Readable } from 'node:stream';
import { NativeHeaders } from '../../src/headers.js';
import type { Exchange } from './exchange.js';

const NativeResponse = Response;

/** How Node's fetch hands over a body, keyed on what undici exposes. */
interface BodySource {
  /** The body has all arrived (or failed): nothing is left to give up. */
  readonly done: boolean;
  bytes(): Promise<Uint8Array>;
  stream(bytes: boolean): ReadableStream<Uint8Array>;
  abandon(): void;
}

/**
 * What the collector sees of a response: not the response itself, or it
 * would never be collected. The body is given up once the response is
 * collected with it untouched (undici's fetch does the same), so a
 * forgotten body cannot hold its connection and slot forever.
 */
interface Held {
  source: BodySource | undefined;
  stream: ReadableStream<Uint8Array> | undefined;
  used: boolean;
}

const forgotten = new FinalizationRegistry<Held>((held) => {
  if (held.used || held.source === undefined) return;
  const stream = held.stream;
  if (stream !== undefined && (stream.locked || Readable.isDisturbed(stream as never))) return;
  held.source.abandon();
});

/** What the response shows besides its body. */
export interface ResponseHead {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly url: string;
}

export class ExchangeResponse extends NativeResponse {
  readonly #head: ResponseHead;
  /** The exchange's body, until it is handed out; undefined for a null body. */
  readonly #held: Held;

  constructor(head: ResponseHead, source: BodySource | undefined, stream?: ReadableStream<Uint8Array>) {
    // The base is never read (status and statusText are answered here): no init to convert, and no
    // RangeError for a status or reason phrase fetch hands over but the constructor would refuse.
    super();
    this.#head = head;
    const held: Held = { source, stream, used: false };
    this.#held = held;
    // A body already in (most small ones: they come with the headers) holds no connection: no registration,
    // which costs more than the rest of this response.
    if (source !== undefined && stream === undefined && !source.done) forgotten.register(this, held, held);
  }

  /** Over an exchange whose headers are in; `nullBody` for HEAD, 204, 205 and 304 (fetch's null-body statuses). */
  static of(exchange: Exchange, url: string, nullBody: boolean): ExchangeResponse {
    const head = new LazyHead(exchange, url);
    return new ExchangeResponse(head, nullBody ? undefined : exchange);
  }

  override get status(): number {
    return this.#head.status;
  }

  override get statusText(): string {
    return this.#head.statusText;
  }

  override get ok(): boolean {
    const status = this.#head.status;
    return status >= 200 && status <= 299;
  }

  override get headers(): Headers {
    return this.#head.headers;
  }

  override get url(): string {
    return this.#head.url;
  }

  override get redirected(): boolean {
    return false;
  }

  override get type(): ResponseType {
    return 'basic';
  }

  override get body(): Response['body'] {
    const held = this.#held;
    if (held.source === undefined) return null;
    // After a direct read the stream is one read to its end, as fetch's is.
    held.stream ??= held.used ? usedStream() : held.source.stream(true);
    return held.stream as Response['body'];
  }

  override get bodyUsed(): boolean {
    const held = this.#held;
    return held.used || (held.stream !== undefined && Readable.isDisturbed(held.stream as never));
  }

  override bytes(): ReturnType<Response['bytes']> {
    // Node 20's Response has no bytes(): its arrayBuffer() gives the same refusals.
    return this.#read((bytes) => bytes as Awaited<ReturnType<Response['bytes']>>, (NativeResponse.prototype.bytes ?? NativeResponse.prototype.arrayBuffer) as (this: Response) => Promise<unknown>);
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return this.#read((bytes) => bytes.buffer as ArrayBuffer, NativeResponse.prototype.arrayBuffer);
  }

  override text(): Promise<string> {
    return this.#read((bytes) => decoder.decode(bytes), NativeResponse.prototype.text);
  }

  override json(): Promise<unknown> {
    return this.#read((bytes) => JSON.parse(decoder.decode(bytes)) as unknown, NativeResponse.prototype.json);
  }

  /** Through the global class, which knows the MIME rules (the blob's type) and the FormData parsers. */
  override blob(): Promise<Blob> {
    return this.#asNative().blob();
  }

  override formData(): Promise<FormData> {
    return this.#asNative().formData();
  }

  override clone(): Response {
    if (this.bodyUsed) return usedResponse().clone();
    const held = this.#held;
    // Headers of its own, as fetch's clone has.
    const { status, statusText, url } = this.#head;
    const head: ResponseHead = { status, statusText, url, headers: new ResponseHeaders(this.headers) };
    if (held.source === undefined) return new ExchangeResponse(head, undefined);
    const [mine, theirs] = (this.body as ReadableStream<Uint8Array>).tee();
    held.stream = mine;
    // Either branch may be the one read: the collector no longer gives the body up for this one.
    forgotten.unregister(held);
    return new ExchangeResponse(head, held.source, theirs);
  }

  /**
   * The whole body through `convert`: from the exchange when nobody took the
   * stream (no stream built), else from the stream as fetch reads it.
   */
  #read<T>(convert: (bytes: Uint8Array) => T, native: (this: Response) => Promise<unknown>): Promise<T> {
    const held = this.#held;
    if (this.bodyUsed || held.stream?.locked === true) return native.call(usedResponse()) as Promise<T>;
    if (held.source === undefined) return Promise.resolve(convert(new Uint8Array(0)));
    held.used = true;
    if (held.stream === undefined) return held.source.bytes().then(convert);
    return native.call(new NativeResponse(held.stream)) as Promise<T>;
  }

  /** A global Response over the same body and headers, for what only the runtime knows how to read. */
  #asNative(): Response {
    if (this.bodyUsed || this.#held.stream?.locked === true) return usedResponse();
    const body = this.body;
    if (body !== null) this.#held.used = true;
    return new NativeResponse(body, { headers: this.headers, status: this.status, statusText: this.statusText });
  }
}

const decoder = new TextDecoder();

/**
 * Headers built on first use: most callers never look, and a Headers object
 * costs microseconds to fill.
 */
class LazyHead implements ResponseHead {
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  #exchange: Exchange | undefined;
  #headers: Headers | undefined;

  constructor(exchange: Exchange, url: string) {
    this.status = exchange.status;
    this.statusText = exchange.statusText;
    this.url = url;
    this.#exchange = exchange;
  }

  get headers(): Headers {
    if (this.#headers === undefined) {
      this.#headers = new ResponseHeaders((this.#exchange as Exchange).headers);
      this.#exchange = undefined;
    }
    return this.#headers;
  }
}

/**
 * A response's headers, immutable as fetch's are: a change throws what the
 * runtime throws for its own (those of `Response.error()` are immutable too).
 */
export class ResponseHeaders extends NativeHeaders {
  #sealed = false;

  constructor(init: HeadersInit) {
    super(init);
    this.#sealed = true;
  }

  override append(name: string, value: string): void {
    if (this.#sealed) immutableHeaders().append(name, value);
    else super.append(name, value);
  }

  override set(name: string, value: string): void {
    if (this.#sealed) immutableHeaders().set(name, value);
    else super.set(name, value);
  }

  override delete(name: string): void {
    if (this.#sealed) immutableHeaders().delete(name);
    else super.delete(name);
  }
}

let immutable: Headers | undefined;
function immutableHeaders(): Headers {
  immutable ??= NativeResponse.error().headers;
  return immutable;
}

/** A stream read to its end (closed, disturbed, locked), what `body` is after a direct read. */
function usedStream(): ReadableStream<Uint8Array> {
  const stream = new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
  void stream.getReader().read();
  return stream;
}

/** A global Response whose body is used: its methods reject, and clone() throws, with the runtime's own TypeErrors. */
let used: Response | undefined;
function usedResponse(): Response {
  if (used === undefined) {
    used = new NativeResponse(new ReadableStream());
    // A read disturbs the stream at once (the reader stays locked on it, which is all it is for).
    void (used.body as ReadableStream).getReader().read();
  }
  return used;
}
