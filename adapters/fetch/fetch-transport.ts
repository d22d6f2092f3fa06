/**
 * The fetch transport, for browsers, Workers and Deno: no sockets to pool,
 * so a "connection" is a request in flight, capped per origin by the core's
 * queue. The runtime owns the sockets and follows redirects itself.
 */
import { NewConnectionError } from '../../src/errors.js';
import { underlyingFetch } from '../../src/install-fetch.js';
import type { ResolvedOptions } from '../../src/options.js';
import type { Transport, WireFetch, WireRequest, WireResponse } from '../../src/transport.js';

const EMPTY = new Uint8Array(0);

export class FetchTransport implements Transport {
  readonly followsRedirects = true;
  /** The runtime hides its sockets; the pool reports its peak in flight instead. */
  readonly numConnections = undefined;
  readonly #options: ResolvedOptions;

  constructor(options: ResolvedOptions) {
    this.#options = options;
  }

  async send(request: WireRequest): Promise<WireResponse> {
    const { url, method, body, signal } = request;
    const response = await this.#call(url, method, {
      method,
      headers: request.headers,
      body: body as BodyInit | null,
      ...(signal === undefined ? {} : { signal }),
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    });
    return {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
      bytes: async () => (response.body === null ? EMPTY : new Uint8Array(await response.arrayBuffer())),
      stream: () => (response.body === null ? new ReadableStream({ start: (c) => c.close() }) : promptlyCancelled(response.body)),
      discard: async () => {
        void response.body?.cancel().catch(() => undefined);
      },
    };
  }

  async fetch(call: WireFetch): Promise<Response> {
    const response = await this.#call(call.url, call.init.method, call.init);
    if (response.body === null) return response;
    const wrapped = new Response(promptlyCancelled(response.body), response);
    Object.defineProperty(wrapped, 'url', { value: response.url, configurable: true });
    if (response.redirected) Object.defineProperty(wrapped, 'redirected', { value: true, configurable: true });
    return wrapped;
  }

  connectionStats(): { connected: number; free: number } {
    return { connected: 0, free: 0 };
  }

  async close(): Promise<void> {}

  async destroy(): Promise<void> {}

  async #call(url: URL, method: string, init: RequestInit): Promise<Response> {
    // Looked up on every call, so msw, installFetch and test doubles installed later apply.
    const fetch = underlyingFetch(this.#options.fetch);
    try {
      return await fetch(url.href, init);
    } catch (error) {
      if (init.signal?.aborted === true) throw init.signal.reason;
      // fetch says only "TypeError: Failed to fetch"; which phase failed is not exposed.
      if (error instanceof TypeError) {
        throw new NewConnectionError(`Failed to fetch ${url.origin}: ${error.message} (${method} ${url.href})`, {
          method,
          url: url.href,
          cause: error,
        });
      }
      throw error;
    }
  }
}

/**
 * The body, with a `cancel()` that does not wait for the runtime's: the pool
 * frees the slot once cancel settles, and some fetches never settle it
 * (msw's mocked bodies, for one). A browser drops the connection on cancel
 * anyway; nothing is gained by waiting.
 */
function promptlyCancelled(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        reader.cancel(reason).catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
