/**
 * Real HTTP and HTTPS servers on loopback for tests, counting what a pool
 * manager must bound: connections open now, the most ever open at once, and
 * requests in flight. `close()` destroys every socket so a test run ends
 * with no open handles.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { testCertificates } from './tls.js';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export interface TestServer {
  /** `http(s)://host:port` (IPv6 hosts in brackets). */
  readonly origin: string;
  readonly host: string;
  readonly port: number;
  /** Sockets open right now. */
  readonly openConnections: number;
  /** Sockets ever accepted. */
  readonly totalConnections: number;
  /** The most sockets open at the same time. */
  readonly peakConnections: number;
  /**
   * The most sockets open at the same time, not counting one its client has
   * already closed (its end received): the server closes its side a turn or
   * two later, and a client that closes one socket and opens another would
   * otherwise be seen with both.
   */
  readonly peakUnendedConnections: number;
  /** Requests being handled right now, and the most at once. */
  readonly inFlight: number;
  readonly peakInFlight: number;
  /** Every request seen: method, url and headers. */
  readonly requests: ReadonlyArray<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  /** Resolves when the server has accepted `n` connections in total. */
  waitForConnections(n: number): Promise<void>;
  /** Resolves when no socket is open (each close is an event; no polling). */
  whenNoConnections(): Promise<void>;
  url(path?: string): string;
  close(): Promise<void>;
}

export interface ServerOptions {
  host?: string;
  port?: number;
  tls?: boolean;
  /** Read the body into `requests[].body` before calling the handler. @default true */
  collectBody?: boolean;
  /** Adds permissive CORS headers and answers preflights (for browser tests). */
  cors?: boolean;
}

/** Answers 200 with a first chunk and no more; resolves when the client goes away (closes the exchange). */
export async function answerEndlessly(res: http.ServerResponse): Promise<void> {
  res.writeHead(200);
  res.write('first chunk, and no more until the client goes away');
  await new Promise((resolve) => res.on('close', resolve));
}

/** A default handler: echoes the method and URL as JSON, with a `server` header. */
export const echo: Handler = (req, res) => {
  res.setHeader('server', 'poolfetch-test');
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
};

export async function startServer(handler: Handler = echo, options: ServerOptions = {}): Promise<TestServer> {
  const host = options.host ?? '127.0.0.1';
  const requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const sockets = new Set<Socket>();
  let total = 0;
  let peak = 0;
  let unended = 0;
  let peakUnended = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let idleWaiters: Array<() => void> = [];
  const forget = (socket: Socket): void => {
    sockets.delete(socket);
    if (sockets.size === 0) {
      const ready = idleWaiters;
      idleWaiters = [];
      for (const resolve of ready) resolve();
    }
  };

  const listener = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    inFlight += 1;
    peakInFlight = Math.max(peakInFlight, inFlight);
    let done = false;
    const finish = (): void => {
      if (!done) {
        done = true;
        inFlight -= 1;
      }
    };
    res.on('finish', finish);
    res.on('close', finish);
    if (options.cors === true) {
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('access-control-allow-headers', '*');
      res.setHeader('access-control-allow-methods', '*');
      res.setHeader('access-control-expose-headers', '*');
      if (req.method === 'OPTIONS') {
        res.writeHead(204).end();
        return;
      }
    }
    let body = '';
    if (options.collectBody !== false) {
      for await (const chunk of req) body += String(chunk);
    }
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    try {
      await handler(req, res);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    }
  };

  let server: http.Server;
  if (options.tls === true) {
    const { cert, key } = await testCertificates();
    server = https.createServer({ cert, key }, (req, res) => void listener(req, res));
  } else {
    server = http.createServer((req, res) => void listener(req, res));
  }
  // The TCP socket, for http and https alike: a TLS socket wraps it, and counting both would count one connection twice.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    total += 1;
    peak = Math.max(peak, sockets.size);
    unended += 1;
    peakUnended = Math.max(peakUnended, unended);
    let ended = false;
    const end = (): void => {
      if (!ended) {
        ended = true;
        unended -= 1;
      }
    };
    socket.on('end', end);
    socket.on('close', () => {
      end();
      forget(socket);
    });
    for (const w of waiters.filter((w) => total >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const scheme = options.tls === true ? 'https' : 'http';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const origin = `${scheme}://${hostPart}:${port}`;
  return {
    origin,
    host,
    port,
    get openConnections() {
      return sockets.size;
    },
    get totalConnections() {
      return total;
    },
    get peakConnections() {
      return peak;
    },
    get peakUnendedConnections() {
      return peakUnended;
    },
    get inFlight() {
      return inFlight;
    },
    get peakInFlight() {
      return peakInFlight;
    },
    requests,
    waitForConnections(n: number) {
      return total >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
    },
    whenNoConnections() {
      return sockets.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    url: (path = '/') => `${origin}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A promise and the functions that settle it, for handlers that wait on the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
