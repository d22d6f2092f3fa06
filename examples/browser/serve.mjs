/**
 * Builds the page, starts two local JSON APIs (with CORS) and serves the
 * page on 127.0.0.1, then prints the URL to open. Ctrl-C stops it all.
 *
 *   npm run build && node examples/browser/serve.mjs [--port 8080]
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { startApis } from '../local-apis.mjs';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
await import('./build.mjs');
const { apis, close } = await startApis(['profile', 'news'], { delayMs: 40 });
const files = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/dist/main.bundle.js': ['dist/main.bundle.js', 'text/javascript; charset=utf-8'],
};
const server = http.createServer(async (req, res) => {
  const file = files[new URL(req.url ?? '/', 'http://x').pathname];
  if (file === undefined) return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': file[1] }).end(await readFile(new URL(file[0], import.meta.url)));
});
await new Promise((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve));
const query = apis.map((a) => `api=${encodeURIComponent(a.url)}`).join('&');
console.log(`browser example at http://127.0.0.1:${server.address().port}/?${query}`);
process.once('SIGINT', async () => {
  server.close();
  server.closeAllConnections();
  await close();
  process.exit(0);
});
