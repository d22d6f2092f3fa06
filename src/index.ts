/**
 * The runtime-agnostic core. Not an entry point: `adapters/node` and
 * `adapters/fetch` re-export it with a `PoolManager` bound to their transport.
 */
export {
  BudgetUnavailableError,
  ClosedPoolError,
  ConnectTimeoutError,
  EmptyPoolError,
  HostChangedError,
  isPoolfetchError,
  LocationValueError,
  MaxRetryError,
  NewConnectionError,
  NotSupportedError,
  PoolfetchError,
  ProtocolError,
  ProxyError,
  ProxySchemeUnknown,
  ReadTimeoutError,
  ResponseTooLargeError,
  URLSchemeUnknown,
} from './errors.js';
export type { PoolfetchErrorOptions } from './errors.js';
export type { Budget, BudgetAcquireOptions, BudgetEvent, BudgetLease, BudgetStats } from './budget.js';
export { makeHeaders } from './make-headers.js';
export type { MakeHeadersOptions } from './make-headers.js';
export { installFetch } from './install-fetch.js';
export { ConnectionPool } from './connection-pool.js';
export { PoolEvent, PoolManager as BasePoolManager } from './pool-manager.js';
export type { PoolEventListener, PoolManagerEventMap, PoolOverrides, PoolsView } from './pool-manager.js';
export { PoolResponse } from './response.js';
export type { PoolKey } from './pool-key.js';
export type { PoolChannelMessage, SlotChannelMessage } from './observer.js';
export type { ResolvedOptions } from './options.js';
export type { Transport, TransportFactory, WireFetch, WireRequest, WireResponse } from './transport.js';
export type {
  BodyInit,
  PoolManagerOptions,
  PoolStats,
  PoolStatsRow,
  RequestOptions,
  Requester,
  RetryOptions,
  TimeoutOptions,
  TlsOptions,
} from './types.js';
