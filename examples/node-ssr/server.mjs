/**
 * Server-side rendering with one shared PoolManager: every page is rendered
 * from three upstream APIs, and every render reuses the same per-origin
 * keep-alive pools instead of opening new connections.
 *
 *   npm run build                        # once, in this repo (users have poolfetch from npm)
 *   node examples/node-ssr/server.mjs    # starts three local APIs and the server, prints its URL
 *   UPSTREAMS=http://127.0.0.1:9001,http://127.0.0.1:9002,http://127.0.0.1:9003 node examples/node-ssr/server.mjs --port 3000
 *
 * GET / renders the page; GET /stats is manager.stats() as JSON. Ctrl-C closes everything.
 */
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PoolManager } from 'poolfetch';
import { startApis } from '../local-apis.mjs';

/** One manager for the whole process: pools live across requests, which is the point. */
export function createServer(manager, upstreams) {
  return http.createServer(async (req, res) => {
    try {
      if (req.url === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(manager.stats()));
        return;
      }
      // The three calls run in parallel; a slow or failing upstream fails the render with a 502.
      const parts = await Promise.all(
        upstreams.map(async (upstream) => {
          const response = await manager.request('GET', `${upstream}/`, { timeout: 5000, retries: 2 });
          if (response.status !== 200) throw new Error(`${upstream} answered ${response.status}`);
          return response.json();
        }),
      );
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(parts, manager.stats()));
    } catch (error) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`upstream failed: ${error.message}\n`);
    }
  });
}

function page(parts, stats) {
  const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const sections = parts.map((part) => `<section data-api="${escape(part.api)}"><h2>${escape(part.api)}</h2><pre>${escape(JSON.stringify(part, null, 2))}</pre></section>`);
  const rows = stats.map((s) => `<tr><td>${escape(s.origin)}</td><td>${s.numRequests}</td><td>${s.numConnections}</td></tr>`);
  return `<!doctype html><title>poolfetch SSR example</title><h1>Rendered from ${parts.length} upstreams</h1>${sections.join('')}
<table id="pools"><tr><th>origin</th><th>requests</th><th>connections</th></tr>${rows.join('')}</table>`;
}

async function main() {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be an integer from 0 to 65535, got ${JSON.stringify(values.port)}`);
    process.exit(2);
  }
  const local = process.env.UPSTREAMS ? undefined : await startApis(['profile', 'weather', 'news']);
  const upstreams = local ? local.apis.map((api) => api.url) : process.env.UPSTREAMS.split(',');
  const manager = new PoolManager({ numPools: 10, maxSize: 8 });
  const server = createServer(manager, upstreams);
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  console.log(`node-ssr example at http://127.0.0.1:${server.address().port}/ (upstreams: ${upstreams.join(', ')})`);
  process.once('SIGINT', async () => {
    server.close();
    server.closeAllConnections();
    await manager.close();
    await local?.close();
    process.exit(0);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
