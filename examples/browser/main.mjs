/**
 * A page that talks to two APIs through one PoolManager (the fetch adapter:
 * a queue per origin, here at most 2 requests in flight per origin) with ky
 * on top: `ky.create({ fetch: manager.fetch })`. Bundled by build.mjs.
 * The APIs to call come from the page's query: ?api=http://…&api=http://…
 */
/* global document, location */
import ky from 'ky';
import { PoolManager } from 'poolfetch';

const manager = new PoolManager({ numPools: 4, maxSize: 2 });
const api = ky.create({ fetch: manager.fetch, retry: { limit: 2 }, timeout: 10_000 });

const out = document.querySelector('#results');
const stats = document.querySelector('#pools');
const bases = new URL(location.href).searchParams.getAll('api');

const events = [];
for (const kind of ['poolcreate', 'poolevict', 'poolclose']) {
  manager.addEventListener(kind, (event) => events.push(`${kind} ${event.origin}`));
}

async function main() {
  // Five calls per API at once: the manager lets two through per origin and queues the rest.
  const calls = bases.flatMap((base) => Array.from({ length: 5 }, (_, i) => api.get(`${base}/item/${i}`).json()));
  const results = await Promise.all(calls);
  for (const result of results) {
    const li = document.createElement('li');
    li.textContent = `${result.api} ${result.path}`;
    out.append(li);
  }
  for (const row of manager.stats()) {
    const tr = document.createElement('tr');
    tr.dataset.origin = row.origin;
    for (const cell of [row.origin, row.numRequests, row.numConnections]) {
      const td = document.createElement('td');
      td.textContent = String(cell);
      tr.append(td);
    }
    stats.append(tr);
  }
  document.querySelector('#events').textContent = events.join('\n');
  document.body.dataset.state = 'done';
}

main().catch((error) => {
  document.body.dataset.state = 'failed';
  document.querySelector('#error').textContent = String(error);
});
