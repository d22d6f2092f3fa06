/**
 * The clients compared on one origin. Every one reads the whole body into
 * memory and is given the same cap on sockets (`connections`): the
 * throughput shape gives as many as there are callers, so nothing waits;
 * the waiting shape gives fewer, so the client's own line is measured too.
 * Each suite picks its clients by name (THROUGHPUT_CLIENTS, WAITING_CLIENTS).
 */
import http from 'node:http';
import axios from 'axios';
import got from 'got';
import nodeFetch from 'node-fetch';
import { Agent, Pool, fetch as undiciFetch } from 'undici';
import type * as NodeEntry from '../adapters/node/index.js';
import { dispatchCollecting } from './dispatch-client.js';
import type * as FetchEntry from '../adapters/fetch/index.js';

export interface Client {
  readonly name: string;
  /** Sends one GET to `path` and reads the body. */
  call(path: string): Promise<unknown>;
  close(): Promise<void>;
}

export interface ClientSpec {
  readonly name: string;
  make(origin: string, connections: number): Client;
}

const keepAlive = (connections: number): http.Agent => new http.Agent({ keepAlive: true, maxSockets: connections });

/** The built entries (see build.ts), so the code measured is what users run. */
export interface Entries {
  node: typeof NodeEntry;
  fetch: typeof FetchEntry;
}

