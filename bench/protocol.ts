/** Messages between the bench and its child processes (servers and many-origin clients). */

export interface ServerConfig {
  /** Loopback addresses to listen on; every one on every port. */
  hosts: string[];
  /** 0 = a free port, chosen on the first host and reused on the others. */
  ports: number[];
  /** Milliseconds before each answer (default 1); 0 answers at once. */
  delayMs?: number;
  /** Idle keep-alive sockets close after this long (Node's default: 5 s). */
  keepAliveTimeoutMs?: number;
  /** Extra files served as they are (the browser page and bundle). */
  statics?: Record<string, { type: string; body: string }>;
}

export interface SocketStats {
  open: Record<string, number>;
  peak: Record<string, number>;
  openAll: number;
  peakAll: number;
  /** Most sockets open at once per `tag origin` (origin = the listening address:port), and most requests in progress at once. */
  originPeak: Record<string, number>;
  originRequestPeak: Record<string, number>;
  /** Sockets opened per tag since the server started. */
  opened: Record<string, number>;
}

export type ServerMessage =
  | { type: 'ready'; ports: number[]; pid: number }
  | ({ type: 'stats'; id: number } & SocketStats);

export type ParentMessage = { type: 'stats'; id: number } | { type: 'reset-peaks'; id: number } | { type: 'close' };

/** `127.1.x.y` with y in 1..254, so no address ends in .0 or .255. */
export function loopbackAddress(i: number): string {
  return `127.1.${Math.floor(i / 254)}.${(i % 254) + 1}`;
}

/** The origins of a many-origins run, port-major so consecutive requests go to different addresses. */
export function originList(count: number, addresses: number, ports: readonly number[]): string[] {
  const origins: string[] = [];
  for (const port of ports) {
    for (let i = 0; i < addresses && origins.length < count; i++) origins.push(`http://${loopbackAddress(i)}:${port}`);
  }
  return origins;
}

/** A many-origins client process: which client, and the origins it cycles through (see originList; a list of 10,000 is too long for argv). */
export interface OriginClientConfig {
  client: 'poolfetch' | 'undici-agent' | 'global-fetch' | 'undici-lru' | 'bare-socket';
  origins: { count: number; addresses: number; ports: number[] };
  concurrency: number;
  numPools: number;
  maxSize: number;
}

export type OriginClientMessage =
  | { type: 'ready' }
  | {
      type: 'pass-done';
      id: number;
      requests: number;
      ms: number;
      rss: number;
      heapUsed: number;
      /** RSS and heap right after a full garbage collection that followed the pass (only when the pass asked for one). */
      collected?: { rss: number; heapUsed: number };
      samples: Array<{ done: number; rss: number }>;
      /** Process warnings the client emitted since its last pass ("name: message"). */
      warnings: string[];
    };

export type OriginParentMessage =
  /**
   * `collect`: after the pass (off its clock), a full garbage collection, and memory measured after it.
   * `rewarm`: requests sent before the clock starts (the same round-robin), so that what the client keeps
   * between requests is as warm as in a client that never paused.
   */
  | { type: 'pass'; id: number; requests: number; sampleEvery: number; collect: boolean; rewarm: number }
  | { type: 'exit' };
