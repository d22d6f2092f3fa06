/**
 * The client half of the runtime matrix (test/runtime/matrix.test.ts): run
 * by the runtime under test (Node 20/22/24, Bun, Deno) from a scratch
 * project where `poolfetch` is the packed tarball, so `import 'poolfetch'`
 * resolves through package.json `exports` with that runtime's conditions.
 *
 * The servers live in the test process. This script runs the scenarios in
 * order and reports what it saw as JSON lines on stdout,
 * `{ scenario, stage, data }`; the test asserts on them and on the counts
 * at its servers. Where a scenario must wait for the servers (n requests
 * arrived), it asks the control server, which answers when that is true.
 * Plain JavaScript, no TypeScript, so every runtime runs it as it is.
 */
/* global Response, Request, Buffer, AbortController -- standard in every runtime here (Buffer: Node only) */
import * as poolfetch from 'poolfetch';

const { PoolManager } = poolfetch;
const config = JSON.parse(globalThis.Deno?.env.get('MATRIX_CONFIG') ?? globalThis.process?.env.MATRIX_CONFIG ?? '{}');
/** ky 2 where the test hands one over (Node 22 and 24: ky 2 needs Node 22), else ky 1 from node_modules. */
const { default: ky } = await import(config.ky ?? 'ky');
const { plain, other, third, held, held2, lone, control, closed } = config;
/** The runtime's own fetch, kept before installFetch replaces the global one. */
const runtimeFetch = globalThis.fetch.bind(globalThis);

function report(scenario, stage, data) {
  console.log(JSON.stringify({ scenario, stage, data }));
}

/** Resolves once the servers have seen `n` requests of a scenario (of one origin's server, with `group`). */
async function arrived(scenario, n, group = '') {
  const response = await runtimeFetch(`${control}/arrived?scenario=${scenario}&n=${n}&group=${encodeURIComponent(group)}`);
  await response.text();
}

function describeError(error) {
  if (typeof error !== 'object' || error === null) return { value: String(error) };
  return {
    name: error.name,
    code: error.code,
    message: error.message,
    isPoolfetchError: poolfetch.isPoolfetchError(error),
    reason: error.reason === undefined ? undefined : describeError(error.reason),
    cause: typeof error.cause === 'object' && error.cause !== null ? describeError(error.cause) : undefined,
  };
}

const settle = (promise) =>
  promise.then(
    (value) => ({ ok: true, value }),
    (error) => ({ ok: false, error: describeError(error) }),
  );

function runtimeName() {
  if (globalThis.Deno !== undefined) return { name: 'Deno', version: globalThis.Deno.version.deno };
  if (globalThis.Bun !== undefined) return { name: 'Bun', version: globalThis.Bun.version };
  return { name: 'Node', version: globalThis.process.versions.node };
}