export const makeSpecs = ({ node: { PoolManager }, fetch: { PoolManager: FetchPoolManager } }: Entries): ClientSpec[] => [
  {
    name: 'poolfetch request',
    make(origin, connections) {
      const manager = new PoolManager({ numPools: 10, maxSize: connections });
      return { name: this.name, call: (path) => manager.request('GET', origin + path), close: () => manager.close() };
    },
  },
  {
    name: 'undici Pool.request',
    make(origin, connections) {
      const pool = new Pool(origin, { connections, pipelining: 1 });
      return {
        name: this.name,
        call: async (path) => (await pool.request({ path, method: 'GET' })).body.bytes(),
        close: () => pool.close(),
      };
    },
  },
  {
    // The floor on this path: undici's dispatcher with the least handler that collects a body.
    name: 'undici Pool.dispatch',
    make(origin, connections) {
      const pool = new Pool(origin, { connections, pipelining: 1 });
      return {
        name: this.name,
        call: (path) => dispatchCollecting(pool, path),
        close: () => pool.close(),
      };
    },
  },
  {
    name: 'undici Agent.request',
    make(origin, connections) {
      const agent = new Agent({ connections, pipelining: 1 });
      return {
        name: this.name,
        call: async (path) => (await agent.request({ origin, path, method: 'GET' })).body.bytes(),
        close: () => agent.close(),
      };
    },
  },
  {
    name: 'poolfetch manager.fetch',
    make(origin, connections) {
      const manager = new PoolManager({ numPools: 10, maxSize: connections });
      return { name: this.name, call: async (path) => (await manager.fetch(origin + path)).arrayBuffer(), close: () => manager.close() };
    },
  },
  {
    name: 'undici fetch + Pool',
    make(origin, connections) {
      const pool = new Pool(origin, { connections, pipelining: 1 });
      return {
        name: this.name,
        call: async (path) => (await undiciFetch(origin + path, { dispatcher: pool })).arrayBuffer(),
        close: () => pool.close(),
      };
    },
  },
  {
    name: 'fetch adapter over undici fetch',
    make(origin, connections) {
      const manager = new FetchPoolManager({ numPools: 10, maxSize: connections, fetch: undiciFetch as unknown as typeof fetch });
      return { name: this.name, call: async (path) => (await manager.fetch(origin + path)).arrayBuffer(), close: () => manager.close() };
    },
  },
  {
    name: 'fetch adapter over undici fetch + Agent',
    make(origin, connections) {
      // undici's fetch over its own Agent capped like the adapter, handed to the adapter as its `fetch`.
      const agent = new Agent({ connections, pipelining: 1 });
      const viaAgent = (input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]): ReturnType<typeof undiciFetch> =>
        undiciFetch(input, init === undefined ? { dispatcher: agent } : { ...init, dispatcher: agent });
      const manager = new FetchPoolManager({ numPools: 10, maxSize: connections, fetch: viaAgent as unknown as typeof fetch });
      return {
        name: this.name,
        call: async (path) => (await manager.fetch(origin + path)).arrayBuffer(),
        close: async () => {
          await manager.close();
          await agent.close();
        },
      };
    },
  },
  {
    name: 'undici fetch + Agent',
    make(origin, connections) {
      const agent = new Agent({ connections, pipelining: 1 });
      return {
        name: this.name,
        call: async (path) => (await undiciFetch(origin + path, { dispatcher: agent })).arrayBuffer(),
        close: () => agent.close(),
      };
    },
  },
  {
    name: 'undici fetch',
    make(origin) {
      // undici's own global dispatcher, as the fetch adapter above uses it.
      return { name: this.name, call: async (path) => (await undiciFetch(origin + path)).arrayBuffer(), close: async () => {} };
    },
  },
  {
    name: 'global fetch',
    make(origin) {
      return { name: this.name, call: async (path) => (await fetch(origin + path)).arrayBuffer(), close: async () => {} };
    },
  },
  {
    name: 'node:http keep-alive',
    make(origin, connections) {
      const agent = keepAlive(connections);
      const call = (path: string): Promise<Buffer> =>
        new Promise((resolve, reject) => {
          http
            .get(origin + path, { agent }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (chunk: Buffer) => chunks.push(chunk));
              res.on('end', () => resolve(Buffer.concat(chunks)));
              res.on('error', reject);
            })
            .on('error', reject);
        });
      return { name: this.name, call, close: async () => agent.destroy() };
    },
  },
  {
    name: 'axios',
    make(origin, connections) {
      const agent = keepAlive(connections);
      const instance = axios.create({ baseURL: origin, httpAgent: agent, responseType: 'arraybuffer' });
      return { name: this.name, call: (path) => instance.get(path), close: async () => agent.destroy() };
    },
  },
  {
    name: 'got',
    make(origin, connections) {
      const agent = keepAlive(connections);
      const instance = got.extend({ prefixUrl: origin, agent: { http: agent }, retry: { limit: 0 } });
      return { name: this.name, call: (path) => instance.get(path.slice(1)).buffer(), close: async () => agent.destroy() };
    },
  },
  {
    name: 'node-fetch',
    make(origin, connections) {
      const agent = keepAlive(connections);
      return {
        name: this.name,
        call: async (path) => (await nodeFetch(origin + path, { agent })).arrayBuffer(),
        close: async () => agent.destroy(),
      };
    },
  },
];

/** One origin, as many sockets as callers: nothing waits. */
export const THROUGHPUT_CLIENTS = [
  'poolfetch request',
  'undici Pool.request',
  'undici Pool.dispatch',
  'undici Agent.request',
  'poolfetch manager.fetch',
  'undici fetch + Pool',
  'fetch adapter over undici fetch',
  'undici fetch',
  'global fetch',
  'node:http keep-alive',
  'axios',
  'got',
  'node-fetch',
];

/** One origin, fewer sockets than callers: the waiting line is part of what is measured. */
export const WAITING_CLIENTS = [
  'poolfetch request',
  'undici Pool.request',
  'undici Pool.dispatch',
  'undici Agent.request',
  'poolfetch manager.fetch',
  'undici fetch + Pool',
  'fetch adapter over undici fetch + Agent',
  'undici fetch + Agent',
  'axios',
  'got',
  'node-fetch',
];

/** The specs named, in that order; a name with no spec is a bug in the bench. */
export function pickSpecs(specs: ClientSpec[], names: readonly string[]): ClientSpec[] {
  return names.map((name) => {
    const spec = specs.find((s) => s.name === name);
    if (spec === undefined) throw new Error(`bench: no client named ${name}`);
    return spec;
  });
}

