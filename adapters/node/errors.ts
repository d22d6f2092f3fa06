/**
 * undici's and Node's errors, translated into poolfetch's classes so that
 * retries can tell "nothing was sent" (connect) from "it may have been"
 * (everything else), and users get one set of names in every runtime.
 */
import {
  ClosedPoolError,
  ConnectTimeoutError,
  NewConnectionError,
  NotSupportedError,
  PoolfetchError,
  ProtocolError,
  ReadTimeoutError,
} from '../../src/errors.js';
import { redactCredentials } from '../../src/redact.js';

/** Node and OpenSSL codes that mean no connection was made, so nothing was sent. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENETDOWN',
]);
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE',
]);
/** undici's codes for an answer that is not one: too large, cut short, or not HTTP. */
const MALFORMED_CODES = new Set([
  'UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_EXCEEDED_MAX_SIZE', 'UND_ERR_INFO',
]);
/** undici's codes for a request it will not send as given. */
const CALLER_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_NOT_SUPPORTED']);
/** A socket the server closed under us, after the request may have been written. */
const BROKEN_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

function targetRedacted(method: string, url: string): string {
  return `(${method} ${redactCredentials(url)})`;
}

/** undici's own connect timeout, stated so pools and error messages can name it. */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;


/**
 * The poolfetch error for what undici threw while sending `method url`.
 * Errors that are not about the network (an abort, a bad argument) are
 * returned unchanged; anything else from the network that is not known to
 * have happened before the request was written is a `ProtocolError`, which
 * retries treat as "may have been sent".
 */
export function translateError(error: unknown, method: string, url: string, limits: { connect?: number | undefined; read?: number | undefined }): unknown {
  if (!(error instanceof Error) || error instanceof PoolfetchError) return error;
  // fetch wraps the real error: `TypeError('fetch failed', { cause })`.
  const wrapped = error.message === 'fetch failed' && error instanceof TypeError;
  const inner = wrapped && error.cause instanceof Error ? error.cause : error;
  if (inner instanceof PoolfetchError) return inner;
  // Already translated for fetch's handler (a refused request): the caller's TypeError.
  if (wrapped && inner instanceof TypeError) return inner;
  // A DOMException's code is a number.
  const given = (inner as { code?: unknown }).code;
  const code = typeof given === 'string' ? given : '';
  const where = { method, url, cause: inner };
  const target = `(${method} ${url})`;
  // What undici refuses to send (a header it will not write, a body that disagrees with its
  // content-length) is the caller's input: a TypeError as fetch would throw, never retried.
  if (CALLER_CODES.has(code)) {
    return new TypeError(`${inner.message} ${targetRedacted(method, url)}`, { cause: inner });
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new ConnectTimeoutError(`Connection to ${new URL(url).origin} timed out after ${String(limits.connect ?? DEFAULT_CONNECT_TIMEOUT)} ms ${target}`, {
      ...where,
      timeout: limits.connect ?? DEFAULT_CONNECT_TIMEOUT,
    });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    const phase = code === 'UND_ERR_HEADERS_TIMEOUT' ? 'response headers' : 'response body';
    return new ReadTimeoutError(`Read timed out waiting for the ${phase} after ${String(limits.read)} ms ${target}`, {
      ...where,
      timeout: limits.read,
    });
  }
  if (CONNECT_CODES.has(code)) {
    return new NewConnectionError(`Failed to establish a new connection to ${new URL(url).origin}: ${inner.message} ${target}`, where);
  }
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new NewConnectionError(
      `TLS verification of ${new URL(url).origin} failed: ${inner.message} ${target}. ` +
        'To trust a private certificate authority pass tls: { ca }',
      where,
    );
  }
  // undici's fetch refuses the ports the Fetch standard blocks before it connects.
  if (wrapped && inner.message === 'bad port') {
    return new NotSupportedError(
      `fetch refuses port ${new URL(url).port} (a "bad port" in the Fetch standard) ${target}; ` +
        'request() has no such list',
      where,
    );
  }
  // zlib's codes (Z_DATA_ERROR, …) and brotli's: the body arrived but is not what content-encoding says.
  if (code.startsWith('Z_') || code.startsWith('ERR_BROTLI') || code.startsWith('ERR__ERROR')) {
    return new ProtocolError(`Could not decode the response body (content-encoding): ${inner.message} ${target}`, where);
  }
  if (BROKEN_CODES.has(code)) return new ProtocolError(`Connection broken: ${inner.message} ${target}`, where);
  // undici's HTTPParserError does not always carry an HPE_ code; its name says it.
  if (MALFORMED_CODES.has(code) || code.startsWith('HPE_') || inner.name === 'HTTPParserError') {
    return new ProtocolError(`Malformed response: ${inner.message} ${target}`, where);
  }
  if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_ABORTED') {
    return new ClosedPoolError(`The pool for ${new URL(url).origin} was closed under the request ${target}`, where);
  }
  // Anything else the network says (a system error code, or fetch's failure without a known cause) may
  // have come after the request was written; a bad argument (undici's UND_ERR_INVALID_ARG) is the caller's.
  if (wrapped || (code !== '' && code !== 'UND_ERR_INVALID_ARG' && !code.startsWith('ERR_INVALID'))) {
    return new ProtocolError(`Request failed: ${inner.message} ${target}`, where);
  }
  return error;
}
