/**
 * Bundles apps that import `poolfetch` by name, the way a user's bundler
 * does (package.json `exports` and its conditions), from the BUILT package
 * (`npm run build` first): for browsers, for Cloudflare Workers (`workerd`)
 * and for Node. Checks which entry each picked, that the browser and Worker
 * bundles import nothing from Node, that a bundle gets only what it imports,
 * and that `import { PoolManager } from 'poolfetch'` stays within the
 * browser budget. Prints each entry's minified+gzipped size on every run.
 */
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
/**
 * The ceiling on `import { PoolManager } from 'poolfetch'` bundled by esbuild
 * for browsers, minified, gzipped at level 9, quick-lru included
 * (those two alone are 5.2 KiB). DESIGN.md's budget is 12 KiB (goal 10);
 * this is lowered as the bundle shrinks toward it (issue 16).
 */
const BROWSER_BUDGET = 19 * 1024;
/**
 * The workerd condition's bundle is the browser's plus the request-context
 * leases and the workerd transport: the browser budget plus 1 KiB, 32
 * bytes more for letting go of an ended request's whole-body read (a leak
 * otherwise; test/fetch-adapter/ended-request.test.ts), and 320 for CPU a
 * Worker is billed for: the runtime's whole read as a class of its own
 * (`NativeReadAhead`) and the transport's wait for the headers without an
 * async function around it (counted apart, 1-6 % fewer instructions per
 * subrequest, about what the counts move between invocations: BENCHMARKS.md,
 * workerd; each read-ahead class has one job now). Lowered with it.
 */
const WORKERD_CEILING = BROWSER_BUDGET + 1024 + 32 + 320;

let dir: string;

/** The apps bundled below: what each imports from poolfetch. */
const apps = {
  /** The budget's measure: one name. */
  'one-name.js': "export { PoolManager } from 'poolfetch';",
  /** Every name the package exports. */
  'all-names.js': "export * from 'poolfetch';",
  'fetch-subpath.js': "export * from 'poolfetch/fetch';",
  /** The Node entry forced, where a bundler does not refuse it (see the refusal tests). */
  'node-subpath.js': "export { PoolManager } from 'poolfetch/node';",
  'worker.js': [
    "import { PoolManager, installFetch } from 'poolfetch';",
    'const manager = new PoolManager({ maxSize: 2, maxTotal: 6 });',
    'installFetch(manager);',
    'export default { fetch: (request) => manager.fetch(request.url) };',
  ].join('\n'),
};

