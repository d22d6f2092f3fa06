/**
 * Header checks. Values are checked for CR, LF and NUL
 * before they reach a `Headers` object, because `Headers` strips a trailing
 * CRLF silently and a header injection should be an error, not a fix-up.
 */
import { TOKEN } from './checks.js';
import { describe } from './pool-key.js';

const BAD_VALUE = /[\r\n\0]/;

/** Throws `TypeError` naming the header when a name or value could split a request. */
export function checkHeader(name: string, value: string, where: string): void {
  if (!TOKEN.test(name)) {
    throw new TypeError(`${where}: invalid header name ${JSON.stringify(name)}`);
  }
  if (BAD_VALUE.test(value)) {
    throw new TypeError(`${where}: header ${JSON.stringify(name)} has a value with CR, LF or NUL: ${JSON.stringify(value)}`);
  }
}

/** Turns any `HeadersInit` into checked `Headers`. */
export function normalizeHeaders(init: unknown, where: string): Headers {
  if (init === undefined || init === null) return new Headers();
  if (typeof init !== 'object') {
    throw new TypeError(`${where} must be a Headers object, an array of pairs or a record, got ${describe(init)}`);
  }
  const headers = new Headers();
  const add = (name: unknown, value: unknown): void => {
    if (typeof name !== 'string') throw new TypeError(`${where}: header name must be a string, got ${describe(name)}`);
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new TypeError(`${where}: header ${JSON.stringify(name)} must have a string value, got ${describe(value)}`);
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

/** `base` overlaid with `over`: a name set in `over` replaces it in `base`. */
export function mergeHeaders(base: Headers, over: Headers): Headers {
  const merged = new Headers(base);
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
