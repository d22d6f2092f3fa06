/**
 * The core alone: the core `PoolManager` over a transport that answers at
 * once, so what is left is poolfetch's own work per request (URL checks,
 * pool key, LRU touch, slot, retry and redirect bookkeeping, the response
 * object). Run in a child with `--expose-gc` and a large young generation
 * to count the bytes allocated per request from heap deltas.
 */
import v8 from 'node:v8';
import { at } from './stats.js';
import type { SharedLimits } from '../src/connection-pool.js';
import type { ResolvedOptions } from '../src/options.js';
import type { PoolKey } from '../src/pool-key.js';
import type { Transport, WireFetch, WireRequest, WireResponse } from '../src/transport.js';
import type * as NodeEntry from '../adapters/node/index.js';

const EMPTY = new Uint8Array(0);
const HEADERS = new Headers({ 'content-type': 'application/octet-stream' });

/** A transport that answers every request at once with an empty 200. */
class NoopTransport implements Transport {
  readonly followsRedirects = false;
  readonly numConnections = 0;
  send(_request: WireRequest): Promise<WireResponse> {
    return Promise.resolve({
      status: 200,
      statusText: 'OK',
      headers: HEADERS,
      bytes: () => Promise.resolve(EMPTY),
      stream: () => new ReadableStream({ start: (c) => c.close() }),
      discard: () => Promise.resolve(),
    });
  }
  fetch(_call: WireFetch): Promise<Response> {
    return Promise.resolve(new Response(null, { status: 204 }));
  }
  connectionStats(): { connected: number; free: number } {
    return { connected: 0, free: 0 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): Promise<void> {
    return Promise.resolve();
  }
}

export interface CoreResult {
  /** Requests per second, sequential and with 50 in flight; one origin and 1,000 origins round-robin (numPools 100). */
  sequential: number;
  concurrent: number;
  manyOrigins: number;
  /** Bytes allocated per request (heap delta between forced GCs, no GC in between), or undefined without --expose-gc. */
  bytesPerRequest: number | undefined;
  microsPerRequest: number;
}

/** Bytes in the young generation, where short-lived per-request objects land. */
function newSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_used_size ?? 0;
}

export async function runCore(entry: typeof NodeEntry, requests: number): Promise<CoreResult> {
  // The core classes of the same build the other suites measure.
  const { BasePoolManager, ConnectionPool } = entry;
  class NoopManager extends BasePoolManager {
    protected newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): InstanceType<typeof ConnectionPool> {
      return new ConnectionPool(key, options, new NoopTransport(), shared);
    }
  }
  const one = new NoopManager({ numPools: 10, maxSize: 50 }, { maxSize: 10 });
  const url = 'http://127.0.0.1:9/1k';
  const origins = Array.from({ length: 1000 }, (_, i) => `http://127.0.${1 + (i >> 8)}.${i & 255}:9/1k`);
  const many = new NoopManager({ numPools: 100, maxSize: 50 }, { maxSize: 10 });

  const seq = async (n: number): Promise<number> => {
    const t = performance.now();
    for (let i = 0; i < n; i++) await one.request('GET', url);
    return (n / (performance.now() - t)) * 1000;
  };
  const conc = async (n: number, pick: (i: number) => string, m: { request: typeof one.request }): Promise<number> => {
    let i = 0;
    const t = performance.now();
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (i < n) await m.request('GET', pick(i++));
      }),
    );
    return (n / (performance.now() - t)) * 1000;
  };
  await seq(Math.min(requests, 2000));
  await conc(Math.min(requests, 2000), () => url, one);
  const sequential = await seq(requests);
  const concurrent = await conc(requests, () => url, one);
  const manyOrigins = await conc(requests, (i) => at(origins, i % origins.length), many);

  let bytesPerRequest: number | undefined;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    const samples: number[] = [];
    const batch = 500;
    for (let s = 0; s < 7; s++) {
      gc();
      gc();
      const before = newSpaceUsed();
      for (let i = 0; i < batch; i++) await one.request('GET', url);
      const after = newSpaceUsed();
      // A scavenge in between empties the young generation: such a sample (after < before) is dropped.
      if (after > before) samples.push((after - before) / batch);
    }
    samples.sort((a, b) => a - b);
    bytesPerRequest = samples.length === 0 ? undefined : samples[samples.length >> 1];
  }
  await one.close();
  await many.close();
  return { sequential, concurrent, manyOrigins, bytesPerRequest, microsPerRequest: 1e6 / sequential };
}

/** Forks core-child.ts with the flags the allocation count needs. */
export async function runCoreInChild(nodeEntry: string, requests: number): Promise<CoreResult> {
  const { fork } = await import('node:child_process');
  const { here } = await import('./processes.js');
  const child = fork(here('./core-child.ts'), [nodeEntry, String(requests)], {
    execArgv: [...process.execArgv, '--expose-gc', '--max-semi-space-size=64'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (result: CoreResult) => resolve(result));
    child.once('exit', (code) => reject(new Error(`core bench exited with ${code}`)));
  });
}
