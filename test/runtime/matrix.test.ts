/**
 * The runtime matrix: the cross-runtime behavioural suite run by Node 20
 * (this machine's), Node 22, Node 24, Bun and Deno, each importing the
 * packed tarball BY NAME from a scratch project, so each runtime's own
 * export conditions pick the entry, as they do for users. The runtimes'
 * binaries come from npm (scripts/runtimes.mjs, cached under .cache/); one
 * that cannot be fetched fails here with the reason.
 *
 * The servers run here, in the test process; the runtime under test runs
 * test/runtime/matrix/client.mjs, which reports what it saw as JSON lines.
 * Assertions are on those reports and on what the servers counted: requests
 * held at a server until the test lets them answer make the caps visible
 * without timing (a cap that did not hold shows as more open at once).
 * Run by `npm test` (its own step) or `npm run test:runtimes`, after `npm run build`.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs script without types
import { cacheDir, ensureKy2, ensureRuntime, runtimes as matrix } from '../../scripts/runtimes.mjs';
import { drive, gate, type Gate } from '../fetch-adapter/support.js';
import { expectFreshBuild } from '../support/built.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';

interface RuntimeSpec {
  id: string;
  name: string;
  version: string;
  args: string[];
  /** 2: the ky scenario runs with ky 2 (which needs Node 22) from the cache; else with node_modules' ky 1. */
  ky?: number;
}

const root = resolve(import.meta.dirname, '../..');
const runtimes = matrix as RuntimeSpec[];
const fetchEntry = '/node_modules/poolfetch/dist/adapters/fetch/index.js';
const nodeEntry = '/node_modules/poolfetch/dist/adapters/node/index.js';

let scratch: string;
let app: string;

beforeAll(async () => {
  expectFreshBuild();
  // The packed tarball, unpacked as an app's dependency. Inside the repo, so the package's own dependencies
  // (p-queue, quick-lru, undici) and ky resolve from the repo's node_modules as they would from an app's.
  mkdirSync(join(root, '.tmp'), { recursive: true });
  scratch = mkdtempSync(join(root, '.tmp/matrix-'));
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop() ?? '';
  app = join(scratch, 'app');
  mkdirSync(join(app, 'node_modules/poolfetch'), { recursive: true });
  execFileSync('tar', ['-xzf', join(scratch, tarball), '-C', join(app, 'node_modules/poolfetch'), '--strip-components=1']);
  // Its own package.json, so 'poolfetch' is not this repo by self-reference; Deno reads it for npm resolution.
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'matrix-app', private: true, type: 'module', dependencies: { poolfetch: '*' } }));
  copyFileSync(join(root, 'test/runtime/matrix/client.mjs'), join(app, 'client.mjs'));

}, 60_000);

afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

/**
 * The servers one runtime's client talks to, fresh for each runtime so
 * every count starts at zero. Requests to `held` and `held2` wait in the
 * gate of their scenario (the first path segment) until the test lets them
 * answer; the control server answers once a scenario's gate has seen n.
 */
interface Servers {
  plain: TestServer;
  other: TestServer;
  third: TestServer;
  held: TestServer;
  held2: TestServer;
  lone: TestServer;
  control: TestServer;
  closedUrl: string;
  flakyCounts: Map<string, number>;
  gates: Map<string, Gate>;
  gateOf(scenario: string): Gate;
  close(): Promise<void>;
}

