/**
 * The page the browser specs drive: index.html plus the BUILT package
 * bundled for browsers the way a user's bundler does it (esbuild resolving
 * `poolfetch` by name through package.json `exports`, `browser` condition),
 * and ky, served from one loopback origin. The API servers are other
 * origins (other ports), so every request is cross-origin with CORS.
 */
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';

/** What the page puts on `window` for the specs: the fetch entry as bundled for browsers, and ky. */
export type FetchEntry = typeof import('../../adapters/fetch/index.js');
declare global {
  interface Window {
    poolfetch: FetchEntry;
    ky: typeof import('ky').default;
  }
}
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

export interface PageServer {
  readonly url: string;
  /** What esbuild resolved `poolfetch` to: proves the browser condition picked the fetch entry. */
  readonly inputs: string[];
  close(): Promise<void>;
}

const HTML = `<!doctype html>
<meta charset="utf-8">
<title>poolfetch e2e</title>
<script type="module">
  import * as poolfetch from './poolfetch.js';
  import ky from './ky.js';
  window.poolfetch = poolfetch;
  window.ky = ky;
  document.title = 'ready';
</script>`;

/** Bundles the app's two imports from the built package and ky, then serves them. */
export async function startPage(): Promise<PageServer> {
  if (!existsSync(join(root, 'dist/adapters/fetch/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  }
  const app = mkdtempSync(join(tmpdir(), 'poolfetch-e2e-'));
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(root, join(app, 'node_modules/poolfetch'), 'dir');
  writeFileSync(join(app, 'poolfetch.js'), "export * from 'poolfetch';\n");
  writeFileSync(join(app, 'ky.js'), "export { default } from 'ky';\n");
  const result = await esbuild.build({
    entryPoints: [join(app, 'poolfetch.js'), join(app, 'ky.js')],
    absWorkingDir: app,
    nodePaths: [join(root, 'node_modules')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    outdir: '/',
    logLevel: 'silent',
  });
  rmSync(app, { recursive: true, force: true });
  const files = new Map<string, string>([['/', HTML]]);
  for (const file of result.outputFiles) files.set(file.path, file.text);
  const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(app, p));

  const server = http.createServer((req, res) => {
    const body = files.get(req.url ?? '/');
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': req.url === '/' ? 'text/html' : 'text/javascript' });
    res.end(body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    inputs,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
