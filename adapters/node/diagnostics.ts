/**
 * poolfetch on `node:diagnostics_channel`, where Node servers already look
 * (undici publishes `undici:request:create` and the rest there, and
 * OpenTelemetry's undici instrumentation listens). Channels:
 *
 * - `poolfetch:pool:create`, `poolfetch:pool:evict`, `poolfetch:pool:revive`,
 *   `poolfetch:pool:close`: `{ type, key, origin }`, as the manager's events.
 * - `poolfetch:request:slot`: `{ method, url, origin, key, waitMs }` as a
 *   request takes its slot, just before poolfetch hands it to undici;
 *   `waitMs` is the time it waited in line (0 when a slot was free). Each is
 *   followed by undici's own `undici:request:create` for the same method and
 *   URL (where OpenTelemetry's undici instrumentation starts its span), not
 *   always in the same turn or async context: undici may create its request
 *   when its connection frees up. Tie the two by method and URL
 *   (examples/otel.mjs does).
 *
 * Nothing is built, and no clock read, while a channel has no subscriber.
 * Node only: the core reaches this through its `PoolObserver` hook.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { PoolChannelMessage, PoolObserver, SlotChannelMessage, SlotReport } from '../../src/observer.js';
import { redactCredentials } from '../../src/redact.js';

/** The channel names, for `diagnostics_channel.subscribe(name, …)`. */
export const channelNames = {
  poolcreate: 'poolfetch:pool:create',
  poolevict: 'poolfetch:pool:evict',
  poolrevive: 'poolfetch:pool:revive',
  poolclose: 'poolfetch:pool:close',
  requestSlot: 'poolfetch:request:slot',
} as const;

const poolChannels = {
  poolcreate: diagnosticsChannel.channel(channelNames.poolcreate),
  poolevict: diagnosticsChannel.channel(channelNames.poolevict),
  poolrevive: diagnosticsChannel.channel(channelNames.poolrevive),
  poolclose: diagnosticsChannel.channel(channelNames.poolclose),
};
const slotChannel = diagnosticsChannel.channel(channelNames.requestSlot);

/** The Node entry's observer: one for the process, as the channels are. */
export const diagnostics: PoolObserver = {
  poolEvent(type, pool) {
    const channel = poolChannels[type];
    if (!channel.hasSubscribers) return;
    channel.publish({ type, key: pool.key, origin: pool.origin } satisfies PoolChannelMessage);
  },
  get watchingSlots() {
    return slotChannel.hasSubscribers;
  },
  slotTaken(report: SlotReport): void {
    const message: SlotChannelMessage = {
      method: report.method,
      url: redactCredentials(report.url.href),
      origin: report.origin,
      key: report.key,
      waitMs: report.waitMs,
    };
    slotChannel.publish(message);
  },
};
