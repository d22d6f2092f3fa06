/**
 * One client in the many-origins suite, in its own process so its RSS is
 * its own. The parent asks for passes; each pass sends `requests` GETs,
 * `concurrency` at a time, round-robin over the origins (continuing where
 * the last pass stopped), and reports throughput and RSS samples.
 */
import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Agent, Pool, request } from 'undici';
import type * as NodeEntry from '../adapters/node/index.js';
import { at, collectGarbage } from './stats.js';
import { originList, type OriginClientConfig, type OriginClientMessage, type OriginParentMessage } from './protocol.js';

const warnings: string[] = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));
const config = JSON.parse(process.argv[2] ?? '{}') as OriginClientConfig & { nodeEntry: string };
const tag = { 'x-bench': config.client };
const { concurrency } = config;
const origins = originList(config.origins.count, config.origins.addresses, config.origins.ports);

async function makeCall(): Promise<{ call: (url: string) => Promise<unknown>; close: () => Promise<void> }> {
  switch (config.client) {
    case 'poolfetch': {
      const { PoolManager } = (await import(pathToFileURL(config.nodeEntry).href)) as typeof NodeEntry;
      const manager = new PoolManager({ numPools: config.numPools, maxSize: config.maxSize, headers: tag });
      return { call: (url) => manager.request('GET', url), close: () => manager.close() };
    }
    case 'undici-agent': {
      const agent = new Agent();
      return { call: async (url) => (await request(url, { dispatcher: agent, headers: tag })).body.bytes(), close: () => agent.close() };
    }
    case 'global-fetch':
      return { call: async (url) => (await fetch(url, { headers: tag })).arrayBuffer(), close: async () => {} };
    case 'undici-lru': {
      // The same bound written with undici alone: a Pool per origin, the numPools most recently used kept
      // (a Map in use order), the least recently used closed when one more is needed (its requests finish first).
      const pools = new Map<string, Pool>();
      return {
        call: async (url) => {
          const origin = url.slice(0, url.indexOf('/', 'http://'.length));
          let pool = pools.get(origin);
          if (pool === undefined) {
            pool = new Pool(origin, { connections: config.maxSize });
            const oldest = pools.size >= config.numPools ? pools.keys().next().value : undefined;
            if (oldest !== undefined) {
              void pools.get(oldest)?.close();
              pools.delete(oldest);
            }
          } else pools.delete(origin);
          pools.set(origin, pool);
          return (await pool.request({ path: url.slice(origin.length), method: 'GET', headers: tag })).body.bytes();
        },
        close: async () => {
          await Promise.all([...pools.values()].map((p) => p.close()));
        },
      };
    }
    case 'bare-socket':
      return { call: bareExchange, close: async () => {} };
  }
}

/**
 * The floor under any client that keeps no connection: a fresh socket per request, one HTTP/1.1 exchange
 * written and counted by hand (the bench server always sends a content-length), closed at the body's end.
 */
function bareExchange(url: string): Promise<void> {
  const { hostname, port, pathname, host } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let head = '';
    let left = -1;
    socket.on('connect', () => socket.write(`GET ${pathname} HTTP/1.1\r\nhost: ${host}\r\nx-bench: ${tag['x-bench']}\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      if (left < 0) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        const length = /\r\ncontent-length: *(\d+)/i.exec(head.slice(0, end));
        if (length === null) {
          socket.destroy();
          reject(new Error(`${url}: no content-length`));
          return;
        }
        left = Number(length[1]) - (head.length - end - 4);
      } else left -= chunk.length;
      if (left <= 0) {
        socket.destroy();
        resolve();
      }
    });
    socket.on('error', reject);
    // After resolve() this does nothing; before it, the server closed short of the body's end.
    socket.on('close', () => reject(new Error(`${url}: closed before the body's end`)));
  });
}

const client = await makeCall();
let next = 0;

/** Sends `requests` GETs round-robin, `concurrency` at a time; `each` is told how many are done after every one. */
async function send(requests: number, each: (done: number) => void): Promise<void> {
  let issued = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (issued < requests) {
      issued += 1;
      const url = `${at(origins, next)}/1k`;
      next = (next + 1) % origins.length;
      await client.call(url);
      done += 1;
      each(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function pass(id: number, requests: number, sampleEvery: number, collect: boolean, rewarm: number): Promise<void> {
  const samples: Array<{ done: number; rss: number }> = [];
  if (rewarm > 0) await send(rewarm, () => {});
  const started = performance.now();
  await send(requests, (done) => {
    if (done % sampleEvery === 0) samples.push({ done, rss: process.memoryUsage.rss() });
  });
  const ms = performance.now() - started;
  const { rss, heapUsed } = process.memoryUsage();
  let collected: { rss: number; heapUsed: number } | undefined;
  if (collect) {
    // Twice: the first collection's finalizers and weak callbacks free more for the second.
    collectGarbage();
    collectGarbage();
    const after = process.memoryUsage();
    collected = { rss: after.rss, heapUsed: after.heapUsed };
  }
  report({ type: 'pass-done', id, requests, ms, rss, heapUsed, ...(collected === undefined ? {} : { collected }), samples, warnings: warnings.splice(0) });
}

function report(message: OriginClientMessage): void {
  process.send?.(message);
}

process.on('message', (message: OriginParentMessage) => {
  if (message.type === 'pass') {
    pass(message.id, message.requests, message.sampleEvery, message.collect, message.rewarm).catch((error: unknown) => {
      console.error(`${config.client} failed:`, error);
      process.exit(1);
    });
  } else {
    void client.close().finally(() => process.disconnect());
  }
});
process.on('disconnect', () => process.exit(0));
report({ type: 'ready' });
