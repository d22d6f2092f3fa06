/**
 * The README's Worker (examples/worker/worker.mjs) as a user deploys it:
 * `npm pack` of the built package unpacked into a scratch app's
 * node_modules, the Worker bundled there with esbuild under wrangler's
 * conditions (`workerd`, `worker`, `browser`), served by real workerd.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expectFreshBuild } from '../../test/support/built.js';
import { bundleWorker, serveWorkerd, type Workerd } from './run-workerd.js';

const root = resolve(import.meta.dirname, '../..');

export interface RunningExample extends Workerd {
  /** Every input esbuild bundled, relative to the app folder. */
  readonly inputs: string[];
}

export async function startExample(): Promise<RunningExample> {
  expectFreshBuild();
  // Inside the repo, so the unpacked package finds its dependencies in the repo's node_modules, as in an app.
  mkdirSync(join(root, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(root, '.tmp/workerd-example-'));
  try {
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop() ?? '';
    const installed = join(dir, 'node_modules/poolfetch');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(dir, tarball), '-C', installed, '--strip-components=1']);
    // The app's own package.json, so 'poolfetch' is the unpacked tarball, not this repo by self-reference.
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'worker-app', private: true, type: 'module' }));
    copyFileSync(join(root, 'examples/worker/worker.mjs'), join(dir, 'worker.mjs'));
    const built = await bundleWorker(dir, 'worker.mjs');
    const served = await serveWorkerd(dir);
    return {
      ...served,
      inputs: Object.keys(built.metafile.inputs),
      async close() {
        await served.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
