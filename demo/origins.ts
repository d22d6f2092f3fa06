/**
 * The local origins the demo talks to, all on 127.0.0.1 (distinct ports make
 * distinct origins; 127.0.0.2 and up are not configured on every OS).
 * Each answers with CORS headers so the page's panel can reach them too.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Target } from './shared/workload.js';
import { testCertificates } from '../test/support/tls.js';

export interface OriginSpec {
  name: string;
  weight: number;
  /** What the dashboard says about it. */
  note: string;
  tls?: boolean;
  /** Milliseconds before answering: [min, max]. */
  latency: [number, number];
  /** Share of requests answered 503 with `Retry-After: 1`. */
  failRate?: number;
  /** Name of the origin this one redirects every request to (302). */
  redirectTo?: string;
}

export const ORIGIN_SPECS: readonly OriginSpec[] = [
  { name: 'fast-a', weight: 6, note: 'fast', latency: [5, 30] },
  { name: 'fast-b', weight: 5, note: 'fast', latency: [5, 30] },
  { name: 'fast-c', weight: 4, note: 'fast', latency: [5, 40] },
  { name: 'slow', weight: 3, note: 'slow: 300-900 ms', latency: [300, 900] },
  { name: 'flaky', weight: 3, note: 'flaky: 25% 503 + Retry-After: 1', latency: [10, 40], failRate: 0.25 },
  { name: 'tls', weight: 2, note: 'https, certificate made at start', latency: [10, 40], tls: true },
  { name: 'redirect', weight: 2, note: '302 to fast-a', latency: [5, 15], redirectTo: 'fast-a' },
  { name: 'rare', weight: 1, note: 'rarely used: first to be evicted', latency: [5, 30] },
];

export interface Origin extends Target {
  note: string;
  tls: boolean;
  /** Requests this origin has answered, all clients together. */
  readonly served: number;
}

export interface Origins {
  list: Origin[];
  /** The CA certificate that signed the https origin's certificate (for `tls: { ca }`). */
  ca: string;
  close(): Promise<void>;
}

export async function startOrigins(specs: readonly OriginSpec[] = ORIGIN_SPECS): Promise<Origins> {
  const { ca, cert, key } = await testCertificates();
  const servers: Array<{ server: http.Server; sockets: Set<Socket> }> = [];
  const list: Origin[] = [];
  const byName = new Map<string, Origin>();
  try {
    for (const spec of specs) {
      let served = 0;
      const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
        served += 1;
        res.setHeader('access-control-allow-origin', '*');
        res.setHeader('access-control-expose-headers', '*');
        if (req.method === 'OPTIONS') {
          res.setHeader('access-control-allow-headers', '*');
          res.writeHead(204).end();
          return;
        }
        const [min, max] = spec.latency;
        const timer = setTimeout(() => answer(spec, req, res, byName), min + Math.random() * (max - min));
        res.on('close', () => clearTimeout(timer));
      };
      const server = spec.tls === true ? https.createServer({ cert, key }, handler) : http.createServer(handler);
      server.keepAliveTimeout = 10_000;
      const sockets = new Set<Socket>();
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      servers.push({ server, sockets });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      const origin: Origin = {
        name: spec.name,
        url: `${spec.tls === true ? 'https' : 'http'}://127.0.0.1:${port}`,
        weight: spec.weight,
        note: spec.note,
        tls: spec.tls === true,
        get served() {
          return served;
        },
      };
      list.push(origin);
      byName.set(spec.name, origin);
    }
  } catch (error) {
    await closeAll(servers);
    throw error;
  }
  return { list, ca, close: () => closeAll(servers) };
}

function answer(spec: OriginSpec, req: http.IncomingMessage, res: http.ServerResponse, byName: Map<string, Origin>): void {
  if (spec.redirectTo !== undefined) {
    const target = byName.get(spec.redirectTo);
    res.writeHead(302, { location: `${target?.url ?? ''}${req.url ?? '/'}`, 'content-length': '0' }).end();
    return;
  }
  if (spec.failRate !== undefined && Math.random() < spec.failRate) {
    res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' }).end('busy, try again in a second\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ origin: spec.name, path: req.url }));
}

async function closeAll(servers: Array<{ server: http.Server; sockets: Set<Socket> }>): Promise<void> {
  await Promise.all(
    servers.map(
      ({ server, sockets }) =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          if (!server.listening) return resolve();
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
}
