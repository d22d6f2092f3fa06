/**
 * Real proxies on loopback for the ProxyManager tests: the npm `proxy`
 * package (as undici's own tests use) in this process, recording what it
 * was asked, and Debian's tinyproxy as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProxy } from 'proxy';
import { testCertificates } from '../support/tls.js';

export interface SeenByProxy {
  /** `GET` for a forwarded request, `CONNECT` for a tunnel. */
  method: string;
  /** Absolute form (`http://host:port/path`) or `host:port` for CONNECT. */
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface TestProxy {
  /** `http://127.0.0.1:port` (or https), without credentials. */
  readonly origin: string;
  readonly port: number;
  readonly seen: SeenByProxy[];
  /** Connections the proxy accepted from clients. */
  readonly connections: number;
  /** Client connections open right now. */
  readonly openConnections: number;
  /** Resolves once no client connection is open (each close is an event). */
  whenNoConnections(): Promise<void>;
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** `user:password` the proxy demands as Basic auth; none by default. */
  auth?: string;
  /** Serve the proxy itself over TLS (an https:// proxy). */
  tls?: boolean;
  /** Answer every CONNECT with this status instead of tunnelling. */
  connectStatus?: number;
  /** Reset every CONNECT instead of answering. */
  resetConnect?: boolean;
}

export async function startProxy(options: ProxyOptions = {}): Promise<TestProxy> {
  const base = options.tls === true ? https.createServer(await testCertificates()) : http.createServer();
  const seen: SeenByProxy[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const idle: Array<() => void> = [];
  base.on('connection', (socket: Socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      if (sockets.size > 0) return;
      for (const resolve of idle.splice(0)) resolve();
    });
  });
  const record = (req: http.IncomingMessage): void => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
  };
  if (options.connectStatus !== undefined || options.resetConnect === true) {
    // Stand-ins for a proxy that refuses tunnels: no `proxy` package CONNECT handler at all.
    base.on('connect', (req: http.IncomingMessage, socket: Socket) => {
      record(req);
      if (options.resetConnect === true) socket.resetAndDestroy();
      else socket.end(`HTTP/1.1 ${options.connectStatus} Refused\r\ncontent-length: 0\r\n\r\n`);
    });
    base.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      record(req);
      res.writeHead(502).end();
    });
  } else {
    base.on('request', record);
    base.on('connect', record);
    const server = createProxy(base);
    if (options.auth !== undefined) {
      const expected = `Basic ${Buffer.from(options.auth).toString('base64')}`;
      server.authenticate = (req) => req.headers['proxy-authorization'] === expected;
    }
  }
  await new Promise<void>((resolve) => base.listen(0, '127.0.0.1', resolve));
  const port = (base.address() as AddressInfo).port;
  return {
    origin: `${options.tls === true ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    seen,
    get connections() {
      return connections;
    },
    get openConnections() {
      return sockets.size;
    },
    whenNoConnections: () => (sockets.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => idle.push(resolve))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        base.close(() => resolve());
        base.closeAllConnections();
      }),
  };
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export const TINYPROXY = ['/usr/bin/tinyproxy', '/usr/sbin/tinyproxy'].find((path) => existsSync(path));

export interface Tinyproxy {
  readonly origin: string;
  /** What tinyproxy logged so far: a `Request (file descriptor n): GET http://… HTTP/1.1` line per request. */
  log(): string;
  close(): Promise<void>;
}

/** Starts tinyproxy in the foreground on a free loopback port with a generated config; its log is its stdout. */
export async function startTinyproxy(binary: string, options: { auth?: string } = {}): Promise<Tinyproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'poolfetch-tinyproxy-'));
  const port = await freePort();
  const [user, password] = (options.auth ?? '').split(':');
  const config = [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 30',
    'MaxClients 50',
    'Allow 127.0.0.1',
    'LogLevel Info',
    // As root (CI) tinyproxy drops to an unprivileged account; it must be able to read nothing else of ours.
    ...(process.getuid?.() === 0 ? ['User nobody', 'Group nogroup'] : []),
    ...(options.auth === undefined ? [] : [`BasicAuth ${user} ${password}`]),
  ].join('\n');
  const configFile = join(dir, 'tinyproxy.conf');
  await writeFile(configFile, `${config}\n`);
  const child: ChildProcess = spawn(binary, ['-d', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += String(chunk);
      if (output.includes('Accepting connections')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(() => reject(new Error(`tinyproxy exited before accepting connections:\n${output}`)));
  });
  try {
    await ready;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    origin: `http://127.0.0.1:${port}`,
    log: () => output,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