const scenarios = {
  async entry() {
    let proxy = 'constructed';
    try {
      new poolfetch.ProxyManager('http://127.0.0.1:3128');
    } catch (error) {
      proxy = error.name;
    }
    // The Node entry forced: refused at import under Bun (whose undici is not undici).
    const forced = await import('poolfetch/node').then(
      (entry) => `loaded ${typeof entry.PoolManager}`,
      (error) => `${error.name}: ${error.message}`,
    );
    return { ...runtimeName(), resolved: import.meta.resolve('poolfetch'), proxy, forced, names: Object.keys(poolfetch).sort() };
  },

  async request() {
    const manager = new PoolManager(10);
    try {
      const r = await manager.request('GET', `${plain}/a`);
      const first = { status: r.status, server: r.headers.get('server'), json: await r.json(), url: r.url };
      const posted = await manager.request('POST', `${plain}/json`, { json: { hello: 'world' } });
      const response = await manager.fetch(`${other}/b`, { method: 'POST', body: 'x' });
      return {
        first,
        posted: { status: posted.status, json: await posted.json() },
        fetched: { status: response.status, isResponse: response instanceof Response, json: await response.json() },
        poolsSize: manager.pools.size,
        keys: manager.pools.keys(),
        numRequests: manager.connectionFromUrl(plain).numRequests,
        numConnections: manager.connectionFromUrl(plain).numConnections,
      };
    } finally {
      await manager.clear();
    }
  },

  async redirects() {
    const manager = new PoolManager();
    try {
      const same = await manager.request('GET', `${plain}/redirect`);
      const cross = await manager.request('GET', `${plain}/cross`, { headers: { authorization: 'Bearer secret' } });
      const fetched = await manager.fetch(`${plain}/redirect`);
      const refused = await settle(manager.request('GET', `${plain}/redirect`, { redirect: false }));
      return {
        same: { status: same.status, url: same.url, redirects: same.redirects, json: await same.json() },
        cross: { status: cross.status, url: cross.url, redirects: cross.redirects, json: await cross.json() },
        fetched: { status: fetched.status, url: fetched.url, redirected: fetched.redirected, json: await fetched.json() },
        notFollowed: refused.ok ? { status: refused.value.status, location: refused.value.headers.get('location') } : refused,
      };
    } finally {
      await manager.clear();
    }
  },

  async retries() {
    const manager = new PoolManager();
    const retries = { total: 3, statusForcelist: [503], backoffFactor: 0 };
    try {
      const flaky = await manager.request('GET', `${plain}/flaky/get`, { retries });
      const post = await manager.request('POST', `${plain}/flaky/post`, { retries });
      const exhausted = await settle(manager.request('GET', `${plain}/always503`, { retries: { ...retries, total: 2 } }));
      const refused = await settle(manager.request('GET', closed, { retries: 1 }));
      return { flaky: flaky.status, post: post.status, exhausted, refused };
    } finally {
      await manager.clear();
    }
  },

  async timeouts() {
    const manager = new PoolManager({ maxSize: 1, poolTimeout: 50 });
    try {
      const read = await settle(manager.request('GET', `${held}/timeouts/read`, { timeout: { read: 100 }, retries: false }));
      const first = manager.request('GET', `${held}/timeouts/first`);
      await arrived('timeouts', 2);
      const empty = await settle(manager.request('GET', `${held}/timeouts/late`));
      report('timeouts', 'waiting', { read, empty });
      const answer = await first;
      return { first: await answer.text() };
    } finally {
      await manager.clear();
    }
  },

  async abort() {
    const manager = new PoolManager({ maxSize: 1 });
    try {
      const first = manager.request('GET', `${held}/abort/first`);
      await arrived('abort', 1);
      const queued = new AbortController();
      const whileQueued = settle(manager.fetch(`${held}/abort/queued`, { signal: queued.signal }));
      const requested = new AbortController();
      const whileQueuedRequest = settle(manager.request('GET', `${held}/abort/queued-request`, { signal: requested.signal }));
      queued.abort();
      requested.abort();
      const queuedResults = [await whileQueued, await whileQueuedRequest];
      report('abort', 'queued', { queuedResults, stats: manager.connectionFromUrl(held).stats() });
      await (await first).text();
      // FIFO: an aborted request that had stayed in the line would be sent before this one.
      const after = await (await manager.request('GET', `${held}/abort/after`)).text();
      const inFlight = new AbortController();
      const running = settle(manager.request('GET', `${held}/abort/in-flight`, { signal: inFlight.signal }));
      await arrived('abort', 3);
      inFlight.abort();
      return { after, running: await running };
    } finally {
      await manager.clear();
    }
  },

  async maxSize() {
    const manager = new PoolManager({ maxSize: 2 });
    try {
      const all = [1, 2, 3, 4, 5, 6].map((i) => manager.request('GET', `${held}/maxSize/${i}`));
      await arrived('maxSize', 2);
      report('maxSize', 'queued', manager.connectionFromUrl(held).stats());
      const texts = await Promise.all(all.map(async (r) => (await r).text()));
      const pool = manager.connectionFromUrl(held);
      return { texts, numRequests: pool.numRequests, numConnections: pool.numConnections };
    } finally {
      await manager.clear();
    }
  },

  async maxTotal() {
    const manager = new PoolManager({ maxSize: 3, maxTotal: 3 });
    try {
      const all = [1, 2, 3, 4].flatMap((i) => [held, held2].map((origin) => manager.request('GET', `${origin}/maxTotal/${i}`)));
      await arrived('maxTotal', 3);
      report('maxTotal', 'queued', manager.stats().map(({ origin, running, queued }) => ({ origin, running, queued })));
      const texts = await Promise.all(all.map(async (r) => (await r).text()));
      return { texts, stats: manager.stats().map(({ origin, numRequests }) => ({ origin, numRequests })) };
    } finally {
      await manager.clear();
    }
  },

  async lru() {
    const manager = new PoolManager({ numPools: 2 });
    const events = [];
    for (const type of ['poolcreate', 'poolevict', 'poolrevive', 'poolclose']) manager.addEventListener(type, (event) => events.push(`${event.type} ${event.origin}`));
    try {
      const running = manager.request('GET', `${held}/lru/slow`);
      await arrived('lru', 1);
      await manager.request('GET', `${plain}/lru`);
      await manager.request('GET', `${other}/lru`);
      report('lru', 'evicted', { size: manager.pools.size, keys: manager.pools.keys(), events: [...events] });
      // Its origin asked for again while its request still runs: the evicted pool comes back, not a second one.
      const again = manager.request('GET', `${held}/lru/again`);
      await arrived('lru', 2);
      const revived = { keys: manager.pools.keys(), numRequests: manager.connectionFromUrl(held).numRequests };
      const texts = [await (await running).text(), await (await again).text()];
      return { texts, revived, events: [...events] };
    } finally {
      await manager.clear();
    }
  },

  async clear() {
    const manager = new PoolManager();
    const order = [];
    let creates = 0;
    manager.addEventListener('poolcreate', () => (creates += 1));
    await (await manager.request('GET', `${lone}/clear/1`)).text();
    const running = manager.request('GET', `${held}/clear/running`).then(async (r) => {
      order.push(`response ${await r.text()}`);
    });
    await arrived('clear', 1);
    let clearedYet = false;
    const cleared = manager.clear().then(() => {
      clearedYet = true;
      order.push('cleared');
    });
    const sizeAtOnce = manager.pools.size;
    // A round trip to the servers: the running request is held there until the test reads this report,
    // so a clear() that did not wait for it would have resolved by now.
    await arrived('clear', 1);
    report('clear', 'clearing', { sizeAtOnce, clearedYet });
    await Promise.all([running, cleared]);
    await (await manager.request('GET', `${lone}/clear/2`)).text();
    const after = { size: manager.pools.size, creates };
    await manager.clear();
    return { order, after, sizeAfterClear: manager.pools.size };
  },

  async errors() {
    const manager = new PoolManager({ retries: 1 });
    try {
      const badOption = await settle((async () => new PoolManager({ maxSize: -1 }))());
      return {
        refusedFetch: await settle(manager.fetch(closed)),
        runtimeRefused: await settle(runtimeFetch(closed)),
        refusedRequest: await settle(manager.request('GET', closed)),
        scheme: await settle(manager.request('GET', 'ftp://127.0.0.1/file')),
        noHost: await settle(manager.request('GET', 'http://')),
        crlf: await settle(manager.request('GET', `${plain}/`, { headers: { 'x-bad': 'a\r\nb' } })),
        badOption,
        poolsSize: manager.pools.size,
      };
    } finally {
      await manager.clear();
    }
  },

  async ky() {
    const manager = new PoolManager();
    try {
      const api = ky.create({ fetch: manager.fetch, retry: 0 });
      const viaKy = await api.get(`${third}/ky`).json();
      const restore = poolfetch.installFetch(manager);
      let installed;
      try {
        installed = await ky.get(`${third}/installed`, { retry: 0 }).json();
      } finally {
        restore();
      }
      // Which ky ran: the version in the package.json beside the ky 2 module imported above.
      const kyMajor = config.ky === undefined
        ? 1
        : Number((await import(new URL('../package.json', config.ky).href, { with: { type: 'json' } })).default.version.split('.')[0]);
      return { viaKy, installed, kyMajor, restored: globalThis.fetch !== manager.fetch, numRequests: manager.connectionFromUrl(third).numRequests };
    } finally {
      await manager.clear();
    }
  },

  /**
   * One manager shared by every incoming request of a server in this runtime, as a Worker's
   * module-level manager is: 8 requests at once, each fetching 10 URLs from each of two origins
   * (more than maxTotal), half with text() and half with request(). Then a later request.
   */
  async shared() {
    const manager = new PoolManager({ maxTotal: 6 });
    const handle = async (request) => {
      const query = new URL(request.url).searchParams;
      const tag = query.get('tag');
      const urls = [held, held2].flatMap((origin) => Array.from({ length: 10 }, (_, i) => `${origin}/shared/${tag}-${i}`));
      const read = query.get('read') === 'request'
        ? async (url) => (await manager.request('GET', url)).text()
        : async (url) => (await manager.fetch(url)).text();
      return Response.json({ texts: await Promise.all(urls.map(read)) });
    };
    const server = await serve(handle);
    try {
      const ask = (tag, read) => runtimeFetch(`${server.url}/?tag=${tag}&read=${read}`).then((r) => r.json());
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => ask(i, i % 2 === 0 ? 'text' : 'request')));
      const idle = manager.stats().map(({ running, queued }) => ({ running, queued }));
      report('shared', 'answered', { answered: answers.map((a) => a.texts.length), idle });
      const later = await ask('later', 'text');
      return { later: later.texts.length, stats: manager.stats().map(({ running, queued, numRequests }) => ({ running, queued, numRequests })) };
    } finally {
      await server.close();
      await manager.clear();
    }
  },
};

/** An HTTP server of this runtime's own (Deno.serve, Bun.serve, node:http) on a free loopback port, answering with `handle`. */
async function serve(handle) {
  if (globalThis.Deno !== undefined) {
    const server = globalThis.Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, handle);
    return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
  }
  if (globalThis.Bun !== undefined) {
    const server = globalThis.Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: handle });
    return { url: `http://127.0.0.1:${server.port}`, close: async () => server.stop(true) };
  }
  const http = await import('node:http');
  const server = http.createServer(async (req, res) => {
    const response = await handle(new Request(`http://127.0.0.1${req.url}`));
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

const only = config.scenarios ?? Object.keys(scenarios);
for (const name of only) {
  const result = await settle(scenarios[name]());
  if (result.ok) report(name, 'done', result.value);
  else report(name, 'failed', result.error);
}
report('all', 'done', {});
