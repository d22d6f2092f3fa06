/**
 * Compiled by the typecheck step (`tsc -p tsconfig.json`), never run: a
 * manager's pool events reach their listeners typed as `PoolEvent`, with
 * `key` and `origin`, and no cast, from both entries. Without the event map
 * on `PoolManager` the listeners get a plain `Event` and `event.key` does not
 * compile.
 */
import { expectTypeOf } from 'vitest';
// Both entries' PoolEvent is the core's one class.
import * as fetchEntry from '../../adapters/fetch/index.js';
import * as nodeEntry from '../../adapters/node/index.js';

for (const manager of [new nodeEntry.PoolManager(), new fetchEntry.PoolManager()]) {
  for (const type of ['poolcreate', 'poolevict', 'poolrevive', 'poolclose'] as const) {
    manager.addEventListener(type, (event) => {
      expectTypeOf(event).toEqualTypeOf<nodeEntry.PoolEvent>();
      const key: string = event.key;
      const origin: string = event.origin;
      void [key, origin];
    });
  }
  manager.addEventListener('poolevict', { handleEvent: (event) => expectTypeOf(event.origin).toBeString() }, { once: true });
  const listener = (event: nodeEntry.PoolEvent): string => event.key;
  manager.addEventListener('poolclose', listener);
  manager.removeEventListener('poolclose', listener);
  // A listener for another kind of event does not fit a pool event.
  // @ts-expect-error MessageEvent is not what poolclose dispatches
  manager.addEventListener('poolclose', (event: MessageEvent) => event.data);
  // Event types outside the map stay EventTarget's.
  manager.addEventListener('something-else', (event) => expectTypeOf(event).toEqualTypeOf<Event>());
  // The stats rows are typed too.
  expectTypeOf(manager.stats()).toEqualTypeOf<nodeEntry.PoolStatsRow[]>();
}
