/**
 * `npm run demo` from the outside: `--once` prints a row per origin with
 * evictions and exits 0; bad flags exit 2 with a message; a port in use is
 * reported without a stack trace; Ctrl-C (SIGINT) stops the dashboard with 0.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ORIGIN_SPECS } from '../../demo/origins.js';
import { dashboardUrl, runDemo, spawnDemo } from './run.js';

const STACK_LINE = /^\s+at /m;

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('npm run demo -- --once', () => {
  it('prints a table row per origin, evictions, a line per event kind, and exits 0', async () => {
    const { code, stdout, stderr } = await runDemo(['--once', '--requests', '160']);
    expect(code, stderr).toBe(0);
    const rows = new Map<string, { origin: string; requests: number; connections: number; retries: number; evictions: number }>();
    for (const line of stdout.split('\n')) {
      const cells = line.trim().split(/\s+/);
      if (cells.length !== 6 || !/^https?:\/\//.test(cells[1] ?? '')) continue;
      const [name, origin, requests, connections, retries, evictions] = cells as [string, string, string, string, string, string];
      rows.set(name, { origin, requests: Number(requests), connections: Number(connections), retries: Number(retries), evictions: Number(evictions) });
    }
    expect([...rows.keys()].sort()).toEqual(ORIGIN_SPECS.map((s) => s.name).sort());
    expect(stdout).toMatch(/^name\s+origin\s+requests\s+opened\s+retries\s+evictions$/m);
    expect(stdout).toMatch(/^opened: connections opened over the run, a running total \(numConnections\), not a cap/m);
    for (const [name, row] of rows) {
      expect(row.origin, name).toMatch(name === 'tls' ? /^https:\/\/127\.0\.0\.1:\d+$/ : /^http:\/\/127\.0\.0\.1:\d+$/);
      expect(row.requests, name).toBeGreaterThan(0);
      expect(row.connections, name).toBeGreaterThan(0);
    }
    // numPools (6) is below the number of origins (8): the LRU had to evict.
    const evictions = [...rows.values()].reduce((sum, row) => sum + row.evictions, 0);
    expect(evictions).toBeGreaterThan(0);
    // Keep-alive: the hottest origin needed fewer sockets than requests.
    const hot = rows.get('fast-a');
    expect(hot?.connections).toBeLessThan(hot?.requests ?? 0);

    const kinds = Object.fromEntries([...stdout.matchAll(/^(poolcreate|poolevict|poolrevive|poolclose): (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    expect(Object.keys(kinds).sort()).toEqual(['poolclose', 'poolcreate', 'poolevict', 'poolrevive']);
    expect(kinds.poolevict).toBe(evictions);
    // clear() at the end closed every pool ever made.
    expect(kinds.poolclose).toBe(kinds.poolcreate);
    expect(stdout).toMatch(/^workload: 160 sent, \d+ ok, \d+ failed in [\d.]+ s$/m);
    // The slow origin and the flaky one's Retry-After make this a few seconds alone, more on a busy machine.
  }, 90_000);
});

describe('npm run demo flags', () => {
  it.each([
    [['--prot', '8080'], /Unknown option '--prot'/],
    [['--port', '99999'], /--port must be an integer from 0 to 65535, got "99999"/],
    [['--port', 'eighty'], /--port must be an integer from 0 to 65535, got "eighty"/],
    [['--once', '--requests', '0'], /--requests must be an integer from 1 to 100000, got "0"/],
    [['extra'], /Unexpected argument 'extra'/],
  ])('%j exits 2 with a message that names the bad value', async (args, message) => {
    const { code, stdout, stderr } = await runDemo(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toContain('usage: npm run demo');
    expect(stderr).not.toMatch(STACK_LINE);
    expect(stdout).toBe('');
  });

  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await runDemo(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--once');
  });

  it('reports a port in use, without a stack trace, and exits 1', async () => {
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const { code, stderr } = await runDemo(['--port', String(port)]);
      expect(code).toBe(1);
      expect(stderr).toContain(`demo: port ${port} on 127.0.0.1 is in use`);
      expect(stderr).not.toMatch(STACK_LINE);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('npm run demo (dashboard)', () => {
  it('serves the page, uPlot, the bundle and events, checks settings, and stops cleanly on SIGINT', async () => {
    const run = spawnDemo([]);
    const url = await dashboardUrl(run);
    try {
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<script src="/uplot.js">');
      const uplot = await fetch(`${url}uplot.js`);
      expect(await uplot.text()).toContain('uPlot');
      const bundle = await (await fetch(`${url}app.js`)).text();
      // The page runs the built fetch entry: its PoolManager and no Node built-ins.
      expect(bundle).toContain('PoolManager');
      expect(bundle).not.toMatch(/from\s*["']node:/);

      const events = await fetch(`${url}events`);
      expect(events.headers.get('content-type')).toBe('text/event-stream');
      if (events.body === null) throw new Error('/events answered without a body');
      const reader = events.body.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes('event: snapshot')) text += (await reader.read()).value ?? '';
      await reader.cancel();
      expect(text).toMatch(/^event: hello\ndata: \{"origins":\[/);

      const bad = await fetch(`${url}api/settings`, { method: 'POST', body: JSON.stringify({ origins: ['nowhere'], concurrency: 4, numPools: 2, maxSize: 2, maxTotal: 0 }) });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ error: 'Unknown origin "nowhere"; known: fast-a, fast-b, fast-c, slow, flaky, tls, redirect, rare' });
      const good = await fetch(`${url}api/settings`, { method: 'POST', body: JSON.stringify({ origins: ['fast-a', 'fast-b', 'tls'], concurrency: 4, numPools: 2, maxSize: 2, maxTotal: 3 }) });
      expect(good.status).toBe(200);
      expect(((await good.json()) as { settings: { maxTotal: number } }).settings.maxTotal).toBe(3);
    } finally {
      run.child.kill('SIGINT');
    }
    const { code, stdout, stderr } = await run.exited;
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('SIGINT: stopping the workload');
    expect(stdout).toContain('stopped cleanly');
    // No orphans: the dashboard and every origin it printed refuse connections now.
    const ports = [...stdout.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
    expect(new Set(ports).size).toBe(9);
    for (const port of new Set(ports)) expect(await refuses(port), `port ${port}`).toBe(true);
  }, 60_000);
});

describe('npm run demo and Ctrl-C', () => {
  // A terminal's Ctrl-C signals the whole foreground process group: npm (which forwards SIGINT to its
  // script again) and the demo. The script execs node, so no `sh -c` sits in between to die of the
  // signal and turn the exit status into 130. POSIX process groups only.
  it.skipIf(process.platform === 'win32')('exits 0 when the whole process group gets SIGINT', async () => {
    const npm = spawn('npm', ['run', 'demo', '--silent'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = once(npm, 'exit');
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (out.includes('Ctrl-C to stop')) resolve();
      };
      npm.stdout.on('data', check);
      void exited.then(() => reject(new Error(`npm run demo exited before serving:\n${out}`)));
    });
    process.kill(-(npm.pid as number), 'SIGINT');
    const [code, signal] = (await exited) as [number | null, string | null];
    expect({ code, signal }, out).toEqual({ code: 0, signal: null });
    expect(out).toContain('stopped cleanly');
  }, 60_000);
});
