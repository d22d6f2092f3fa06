/**
 * A small fleet in real workerd: Worker services (each its own isolate,
 * serving one socket each) whose module-level managers share one
 * `PoolBudget` Durable Object namespace with on-disk storage. Built from the
 * BUILT package (`npm run build` first), imported by name under the
 * `workerd` condition.
 *
 * Two shapes:
 * - one workerd process (the real namespace binding): `kill()` ends it with
 *   SIGKILL and `start()` brings it back over the same storage;
 * - `separate: true`: the `PoolBudget` objects run in a workerd process of
 *   their own, reached by the Workers through a service binding on a fixed
 *   loopback port (the Workers' namespace is that binding, addressed by the
 *   object's name), so `stopBudget()` stops the coordinator while the
 *   Workers and their managers live on, and `startBudget()` restarts it
 *   over the same storage.
 *
 * Each Worker answers `GET /?target=…&limit=…&ttl=…` by making one request
 * to `target` through its manager (`api=fetch`: `manager.fetch` and
 * `text()`; `abandon=1`: started and not awaited, the handler returns at
 * once; `slowRelease=ms`: each release reaches the object `ms` later, as
 * from a Worker far from it), `GET /?stats=…` with its manager's `stats()` and the budget events
 * it saw, and `GET /?ping=<origin>` with what the origin's object says it
 * holds (`{ leases, waiting }`).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { freePort } from '../proxy/support.js';
import { startProcess, type Driven } from './processes.js';

const root = resolve(import.meta.dirname, '../..');
const workerd = join(root, 'node_modules/workerd/bin/workerd');

export interface WorkerdFleet {
  /** Each Worker service's URL, by name. */
  readonly urls: Map<string, string>;
  /** What workerd printed (its errors, for a failing test's message). */
  output(): string;
  /** SIGKILL of the Workers' workerd (with the objects, unless separate), and its restart over the same storage. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** `separate` only: SIGKILL of the objects' workerd alone, and its restart on the same port and storage. */
  stopBudget(): Promise<void>;
  startBudget(): Promise<void>;
  close(): Promise<void>;
}

const WORKER_ENTRY = `
import { PoolManager } from 'poolfetch';
import { durableObjectBudget } from 'poolfetch/budget/durable-object';
const managers = new Map();
const events = new Map();
/** The namespace: the real binding, or (separate) the objects' workerd through a service binding, by name. */
function namespace(env) {
  if (env.POOL_BUDGET !== undefined) return env.POOL_BUDGET;
  return {
    idFromName: (name) => name,
    get: (name) => ({ fetch: (url, init = {}) => env.BUDGET.fetch(url, { ...init, headers: { 'x-object': name } }) }),
  };
}
/** The namespace with every call to \`path\` taking \`ms\` longer, as it does when the object is far away. */
function slowed(ns, path, ms) {
  return {
    idFromName: (name) => ns.idFromName(name),
    get: (id) => {
      const stub = ns.get(id);
      return {
        fetch: async (url, init) => {
          if (new URL(url).pathname === path) await new Promise((resolve) => setTimeout(resolve, ms));
          return stub.fetch(url, init);
        },
      };
    },
  };
}
/** One manager per budget configuration, for every request of the isolate. */
function managerFor(env, q) {
  const key = [q('limit'), q('ttl'), q('onUnavailable'), q('slowRelease'), q('retryFor')].join('/');
  let manager = managers.get(key);
  if (manager === undefined) {
    const options = { limit: Number(q('limit')), ttl: Number(q('ttl')) };
    if (q('onUnavailable') !== '') options.onUnavailable = q('onUnavailable');
    if (q('retryFor') !== '') options.retryFor = Number(q('retryFor'));
    const ns = q('slowRelease') === '' ? namespace(env) : slowed(namespace(env), '/release', Number(q('slowRelease')));
    manager = new PoolManager({ maxSize: 100, budget: durableObjectBudget(ns, options) });
    const seen = [];
    for (const type of ['budgetunavailable', 'budgetrestored', 'budgetleaselost']) manager.addEventListener(type, (e) => seen.push(e.type));
    managers.set(key, manager);
    events.set(key, seen);
  }
  return { manager, events: events.get(key) };
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const q = (name) => url.searchParams.get(name) ?? '';
    if (q('ping') !== '') {
      const stub = namespace(env).get(namespace(env).idFromName(q('ping')));
      return stub.fetch('https://pool-budget.invalid/ping');
    }
    const { manager, events } = managerFor(env, q);
    if (q('stats') !== '') return Response.json({ stats: manager.stats(), events });
    const headers = { 'x-child': env.NAME, 'x-seq': q('seq'), 'x-issued': q('issued') };
    const going = q('api') === 'fetch'
      ? manager.fetch(q('target'), { headers }).then(async (r) => { await r.text(); return r.status; })
      : manager.request('GET', q('target'), { headers, retries: false }).then((r) => r.status);
    if (q('abandon') !== '') {
      going.catch(() => {});
      return new Response('abandoned');
    }
    try {
      return new Response(String(await going));
    } catch (error) {
      return new Response(String(error), { status: 500 });
    }
  },
};
`;

/** The objects' Worker: exports PoolBudget; (separate) forwards each call to the object its `x-object` header names. */
const BUDGET_ENTRY = `
export { PoolBudget } from 'poolfetch/budget/durable-object';
export default {
  fetch(request, env) {
    const name = request.headers.get('x-object');
    if (name === null) return new Response('budget');
    return env.POOL_BUDGET.get(env.POOL_BUDGET.idFromName(name)).fetch(request);
  },
};
`;

