/**
 * What every semantics test shares: the two adapters to run against, a
 * server with the routes of urllib3's dummy server, and a clock that records
 * waits instead of waiting.
 */
import type http from 'node:http';
import { PoolManager as FetchPoolManager } from '../../adapters/fetch/index.js';
import { PoolManager as NodePoolManager } from '../../adapters/node/index.js';
import type { PoolManager as CorePoolManager } from '../../src/pool-manager.js';
import type { Clock, PoolManagerOptions } from '../../src/types.js';
import { startServer, type Handler, type ServerOptions, type TestServer } from '../support/servers.js';

export interface Adapter {
  readonly name: 'node' | 'fetch';
  make(options?: PoolManagerOptions): CorePoolManager;
  /** The runtime follows redirects itself (a browser's fetch), so the core sees only the last hop; Node's fetch shows them. */
  readonly followsRedirects: boolean;
}

/** The Node adapter (undici pools) and the fetch adapter (over Node's own fetch), on the same servers. */
export const adapters: readonly Adapter[] = [
  { name: 'node', make: (options) => new NodePoolManager(options), followsRedirects: false },
  { name: 'fetch', make: (options) => new FetchPoolManager(options), followsRedirects: false },
];

/** `now` frozen at a known instant; `sleep` records the delay and returns at once. */
export function fakeClock(now = Date.UTC(2019, 5, 3, 11)): { clock: Required<Clock>; sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    clock: {
      now: () => now,
      sleep: (ms, signal) => {
        if (signal?.aborted === true) return Promise.reject(signal.reason);
        sleeps.push(ms);
        return Promise.resolve();
      },
    },
  };
}

export async function readBody(req: http.IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

/**
 * urllib3's dummy-server routes:
 * - `/redirect?target=URL&status=303` answers `status` with `Location: target`;
 * - `/loop` redirects to itself;
 * - `/echo` answers JSON `{ method, url, headers, body }`;
 * - `/status?status=N&retry-after=V` answers N (with `Retry-After: V`).
 */
export const routes: Handler = async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://placeholder');
  const param = (name: string): string | null => url.searchParams.get(name);
  const body = await readBody(req);
  // The last segment picks the route, so /dir/redirect redirects too (for relative Locations).
  switch (`/${url.pathname.split('/').pop() ?? ''}`) {
    case '/redirect': {
      const target = param('target') ?? '/echo';
      res.writeHead(Number(param('status') ?? 303), { location: target });
      res.end(`Redirecting to ${target}`);
      return;
    }
    case '/loop':
      res.writeHead(302, { location: '/loop' });
      res.end();
      return;
    case '/status': {
      const retryAfter = param('retry-after');
      res.writeHead(Number(param('status') ?? 200), retryAfter === null ? {} : { 'retry-after': retryAfter });
      res.end(`status ${param('status') ?? 200}`);
      return;
    }
    default:
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
  }
};

/** A server that serves `routes`, reading bodies itself. */
export function routesServer(options: ServerOptions = {}): Promise<TestServer> {
  return startServer(routes, { collectBody: false, ...options });
}

export interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  body: string;
}