async function startServers(): Promise<Servers> {
  const gates = new Map<string, Gate>();
  const gateOf = (scenario: string): Gate => {
    let g = gates.get(scenario);
    if (g === undefined) {
      g = gate();
      gates.set(scenario, g);
    }
    return g;
  };
  const flakyCounts = new Map<string, number>();
  // The handlers below refer to their own server (and plain to other), declared by then.
  const plain: TestServer = await startServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/redirect') return void res.writeHead(302, { location: '/landed' }).end();
    if (url === '/cross') return void res.writeHead(302, { location: other.url('/landed-cross') }).end();
    if (url === '/always503') return void res.writeHead(503).end('busy');
    if (url.startsWith('/flaky/')) {
      const seen = (flakyCounts.get(url) ?? 0) + 1;
      flakyCounts.set(url, seen);
      if (seen <= 2) return void res.writeHead(503).end('busy');
    }
    const body = plain.requests.at(-1)?.body ?? '';
    res.setHeader('server', 'matrix');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url, body, contentType: req.headers['content-type'] ?? null }));
  });
  const other = await startServer(undefined, { host: '127.0.0.2' });
  const third = await startServer(undefined, { host: '127.0.0.3' });
  const lone = await startServer(undefined, { host: '127.0.0.4' });
  const holding = (server: () => TestServer) => (req: { url?: string | undefined }, res: { end(text: string): void }) => {
    const url = req.url ?? '';
    const scenario = url.split('/')[1] ?? '';
    return gateOf(scenario).hold(url, () => void res.end(url), server().origin);
  };
  const held: TestServer = await startServer(holding(() => held));
  const held2: TestServer = await startServer(holding(() => held2), { host: '127.0.0.2' });
  const control = await startServer(async (req, res) => {
    const query = new URL(req.url ?? '', 'http://x').searchParams;
    const group = query.get('group') ?? '';
    await gateOf(query.get('scenario') ?? '').whenStarted(Number(query.get('n')), group === '' ? undefined : group);
    res.end('ok');
  });
  const gone = await startServer();
  const closedUrl = gone.url('/');
  await gone.close();
  const servers = [plain, other, third, held, held2, lone, control];
  return {
    plain,
    other,
    third,
    held,
    held2,
    lone,
    control,
    closedUrl,
    flakyCounts,
    gates,
    gateOf,
    close: async () => {
      for (const g of gates.values()) g.releaseAll();
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}

interface Client {
  child: ChildProcess;
  /** The `data` of the line `{ scenario, stage }`, once it arrives; rejects if the client exits first. */
  stage<T = Record<string, unknown>>(scenario: string, stage?: string): Promise<T>;
  exited: Promise<number | null>;
  stderr(): string;
}

function startClient(binary: string, runtime: RuntimeSpec, servers: Servers): Client {
  const { plain, other, third, held, held2, lone, control, closedUrl } = servers;
  const config = {
    plain: plain.origin,
    other: other.origin,
    third: third.origin,
    held: held.origin,
    held2: held2.origin,
    lone: lone.origin,
    control: control.origin,
    closed: closedUrl,
    ...(runtime.ky === 2 ? { ky: pathToFileURL(ensureKy2() as string).href } : {}),
  };
  const env = {
    ...process.env,
    MATRIX_CONFIG: JSON.stringify(config),
    NO_COLOR: '1',
    DENO_DIR: join(cacheDir, 'deno-dir'),
    DENO_NO_UPDATE_CHECK: '1',
  };
  // Bun would install a missing package from npm on its own; here everything must come from node_modules.
  const args = runtime.id === 'bun' ? ['--no-install', ...runtime.args] : runtime.args;
  const child = spawn(binary, [...args, 'client.mjs'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const waiting = new Map<string, ReturnType<typeof deferred<unknown>>>();
  let gone: Error | undefined;
  const slot = (key: string): ReturnType<typeof deferred<unknown>> => {
    let d = waiting.get(key);
    if (d === undefined) {
      d = deferred<unknown>();
      void d.promise.catch(() => undefined);
      waiting.set(key, d);
      // Asked for after the client ended: it will never come.
      if (gone !== undefined) d.reject(gone);
    }
    return d;
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    let parsed: { scenario: string; stage: string; data: unknown };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      errors += `(stdout) ${line}\n`;
      return;
    }
    if (parsed.stage === 'failed') {
      slot(`${parsed.scenario}:done`).reject(new Error(`${parsed.scenario} failed in ${runtime.id}: ${JSON.stringify(parsed.data)}`));
    }
    slot(`${parsed.scenario}:${parsed.stage}`).resolve(parsed.data);
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  void exited.then((code) => {
    gone = new Error(`${runtime.id} exited (${String(code)}) before reporting it:\n${errors}`);
    for (const d of waiting.values()) d.reject(gone);
  });
  return {
    child,
    stage: (scenario, stage = 'done') => slot(`${scenario}:${stage}`).promise as never,
    exited,
    stderr: () => errors,
  };
}

const errorOf = (name: string, extra: Record<string, unknown> = {}) => ({ ok: false, error: expect.objectContaining({ name, isPoolfetchError: true, ...extra }) });

for (const runtime of runtimes) {
  const expectedEntry = runtime.name === 'Node' ? 'node' : 'fetch';
  /** Where the pools own real sockets (the node entry): numConnections counts them, clear() closes them. */
  const ownsSockets = expectedEntry === 'node';

  describe(`${runtime.name} ${runtime.version} (${runtime.id}), ${expectedEntry} entry`, () => {
    let client: Client;
    let servers: Servers;
    let plain: TestServer;
    let other: TestServer;
    let third: TestServer;
    let held: TestServer;
    let lone: TestServer;
    let held2: TestServer;
    let gateOf: (scenario: string) => Gate;
    let flakyCounts: Map<string, number>;

    beforeAll(async () => {
      // Throws with the reason when the runtime cannot be fetched: the matrix never skips a runtime.
      const binary = ensureRuntime(runtime) as string;
      servers = await startServers();
      ({ plain, other, third, held, held2, lone, gateOf, flakyCounts } = servers);
      client = startClient(binary, runtime, servers);
    }, 120_000);

    // A client stuck in one scenario would make each later one wait out its timeout: end it, so they fail at once.
    afterEach(({ task }) => {
      if (task.result?.errors?.some((e) => /timed out/i.test(String(e.message)))) client.child.kill();
    });

    afterAll(async () => {
      for (const g of servers?.gates.values() ?? []) g.releaseAll();
      if (client !== undefined && client.child.exitCode === null && client.child.signalCode === null) client.child.kill();
      await client?.exited;
      await servers?.close();
    });

    it(`is ${runtime.name} ${runtime.version}, and import 'poolfetch' picks the ${expectedEntry} entry through exports`, async () => {
      const entry = await client.stage<{ name: string; version: string; resolved: string; proxy: string; forced: string; names: string[] }>('entry');
      expect({ name: entry.name, version: entry.version }).toEqual({ name: runtime.name, version: runtime.version });
      expect(entry.resolved.startsWith(`file://${app}`)).toBe(true);
      expect(entry.resolved.endsWith(ownsSockets ? nodeEntry : fetchEntry)).toBe(true);
      // ProxyManager needs sockets: the fetch entry (Bun, Deno) refuses it with NotSupportedError.
      expect(entry.proxy).toBe(ownsSockets ? 'constructed' : 'NotSupportedError');
      if (runtime.id === 'bun') expect(entry.forced).toMatch(/^NotSupportedError: poolfetch\/node is the Node entry .*import 'poolfetch' instead/);
      else expect(entry.forced).toBe('loaded function');
      expect(entry.names).toEqual(expect.arrayContaining(['PoolManager', 'ProxyManager', 'installFetch', 'makeHeaders', 'isPoolfetchError', 'MaxRetryError']));
    });

    it('request(), json and fetch(): one pool per origin, bodies and headers as the servers saw them', async () => {
      const r = await client.stage<Record<string, never>>('request');
      expect(r.first).toEqual({ status: 200, server: 'matrix', json: { method: 'GET', url: '/a', body: '', contentType: null }, url: plain.url('/a') });
      expect(r.posted).toEqual({ status: 200, json: { method: 'POST', url: '/json', body: '{"hello":"world"}', contentType: 'application/json' } });
      expect(r.fetched).toMatchObject({ status: 200, isResponse: true, json: { method: 'POST', url: '/b' } });
      expect(other.requests.find((q) => q.url === '/b')?.body).toBe('x');
      expect(r.poolsSize).toBe(2);
      expect(r.keys).toEqual([plain.origin, other.origin]);
      expect(r.numRequests).toBe(2);
      // node: sockets opened (two sequential requests need at most two); fetch: the peak in flight, 1.
      if (ownsSockets) expect([1, 2]).toContain(r.numConnections);
      else expect(r.numConnections).toBe(1);
    });

    it('redirects: followed to the final URL; authorization not carried to another origin', async () => {
      const r = await client.stage<Record<string, Record<string, unknown>>>('redirects');
      expect(r.same).toEqual({ status: 200, url: plain.url('/landed'), redirects: [plain.url('/landed')], json: expect.objectContaining({ url: '/landed' }) });
      expect(r.cross).toMatchObject({ status: 200, url: other.url('/landed-cross'), redirects: [other.url('/landed-cross')] });
      expect(plain.requests.find((q) => q.url === '/cross')?.headers.authorization).toBe('Bearer secret');
      const landed = other.requests.find((q) => q.url === '/landed-cross');
      expect(landed).toBeDefined();
      expect(landed?.headers.authorization).toBeUndefined();
      expect(r.fetched).toMatchObject({ status: 200, url: plain.url('/landed'), redirected: true });
      expect(r.notFollowed).toEqual({ status: 302, location: '/landed' });
    });

    it('retries: a 503 retried to success (3 at the server), a POST not retried, MaxRetryError when spent', async () => {
      const r = await client.stage<Record<string, unknown>>('retries');
      expect(r.flaky).toBe(200);
      expect(flakyCounts.get('/flaky/get')).toBe(3);
      expect(r.post).toBe(503);
      expect(flakyCounts.get('/flaky/post')).toBe(1);
      expect(r.exhausted).toEqual(errorOf('MaxRetryError'));
      expect(plain.requests.filter((q) => q.url === '/always503')).toHaveLength(3);
      expect(r.refused).toEqual(errorOf('MaxRetryError', { reason: expect.objectContaining({ name: 'NewConnectionError' }) }));
    });

    it('timeouts: a read timeout is ReadTimeoutError; no free slot within poolTimeout is EmptyPoolError', async () => {
      const waiting = await client.stage<Record<string, unknown>>('timeouts', 'waiting');
      expect(waiting.read).toEqual(errorOf('ReadTimeoutError'));
      expect(waiting.empty).toEqual(errorOf('EmptyPoolError'));
      const g = gateOf('timeouts');
      g.releaseAll();
      expect(await client.stage('timeouts')).toEqual({ first: '/timeouts/first' });
      // The late request never reached the server: it timed out waiting for a slot.
      expect(g.started).toEqual(['/timeouts/read', '/timeouts/first']);
    });

    it('abort: a request aborted while queued is never sent; one aborted in flight rejects with AbortError', async () => {
      const g = gateOf('abort');
      const queued = await client.stage<{ queuedResults: Array<{ ok: boolean; error: { name: string } }>; stats: Record<string, number> }>('abort', 'queued');
      expect(queued.queuedResults.map((q) => [q.ok, q.error.name])).toEqual([
        [false, 'AbortError'],
        [false, 'AbortError'],
      ]);
      expect(queued.stats).toMatchObject({ running: 1, queued: 0 });
      g.releaseOne();
      await g.whenStarted(2);
      g.releaseOne();
      const done = await client.stage<{ after: string; running: { ok: boolean; error: { name: string } } }>('abort');
      expect(done.after).toBe('/abort/after');
      expect([done.running.ok, done.running.error.name]).toEqual([false, 'AbortError']);
      expect(g.started).toEqual(['/abort/first', '/abort/after', '/abort/in-flight']);
    });

    it('maxSize: never more than maxSize requests open at the server, the rest queued in order', async () => {
      const g = gateOf('maxSize');
      expect(await client.stage('maxSize', 'queued')).toMatchObject({ running: 2, queued: 4 });
      await drive(g, 6, 2, held.origin);
      g.releaseAll();
      const r = await client.stage<{ texts: string[]; numRequests: number; numConnections: number }>('maxSize');
      expect(r.texts).toEqual([1, 2, 3, 4, 5, 6].map((i) => `/maxSize/${i}`));
      expect(g.peakOf(held.origin)).toBe(2);
      expect(g.started).toEqual([1, 2, 3, 4, 5, 6].map((i) => `/maxSize/${i}`));
      expect(r.numRequests).toBe(6);
      // node: sockets opened (at most maxSize); fetch: the peak in flight.
      expect(r.numConnections).toBe(2);
    });

    it('maxTotal: never more than maxTotal open across two origins at once', async () => {
      const g = gateOf('maxTotal');
      const queued = await client.stage<Array<{ running: number; queued: number }>>('maxTotal', 'queued');
      expect(queued.reduce((sum, row) => sum + row.running, 0)).toBe(3);
      expect(queued.reduce((sum, row) => sum + row.queued, 0)).toBe(5);
      await drive(g, 8, 3);
      g.releaseAll();
      const r = await client.stage<{ texts: string[]; stats: unknown[] }>('maxTotal');
      expect(g.peak).toBe(3);
      expect(g.started).toHaveLength(8);
      expect(r.texts).toEqual([1, 2, 3, 4].flatMap((i) => [`/maxTotal/${i}`, `/maxTotal/${i}`]));
      expect(r.stats).toEqual([
        { origin: held.origin, numRequests: 4 },
        { origin: held2.origin, numRequests: 4 },
      ]);
    });

    it('LRU: pools.size stays at numPools, the least recently used is evicted, its running request still answers, and it is revived', async () => {
      const evicted = await client.stage<{ size: number; keys: string[]; events: string[] }>('lru', 'evicted');
      expect(evicted.size).toBe(2);
      expect(evicted.keys).toEqual([plain.origin, other.origin]);
      expect(evicted.events.slice(0, 4)).toEqual([`poolcreate ${held.origin}`, `poolcreate ${plain.origin}`, `poolevict ${held.origin}`, `poolcreate ${other.origin}`]);
      // Evicted, but not closed under its running request.
      expect(evicted.events).not.toContain(`poolclose ${held.origin}`);
      const g = gateOf('lru');
      await g.whenStarted(2);
      g.releaseAll();
      const done = await client.stage<{ texts: string[]; revived: { keys: string[]; numRequests: number }; events: string[] }>('lru');
      expect(done.texts).toEqual(['/lru/slow', '/lru/again']);
      // Revived into the LRU (evicting plain), the same pool: it counts both requests.
      expect(done.revived).toEqual({ keys: [other.origin, held.origin], numRequests: 2 });
      expect(done.events.slice(4, 6)).toEqual([`poolevict ${plain.origin}`, `poolrevive ${held.origin}`]);
      expect(done.events).not.toContain(`poolclose ${held.origin}`);
      expect(g.peakOf(held.origin)).toBe(2);
    });

    it('clear(): pools emptied at once, resolves after the running request, then new pools on demand', async () => {
      // Pools gone at once; clear() still waiting on the request the server holds.
      expect(await client.stage('clear', 'clearing')).toEqual({ sizeAtOnce: 0, clearedYet: false });
      gateOf('clear').releaseAll();
      const r = await client.stage<{ order: string[]; after: unknown; sizeAfterClear: number }>('clear');
      // Which settles first once the server answers is not specified: clear() waits for the headers only.
      expect([...r.order].sort()).toEqual(['cleared', 'response /clear/running']);
      expect(r.after).toEqual({ size: 1, creates: 3 });
      expect(r.sizeAfterClear).toBe(0);
      expect(lone.requests.map((q) => q.url)).toEqual(['/clear/1', '/clear/2']);
      if (ownsSockets) {
        // The node entry's pools own their sockets: clear() closed them.
        await lone.whenNoConnections();
        expect(lone.openConnections).toBe(0);
      } else {
        // The runtime's fetch owns its sockets and may keep them: it opened no more than one at a time.
        expect(lone.peakConnections).toBe(1);
      }
    });

    it('errors: refused connections, bad URLs, CR/LF headers and bad options, each as the class DESIGN.md names', async () => {
      const r = await client.stage<Record<string, unknown>>('errors');
      // fetch's contract: the runtime's own TypeError message and cause.code, the poolfetch error as cause.
      expect(r.refusedFetch).toEqual({
        ok: false,
        error: expect.objectContaining({ name: 'TypeError', isPoolfetchError: false, cause: expect.objectContaining({ name: 'NewConnectionError', isPoolfetchError: true }) }),
      });
      const runtimeRefused = (r.runtimeRefused as { error: { message: string; cause?: { code?: unknown } } }).error;
      const refused = (r.refusedFetch as { error: { message: string; cause: { code?: unknown } } }).error;
      expect(refused.message).toBe(runtimeRefused.message);
      if (typeof runtimeRefused.cause?.code === 'string') expect(refused.cause.code).toBe(runtimeRefused.cause.code);
      expect(r.refusedRequest).toEqual(errorOf('MaxRetryError', { reason: expect.objectContaining({ name: 'NewConnectionError' }) }));
      expect(r.scheme).toEqual(errorOf('URLSchemeUnknown'));
      expect(r.noHost).toEqual(errorOf('LocationValueError'));
      expect(r.crlf).toEqual({ ok: false, error: expect.objectContaining({ name: 'TypeError', isPoolfetchError: false }) });
      expect(r.badOption).toEqual({ ok: false, error: expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('maxSize') }) });
      expect(r.poolsSize).toBe(1);
    });

    it(`ky ${runtime.ky === 2 ? '2' : '1'} through manager.fetch and through installFetch`, async () => {
      const r = await client.stage<Record<string, unknown>>('ky');
      // ky 2 (from the cache) under Node 22 and 24, ky 1 (node_modules) elsewhere: the peer range takes both.
      expect(r.kyMajor).toBe(runtime.ky ?? 1);
      expect(r.viaKy).toMatchObject({ method: 'GET', url: '/ky' });
      expect(r.installed).toMatchObject({ method: 'GET', url: '/installed' });
      expect(r.restored).toBe(true);
      expect(r.numRequests).toBe(2);
      expect(third.requests.filter((q) => q.url === '/ky' || q.url === '/installed')).toHaveLength(2);
    });

    it('one manager shared by 8 concurrent incoming requests of a server in this runtime: all answer, maxTotal holds at the servers, nothing left running or queued', async () => {
      const g = gateOf('shared');
      // 8 incoming requests × 20 subrequests, let through one at a time once 6 are open.
      await drive(g, 160, 6);
      g.releaseAll();
      const answered = await client.stage<{ answered: number[]; idle: Array<{ running: number; queued: number }> }>('shared', 'answered');
      expect(answered.answered).toEqual(Array.from({ length: 8 }, () => 20));
      expect(answered.idle).toEqual([{ running: 0, queued: 0 }, { running: 0, queued: 0 }]);
      expect(g.peak).toBe(6);
      const done = await client.stage<{ later: number; stats: Array<{ running: number; queued: number; numRequests: number }> }>('shared');
      expect(done.later).toBe(20);
      expect(g.started).toHaveLength(180);
      expect(done.stats).toEqual([
        { running: 0, queued: 0, numRequests: 90 },
        { running: 0, queued: 0, numRequests: 90 },
      ]);
    });

    it('exits 0 with nothing on stderr', async () => {
      await client.stage('all');
      expect(await client.exited).toBe(0);
      expect(client.stderr()).toBe('');
    });
  });
}
