/**
 * The README's first example, plain JavaScript on Node 20 or newer:
 * `node examples/first.mjs` (after `npm ci`). Two small JSON APIs on
 * 127.0.0.1 stand in for the services an app calls.
 */
import { PoolManager } from 'poolfetch';
import { startApis } from './local-apis.mjs'; // two small JSON APIs on 127.0.0.1

const { apis, close } = await startApis(['profile', 'weather']);
const [profile, weather] = apis.map((api) => api.url);

const manager = new PoolManager({ numPools: 10, maxSize: 4 }); // 4 at a time per origin, 10 origins kept
try {
  const r = await manager.request('GET', `${profile}/me`);
  console.log(r.status, r.headers.get('content-type'), (await r.json()).name); // 200 application/json Ada Lovelace
  // Twelve at once: four in flight to the origin, the rest wait their turn in its pool.
  const days = await Promise.all(Array.from({ length: 12 }, (_, day) => manager.request('GET', `${weather}/day/${day}`)));
  console.log(days.map((d) => d.status).join(' ')); // 200 200 … 200
  const res = await manager.fetch(`${weather}/today`); // a standard fetch Response, through the same pools
  console.log((await res.json()).sky); // overcast
  console.log(manager.pools.size, manager.connectionFromUrl(weather).numRequests); // 2 13
} finally {
  await manager.close(); // empties the pools and closes their sockets
  await close();
}
