/**
 * Raw `node:net` servers that misbehave on purpose, for the fault suite.
 * An HTTP server from `node:http` cannot send a malformed status line,
 * reset a socket at a chosen byte or stall mid-body; these can. Each one
 * records what it received (every request head, whole), so a test asserts
 * what reached the server, not what the client believes it sent.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { MaxRetryError, PoolfetchError } from '../../src/errors.js';

/** One request as the server read it off the wire. */
export interface Received {
  readonly method: string;
  readonly path: string;
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What a behaviour gets: the socket, the request, and how many requests this socket carried before it. */
export interface Exchange {
  readonly socket: Socket;
  readonly request: Received;
  readonly earlierOnSocket: number;
  /** Marks the socket as one the server holds open on purpose (a stall): see `whenNoneHeld`. */
  hold(): void;
}

export type Behaviour = (exchange: Exchange) => void;

export interface RawServer {
  readonly origin: string;
  readonly port: number;
  readonly received: readonly Received[];
  /** Requests received with this method (and path, when given). */
  count(method: string, path?: string): number;
  readonly openSockets: number;
  /** Resolves once no socket is open (each close is an event). */
  whenNoSockets(): Promise<void>;
  /** Resolves once every socket a behaviour held (a stall) has been closed by the client. */
  whenNoneHeld(): Promise<void>;
  url(path: string): string;
  close(): Promise<void>;
}

/** A plain 200 with a body, kept alive. */
export function ok(socket: Socket, body = 'ok'): void {
  socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * Serves `routes` by path; any other path answers `ok`. Only content-length
 * request bodies are read (the fault suite sends strings); a chunked one
 * fails the server loudly rather than being misread.
 */
export async function startRawServer(routes: Record<string, Behaviour>): Promise<RawServer> {
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const held = new Set<Socket>();
  let noSockets: Array<() => void> = [];
  let noneHeld: Array<() => void> = [];
  const settle = (): void => {
    if (sockets.size === 0) {
      for (const resolve of noSockets) resolve();
      noSockets = [];
    }
    if (held.size === 0) {
      for (const resolve of noneHeld) resolve();
      noneHeld = [];
    }
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {
      // A client reset is part of the faults under test.
    });
    socket.on('close', () => {
      sockets.delete(socket);
      held.delete(socket);
      settle();
    });
    let buffered = Buffer.alloc(0);
    let served = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buffered.subarray(0, end).toString('latin1').split('\r\n');
        const [method = '', path = ''] = (lines[0] ?? '').split(' ');
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        if (headers['transfer-encoding'] !== undefined) throw new Error(`raw server: chunked request bodies are not read (${method} ${path})`);
        const length = Number(headers['content-length'] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const body = buffered.subarray(end + 4, end + 4 + length).toString('utf8');
        buffered = buffered.subarray(end + 4 + length);
        const request = { method, path, headers, body };
        received.push(request);
        const behaviour = routes[path];
        const earlierOnSocket = served;
        served += 1;
        if (behaviour === undefined) ok(socket);
        else behaviour({ socket, request, earlierOnSocket, hold: () => held.add(socket) });
        if (socket.destroyed) return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    port,
    received,
    count: (method, path) => received.filter((r) => r.method === method && (path === undefined || r.path === path)).length,
    get openSockets() {
      return sockets.size;
    },
    whenNoSockets: () => (sockets.size === 0 ? Promise.resolve() : new Promise((resolve) => noSockets.push(resolve))),
    whenNoneHeld: () => (held.size === 0 ? Promise.resolve() : new Promise((resolve) => noneHeld.push(resolve))),
    url: (path) => `${origin}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Writes `total` bytes of body in 64 KiB chunks, each only once the socket
 * has drained the last (one buffer reused, so a 100 MB body costs 64 KiB
 * here); stops when the socket closes. `sent()` says how far it got.
 */
export function streamBody(socket: Socket, total: number): { sent(): number } {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sent = 0;
  const pump = (): void => {
    while (sent < total && !socket.destroyed) {
      const size = Math.min(chunk.length, total - sent);
      sent += size;
      if (!socket.write(size === chunk.length ? chunk : chunk.subarray(0, size))) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${total}\r\n\r\n`);
  pump();
  return { sent: () => sent };
}

/** Every message, string form, url and cause of `error`: where the password must never be. */
export function everythingShown(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 8; depth += 1) {
    parts.push(String(e), e instanceof Error ? (e.stack ?? '') : '', JSON.stringify(e) ?? '');
    if (e instanceof PoolfetchError) parts.push(e.url ?? '');
    if (e instanceof MaxRetryError) parts.push(everythingShown(e.reason));
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}
