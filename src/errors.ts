/**
 * Errors thrown by poolfetch. Every class has a literal `name`, a stable
 * `code`, and `cause` where one exists. `instanceof` works across two copies
 * of the package (a bundle and node_modules, say): it checks a brand stored
 * under a `Symbol.for` key rather than the prototype chain.
 */

import { redactCredentials } from './redact.js';

const LINEAGE = Symbol.for('poolfetch.error.lineage');

export interface PoolfetchErrorOptions {
  cause?: unknown;
  method?: string | undefined;
  url?: string | undefined;
}

type Branded = { [LINEAGE]?: unknown };

/**
 * Base class of every error poolfetch throws. Its message and `url` never
 * show a password: any `user:password@` in them reads `user:***@`.
 */
export class PoolfetchError extends Error {
  /** The brand checked by `instanceof`; stable across copies and minifiers. */
  static readonly kind: string = 'PoolfetchError';
  override readonly name: string = 'PoolfetchError';
  readonly code: string = 'POOLFETCH_ERROR';
  /** The request method, where the error belongs to a request. */
  readonly method: string | undefined;
  /** The request URL, where the error belongs to a request (a password in it shown as `***`). */
  readonly url: string | undefined;

  constructor(message: string, options: PoolfetchErrorOptions = {}) {
    super(redactCredentials(message), 'cause' in options ? { cause: options.cause } : undefined);
    this.method = options.method;
    this.url = options.url === undefined ? undefined : redactCredentials(options.url);
    const lineage: string[] = [];
    for (let c: unknown = new.target; typeof c === 'function' && c !== Error; c = Object.getPrototypeOf(c)) {
      if (Object.hasOwn(c, 'kind')) lineage.push((c as unknown as { kind: string }).kind);
    }
    Object.defineProperty(this, LINEAGE, { value: lineage });
  }

  static override [Symbol.hasInstance](this: { kind: string }, value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    const lineage = (value as Branded)[LINEAGE];
    return Array.isArray(lineage) && lineage.includes(this.kind);
  }
}

/**
 * `POOLFETCH_` and `name` in upper snake case, without an `Error` at its end
 * (`URLSchemeUnknown`: `POOLFETCH_URL_SCHEME_UNKNOWN`): each class's `code`,
 * built rather than spelled out, which keeps the browser bundle smaller.
 * Called from each class's own field initializer, so a user's subclass
 * keeps the code of the poolfetch class it extends.
 */
function codeOf(name: string): string {
  return `POOLFETCH_${name.replace(/Error$/, '').replace(/([a-z])(?=[A-Z])|([A-Z])(?=[A-Z][a-z])/g, '$1$2_').toUpperCase()}`;
}

/** True for an error thrown by any copy of poolfetch. */
export function isPoolfetchError(value: unknown): value is PoolfetchError {
  return value instanceof PoolfetchError;
}

/** `method url` for messages, or '' when there is no request. */
function target(options: PoolfetchErrorOptions): string {
  return options.url === undefined ? '' : ` (${options.method ?? 'GET'} ${options.url})`;
}

/** The URL has no host, or is not a URL at all. */
export class LocationValueError extends PoolfetchError {
  static override readonly kind: string = 'LocationValueError';
  override readonly name = 'LocationValueError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_LOCATION_VALUE';
}

/** The URL's scheme is not http or https. */
export class URLSchemeUnknown extends PoolfetchError {
  static override readonly kind: string = 'URLSchemeUnknown';
  override readonly name = 'URLSchemeUnknown' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_URL_SCHEME_UNKNOWN';
  readonly scheme: string;
  constructor(scheme: string, options: PoolfetchErrorOptions = {}) {
    super(`Not supported URL scheme '${scheme}'${target(options)}: use http: or https:`, options);
    this.scheme = scheme;
  }
}

/** The proxy URL's scheme is not http or https. */
export class ProxySchemeUnknown extends PoolfetchError {
  static override readonly kind: string = 'ProxySchemeUnknown';
  override readonly name = 'ProxySchemeUnknown' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_PROXY_SCHEME_UNKNOWN';
  readonly scheme: string;
  /** `variable`: the environment variable that named the proxy (`proxyFromEnvironment`), for the message. */
  constructor(scheme: string, options: PoolfetchErrorOptions & { variable?: string } = {}) {
    const { variable } = options;
    super(
      variable === undefined
        ? `Proxy URL had unsupported scheme '${scheme}'${target(options)}: use http: or https:`
        : `${variable} names a proxy with unsupported scheme '${scheme}', needed for ${options.url ?? 'this request'}: ` +
            `use http: or https:, or list the host in NO_PROXY`,
      options,
    );
    this.scheme = scheme;
  }
}