beforeAll(() => {
  if (!existsSync(join(root, 'dist/adapters/fetch/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (npm test does)');
  }
  // A throwaway app whose node_modules/poolfetch is this package, so it is resolved by name through `exports`.
  dir = mkdtempSync(join(tmpdir(), 'poolfetch-bundle-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules/poolfetch'), 'dir');
  for (const [name, source] of Object.entries(apps)) writeFileSync(join(dir, name), `${source}\n`);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Bundle {
  code: string;
  /** Absolute paths of the files the bundler read. */
  inputs: string[];
  /** Those of them with code in the output (tree-shaking dropped the rest). */
  kept: string[];
  gzipped: number;
}

const browser: esbuild.BuildOptions = { platform: 'browser' };
const workerd: esbuild.BuildOptions = { platform: 'neutral', conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'] };

async function bundle(app: keyof typeof apps, options: esbuild.BuildOptions): Promise<Bundle> {
  const result = await esbuild.build({
    entryPoints: [join(dir, app)],
    absWorkingDir: dir,
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    ...options,
  });
  const code = result.outputFiles?.[0]?.text ?? '';
  const inputs = Object.keys(result.metafile?.inputs ?? {}).map((p) => resolve(dir, p));
  const output = Object.values(result.metafile?.outputs ?? {})[0]?.inputs ?? {};
  const kept = Object.entries(output).filter(([, { bytesInOutput }]) => bytesInOutput > 0).map(([p]) => resolve(dir, p));
  return { code, inputs, kept, gzipped: gzipSync(code, { level: 9 }).length };
}

const fetchEntry = join(root, 'dist/adapters/fetch/index.js');
/** What the `browser` condition picks: the fetch entry without the redirect follower. */
const browserEntry = join(root, 'dist/adapters/fetch/browser.js');
const nodeEntry = join(root, 'dist/adapters/node/index.js');
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KiB`;
const report = (what: string, { code, gzipped }: Bundle): void => {
  console.log(`${what}: ${kib(code.length)} minified, ${kib(gzipped)} minified+gzipped`);
};

function expectNoNodeImports({ code, inputs }: Bundle): void {
  expect(code).not.toMatch(/["']node:[a-z_/]+["']/);
  expect(code).not.toMatch(/\bundici\b/);
  expect(inputs.filter((p) => p.includes('/undici/') || p.includes('/adapters/node/'))).toEqual([]);
}

/**
 * What a bundle of PoolManager alone must not hold, each by a trace that
 * survives minifying: the module it lives in, or a string only it has.
 * `elsewhere`: the bundle that does hold it (default: every name, for browsers).
 */
const unused: Record<string, { module: string | undefined; text: RegExp; elsewhere?: 'node' | 'deno' }> = {
  installFetch: { module: 'dist/src/install-fetch.js', text: /globalThis\.fetch=/ },
  makeHeaders: { module: 'dist/src/make-headers.js', text: /gzip, deflate, br/ },
  ProxyError: { module: undefined, text: /"ProxyError"/ },
  ProxySchemeUnknown: { module: undefined, text: /Proxy URL had unsupported scheme/ },
  // Nothing in the fetch entry imports them at all; the Node entry does.
  'Node-only option checks (tls)': { module: 'dist/adapters/node/tls-options.js', text: /rejectUnauthorized/, elsewhere: 'node' },
  // A browser follows redirects itself; Deno, Bun and Node's fetch show the 3xx, and the fetch entry follows hop by hop.
  'the redirect follower': { module: 'dist/src/redirects.js', text: /unexpected redirect: /, elsewhere: 'deno' },
};

describe('bundling poolfetch', () => {
  it(`import { PoolManager } for browsers: the fetch entry for browsers and quick-lru, no node:, undici or p-queue import, within ${kib(BROWSER_BUDGET)}`, async () => {
    const one = await bundle('one-name.js', browser);
    expect(one.inputs).toContain(browserEntry);
    expectNoNodeImports(one);
    expect(one.inputs.some((p) => p.includes('/node_modules/p-queue/'))).toBe(false);
    expect(one.inputs.some((p) => p.includes('/node_modules/quick-lru/'))).toBe(true);
    // workerd's request-context leases (their heartbeat timing) come only through the workerd condition's entry.
    expect(/staleAfter/.test(one.code)).toBe(false);
    report("browser, import { PoolManager } from 'poolfetch' (the budget)", one);
    expect(one.gzipped).toBeLessThanOrEqual(BROWSER_BUDGET);
  });

  it('import { PoolManager } alone leaves out installFetch, makeHeaders, unused error classes, Node-only checks and (browsers) the redirect follower', async () => {
    const one = await bundle('one-name.js', browser);
    // The same traces are found where those names are imported, so their absence above means something.
    const all = await bundle('all-names.js', browser);
    const elsewhere = {
      node: await bundle('all-names.js', { platform: 'node', external: ['undici', 'quick-lru'] }),
      deno: await bundle('one-name.js', { platform: 'neutral', conditions: ['deno'], mainFields: ['module', 'main'] }),
    };
    for (const [name, { module, text, elsewhere: where }] of Object.entries(unused)) {
      const holder = where === undefined ? all : elsewhere[where];
      expect(text.test(holder.code), name).toBe(true);
      if (module !== undefined && where !== 'node') expect(holder.kept, name).toContain(join(root, module));
      // Not toMatch: a failure would print the whole bundle.
      expect(text.test(one.code), name).toBe(false);
      if (module !== undefined) expect(one.kept, name).not.toContain(join(root, module));
    }
    report("browser, export * from 'poolfetch'", all);
    report("browser, export * from 'poolfetch/fetch'", await bundle('fetch-subpath.js', browser));
  });

  it('for Cloudflare Workers (the workerd condition): the fetch entry with its request-context leases, no node: or undici import', async () => {
    const worker = await bundle('worker.js', workerd);
    expect(worker.inputs).toContain(join(root, 'dist/adapters/fetch/workerd.js'));
    expect(/staleAfter/.test(worker.code)).toBe(true);
    expectNoNodeImports(worker);
    report('workerd, PoolManager and installFetch', worker);
    expect(worker.gzipped).toBeLessThanOrEqual(WORKERD_CEILING);
  });

  it('refuses poolfetch/node in an esbuild browser or Worker bundle, at build time', async () => {
    writeFileSync(join(dir, 'wrong.js'), "export { PoolManager } from 'poolfetch/node';\n");
    // esbuild (and wrangler, which is esbuild) sets no development/production condition: it meets the null.
    for (const conditions of [['browser'], ['workerd', 'worker'], ['worker']]) {
      const attempt = esbuild.build({
        entryPoints: [join(dir, 'wrong.js')],
        absWorkingDir: dir,
        bundle: true,
        write: false,
        platform: 'neutral',
        conditions,
        logLevel: 'silent',
      });
      const failure = (await attempt.catch((e: unknown) => e)) as esbuild.BuildFailure;
      expect(failure.errors?.[0]?.text, conditions.join()).toBe('Could not resolve "poolfetch/node"');
      expect(failure.errors[0]?.notes.map((n) => n.text).join(' ')).toContain('explicitly disabled by the package author');
    }
  });

  it('where a bundler passes null over (development/production set, as Vite does), poolfetch/node throws at load, naming poolfetch', async () => {
    const refused = await bundle('node-subpath.js', { platform: 'browser', conditions: ['production'] });
    expect(refused.inputs).toContain(join(root, 'dist/adapters/refuse-node.js'));
    expectNoNodeImports(refused);
    expect(refused.code).toContain("import 'poolfetch' instead");
  });

  it('for Node (--platform=node): the undici entry', async () => {
    const node = await bundle('worker.js', { platform: 'node', external: ['undici', 'quick-lru'] });
    expect(node.inputs).toContain(nodeEntry);
    expect(node.inputs).not.toContain(fetchEntry);
    expect(node.inputs).not.toContain(browserEntry);
    report('node, PoolManager and installFetch (undici and quick-lru not bundled)', node);
  });
});
