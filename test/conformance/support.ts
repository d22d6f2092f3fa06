/**
 * The conformance suite's sides: the runtime's own fetch, which is the
 * expectation, and `manager.fetch` on each entry, which must not be told
 * from it. Each test runs one scenario against the runtime first, checks
 * what the runtime did against the standard (a count or a header at a real
 * server), then runs the same scenario through poolfetch and compares.
 * i19a's unread-body cases live beside these files (test/conformance/).
 */
import type http from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { PoolManager as FetchPoolManager } from '../../adapters/fetch/index.js';
import { PoolManager as NodePoolManager } from '../../adapters/node/index.js';
import type { PoolManager as CorePoolManager } from '../../src/pool-manager.js';
import type { PoolManagerOptions } from '../../src/types.js';
import { startServer, type TestServer } from '../support/servers.js';

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

/** A server whose every request is recorded (body read whole) before `answer` answers it. */
export interface RecordingServer {
  /** The requests in the order they arrived. */
  readonly seen: Seen[];
  /** The request recorded last. */
  last(): Seen;
  url(path?: string): string;
  close(): Promise<void>;
}

/** How a recording server answers a request it has recorded. */
export type Answer = (seen: Seen, res: http.ServerResponse) => void;

const answerOk: Answer = (_seen, res) => {
  res.end('ok');
};

/** Starts a recording server on 127.0.0.1; by default it answers `ok` to everything. */
export async function startRecordingServer(answer: Answer = answerOk): Promise<RecordingServer> {
  const record = recorder();
  const server = await listen(record, answer);
  return recordingView(record.seen, () => server);
}

/**
 * A recording server for a whole test file: started before its first test,
 * closed after its last. Call it at the top of the file.
 */
export function recordingServerForFile(answer: Answer = answerOk): RecordingServer {
  const record = recorder();
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await listen(record, answer);
  });
  afterAll(() => server?.close());
  return recordingView(record.seen, () => {
    if (server === undefined) throw new Error('the recording server was used before beforeAll started it');
    return server;
  });
}

function listen(record: ReturnType<typeof recorder>, answer: Answer): Promise<TestServer> {
  return startServer(async (req, res) => {
    answer(await record.take(req), res);
  }, { collectBody: false });
}

function recordingView(seen: Seen[], server: () => TestServer): RecordingServer {
  return {
    seen,
    last() {
      const entry = seen.at(-1);
      if (entry === undefined) throw new Error('no request has reached the recording server');
      return entry;
    },
    url: (path) => server().url(path),
    close: () => server().close(),
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
