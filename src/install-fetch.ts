/**
 * `installFetch(manager)`: route `globalThis.fetch` through a manager's
 * pools, for code (and libraries such as ky) that call the global.
 */

/**
 * Marks an installed fetch with the one it replaced, so the fetch adapter can
 * call through without recursion (adapters/fetch/fetch-transport.ts reads it
 * under the same `Symbol.for` key, so a bundle of PoolManager alone leaves
 * this module out).
 */
export const ORIGINAL_FETCH: unique symbol = Symbol.for('poolfetch.originalFetch') as never;

type MaybeInstalled = typeof globalThis.fetch & { [ORIGINAL_FETCH]?: typeof globalThis.fetch };

/** Replaces `globalThis.fetch` with `manager.fetch`; returns the function that puts the original back. */
export function installFetch(manager: { fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response> }): () => void {
  const original = globalThis.fetch as MaybeInstalled;
  const installed = ((input: string | URL | Request, init?: RequestInit) => manager.fetch(input, init)) as MaybeInstalled;
  installed[ORIGINAL_FETCH] = original;
  globalThis.fetch = installed;
  return () => {
    // Only undo our own change: someone may have replaced fetch again since.
    if (globalThis.fetch === installed) globalThis.fetch = original;
  };
}
