/**
 * The fetch adapter's body reads (issues #19 and #22): every way a caller
 * takes a body, beside undici's fetch (the function the adapter is given)
 * reading the same body the same way. The adapter reads each body ahead so
 * its slot is free once it has arrived; this suite shows what that costs
 * per request, for a small body of known length (read by the runtime's own
 * `arrayBuffer()`), the same body chunked (read by a JavaScript loop), and
 * 64 KiB. Nothing waits (as many connections as callers): the read is what
 * is measured. CPU µs per request is the figure to compare.
 *
 * `BENCH_FETCH_BEFORE=<a built fetch entry>` adds the same adapter rows for
 * that build, marked "(before)", interleaved with the rest in every round:
 * the fair way to measure a change to the body code.
 */
import { fetch as undiciFetch } from 'undici';
import type { ClientSpec, Entries } from './clients.js';
import type { ThroughputCase } from './throughput.js';

export const FETCH_BODY_CASES = (n: number): ThroughputCase[] => [
  { label: '1 KiB', path: '/1k', requests: n, delayMs: 0 },
  { label: '1 KiB chunked', path: '/1k-chunked', requests: n, delayMs: 0 },
  { label: '64 KiB', path: '/64k', requests: Math.ceil(n / 3), delayMs: 0 },
];

type Read = 'arrayBuffer' | 'text';

/** The adapter and undici's fetch, each read every way the suite compares. */
export async function fetchBodySpecs(entries: Entries): Promise<ClientSpec[]> {
  const specs = adapterSpecs(entries.fetch.PoolManager, '');
  const before = process.env['BENCH_FETCH_BEFORE'];
  if (before !== undefined && before !== '') {
    const { pathToFileURL } = await import('node:url');
    const old = (await import(pathToFileURL(before).href)) as Entries['fetch'];
    // Not the unread row: a build that does not read ahead holds every slot with it and stops.
    specs.push(...adapterSpecs(old.PoolManager, ' (before)').filter((s) => !s.name.includes('unread') && !s.name.startsWith('undici')));
  }
  return specs;
}

function adapterSpecs(PoolManager: Entries['fetch']['PoolManager'], tag: string): ClientSpec[] {
  const given = undiciFetch as unknown as typeof fetch;
  const plain = (read: Read): ClientSpec => ({
    name: `undici fetch + ${read}()`,
    make: (origin) => ({ name: `undici fetch + ${read}()`, call: async (path) => (await undiciFetch(origin + path))[read](), close: async () => {} }),
  });
  const adapter = (bare: string, call: (manager: InstanceType<typeof PoolManager>, url: string) => Promise<unknown>): ClientSpec => ({
    name: bare + tag,
    make(origin, connections) {
      const name = bare + tag;
      const manager = new PoolManager({ numPools: 10, maxSize: connections, fetch: given });
      return { name, call: (path) => call(manager, origin + path), close: () => manager.close() };
    },
  });
  return [
    plain('arrayBuffer'),
    plain('text'),
    adapter('fetch adapter: manager.fetch + arrayBuffer()', async (m, url) => (await m.fetch(url)).arrayBuffer()),
    adapter('fetch adapter: manager.fetch + text()', async (m, url) => (await m.fetch(url)).text()),
    adapter('fetch adapter: manager.fetch + body stream', async (m, url) => new Response((await m.fetch(url)).body).arrayBuffer()),
    // Never read: the read-ahead frees the slot (without it this client deadlocks once every slot holds an unread body).
    adapter('fetch adapter: manager.fetch, body unread', async (m, url) => (await m.fetch(url)).status),
    adapter('fetch adapter: request()', (m, url) => m.request('GET', url)),
    adapter('fetch adapter: request(), preloadContent: false + bytes()', async (m, url) => (await m.request('GET', url, { preloadContent: false })).bytes()),
  ];
}

/** Each adapter row's baseline (its "(before)" twin's too): undici's fetch reading the body the same way. */
export const FETCH_BODY_BASELINE: Record<string, string> = {
  'fetch adapter: manager.fetch + arrayBuffer()': 'undici fetch + arrayBuffer()',
  'fetch adapter: manager.fetch + text()': 'undici fetch + text()',
  'fetch adapter: manager.fetch + body stream': 'undici fetch + arrayBuffer()',
  'fetch adapter: manager.fetch, body unread': 'undici fetch + arrayBuffer()',
  'fetch adapter: request()': 'undici fetch + arrayBuffer()',
  'fetch adapter: request(), preloadContent: false + bytes()': 'undici fetch + arrayBuffer()',
};
