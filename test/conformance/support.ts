/**
 * The conformance suite's sides: the runtime's own fetch, which is the
 * expectation, and `manager.fetch` on each entry, which must not be told
 * from it. Each test runs one scenario against the runtime first, checks
 * what the runtime did against the standard (a count or a header at a real
 * server), then runs the same scenario through poolfetch and compares.
 * i19a's unread-body cases live beside these files (test/conformance/).
 */
import type http from 'node:http';
import { PoolManager as FetchPoolManager } from '../../adapters/fetch/index.js';
import { PoolManager as NodePoolManager } from '../../adapters/node/index.js';
import type { PoolManager as CorePoolManager } from '../../src/pool-manager.js';
import type { PoolManagerOptions } from '../../src/types.js';

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface Side {
  readonly name: string;
  readonly fetch: Fetch;
  /** The manager behind `fetch`, for poolfetch's sides. */
  readonly manager?: CorePoolManager;
  close(): Promise<void>;
}

/** The runtime's own fetch, as it was when the suite loaded (nothing here installs another). */
const runtimeFetch: Fetch = globalThis.fetch.bind(globalThis);

export function runtimeSide(): Side {
  return { name: "the runtime's fetch", fetch: runtimeFetch, close: async () => {} };
}

/** poolfetch's sides: `manager.fetch` on the Node entry (undici) and on the fetch entry (over Node's fetch). */
export const entries: ReadonlyArray<{ name: string; make(options?: PoolManagerOptions): Side }> = [
  { name: 'Node entry', make: (options) => managerSide('manager.fetch (Node entry)', new NodePoolManager(options)) },
  { name: 'fetch entry', make: (options) => managerSide('manager.fetch (fetch entry)', new FetchPoolManager(options)) },
];

function managerSide(name: string, manager: CorePoolManager): Side {
  return { name, fetch: manager.fetch, manager, close: () => manager.destroy() };
}

/** What a server saw of one request's framing and default headers. */
export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Header names in the order they came, lower-cased. */
  names: string[];
  body: Buffer;
}

/** A record of every request a handler saw, body read whole. */
export function recorder(): { seen: Seen[]; take(req: http.IncomingMessage): Promise<Seen> } {
  const seen: Seen[] = [];
  return {
    seen,
    async take(req) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const entry: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        names: req.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase()),
        body: Buffer.concat(chunks),
      };
      seen.push(entry);
      return entry;
    },
  };
}

/**
 * The error as code written for fetch looks at it: its class, its message
 * (is-network-error compares it exactly) and `cause.code`. Where the runtime
 * gives no code, poolfetch's cause keeps its own `POOLFETCH_` one, which
 * reads as none here; where the runtime gives one, it must be the same.
 */
export function errorShape(error: unknown): { class: string; message: string; causeCode: unknown } {
  const e = error as { constructor?: { name?: string }; message?: unknown; cause?: { code?: unknown } };
  const code = e.cause?.code;
  return { class: e.constructor?.name ?? typeof error, message: String(e.message), causeCode: typeof code === 'string' && code.startsWith('POOLFETCH_') ? undefined : code };
}
