/**
 * `manager.fetch` in Node over the dispatch exchange `request()` uses
 * (adapters/node/exchange.ts), for the calls whose bytes on the wire and
 * whose response this module can make exactly as Node's fetch does: a body
 * of known length (none, a string, bytes, URLSearchParams), an exact
 * method, `redirect: 'manual'` (the core follows redirects hop by hop) and
 * none of the fields or headers that make fetch add headers of its own
 * (a cache mode, conditional requests, `Range`, a referrer, …). Anything
 * else returns undefined and goes through undici's own fetch
 * (adapters/node/undici-transport.ts), which implements the standard.
 *
 * The request headers are what undici's fetch would write, in its order:
 * the caller's (lower-case, sorted, as a `Headers` gives them), then the
 * defaults it appends where the caller set none (`user-agent: node` as
 * Node's own fetch says, the body's `content-type`, `accept`,
 * `accept-language`, `content-length`, `sec-fetch-mode`,
 * `accept-encoding`), and no `host` of the caller's.
 */
import { Buffer } from 'node:buffer';
import type { Dispatcher } from 'undici';
import { PoolfetchError, ResponseTooLargeError } from '../../src/errors.js';
import { READ_AHEAD_BYTES } from '../../src/read-ahead.js';
import type { WireFetch, WireRequest, WireResponse } from '../../src/transport.js';
import type { Connections } from './connections.js';
import { Exchange, type FetchHooks } from './exchange.js';
import { ExchangeResponse } from './fetch-response.js';


/** Methods fetch sends as given (it upper-cases these six; the core has already). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

/** Init fields the direct path understands; any other that is set (cache, integrity, mode, …) goes through undici's fetch. */
const DIRECT_FIELDS = new Set(['method', 'headers', 'body', 'signal', 'redirect']);

/** Request headers that make fetch add headers of its own (cache mode `no-store`, `accept-encoding: identity`). */
const FETCH_REWRITES = new Set(['if-modified-since', 'if-none-match', 'if-unmodified-since', 'if-match', 'if-range', 'range']);

/**
 * The Fetch standard's blocked ports ("bad port"): a URL on one goes through undici's fetch, which
 * refuses it as Node's fetch does.
 */
const BAD_PORTS = new Set(
  ('1 7 9 11 13 15 17 19 20 21 22 23 25 37 42 43 53 69 77 79 87 95 101 102 103 104 109 110 111 113 115 117 119 123 ' +
    '135 137 139 143 161 179 389 427 465 512 513 514 515 526 530 531 532 540 548 554 556 563 587 601 636 989 990 ' +
    '993 995 1719 1720 1723 2049 3659 4045 4190 5060 5061 6000 6566 6665 6666 6667 6668 6669 6679 6697 10080').split(' '),
);

/** Statuses whose response has a null body in fetch (HEAD's too). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** The response for `call`, or undefined when undici's fetch must send it. */
export function directFetch(call: WireFetch, settled: () => void, connections: Connections, connect: number): Promise<Response> | undefined {
  const { init, url } = call;
  if (init.redirect !== 'manual' || !METHODS.has(init.method) || (url.port !== '' && BAD_PORTS.has(url.port))) return undefined;
  for (const key in init) {
    if (!DIRECT_FIELDS.has(key) && (init as unknown as Record<string, unknown>)[key] !== undefined) return undefined;
  }
  const framed = frame(init.body, init.method);
  if (framed === undefined) return undefined;
  const headers = wireHeaders(init.headers, framed, url.protocol === 'https:');
  if (headers === undefined) return undefined;

  const method = init.method;
  const signal = init.signal ?? undefined;
  const href = url.href;
  const hooks: FetchHooks = {
    settled,
    readAhead: READ_AHEAD_BYTES,
    bodyError: (error) => bodyError(error, signal),
  };
  // Only what the exchange reads of a request (it names the request in errors, watches the signal, bounds the body).
  const request = { method, url, signal, maxResponseSize: call.maxResponseSize } as WireRequest;
  const exchange = new Exchange(request, connections, { connect, read: call.timeout.read }, hooks);
  const path = url.pathname + url.search;
  const options: Dispatcher.DispatchOptions = {
    origin: url.origin,
    // fetch keeps a bare trailing `?`, which the URL's search drops.
    path: url.search === '' && href.charCodeAt(href.length - url.hash.length - 1) === 63 ? `${path}?` : path,
    method: method as Dispatcher.HttpMethod,
    headers,
    body: framed.bytes,
  };
  const read = call.timeout.read;
  if (read !== undefined) {
    options.headersTimeout = read;
    options.bodyTimeout = read;
  }
  const shown = withoutFragment(href);
  return exchange.start(options).then(
    (response: WireResponse): Response => ExchangeResponse.of(exchange, shown, method === 'HEAD' || NULL_BODY.has(response.status)),
  );
}

