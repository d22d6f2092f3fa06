/**
 * A browser or Worker consumer of the packed package: compiled by
 * test/types-tarball.test.ts with lib es2022 + dom (or webworker), no Node types and
 * skipLibCheck false. Never run. Each `IsAny` line fails to
 * compile if a type resolved to `any` (what an unresolved DOM name becomes
 * under skipLibCheck); each @ts-expect-error fails if the type let the bad
 * value through.
 */
import { PoolManager, type PoolEvent, type PoolManagerOptions, type PoolStatsRow, type RequestOptions } from 'poolfetch';

type IsAny<T> = 0 extends 1 & T ? true : false;
type Listener = NonNullable<Parameters<PoolManager['addEventListener']>[1]>;

const notAny: [
  IsAny<NonNullable<PoolManagerOptions['headers']>>,
  IsAny<NonNullable<RequestOptions['headers']>>,
  IsAny<NonNullable<RequestOptions['body']>>,
  IsAny<Listener>,
  IsAny<Parameters<PoolManager['addEventListener']>[2]>,
  IsAny<Parameters<PoolManager['removeEventListener']>[2]>,
  IsAny<PoolStatsRow['openConnections']>,
] = [false, false, false, false, false, false, false];
void notAny;

const manager = new PoolManager({ numPools: 4, maxSize: 2, headers: { 'user-agent': 'consumer' } });
// @ts-expect-error headers are a record of strings, Headers or pairs, not a number
new PoolManager({ headers: 42 });

manager.addEventListener('poolevict', (event) => {
  const typed: PoolEvent = event;
  const origin: string = event.origin;
  const notAnyEvent: IsAny<typeof event> = false;
  // @ts-expect-error a PoolEvent has no such field
  void event.nope;
  void [typed, origin, notAnyEvent];
}, { once: true });
// @ts-expect-error listener options are EventTarget's, not a number
manager.addEventListener('poolclose', () => undefined, 42);

const r = await manager.request('POST', 'http://127.0.0.1:1/', { body: 'x', headers: [['x-a', 'b']] });
const status: number = r.status;
const server: string | null = r.headers.get('server');
const response = await manager.fetch('http://127.0.0.1:1/', { headers: new Headers({ a: 'b' }), redirect: 'follow' });
const text: string = await response.text();
const rows: PoolStatsRow[] = manager.stats();
const open: number | undefined = rows[0]?.openConnections;
void [status, server, text, open];

await manager.close();
// The fetch entry's types pull in nothing of Node's.
// @ts-expect-error no Node globals in a browser or Worker project
void process.env;
