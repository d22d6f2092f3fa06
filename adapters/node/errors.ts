/**
 * undici's and Node's errors, translated into poolfetch's classes so that
 * retries can tell "nothing was sent" (connect) from "the answer broke"
 * (read), and users get one set of names in every runtime.
 */
import {
  ConnectTimeoutError,
  NewConnectionError,
  ProtocolError,
  ReadTimeoutError,
} from '../../src/errors.js';

/** Node and OpenSSL codes that mean no connection was made, so nothing was sent. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENETDOWN',
]);
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE',
]);

/** undici's own connect timeout, stated so pools and error messages can name it. */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;

interface CodedError extends Error {
  code?: string;
}

/**
 * The poolfetch error for what undici threw while sending `method url`.
 * Errors that are not about the network (an abort, a bad argument) are returned unchanged.
 */
export function translateError(error: unknown, method: string, url: string, limits: { connect?: number | undefined; read?: number | undefined }): unknown {
  if (!(error instanceof Error)) return error;
  // fetch wraps the real error: `TypeError('fetch failed', { cause })`.
  const inner = error.message === 'fetch failed' && error.cause instanceof Error ? error.cause : error;
  const code = (inner as CodedError).code ?? '';
  const where = { method, url, cause: inner };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new ConnectTimeoutError(`Connection to ${new URL(url).origin} timed out after ${String(limits.connect ?? DEFAULT_CONNECT_TIMEOUT)} ms (${method} ${url})`, {
      ...where,
      timeout: limits.connect ?? DEFAULT_CONNECT_TIMEOUT,
    });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    const phase = code === 'UND_ERR_HEADERS_TIMEOUT' ? 'response headers' : 'response body';
    return new ReadTimeoutError(`Read timed out waiting for the ${phase} after ${String(limits.read)} ms (${method} ${url})`, {
      ...where,
      timeout: limits.read,
    });
  }
  if (CONNECT_CODES.has(code)) {
    return new NewConnectionError(`Failed to establish a new connection to ${new URL(url).origin}: ${inner.message} (${method} ${url})`, where);
  }
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return new NewConnectionError(
      `TLS verification of ${new URL(url).origin} failed: ${inner.message} (${method} ${url}). ` +
        'To trust a private certificate authority pass tls: { ca }',
      where,
    );
  }
  // undici's HTTPParserError does not always carry an HPE_ code; its name says it.
  // zlib's codes (Z_DATA_ERROR, …) and brotli's: the body arrived but is not what content-encoding says.
  if (code.startsWith('Z_') || code.startsWith('ERR_BROTLI') || code.startsWith('ERR__ERROR')) {
    return new ProtocolError(`Could not decode the response body (content-encoding): ${inner.message} (${method} ${url})`, where);
  }
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE' || code.startsWith('HPE_') || inner.name === 'HTTPParserError') {
    return new ProtocolError(`Connection broken: ${inner.message} (${method} ${url})`, where);
  }
  return error;
}
