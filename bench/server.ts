/**
 * The bench's HTTP server, run in its own process (`child_process.fork`) so
 * the client's core is what gets measured. It answers `/1k` and `/64k`
 * (and `/1k-chunked`, the same 1 KiB without a content-length)
 * after `delayMs` (default 1 ms, undici's benchmark shape; 0 answers in the
 * same tick), serves the browser page, and counts the sockets open per
 * client: a client tags its requests with `x-bench`, and a socket belongs to
 * the client of its first request. It also counts, per client and per
 * origin (listening address and port), the most sockets open and the most
 * requests in progress at once: the per-origin cap, measured where it
 * cannot be faked.
 *
 * Talks to the parent over IPC: `ready` once listening; replies to `stats`.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ParentMessage, ServerConfig, ServerMessage, SocketStats } from './protocol.js';

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
const DELAY = config.delayMs ?? 1;
const ONE_KIB = Buffer.alloc(1024, 'a');
const payloads = new Map<string, Buffer>([
  ['/1k', ONE_KIB],
  ['/64k', Buffer.alloc(64 * 1024, 'b')],
]);
const statics = new Map<string, { type: string; body: Buffer }>();
for (const [path, file] of Object.entries(config.statics ?? {})) {
  statics.set(path, { type: file.type, body: Buffer.from(file.body) });
}

/** Open sockets per client tag, and the most ever open at once. */
const open = new Map<string, number>();
const peak = new Map<string, number>();
/** The same per `tag origin`, and requests in progress per `tag origin` (a request ends when its response is sent or its socket closes). */
const originOpen = new Map<string, number>();
const originPeak = new Map<string, number>();
const originRequests = new Map<string, number>();
const originRequestPeak = new Map<string, number>();
/** Sockets opened per client tag, ever. */
const opened = new Map<string, number>();
let peakAll = 0;
let openAll = 0;
const tags = new WeakMap<Socket, string>();
const UNTAGGED = '(untagged)';

function count(now: Map<string, number>, top: Map<string, number>, key: string, by: number): void {
  const n = (now.get(key) ?? 0) + by;
  now.set(key, n);
  if (n > (top.get(key) ?? 0)) top.set(key, n);
}

/** Each socket's origin, read when it connects: a closed socket no longer knows its local address. */
const origins = new WeakMap<Socket, string>();
const originOf = (socket: Socket): string => {
  let origin = origins.get(socket);
  if (origin === undefined) {
    origin = `${socket.localAddress ?? '?'}:${socket.localPort ?? 0}`;
    origins.set(socket, origin);
  }
  return origin;
};

function bump(socket: Socket, tag: string, by: number): void {
  count(open, peak, tag, by);
  count(originOpen, originPeak, `${tag} ${originOf(socket)}`, by);
}

function onConnection(socket: Socket): void {
  openAll += 1;
  if (openAll > peakAll) peakAll = openAll;
  tags.set(socket, UNTAGGED);
  bump(socket, UNTAGGED, 1);
  // A socket stops counting when the client ends it (its FIN arrives), not when this side has finished closing it:
  // the client may already be opening its next one, and that is not two at once from its side.
  let counted = true;
  const closed = (): void => {
    if (!counted) return;
    counted = false;
    openAll -= 1;
    bump(socket, tags.get(socket) ?? UNTAGGED, -1);
  };
  socket.once('end', closed);
  socket.once('close', closed);
}

function onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
  const socket = req.socket;
  const tag = req.headers['x-bench'];
  if (tags.get(socket) === UNTAGGED && typeof tag === 'string') {
    bump(socket, UNTAGGED, -1);
    tags.set(socket, tag);
    bump(socket, tag, 1);
    opened.set(tag, (opened.get(tag) ?? 0) + 1);
  }
  if (typeof tag === 'string') {
    const key = `${tag} ${originOf(socket)}`;
    count(originRequests, originRequestPeak, key, 1);
    res.once('close', () => count(originRequests, originRequestPeak, key, -1));
  }
  const path = req.url ?? '/';
  const file = statics.get(path);
  if (file !== undefined) {
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length, 'cache-control': 'no-store' });
    res.end(file.body);
    return;
  }
  const query = path.indexOf('?');
  const route = query === -1 ? path : path.slice(0, query);
  const body = payloads.get(route) ?? ONE_KIB;
  // `/1k-chunked`: the same 1 KiB with no content-length (a client cannot know its length before the end).
  const chunked = route === '/1k-chunked';
  const answer = (): void => {
    if (chunked) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(body);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  };
  // setTimeout(0) would still wait about 1 ms.
  if (DELAY > 0) setTimeout(answer, DELAY);
  else answer();
}

const servers: http.Server[] = [];

async function listen(host: string, port: number): Promise<number> {
  const server = http.createServer({ keepAlive: true }, onRequest);
  server.on('connection', onConnection);
  // Idle keep-alive sockets close after 5 s (Node's default) unless told otherwise, as a real server's would.
  if (config.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = config.keepAliveTimeoutMs;
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function main(): Promise<void> {
  const ports: number[] = [];
  // Each port is first bound on the first host (port 0 = any free one), then reused on every other host.
  const [firstHost, ...otherHosts] = config.hosts;
  if (firstHost === undefined) throw new Error('server: no hosts');
  for (const wanted of config.ports) ports.push(await listen(firstHost, wanted));
  const batch: Promise<number>[] = [];
  for (const host of otherHosts) {
    for (const port of ports) batch.push(listen(host, port));
    if (batch.length >= 256) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  send({ type: 'ready', ports, pid: process.pid });
}

function send(message: ServerMessage): void {
  process.send?.(message);
}

function snapshot(): SocketStats {
  return {
    open: Object.fromEntries(open),
    peak: Object.fromEntries(peak),
    openAll,
    peakAll,
    originPeak: Object.fromEntries(originPeak),
    originRequestPeak: Object.fromEntries(originRequestPeak),
    opened: Object.fromEntries(opened),
  };
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stats') {
    send({ type: 'stats', id: message.id, ...snapshot() });
  } else if (message.type === 'reset-peaks') {
    for (const [now, top] of [[open, peak], [originOpen, originPeak], [originRequests, originRequestPeak]] as const) {
      top.clear();
      for (const [key, n] of now) top.set(key, n);
    }
    peakAll = openAll;
    send({ type: 'stats', id: message.id, ...snapshot() });
  } else if (message.type === 'close') {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    process.disconnect();
  }
});
// The parent going away (Ctrl-C, a crash) must not leave servers behind.
process.on('disconnect', () => process.exit(0));

main().catch((error: unknown) => {
  console.error('bench server failed:', error);
  process.exit(1);
});
