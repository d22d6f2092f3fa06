/**
 * Header checks. Values are checked for CR, LF and NUL
 * before they reach a `Headers` object, because `Headers` strips a trailing
 * CRLF silently and a header injection should be an error, not a fix-up.
 */
import { TOKEN } from './checks.js';
import { describe } from './pool-key.js';

const BAD_VALUE = /[\r\n\0]/;

/**
 * The global `Headers` as it was when poolfetch loaded: fetch calls no global
 * constructor per request, and code that replaces `globalThis.Headers` (ky's
 * own tests do) must not see poolfetch call it.
 */
export const NativeHeaders = Headers;

/** Throws `TypeError` naming the header when a name or value could split a request. */
export function checkHeader(name: string, value: string, where: string): void {
  if (!TOKEN.test(name)) {
    throw new TypeError(`${where}: invalid header name ${describe(name)}`);
  }
  if (BAD_VALUE.test(value)) {
    throw new TypeError(`${where}: header ${describe(name)} has a value with CR, LF or NUL: ${describe(value)}`);
  }
}

/** Turns any `HeadersInit` into checked `Headers`. */
export function normalizeHeaders(init: unknown, where: string): Headers {
  if (init === undefined || init === null) return new NativeHeaders();
  if (typeof init !== 'object') {
    throw new TypeError(`${where} must be a Headers object, an array of pairs or a record, got ${describe(init)}`);
  }
  const headers = new NativeHeaders();
  const add = (name: unknown, value: unknown): void => {
    if (typeof name !== 'string') throw new TypeError(`${where}: header name must be a string, got ${describe(name)}`);
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new TypeError(`${where}: header ${describe(name)} must have a string value, got ${describe(value)}`);
    }
    const text = String(value);
    checkHeader(name, text, where);
    headers.append(name, text);
  };
  if (init instanceof Headers) {
    init.forEach((value, name) => add(name, value));
  } else if (typeof (init as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') {
    // Pairs: an array, a Map, or another Headers class (npm undici's, a polyfill's), not a record.
    for (const pair of init as Iterable<unknown>) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError(`${where}: each header entry must be a [name, value] pair, got ${describe(pair)}`);
      }
      add(pair[0], pair[1]);
    }
  } else {
    for (const [name, value] of Object.entries(init)) {
      if (value !== undefined) add(name, value);
    }
  }
  return headers;
}

/**
 * Headers about the connection or the message's framing, which the client
 * sets itself on a pooled connection: a caller's value would be ignored,
 * break the connection for the next request, or make the runtime refuse
 * the request after poolfetch took a slot for it (undici throws for most of
 * these; fetch forbids all of them and browsers drop them silently). A
 * `TypeError` before anything is sent, on both entries and both APIs, is
 * the one answer that is the same everywhere. `connection: close` and
 * `connection: keep-alive` are the client's own words and are accepted.
 * Other names on fetch's forbidden list (`host`, `cookie`, `referer`, ...)
 * mean something to a server-side client and are passed on: a browser drops
 * them as it always does.
 */
const CLIENT_ONLY = new Set(['transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'te', 'trailer', 'proxy-connection']);

/** Throws a `TypeError` naming the first header in `headers` that only the client may set (see `CLIENT_ONLY`). */
export function refuseClientHeaders(headers: Headers, where: string): void {
  headers.forEach((value, name) => {
    if (CLIENT_ONLY.has(name) || (name === 'connection' && !/^\s*(close|keep-alive)\s*$/i.test(value))) {
      throw new TypeError(`${where}: ${name}: ${describe(value)} is the client's to set (connection: only "close" or "keep-alive")`);
    }
  });
}

/**
 * A caller's `content-length` against a body whose length is known (a
 * string, bytes, none): equal, or a `TypeError` before anything is sent.
 * A wrong one would either cut the body short (and desync the connection)
 * or leave the server waiting for bytes that never come. A stream's length
 * is unknown here: the runtime checks what is sent against it.
 */
export function checkContentLength(headers: Headers, body: string | Uint8Array | ReadableStream<Uint8Array> | null, where: string): void {
  const given = headers.get('content-length')?.trim();
  if (given === undefined || body instanceof ReadableStream) return;
  const length = body === null ? 0 : typeof body === 'string' ? new TextEncoder().encode(body).byteLength : body.byteLength;
  if (given !== String(length)) {
    throw new TypeError(`${where}: content-length ${describe(given)} is not the body's ${length} bytes: leave it out`);
  }
}

/** `base` overlaid with `over`: a name set in `over` replaces it in `base`. */
export function mergeHeaders(base: Headers, over: Headers): Headers {
  const merged = new NativeHeaders(base);
  const seen = new Set<string>();
  over.forEach((value, name) => {
    if (!seen.has(name)) {
      merged.delete(name);
      seen.add(name);
    }
    merged.append(name, value);
  });
  return merged;
}

/** UTF-8 safe base64 (`btoa` alone takes only Latin-1). */
export function base64(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
