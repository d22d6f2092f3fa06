/**
 * The knobs the dashboard's form turns, checked in one place so the server,
 * the page and `--once` agree on what a valid workload is.
 */
import type { PoolManagerOptions } from '../../src/types.js';

export interface DemoSettings {
  /** Names of the origins the workload sends requests to. */
  origins: string[];
  /** Requests the workload keeps going at once. */
  concurrency: number;
  numPools: number;
  maxSize: number;
  /** 0 means no cap. */
  maxTotal: number;
}

/** The statuses the demo's managers retry (the flaky origin answers 503 with Retry-After). */
export const RETRY_STATUSES = [503];

export const defaultSettings = (origins: string[]): DemoSettings => ({
  origins,
  concurrency: 12,
  numPools: 6,
  maxSize: 4,
  maxTotal: 0,
});

const LIMITS = {
  concurrency: [1, 64],
  numPools: [1, 32],
  maxSize: [1, 64],
  maxTotal: [0, 256],
} as const;

/** Checks a settings object from the form; throws a `TypeError` naming the bad field and value. */
export function checkSettings(input: unknown, known: readonly string[]): DemoSettings {
  if (typeof input !== 'object' || input === null) throw new TypeError(`settings must be an object, got ${JSON.stringify(input)}`);
  const o = input as Record<string, unknown>;
  const out = {} as DemoSettings;
  for (const [name, [min, max]] of Object.entries(LIMITS) as Array<[keyof typeof LIMITS, readonly [number, number]]>) {
    const value = o[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new TypeError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    out[name] = value;
  }
  const origins = o.origins;
  if (!Array.isArray(origins) || origins.length === 0) {
    throw new TypeError(`origins must be a non-empty list of origin names, got ${JSON.stringify(origins)}`);
  }
  for (const name of origins) {
    if (typeof name !== 'string' || !known.includes(name)) {
      throw new TypeError(`Unknown origin ${JSON.stringify(name)}; known: ${known.join(', ')}`);
    }
  }
  out.origins = [...new Set(origins as string[])];
  return out;
}

/** The `PoolManager` options for a workload (the Node side adds `tls`). */
export function managerOptions(settings: DemoSettings): PoolManagerOptions {
  return {
    numPools: settings.numPools,
    maxSize: settings.maxSize,
    ...(settings.maxTotal > 0 ? { maxTotal: settings.maxTotal } : {}),
    retries: { total: 3, statusForcelist: RETRY_STATUSES },
    timeout: { total: 30_000 },
  };
}