function budgetWorker(self: boolean): string {
  return `(
  modules = [(name = "budget.js", esModule = embed "budget.js")],
  compatibilityDate = "2025-01-01",
  durableObjectNamespaces = [(className = "PoolBudget", uniqueKey = "poolfetch-pool-budget")],
  durableObjectStorage = (localDisk = "storage"),
  bindings = [${self ? '(name = "POOL_BUDGET", durableObjectNamespace = "PoolBudget")' : ''}],
)`;
}

function workersConfig(names: readonly string[], budgetPort: number | undefined): string {
  const binding = budgetPort === undefined
    ? '(name = "POOL_BUDGET", durableObjectNamespace = (className = "PoolBudget", serviceName = "budget"))'
    : '(name = "BUDGET", service = "budget")';
  const workers = names.map((name) => `
const ${name} :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-01-01",
  bindings = [
    ${binding},
    (name = "NAME", text = "${name}"),
  ],
  globalOutbound = "loopback",
);`).join('\n');
  const budget = budgetPort === undefined
    ? '(name = "budget", worker = .budget),'
    : `(name = "budget", external = (address = "127.0.0.1:${budgetPort}", http = ())),`;
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ${budget}
    ${names.map((name) => `(name = "${name}", worker = .${name}),`).join('\n    ')}
    (name = "loopback", network = (allow = ["public", "private", "local"])),
    (name = "storage", disk = (path = "storage", writable = true)),
  ],
  sockets = [
    ${names.map((name) => `(name = "${name}", address = "127.0.0.1:0", http = (), service = "${name}")`).join(',\n    ')}
  ],
);
${budgetPort === undefined ? `\nconst budget :Workerd.Worker = ${budgetWorker(false)};` : ''}
${workers}
`;
}

function budgetConfig(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "budget", worker = .budget),
    (name = "storage", disk = (path = "storage", writable = true)),
  ],
  sockets = [(name = "budget", address = "127.0.0.1:${port}", http = (), service = "budget")],
);

const budget :Workerd.Worker = ${budgetWorker(true)};
`;
}

/** Starts workerd on `config` in `dir`; resolves once every socket in `sockets` listens, with their URLs. */
async function serve(dir: string, config: string, sockets: readonly string[]): Promise<{ process: Driven; urls: Map<string, string> }> {
  const proc = startProcess(workerd, ['serve', config, '--control-fd=3'], { cwd: dir, controlFd: true });
  const urls = new Map<string, string>();
  let listening = (): void => {};
  const all = new Promise<void>((done) => (listening = done));
  proc.onControlLine((line) => {
    const event = JSON.parse(line) as { event?: string; socket?: string; port?: number };
    if (event.event === 'listen' && event.socket !== undefined && event.port !== undefined) {
      urls.set(event.socket, `http://127.0.0.1:${event.port}`);
      if (sockets.every((name) => urls.has(name))) listening();
    }
  });
  await Promise.race([all, proc.exited.then(() => Promise.reject(new Error(`workerd exited before listening:\n${proc.output()}`)))]);
  return { process: proc, urls };
}

export async function startFleet(names: readonly string[], options: { separate?: boolean } = {}): Promise<WorkerdFleet> {
  if (!existsSync(join(root, 'dist/adapters/budget/durable-object.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (npm test does)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'poolfetch-do-'));
  mkdirSync(join(dir, 'node_modules'));
  mkdirSync(join(dir, 'storage'));
  symlinkSync(root, join(dir, 'node_modules/poolfetch'), 'dir');
  writeFileSync(join(dir, 'worker-entry.js'), WORKER_ENTRY);
  writeFileSync(join(dir, 'budget-entry.js'), BUDGET_ENTRY);
  const bundle = (entry: string, outfile: string): Promise<unknown> => esbuild.build({
    entryPoints: [entry], absWorkingDir: dir, bundle: true, format: 'esm', platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'], target: 'es2022',
    outfile: join(dir, outfile), logLevel: 'silent',
  });
  await bundle(join(dir, 'budget-entry.js'), 'budget.js');
  await bundle(join(dir, 'worker-entry.js'), 'worker.js');
  const budgetPort = options.separate === true ? await freePort() : undefined;
  writeFileSync(join(dir, 'workers.capnp'), workersConfig(names, budgetPort));
  if (budgetPort !== undefined) writeFileSync(join(dir, 'budget.capnp'), budgetConfig(budgetPort));

  const urls = new Map<string, string>();
  let workers: Driven | undefined;
  let budget: Driven | undefined;
  const start = async (): Promise<void> => {
    const served = await serve(dir, 'workers.capnp', names);
    workers = served.process;
    for (const [name, url] of served.urls) urls.set(name, url);
  };
  const startBudget = async (): Promise<void> => {
    if (budgetPort === undefined) throw new Error('startBudget: the fleet was not started with separate: true');
    budget = (await serve(dir, 'budget.capnp', ['budget'])).process;
  };
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    await workers?.stop(signal);
    urls.clear();
  };
  try {
    if (budgetPort !== undefined) await startBudget();
    await start();
  } catch (error) {
    await workers?.stop('SIGKILL');
    await budget?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    urls,
    output: () => `${workers?.output() ?? ''}${budget?.output() ?? ''}`,
    kill: () => stop('SIGKILL'),
    start,
    async stopBudget() {
      await budget?.stop('SIGKILL');
    },
    startBudget,
    async close() {
      await stop('SIGTERM');
      await budget?.stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
