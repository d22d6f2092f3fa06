/**
 * Small JSON APIs on 127.0.0.1 for the examples to call when you have no
 * upstreams of your own: each answers after a short delay, with CORS headers
 * so a page on another port may call it.
 */
import http from 'node:http';

const DATA = {
  profile: () => ({ name: 'Ada Lovelace', plan: 'analytical' }),
  weather: () => ({ city: 'London', celsius: 11 + Math.round(Math.random() * 4), sky: 'overcast' }),
  news: () => ({ headlines: ['Pools beat handshakes', 'Keep-alive keeps on', 'LRU evicts the quiet ones'] }),
  quotes: () => ({ quote: 'The Analytical Engine weaves algebraic patterns.' }),
};

/** Starts one API per name; resolves with their URLs and a close() that ends every socket. */
export async function startApis(names, { delayMs = 20 } = {}) {
  const started = [];
  for (const name of names) {
    const sockets = new Set();
    const server = http.createServer((req, res) => {
      res.setHeader('access-control-allow-origin', '*');
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ api: name, path: req.url, ...(DATA[name] ?? DATA.quotes)() }));
      }, delayMs);
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    started.push({ name, url: `http://127.0.0.1:${server.address().port}`, server, sockets });
  }
  return {
    apis: started.map(({ name, url }) => ({ name, url })),
    close: () =>
      Promise.all(
        started.map(
          ({ server, sockets }) =>
            new Promise((resolve) => {
              for (const socket of sockets) socket.destroy();
              server.close(resolve);
            }),
        ),
      ),
  };
}
