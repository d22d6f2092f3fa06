/**
 * One client in the many-origins suite, in its own process so its RSS is
 * its own. The parent asks for passes; each pass sends `requests` GETs,
 * `concurrency` at a time, round-robin over the origins (continuing where
 * the last pass stopped), and reports throughput and RSS samples.
 */
import { pathToFileURL } from 'node:url';
import { Agent, request } from 'undici';
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
  }
}

const client = await makeCall();
let next = 0;

async function pass(id: number, requests: number, sampleEvery: number, collect: boolean): Promise<void> {
  let issued = 0;
  let done = 0;
  const samples: Array<{ done: number; rss: number }> = [];
  const worker = async (): Promise<void> => {
    while (issued < requests) {
      issued += 1;
      const url = `${at(origins, next)}/1k`;
      next = (next + 1) % origins.length;
      await client.call(url);
      done += 1;
      if (done % sampleEvery === 0) samples.push({ done, rss: process.memoryUsage.rss() });
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
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
  send({ type: 'pass-done', id, requests, ms, rss, heapUsed, ...(collected === undefined ? {} : { collected }), samples, warnings: warnings.splice(0) });
}

function send(message: OriginClientMessage): void {
  process.send?.(message);
}

process.on('message', (message: OriginParentMessage) => {
  if (message.type === 'pass') {
    pass(message.id, message.requests, message.sampleEvery, message.collect).catch((error: unknown) => {
      console.error(`${config.client} failed:`, error);
      process.exit(1);
    });
  } else {
    void client.close().finally(() => process.disconnect());
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
