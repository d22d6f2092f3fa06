/**
 * Helpers for the foundation tests: many servers on distinct loopback
 * addresses (one origin each), and pool events as promises.
 */
import type { BasePoolManager, PoolEvent } from '../../adapters/node/index.js';
import { deferred, echo, startServer, type Handler, type TestServer } from '../support/servers.js';

/** `count` servers on 127.0.0.2, 127.0.0.3, …, each its own origin. */
export async function startOrigins(count: number, handler: Handler = echo, firstHost = 2): Promise<TestServer[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startServer(handler, { host: `127.0.0.${firstHost + i}` })));
}

export async function closeAll(servers: readonly TestServer[]): Promise<void> {
  await Promise.all(servers.map((server) => server.close()));
}

type PoolEventType = 'poolcreate' | 'poolevict' | 'poolrevive' | 'poolclose';

/** Every pool event of a manager, in order, as `type key` strings. */
export function recordEvents(manager: BasePoolManager): string[] {
  const seen: string[] = [];
  for (const type of ['poolcreate', 'poolevict', 'poolrevive', 'poolclose'] as const) {
    manager.addEventListener(type, (event) => seen.push(`${type} ${(event as PoolEvent).key}`));
  }
  return seen;
}

/** Resolves with the next `type` event for the pool `key`. */
export function nextEvent(manager: BasePoolManager, type: PoolEventType, key: string): Promise<PoolEvent> {
  const { promise, resolve } = deferred<PoolEvent>();
  const listener = (event: Event): void => {
    if ((event as PoolEvent).key === key) {
      manager.removeEventListener(type, listener);
      resolve(event as PoolEvent);
    }
  };
  manager.addEventListener(type, listener);
  return promise;
}

/**
 * A handler that holds every request until `release()` is called, and tells
 * the test when a request has arrived (an event to await, not a sleep).
 */
export function gate(): { handler: Handler; arrived: (n: number) => Promise<void>; release: () => void } {
  const open = deferred();
  let count = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const handler: Handler = async (req, res) => {
    count += 1;
    for (const w of waiters.filter((w) => count >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    await open.promise;
    res.setHeader('content-type', 'text/plain');
    res.end(`done ${req.url ?? ''}`);
  };
  return {
    handler,
    arrived: (n) => (count >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    release: () => open.resolve(),
  };
}