/** A body as fetch frames it: its bytes and length, and the `content-type` fetch gives it when the caller set none. */
interface Framed {
  readonly bytes: string | Uint8Array | null;
  readonly length: number | undefined;
  readonly contentType: string | undefined;
}

const NO_BODY: Framed = { bytes: null, length: undefined, contentType: undefined };
const EMPTY_PUT: Framed = { bytes: null, length: 0, contentType: undefined };

function frame(body: RequestInit['body'], method: string): Framed | undefined {
  if (body === null || body === undefined) return method === 'POST' || method === 'PUT' ? EMPTY_PUT : NO_BODY;
  if (typeof body === 'string') return { bytes: body, length: Buffer.byteLength(body), contentType: 'text/plain;charset=UTF-8' };
  if (body instanceof URLSearchParams) {
    const text = body.toString();
    return { bytes: text, length: Buffer.byteLength(text), contentType: 'application/x-www-form-urlencoded;charset=UTF-8' };
  }
  // Copied as fetch copies them when called, so a later change to the caller's buffer is not sent.
  if (body instanceof ArrayBuffer) return { bytes: new Uint8Array(body.slice(0)), length: body.byteLength, contentType: undefined };
  if (ArrayBuffer.isView(body) && body.buffer instanceof ArrayBuffer) {
    const bytes = new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
    return { bytes, length: bytes.byteLength, contentType: undefined };
  }
  // A Blob, a FormData, a stream, anything fetch converts: undici's fetch.
  return undefined;
}

/** The flat [name, value, …] list undici's fetch would write, or undefined when fetch would rewrite it. */
function wireHeaders(given: Headers, framed: Framed, https: boolean): string[] | undefined {
  const flat: string[] = [];
  let seen = 0;
  let refused = false;
  given.forEach((value, name) => {
    if (FETCH_REWRITES.has(name) || name === 'set-cookie' || name === 'sec-fetch-mode') refused = true;
    else if (name === 'host') return;
    switch (name) {
      case 'user-agent':
        seen |= UA;
        break;
      case 'content-type':
        seen |= TYPE;
        break;
      case 'accept':
        seen |= ACCEPT;
        break;
      case 'accept-language':
        seen |= LANGUAGE;
        break;
      case 'content-length':
        seen |= LENGTH;
        break;
      case 'accept-encoding':
        seen |= ENCODING;
        break;
      default:
    }
    flat.push(name, value);
  });
  if (refused) return undefined;
  // Node's own fetch says `user-agent: node`; undici's package fetch would say `undici`.
  if ((seen & UA) === 0) flat.push('user-agent', 'node');
  if ((seen & TYPE) === 0 && framed.contentType !== undefined) flat.push('content-type', framed.contentType);
  if ((seen & ACCEPT) === 0) flat.push('accept', '*/*');
  if ((seen & LANGUAGE) === 0) flat.push('accept-language', '*');
  if ((seen & LENGTH) === 0 && framed.length !== undefined) flat.push('content-length', String(framed.length));
  flat.push('sec-fetch-mode', 'cors');
  if ((seen & ENCODING) === 0) flat.push('accept-encoding', https ? 'br, gzip, deflate' : 'gzip, deflate');
  return flat;
}

const UA = 1;
const TYPE = 2;
const ACCEPT = 4;
const LANGUAGE = 8;
const LENGTH = 16;
const ENCODING = 32;

/**
 * A failure after the headers as fetch's body reader sees it: an abort is the
 * signal's reason; a body past maxResponseSize a `TypeError` with that
 * message; a broken exchange `TypeError('terminated')`, as Node's fetch says,
 * with the poolfetch error as cause.
 */
function bodyError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted === true) return error;
  if (error instanceof ResponseTooLargeError) return new TypeError(error.message, { cause: error });
  if (error instanceof PoolfetchError) return new TypeError('terminated', { cause: error });
  return error;
}

/** The URL as a Response shows it: without its fragment. */
function withoutFragment(href: string): string {
  const hash = href.indexOf('#');
  return hash === -1 ? href : href.slice(0, hash);
}
