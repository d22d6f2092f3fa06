/**
 * The hook through which a runtime entry watches its pools without the core
 * importing the runtime: the Node entry publishes on `node:diagnostics_channel`
 * (adapters/node/diagnostics.ts); the fetch entry brings none (browsers and
 * Workers have no such channel: events and `stats()` are what they offer).
 * The core asks `watchingSlots` before it times a request, so with nobody
 * listening no clock is read and no report is built.
 */

/** A request that has its slot (and its place under `maxTotal`) and is about to be sent. */
export interface SlotReport {
  readonly method: string;
  /** The URL as the transport gets it (credentials already moved to a header, if any; the observer redacts anyway). */
  readonly url: URL;
  /** The pool's origin and key. */
  readonly origin: string;
  readonly key: string;
  /** Milliseconds between asking for a slot (this origin's, then one under `maxTotal`) and getting it; 0 when one was free at once. */
  readonly waitMs: number;
}

/** The events of a pool's life (the manager's other events, the budget's, are not about one pool). */
export type PoolLifeEvent = 'poolcreate' | 'poolevict' | 'poolrevive' | 'poolclose';

export interface PoolObserver {
  /**
   * A pool was made, evicted, revived or closed. Called for every one (they
   * are rare); the observer checks its own listeners before building anything.
   */
  poolEvent(type: PoolLifeEvent, pool: { readonly key: string; readonly origin: string }): void;
  /** Read as a request asks for a slot: false, and that request is neither timed nor reported. */
  readonly watchingSlots: boolean;
  /** The request got its slot; the core hands it to the transport right after. */
  slotTaken(report: SlotReport): void;
}

/** What the Node entry publishes on `poolfetch:pool:create`, `:evict`, `:revive` and `:close` (diagnostics_channel). */
export interface PoolChannelMessage {
  type: 'poolcreate' | 'poolevict' | 'poolrevive' | 'poolclose';
  key: string;
  origin: string;
}

/** What the Node entry publishes on `poolfetch:request:slot` (diagnostics_channel) as a request takes its slot. */
export interface SlotChannelMessage {
  method: string;
  /** The request URL, a password in it shown as `***`. */
  url: string;
  origin: string;
  key: string;
  /** Milliseconds the request waited for its slot; 0 when one was free at once. */
  waitMs: number;
}
