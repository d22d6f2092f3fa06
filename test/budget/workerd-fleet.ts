/**
 * A small fleet in real workerd: one service defines the `PoolBudget`
 * Durable Object namespace with on-disk storage, and several Worker
 * services (each its own isolate) bind it and serve one socket each. Built
 * from the BUILT package (`npm run build` first), imported by name under
 * the `workerd` condition. `kill()` ends workerd with SIGKILL and `start()`
 * brings it back over the same storage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import * as esbuild from 'esbuild';

const root = resolve(import.meta.dirname, '../..');
const workerd = join(root, 'node_modules/workerd/bin/workerd');

export interface WorkerdFleet {
  /** Each Worker service's URL, by name. */
  readonly urls: Map<string, string>;
  /** What workerd printed (its errors, for a failing test's message). */
  output(): string;
  kill(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function config(names: readonly string[]): string {
  const workers = names.map((name) => `
const ${name} :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-01-01",
  bindings = [
    (name = "POOL_BUDGET", durableObjectNamespace = (className = "PoolBudget", serviceName = "budget")),
    (name = "NAME", text = "${name}"),
  ],
  globalOutbound = "loopback",
);`).join('\n');
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "budget", worker = .budget),
    ${names.map((name) => `(name = "${name}", worker = .${name}),`).join('\n    ')}
    (name = "loopback", network = (allow = ["public", "private", "local"])),
    (name = "storage", disk = (path = "storage", writable = true)),
  ],
  sockets = [
    ${names.map((name) => `(name = "${name}", address = "127.0.0.1:0", http = (), service = "${name}")`).join(',\n    ')}
  ],
);

const budget :Workerd.Worker = (
  modules = [(name = "budget.js", esModule = embed "budget.js")],
  compatibilityDate = "2025-01-01",
  durableObjectNamespaces = [(className = "PoolBudget", uniqueKey = "poolfetch-pool-budget")],
  durableObjectStorage = (localDisk = "storage"),
);
${workers}
`;
}

export async function startFleet(names: readonly string[]): Promise<WorkerdFleet> {
  if (!existsSync(join(root, 'dist/adapters/budget/durable-object.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (npm test does)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'poolfetch-do-'));
  mkdirSync(join(dir, 'node_modules'));
  mkdirSync(join(dir, 'storage'));
  symlinkSync(root, join(dir, 'node_modules/poolfetch'), 'dir');
  // Each Worker: one module-level manager per isolate with a durableObjectBudget over POOL_BUDGET (defined by the
  // budget service); each incoming request makes one request to `target` through it and answers with the status.
  writeFileSync(join(dir, 'worker-entry.js'), `
import { PoolManager } from 'poolfetch';
import { durableObjectBudget } from 'poolfetch/budget/durable-object';
let manager;
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const q = (name) => url.searchParams.get(name) ?? '';
    manager ??= new PoolManager({ maxSize: 100, budget: durableObjectBudget(env.POOL_BUDGET, { limit: Number(q('limit')), ttl: Number(q('ttl')) }) });
    try {
      const response = await manager.request('GET', q('target'), { headers: { 'x-child': env.NAME, 'x-seq': q('seq'), 'x-issued': q('issued') }, retries: false });
      return new Response(String(response.status));
    } catch (error) {
      return new Response(String(error), { status: 500 });
    }
  },
};
`);
  writeFileSync(join(dir, 'budget-entry.js'), "export { PoolBudget } from 'poolfetch/budget/durable-object';\nexport default { fetch: () => new Response('budget') };\n");
  const bundle = (entry: string, outfile: string): Promise<unknown> => esbuild.build({
    entryPoints: [entry], absWorkingDir: dir, bundle: true, format: 'esm', platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'], target: 'es2022',
    outfile: join(dir, outfile), logLevel: 'silent',
  });
  await bundle(join(dir, 'budget-entry.js'), 'budget.js');
  await bundle(join(dir, 'worker-entry.js'), 'worker.js');
  writeFileSync(join(dir, 'config.capnp'), config(names));

  const urls = new Map<string, string>();
  let output = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const killOnExit = (): void => void child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const start = async (): Promise<void> => {
    const proc = spawn(workerd, ['serve', 'config.capnp', '--control-fd=3'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (chunk: Buffer) => (output += String(chunk)));
    proc.stderr?.on('data', (chunk: Buffer) => (output += String(chunk)));
    exited = new Promise<void>((done) => proc.once('exit', () => done()));
    const gone = exited;
    await new Promise<void>((done, fail) => {
      const lines = createInterface({ input: proc.stdio[3] as Readable });
      lines.on('line', (line) => {
        const event = JSON.parse(line) as { event?: string; socket?: string; port?: number };
        if (event.event === 'listen' && event.socket !== undefined && event.port !== undefined) {
          urls.set(event.socket, `http://127.0.0.1:${event.port}`);
          if (names.every((name) => urls.has(name))) done();
        }
      });
      void gone.then(() => fail(new Error(`workerd exited before listening:\n${output}`)));
    });
  };
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    urls.clear();
  };
  try {
    await start();
  } catch (error) {
    process.off('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    urls,
    output: () => output,
    kill: () => stop('SIGKILL'),
    start,
    async close() {
      await stop('SIGTERM');
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
