/**
 * Events and stats (README "Events and stats"): one PoolManager with room
 * for one pool, two local APIs, every pool event and the stats printed.
 * Run: `node examples/events.mjs` (after `npm run build`).
 */
import { PoolManager } from 'poolfetch';
import { startApis } from './local-apis.mjs';

const { apis, close } = await startApis(['profile', 'weather'], { delayMs: 0 });
const [profile, weather] = apis.map((api) => api.url);

const manager = new PoolManager({ numPools: 1 });
for (const type of ['poolcreate', 'poolevict', 'poolrevive', 'poolclose']) {
  manager.addEventListener(type, (event) => console.log(`${event.type} ${event.origin}`));
}

await (await manager.request('GET', `${profile}/me`)).json();
await (await manager.request('GET', `${profile}/me`)).json();
console.log(JSON.stringify(manager.stats()));
await (await manager.request('GET', `${weather}/today`)).json(); // a second origin: the first pool is evicted
await manager.clear();
await close();
