/**
 * One client of the waiting shape, run under valgrind by instructions.ts:
 * warms up, then sends `requests` GETs, `concurrency` at a time, and exits.
 * Plain Node (built by esbuild, no tsx loader), so that what valgrind counts
 * is the client and Node, not a TypeScript compiler.
 */
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import type * as NodeEntry from '../adapters/node/index.js';
import { dispatchCollecting } from './dispatch-client.js';

export interface InstructionsChildConfig {
  client: 'poolfetch request' | 'poolfetch manager.fetch' | 'undici Pool.request' | 'undici Pool.dispatch';
  /** The built node entry (poolfetch clients). */
  entry: string;
  origin: string;
  path: string;
  connections: number;
  concurrency: number;
  warmup: number;
  requests: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as InstructionsChildConfig;

async function makeCall(): Promise<{ call: () => Promise<unknown>; close: () => Promise<void> }> {
  const { origin, path, connections } = config;
  switch (config.client) {
    case 'poolfetch request':
    case 'poolfetch manager.fetch': {
      const { PoolManager } = (await import(pathToFileURL(config.entry).href)) as typeof NodeEntry;
      const manager = new PoolManager({ numPools: 10, maxSize: connections });
      const url = origin + path;
      const call = config.client === 'poolfetch request'
        ? () => manager.request('GET', url)
        : async () => (await manager.fetch(url)).arrayBuffer();
      return { call, close: () => manager.close() };
    }
    case 'undici Pool.request': {
      const pool = new Pool(origin, { connections, pipelining: 1 });
      return { call: async () => (await pool.request({ path, method: 'GET' })).body.bytes(), close: () => pool.close() };
    }
    case 'undici Pool.dispatch': {
      const pool = new Pool(origin, { connections, pipelining: 1 });
      const call = (): Promise<Buffer> => dispatchCollecting(pool, path);
      return { call, close: () => pool.close() };
    }
  }
}

async function load(call: () => Promise<unknown>, total: number, concurrency: number): Promise<void> {
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < total) {
      issued += 1;
      await call();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

const client = await makeCall();
await load(client.call, config.warmup, config.concurrency);
await load(client.call, config.requests, config.concurrency);
await client.close();
