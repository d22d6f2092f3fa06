/**
 * Request bodies: every accepted form turned into a string, bytes or a
 * stream, with the content-type the form implies (as fetch would set it).
 */
import { describe } from './pool-key.js';
import type { BodyInit } from './types.js';
import type { WireBody } from './transport.js';

export interface PreparedBody {
  readonly body: WireBody | null;
  readonly contentType: string | undefined;
  /** False for a stream: it can be sent only once, so it cannot follow a 307 or be retried. */
  readonly replayable: boolean;
}

const EMPTY: PreparedBody = { body: null, contentType: undefined, replayable: true };

/** Synchronous for every form but Blob and FormData, which must be read first. */
export function prepareBody(
  body: BodyInit | null | undefined,
  json: unknown,
  hasJson: boolean,
): PreparedBody | Promise<PreparedBody> {
  if (hasJson) {
    if (body !== undefined && body !== null) throw new TypeError('Pass either body or json, not both');
    const text = JSON.stringify(json);
    if (text === undefined) throw new TypeError(`json must be serialisable by JSON.stringify, got ${describe(json)}`);
    return { body: text, contentType: 'application/json', replayable: true };
  }
  if (body === undefined || body === null) return EMPTY;
  if (typeof body === 'string') return { body, contentType: 'text/plain;charset=UTF-8', replayable: true };
  if (body instanceof Uint8Array) return { body, contentType: undefined, replayable: true };
  if (body instanceof ArrayBuffer) return { body: new Uint8Array(body), contentType: undefined, replayable: true };
  if (body instanceof URLSearchParams) {
    return { body: body.toString(), contentType: 'application/x-www-form-urlencoded;charset=UTF-8', replayable: true };
  }
  if (body instanceof ReadableStream) return { body, contentType: undefined, replayable: false };
  if (typeof Blob !== 'undefined' && body instanceof Blob) {
    return body.arrayBuffer().then((b) => ({ body: new Uint8Array(b), contentType: body.type || undefined, replayable: true }));
  }
  if (typeof FormData !== 'undefined' && body instanceof FormData) {
    // Let the runtime write the multipart encoding and its boundary.
    const encoded = new Response(body);
    const contentType = encoded.headers.get('content-type') ?? undefined;
    return encoded.arrayBuffer().then((b) => ({ body: new Uint8Array(b), contentType, replayable: true }));
  }
  throw new TypeError(
    `body must be a string, Uint8Array, ArrayBuffer, Blob, ReadableStream, URLSearchParams or FormData, got ${describe(body)}`,
  );
}
