/**
 * The live dashboard: a workload that runs until stopped, one Node
 * `PoolManager` under it, and a small HTTP server on 127.0.0.1 that serves
 * the page, uPlot, and the manager's state as server-sent events.
 *
 *   GET  /              the page        GET /events          SSE: hello, snapshot (4/s), log
 *   GET  /app.js        page bundle     POST /api/settings   new workload settings (JSON)
 *   GET  /uplot.*       uPlot           POST /api/clear      manager.clear()
 *                                        POST /api/pause | /api/resume
 */
import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { DemoPoolManager } from './node-manager.js';
import type { Origins } from './origins.js';
import { checkSettings, defaultSettings, managerOptions, type DemoSettings } from './shared/settings.js';
import type { LogEntry } from './shared/tracker.js';
import { runWorkload } from './shared/workload.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const uplotDir = `${createRequire(import.meta.url).resolve('uplot').replace(/[^/\\]+$/, '')}`;

/** Keeps the last entries for pages that connect later. */
const LOG_KEPT = 200;

/** The workload and its manager; settings changes make a new manager (its options are fixed at construction). */
export class LiveWorkload {
  settings: DemoSettings;
  manager!: DemoPoolManager;
  running = false;
  readonly #origins: Origins;
  readonly #onLog: (entry: LogEntry) => void;
  #stop = new AbortController();
  #loop: Promise<unknown> = Promise.resolve();
  #unsubscribe: () => void = () => undefined;
  sent = 0;

  constructor(origins: Origins, onLog: (entry: LogEntry) => void) {
    this.#origins = origins;
    this.#onLog = onLog;
    this.settings = defaultSettings(origins.list.map((o) => o.name));
    this.#makeManager();
  }

  #makeManager(): void {
    this.#unsubscribe();
    this.manager = new DemoPoolManager({ ...managerOptions(this.settings), tls: { ca: this.#origins.ca } });
    this.#unsubscribe = this.manager.tracker.onLog(this.#onLog);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.#stop = new AbortController();
    // Every request in flight listens on this one signal: more than Node's default of 10 is expected.
    setMaxListeners(0, this.#stop.signal);
    const targets = this.#origins.list.filter((o) => this.settings.origins.includes(o.name));
    this.#loop = runWorkload({
      requester: this.manager,
      targets,
      concurrency: this.settings.concurrency,
      signal: this.#stop.signal,
      thinkMs: 40,
      seed: Date.now(),
      onResult: ({ target, error }) => {
        this.sent += 1;
        this.manager.tracker.logFailure(target.url, error);
      },
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.#stop.abort();
    await this.#loop;
  }

  async apply(input: unknown): Promise<void> {
    const settings = checkSettings(input, this.#origins.list.map((o) => o.name));
    const wasRunning = this.running;
    await this.stop();
    const old = this.manager;
    this.settings = settings;
    this.#makeManager();
    this.manager.tracker.log('settings', '', describeSettings(settings));
    await old.clear();
    if (wasRunning) this.start();
  }

  async close(): Promise<void> {
    await this.stop();
    await this.manager.clear();
    this.#unsubscribe();
  }
}

export function describeSettings(s: DemoSettings): string {
  return `origins ${s.origins.join(',')}; concurrency ${s.concurrency}; numPools ${s.numPools}; maxSize ${s.maxSize}; maxTotal ${s.maxTotal === 0 ? 'none' : s.maxTotal}`;
}

export interface Dashboard {
  url: string;
  live: LiveWorkload;
  close(): Promise<void>;
}

export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

export async function startDashboard(origins: Origins, pageScript: string, port: number): Promise<Dashboard> {
  const clients = new Set<http.ServerResponse>();
  const recent: LogEntry[] = [];
  const send = (event: string, data: unknown): void => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of clients) client.write(frame);
  };
  const live = new LiveWorkload(origins, (entry) => {
    recent.push(entry);
    if (recent.length > LOG_KEPT) recent.shift();
    send('log', entry);
  });
  const hello = () => ({
    origins: origins.list.map(({ name, url, note, tls }) => ({ name, url, note, tls })),
    settings: live.settings,
    running: live.running,
    log: recent,
  });

  const files: Record<string, [file: string, type: string]> = {
    '/': [`${here}page/index.html`, 'text/html; charset=utf-8'],
    '/style.css': [`${here}page/style.css`, 'text/css; charset=utf-8'],
    '/uplot.js': [`${uplotDir}uPlot.iife.min.js`, 'text/javascript; charset=utf-8'],
    '/uplot.css': [`${uplotDir}uPlot.min.css`, 'text/css; charset=utf-8'],
  };

  const server = http.createServer((req, res) => {
    void route(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const file = files[path];
    if (req.method === 'GET' && file !== undefined) {
      res.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' }).end(await readFile(file[0]));
    } else if (req.method === 'GET' && path === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }).end(pageScript);
    } else if (req.method === 'GET' && path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`event: hello\ndata: ${JSON.stringify(hello())}\n\n`);
      clients.add(res);
      req.on('close', () => clients.delete(res));
    } else if (req.method === 'POST' && path.startsWith('/api/')) {
      await control(path.slice('/api/'.length), req, res);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`Not found: ${req.method ?? ''} ${path}\n`);
    }
  }

  async function control(action: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    try {
      if (action === 'settings') await live.apply(JSON.parse(body || 'null'));
      else if (action === 'clear') {
        live.manager.tracker.log('clear', '', 'manager.clear()');
        await live.manager.clear();
      } else if (action === 'pause') await live.stop();
      else if (action === 'resume') live.start();
      else throw new TypeError(`Unknown action ${JSON.stringify(action)}`);
    } catch (error) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (error as Error).message }));
      return;
    }
    send('state', { settings: live.settings, running: live.running });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ settings: live.settings, running: live.running }));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(`port ${port} on 127.0.0.1 is in use; pass another --port, or none for a free one`) : error);
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  live.start();
  const ticker = setInterval(() => send('snapshot', { ...live.manager.tracker.snapshot(), sent: live.sent, running: live.running }), 250);

  return {
    url,
    live,
    async close() {
      clearInterval(ticker);
      for (const client of clients) client.end();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await live.close();
    },
  };
}
