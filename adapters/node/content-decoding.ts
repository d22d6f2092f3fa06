/**
 * `Content-Encoding` undone as fetch undoes it (undici's fetch, after the
 * Fetch standard): every listed coding, last applied first decoded; a list
 * with a coding nobody knows is left as it came (fetch hands such a body
 * over undecoded, `identity` included, as undici's fetch does); more than five codings is refused (undici's bound,
 * after urllib3's and curl's fixes for decoder-chain exhaustion).
 */
import * as zlib from 'node:zlib';
import { constants, createBrotliDecompress, createGunzip, createInflate, type ZlibOptions } from 'node:zlib';
import type { Transform } from 'node:stream';

/** undici's bound on a response's codings. */
export const MAX_CODINGS = 5;

/** As lenient as fetch: servers that cut the last block short are still read (what curl and browsers do). */
const GZIP_FLUSH: ZlibOptions = { flush: constants.Z_SYNC_FLUSH, finishFlush: constants.Z_SYNC_FLUSH };
const BROTLI_FLUSH = { flush: constants.BROTLI_OPERATION_FLUSH, finishFlush: constants.BROTLI_OPERATION_FLUSH };

/** zstd arrived in Node 22.15/23.8; where zlib lacks it, zstd is a coding this runtime does not know. */
const createZstd = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;

const DECODERS: Record<string, (() => Transform) | undefined> = {
  gzip: () => createGunzip(GZIP_FLUSH),
  'x-gzip': () => createGunzip(GZIP_FLUSH),
  deflate: () => createInflate(GZIP_FLUSH),
  br: () => createBrotliDecompress(BROTLI_FLUSH),
  ...(createZstd === undefined ? {} : { zstd: createZstd }),
};

/**
 * The decoders for a `content-encoding` value, in the order the body goes
 * through them; undefined when the body is passed through as it came
 * (identity, or a coding not known here); a string naming the problem when
 * the list is refused.
 */
export function decodersFor(contentEncoding: string): Transform[] | undefined | string {
  const codings = contentEncoding.toLowerCase().split(',');
  if (codings.length > MAX_CODINGS) return `too many content-encodings (${String(codings.length)}, at most ${String(MAX_CODINGS)})`;
  const makers: Array<() => Transform> = [];
  for (let i = codings.length - 1; i >= 0; i -= 1) {
    const coding = (codings[i] as string).trim();
    const make = DECODERS[coding];
    if (make === undefined) return undefined;
    makers.push(make);
  }
  return makers.map((make) => make());
}

/** Methods and statuses whose response has no body to decode (fetch's null-body statuses and HEAD). */
export function mayHaveBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 205 && status !== 304;
}
