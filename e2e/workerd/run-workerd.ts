/**
 * Runs a Worker in real workerd (the `workerd` npm package's binary): bundles
 * worker.ts with the BUILT package, imported by name under the `workerd`
 * condition, writes a config.capnp whose Worker may reach loopback (a
 * `network` service allowing public, private and local addresses as its
 * `globalOutbound`), and serves it on a port workerd picks and reports on
 * its control fd.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import * as esbuild from 'esbuild';

const root = resolve(import.meta.dirname, '../..');
const workerd = join(root, 'node_modules/workerd/bin/workerd');

export interface RunningWorker {
  readonly url: string;
  /** Every input esbuild bundled, absolute: which entry `poolfetch` resolved to. */
  readonly inputs: string[];
  /** GET a path of the Worker (no keep-alive, so no socket outlives the test). */
  get(path: string): Promise<{ status: number; body: string }>;
  /** Everything workerd printed so far: its warnings and uncaught errors. */
  log(): string;
  /** Stops workerd and removes its files. */
  close(): Promise<void>;
}

const CONFIG = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-01-01",
  globalOutbound = "loopback",
);
`;

/** `workerModule`: the file (from the repository root) whose `makeWorker(poolfetch)` is the Worker. */
export async function startWorker(workerModule = 'e2e/workerd/worker.ts'): Promise<RunningWorker> {
  if (!existsSync(join(root, 'dist/adapters/fetch/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'poolfetch-workerd-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules/poolfetch'), 'dir');
  writeFileSync(
    join(dir, 'entry.js'),
    [
      "import * as poolfetch from 'poolfetch';",
      `import { makeWorker } from ${JSON.stringify(join(root, workerModule))};`,
      'export default makeWorker(poolfetch);',
    ].join('\n'),
  );
  const built = await bundleWorker(dir, 'entry.js');
  const served = await serveWorkerd(dir).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const { url } = served;
  return {
    url,
    log: served.log,
    inputs: Object.keys(built.metafile.inputs).map((p) => resolve(dir, p)),
    get: (path) =>
      new Promise((done, fail) => {
        http
          .get(`${url}${path}`, { agent: false }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => done({ status: res.statusCode ?? 0, body }));
          })
          .on('error', fail);
      }),
    async close() {
      await served.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Bundles `entry` in `dir` into `dir/worker.js` as wrangler does: esbuild under the `workerd`, `worker` and `browser` conditions. */
export function bundleWorker(dir: string, entry: string): Promise<esbuild.BuildResult<{ metafile: true }>> {
  return esbuild.build({
    entryPoints: [join(dir, entry)],
    absWorkingDir: dir,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    target: 'es2022',
    outfile: join(dir, 'worker.js'),
    metafile: true,
    logLevel: 'silent',
  });
}

export interface Workerd {
  readonly url: string;
  /** workerd's process id (the bench reads its CPU time). */
  readonly pid: number;
  /** Everything workerd printed so far (stdout and stderr): its warnings and uncaught errors. */
  log(): string;
  /** Stops workerd (its files stay: they are the caller's). */
  close(): Promise<void>;
}

/** What bench/workerd-instructions.ts runs workerd with. */
export interface BenchOptions {
  /** A command workerd runs under (valgrind). */
  readonly wrapper?: string[];
  /** V8's flags (`--expose-gc`). */
  readonly v8Flags?: string[];
}

/**
 * Serves `dir`/worker.js in workerd under CONFIG, on a port workerd picks
 * and reports on its control fd.
 */
export async function serveWorkerd(dir: string, extraArgs: string[] = [], bench: BenchOptions = {}): Promise<Workerd> {
  const { wrapper = [], v8Flags = [] } = bench;
  writeFileSync(join(dir, 'config.capnp'), v8Flags.length === 0 ? CONFIG : CONFIG.replace('  services = [', `  v8Flags = ${JSON.stringify(v8Flags)},\n  services = [`));
  const command = [...wrapper, workerd, 'serve', 'config.capnp', '--control-fd=3', ...extraArgs];
  const child = spawn(command[0] as string, command.slice(1), {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += String(chunk)));
  child.stderr?.on('data', (chunk: Buffer) => (output += String(chunk)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  // Should the test process die before close(), workerd must not outlive it.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const port = await new Promise<number>((done, fail) => {
    const lines = createInterface({ input: child.stdio[3] as Readable });
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { event?: string; socket?: string; port?: number };
      if (event.event === 'listen' && event.socket === 'http' && event.port !== undefined) done(event.port);
    });
    void exited.then(() => fail(new Error(`workerd exited before listening:\n${output}`)));
  }).catch((error: unknown) => {
    process.off('exit', killOnExit);
    throw error;
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    log: () => output,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // workerd may wait for requests still in flight (a test that failed mid-way): not for long.
      const stubborn = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(stubborn);
      process.off('exit', killOnExit);
    },
  };
}
