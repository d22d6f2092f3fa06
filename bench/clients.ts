/**
 * The clients compared on one origin. Every one reads the whole body into
 * memory and may open as many sockets as there are concurrent requests
 * (`CONNECTIONS`), so the only difference is the client's own work.
 */
import http from 'node:http';
import axios from 'axios';
import got from 'got';
import nodeFetch from 'node-fetch';
import { Agent, Pool, fetch as undiciFetch, request as undiciRequest } from 'undici';
import type * as NodeEntry from '../adapters/node/index.js';
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
    name: 'undici Agent + request',
    make(origin, connections) {
      const agent = new Agent({ connections, pipelining: 1 });
      return {
        name: this.name,
        call: async (path) => (await undiciRequest(origin + path, { dispatcher: agent })).body.bytes(),
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
    name: 'undici fetch + dispatcher',
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
