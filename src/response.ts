/**
 * `PoolResponse`: what `request()` resolves to. The body is either read
 * already (`data`, the default, as urllib3's `preload_content`) or left as a
 * stream in `body`, which holds the connection until it is read or cancelled.
 */

const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

export class PoolResponse {
  readonly status: number;
  readonly statusText: string;
  /** The final URL, after redirects. */
  readonly url: string;
  /** The URLs redirected to, in order; empty when there was no redirect. */
  readonly redirects: readonly string[];
  readonly #data: Uint8Array | undefined;
  readonly #body: ReadableStream<Uint8Array> | null;
  #headers: Headers | (() => Headers);

  constructor(init: {
    status: number;
    statusText: string;
    /** Or a function that builds them: most callers never look, and building Headers is not free. */
    headers: Headers | (() => Headers);
    url: string;
    redirects: readonly string[];
    data?: Uint8Array;
    body?: ReadableStream<Uint8Array> | null;
  }) {
    this.status = init.status;
    this.statusText = init.statusText;
    this.#headers = init.headers;
    this.url = init.url;
    this.redirects = init.redirects;
    this.#data = init.data;
    this.#body = init.body ?? null;
  }

  /** A standard Headers object. */
  get headers(): Headers {
    if (typeof this.#headers === 'function') this.#headers = this.#headers();
    return this.#headers;
  }

  /** The whole body, when it was preloaded; throws for a streamed response. */
  get data(): Uint8Array {
    if (this.#data === undefined) {
      throw new TypeError('This response was made with preloadContent: false: read it from response.body');
    }
    return this.#data;
  }

  /** The body stream when `preloadContent` was false; null when it was preloaded. */
  get body(): ReadableStream<Uint8Array> | null {
    return this.#body;
  }

  /** True for a 2xx status. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /** The body as bytes, reading the stream when it was not preloaded. */
  async bytes(): Promise<Uint8Array> {
    if (this.#data !== undefined) return this.#data;
    if (this.#body === null) return EMPTY;
    return new Uint8Array(await new Response(this.#body).arrayBuffer());
  }

  /** The body decoded as UTF-8. */
  async text(): Promise<string> {
    return decoder.decode(await this.bytes());
  }

  /** The body parsed as JSON. */
  async json<T = unknown>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }
}
