/**
 * One process of a fleet for test/budget/redis.test.ts: its own PoolManager
 * with a redisBudget over the shared Redis. Sends `count` requests to
 * `origin`, one every `everyMs` (0: all at once), each saying who sent it
 * and when; prints one JSON line with the statuses, then closes everything.
 * It warms up first, prints "ready", and starts when the parent writes a line.
 */
import { createClient } from 'redis';
import { PoolManager } from '../../adapters/node/index.js';
import { redisBudget } from '../../adapters/budget/redis.js';

interface Plan {
  redisUrl: string;
  origin: string;
  name: string;
  count: number;
  everyMs: number;
  limit: number;
  ttl: number;
  slices: false | { uses: number; ms: number };
  /** Callers each sending its next request once its last is done (a closed loop), sharing `count`; 0: a stream, one every `everyMs`. */
  callers?: number;
  /** Where to send the warm-up request, if not to `origin` (whose budget may be full). */
  warmOrigin?: string;
}

const plan = JSON.parse(process.argv[2] ?? '{}') as Plan;
const client = createClient({ url: plan.redisUrl });
client.on('error', () => {});
await client.connect();
const budget = redisBudget(client, { limit: plan.limit, ttl: plan.ttl, slices: plan.slices });
const manager = new PoolManager({ maxSize: 100, budget });
// Warm up (the scripts loaded, the connections open, the code compiled), then wait for the parent's go, so every
// member starts its stream at once and the order measured is the budget's, not process start-up's.
await (await manager.request('GET', `${plan.warmOrigin ?? plan.origin}/warm`, { headers: { 'x-child': plan.name, 'x-seq': '-1', 'x-issued': String(Date.now()) } })).text();
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
process.stdin.pause();
const send = (i: number): Promise<number | string> => {
  const headers = { 'x-child': plan.name, 'x-seq': String(i), 'x-issued': String(Date.now()) };
  return manager.request('GET', `${plan.origin}/${plan.name}/${i}`, { headers, retries: false }).then((r) => r.status, (e: unknown) => String(e));
};
const statuses: Array<number | string> = [];
if ((plan.callers ?? 0) > 0) {
  let next = 0;
  await Promise.all(Array.from({ length: plan.callers ?? 0 }, async () => {
    while (next < plan.count) {
      const i = next;
      next += 1;
      statuses[i] = await send(i);
    }
  }));
} else {
  const requests: Array<Promise<number | string>> = [];
  for (let i = 0; i < plan.count; i += 1) {
    requests.push(send(i));
    if (plan.everyMs > 0) await new Promise((resolve) => setTimeout(resolve, plan.everyMs));
  }
  statuses.push(...(await Promise.all(requests)));
}
process.stdout.write(`${JSON.stringify({ name: plan.name, statuses })}\n`);
await manager.close();
await budget.close();
await client.quit();
