/**
 * Watching a caller's `AbortSignal` with one listener per signal, however
 * many requests watch it. A signal shared by many requests is common (one
 * per page, per job, per server shutdown), and Node warns once eleven
 * listeners sit on one signal (`MaxListenersExceededWarning`); undici's fetch
 * raises its own limit to 1,500, which a deep queue passes too.
 */

interface Watchers {
  readonly callbacks: Set<() => void>;
  readonly fire: () => void;
}

const watched = new WeakMap<AbortSignal, Watchers>();

/**
 * Calls `callback` once when `signal` aborts, unless the returned function is
 * called first. The signal must not be aborted yet (an abort event never
 * comes twice); each callback is watched once (a set).
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let entry = watched.get(signal);
  if (entry === undefined) {
    const callbacks = new Set<() => void>();
    const fire = (): void => {
      watched.delete(signal);
      signal.removeEventListener('abort', fire);
      for (const cb of callbacks) cb();
    };
    entry = { callbacks, fire };
    watched.set(signal, entry);
    signal.addEventListener('abort', fire);
  }
  const current = entry;
  current.callbacks.add(callback);
  return () => {
    if (!current.callbacks.delete(callback) || current.callbacks.size > 0) return;
    // After the abort the listener is gone already.
    if (watched.get(signal) !== current) return;
    watched.delete(signal);
    signal.removeEventListener('abort', current.fire);
  };
}