/** A pool was asked for a URL of another origin. */
export class HostChangedError extends PoolfetchError {
  static override readonly kind: string = 'HostChangedError';
  override readonly name = 'HostChangedError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_HOST_CHANGED';
  /** The origin of the pool that refused the URL. */
  readonly origin: string;
  constructor(origin: string, options: PoolfetchErrorOptions) {
    super(`Tried to open a foreign host with url ${options.url ?? ''} on the pool for ${origin}`, options);
    this.origin = origin;
  }
}

/** No slot in the pool (or under `maxTotal`) became free within `poolTimeout`. */
export class EmptyPoolError extends PoolfetchError {
  static override readonly kind: string = 'EmptyPoolError';
  override readonly name = 'EmptyPoolError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_EMPTY_POOL';
}

/** The pool was closed before or while the request waited for it. */
export class ClosedPoolError extends PoolfetchError {
  static override readonly kind: string = 'ClosedPoolError';
  override readonly name = 'ClosedPoolError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_CLOSED_POOL';
}

/** Retries (or redirects) were used up; `reason` is the last error. */
export class MaxRetryError extends PoolfetchError {
  static override readonly kind: string = 'MaxRetryError';
  override readonly name = 'MaxRetryError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_MAX_RETRY';
  readonly reason: Error | undefined;
  constructor(reason: Error | undefined, options: PoolfetchErrorOptions) {
    super(
      `Max retries exceeded${target(options)}${reason ? `: caused by ${reason.name}: ${reason.message}` : ''}`,
      { ...options, cause: reason },
    );
    this.reason = reason;
  }
}

/** Connecting took longer than the connect timeout. */
export class ConnectTimeoutError extends PoolfetchError {
  static override readonly kind: string = 'ConnectTimeoutError';
  override readonly name = 'ConnectTimeoutError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_CONNECT_TIMEOUT';
  /** The limit that ran out, in milliseconds. */
  readonly timeout: number | undefined;
  constructor(message: string, options: PoolfetchErrorOptions & { timeout?: number | undefined } = {}) {
    super(message, options);
    this.timeout = options.timeout;
  }
}

/** The server took longer than the read (or total) timeout to answer. */
export class ReadTimeoutError extends PoolfetchError {
  static override readonly kind: string = 'ReadTimeoutError';
  override readonly name = 'ReadTimeoutError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_READ_TIMEOUT';
  /** The limit that ran out, in milliseconds. */
  readonly timeout: number | undefined;
  constructor(message: string, options: PoolfetchErrorOptions & { timeout?: number | undefined } = {}) {
    super(message, options);
    this.timeout = options.timeout;
  }
}

/** No connection could be made (refused, unreachable, DNS, TLS handshake). */
export class NewConnectionError extends PoolfetchError {
  static override readonly kind: string = 'NewConnectionError';
  override readonly name = 'NewConnectionError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_NEW_CONNECTION';
}

/** The connection broke after the request was sent (reset, malformed answer). */
export class ProtocolError extends PoolfetchError {
  static override readonly kind: string = 'ProtocolError';
  override readonly name = 'ProtocolError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_PROTOCOL';
}

/** The proxy refused, failed or could not be reached. */
export class ProxyError extends PoolfetchError {
  static override readonly kind: string = 'ProxyError';
  override readonly name = 'ProxyError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_PROXY';
  /** The proxy's HTTP status, when it answered with one. */
  readonly status: number | undefined;
  constructor(message: string, options: PoolfetchErrorOptions & { status?: number | undefined } = {}) {
    super(message, options);
    this.status = options.status;
  }
}

/** The feature does not exist in this runtime's adapter. */
export class NotSupportedError extends PoolfetchError {
  static override readonly kind: string = 'NotSupportedError';
  override readonly name = 'NotSupportedError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_NOT_SUPPORTED';
}

/** The decoded response body grew past `maxResponseSize`: reading stopped and the connection was closed. */
export class ResponseTooLargeError extends PoolfetchError {
  static override readonly kind: string = 'ResponseTooLargeError';
  override readonly name = 'ResponseTooLargeError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_RESPONSE_TOO_LARGE';
  /** The limit that was crossed, in bytes of the decoded body. */
  readonly limit: number;
  constructor(limit: number, options: PoolfetchErrorOptions = {}) {
    super(`Response body larger than maxResponseSize (${limit} bytes)${target(options)}`, options);
    this.limit = limit;
  }
}

/** The fleet budget's coordinator could not be reached and the budget says `onUnavailable: 'fail'`. */
export class BudgetUnavailableError extends PoolfetchError {
  static override readonly kind: string = 'BudgetUnavailableError';
  override readonly name = 'BudgetUnavailableError' as const;
  override readonly code = codeOf(this.name) as 'POOLFETCH_BUDGET_UNAVAILABLE';
}
