/**
 * The bench's HTTP server, run in its own process (`child_process.fork`) so
 * the client's core is what gets measured. It answers `/1k` and `/64k`
 * after 1 ms (undici's benchmark shape), serves the browser page, and counts
 * the sockets open per client: a client tags its requests with `x-bench`,
 * and a socket belongs to the client of its first request.
 *
 * Talks to the parent over IPC: `ready` once listening; replies to `stats`.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ServerConfig, ServerMessage, ParentMessage } from './protocol.js';

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
let peakAll = 0;
let openAll = 0;
const tags = new WeakMap<Socket, string>();
const UNTAGGED = '(untagged)';

function bump(tag: string, by: number): void {
  const now = (open.get(tag) ?? 0) + by;
  open.set(tag, now);
  if (now > (peak.get(tag) ?? 0)) peak.set(tag, now);
}

function onConnection(socket: Socket): void {
  openAll += 1;
  if (openAll > peakAll) peakAll = openAll;
  tags.set(socket, UNTAGGED);
  bump(UNTAGGED, 1);
  socket.once('close', () => {
    openAll -= 1;
    bump(tags.get(socket) ?? UNTAGGED, -1);
  });
}

function onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
  const socket = req.socket;
  if (tags.get(socket) === UNTAGGED) {
    const tag = req.headers['x-bench'];
    if (typeof tag === 'string') {
      bump(UNTAGGED, -1);
      tags.set(socket, tag);
      bump(tag, 1);
    }
  }
  const path = req.url ?? '/';
  const file = statics.get(path);
  if (file !== undefined) {
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length, 'cache-control': 'no-store' });
    res.end(file.body);
    return;
  }
  const query = path.indexOf('?');
  const body = payloads.get(query === -1 ? path : path.slice(0, query)) ?? ONE_KIB;
  setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  }, DELAY);
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

process.on('message', (message: ParentMessage) => {
  if (message.type === 'stats') {
    send({ type: 'stats', id: message.id, open: Object.fromEntries(open), peak: Object.fromEntries(peak), openAll, peakAll });
  } else if (message.type === 'reset-peaks') {
    peak.clear();
    for (const [tag, n] of open) peak.set(tag, n);
    peakAll = openAll;
    send({ type: 'stats', id: message.id, open: Object.fromEntries(open), peak: Object.fromEntries(peak), openAll, peakAll });
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
