/**
 * Request bodies in every accepted form, responses preloaded or streamed,
 * and content-encoding decoded, on both adapters against a real server.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectGarbage } from '../support/gc.js';
import { deferred, startServer, type TestServer } from '../support/servers.js';
import { adapters, routesServer, type Adapter, type Echo } from './support.js';

let server: TestServer;
let compressed: TestServer;
const TEXT = 'poolfetch decodes this. '.repeat(200);
const encoders: Record<string, (input: string) => Promise<Buffer>> = {
  gzip: promisify(zlib.gzip),
  deflate: promisify(zlib.deflate),
  br: promisify(zlib.brotliCompress),
};

beforeAll(async () => {
  server = await routesServer();
  compressed = await startServer(async (req, res) => {
    const encoding = (req.url ?? '/').slice(1);
    const encode = encoders[encoding];
    if (encode === undefined) {
      res.writeHead(404).end();
      return;
    }
    const body = await encode(TEXT);
    res.writeHead(200, { 'content-encoding': encoding, 'content-type': 'text/plain', 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
});
afterAll(async () => {
  await server.close();
  await compressed.close();
});

describe.each(adapters)('request bodies ($name adapter)', (adapter) => {
  const echo = async (options: Parameters<ReturnType<typeof adapter.make>['request']>[2], method = 'POST'): Promise<Echo> => {
    await using http = adapter.make();
    return (await (await http.request(method, server.url('/echo'), options)).json()) as Echo;
  };

  it('sends a string as text/plain', async () => {
    const got = await echo({ body: 'héllo' });
    expect(got.body).toBe('héllo');
    expect(got.headers['content-type']).toBe('text/plain;charset=UTF-8');
  });

  it('sends bytes as they are', async () => {
    const got = await echo({ body: new TextEncoder().encode('bytes!') });
    expect(got.body).toBe('bytes!');
    expect(got.headers['content-length']).toBe('6');
  });

  it('sends URLSearchParams as a form', async () => {
    const got = await echo({ body: new URLSearchParams({ a: '1', b: 'two words' }) });
    expect(got.body).toBe('a=1&b=two+words');
    expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
  });

  it('sends FormData as multipart with its boundary', async () => {
    const form = new FormData();
    form.set('field', 'value');
    form.set('file', new Blob(['file body'], { type: 'text/plain' }), 'a.txt');
    const got = await echo({ body: form });
    const type = got.headers['content-type'] ?? '';
    expect(type).toMatch(/^multipart\/form-data; boundary=/);
    const parsed = await new Response(got.body, { headers: { 'content-type': type } }).formData();
    expect(parsed.get('field')).toBe('value');
    expect(await (parsed.get('file') as File).text()).toBe('file body');
  });

  it('serialises json and sets its content-type; an explicit content-type wins', async () => {
    const got = await echo({ json: { a: [1, 2], b: null } });
    expect(JSON.parse(got.body)).toEqual({ a: [1, 2], b: null });
    expect(got.headers['content-type']).toBe('application/json');
    const own = await echo({ json: { a: 1 }, headers: { 'content-type': 'application/vnd.api+json' } });
    expect(own.headers['content-type']).toBe('application/vnd.api+json');
  });

  it('streams a ReadableStream body: the server has the first chunk before the second exists', async () => {
    const firstArrived = deferred();
    const streaming = await startServer(
      async (req, res) => {
        let body = '';
        for await (const chunk of req) {
          body += String(chunk);
          firstArrived.resolve();
        }
        res.end(body);
      },
      { collectBody: false },
    );
    try {
      await using http = adapter.make();
      const encoder = new TextEncoder();
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          sent += 1;
          if (sent === 1) controller.enqueue(encoder.encode('first,'));
          else if (sent === 2) {
            // A client that buffered the body would never get here: the server waits for it.
            await firstArrived.promise;
            controller.enqueue(encoder.encode('second'));
          } else controller.close();
        },
      });
      const r = await http.request('POST', streaming.url('/'), { body });
      expect(await r.text()).toBe('first,second');
    } finally {
      await streaming.close();
    }
  });

  it('refuses body and json together, and a body of another type, naming it', async () => {
    await using http = adapter.make();
    await expect(http.request('POST', server.url('/echo'), { body: 'x', json: 1 })).rejects.toThrow('Pass either body or json, not both');
    await expect(http.request('POST', server.url('/echo'), { body: 42 as unknown as string })).rejects.toThrow(/body must be .*, got 42/);
    await expect(http.request('POST', server.url('/echo'), { json: () => 1 })).rejects.toThrow(/json must be serialisable .*, got a function/);
  });

  it('refuses a body with GET in manager.fetch, naming the method, URL and body', async () => {
    await using http = adapter.make();
    const error = await http.fetch(server.url('/echo'), { method: 'GET', body: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(`GET ${server.url('/echo')}, body "x"`);
    await expect(http.fetch(server.url('/echo'), { method: 'HEAD', body: 'x' })).rejects.toThrow(/HEAD request cannot have a body/);
  });

  it(adapter.name === 'fetch' ? 'refuses a body with GET in request() too (fetch forbids it)' : 'sends a body with GET in request(), as urllib3 does', async () => {
    await using http = adapter.make();
    if (adapter.name === 'fetch') {
      await expect(http.request('GET', server.url('/echo'), { body: 'x' })).rejects.toThrow(/A GET request cannot have a body with the fetch adapter .*body "x"/);
    } else {
      expect(((await (await http.request('GET', server.url('/echo'), { body: 'x' })).json()) as Echo).body).toBe('x');
    }
  });
});

describe.each(adapters)('responses ($name adapter)', (adapter) => {
  it('preloads the body into data by default', async () => {
    await using http = adapter.make();
    const r = await http.request('GET', server.url('/echo'));
    expect(r.data).toBeInstanceOf(Uint8Array);
    expect(r.body).toBeNull();
    expect(JSON.parse(new TextDecoder().decode(r.data))).toMatchObject({ method: 'GET' });
  });

  it('leaves the body as a stream with preloadContent: false, holding the slot until it is read', async () => {
    await using http = adapter.make();
    const r = await http.request('GET', server.url('/echo'), { preloadContent: false });
    expect(() => r.data).toThrow(/preloadContent: false/);
    expect(r.body).toBeInstanceOf(ReadableStream);
    expect(http.connectionFromUrl(server.url()).stats().running).toBe(1);
    expect(JSON.parse(await r.text())).toMatchObject({ url: '/echo' });
    expect(http.connectionFromUrl(server.url()).stats().running).toBe(0);
  });

  it.each(['gzip', 'deflate', 'br'])('decodes %s in request(), streamed or not, and in fetch()', async (encoding) => {
    await using http = adapter.make();
    const r = await http.request('GET', compressed.url(`/${encoding}`));
    expect(r.headers.get('content-encoding')).toBe(encoding);
    expect(await r.text()).toBe(TEXT);
    const streamed = await http.request('GET', compressed.url(`/${encoding}`), { preloadContent: false });
    expect(await streamed.text()).toBe(TEXT);
    expect(await (await http.fetch(compressed.url(`/${encoding}`))).text()).toBe(TEXT);
    const head = await http.request('HEAD', compressed.url(`/${encoding}`));
    expect(head.data).toHaveLength(0);
  });
});

describe('a body that fails to decode (Node adapter)', () => {
  it('is a ProtocolError and frees the socket for the next request (maxSize 1)', async () => {
    const server = await startServer(async (req, res) => {
      if (req.url === '/corrupt') {
        // The rest of the body never comes: only destroying the request frees its socket.
        res.writeHead(200, { 'content-encoding': 'gzip' });
        res.write('this is not gzip');
        await new Promise((resolve) => res.on('close', resolve));
      } else {
        res.end('fine');
      }
    });
    const node = adapters.find((adapter) => adapter.name === 'node') as Adapter;
    try {
      await using http = node.make({ maxSize: 1, retries: false });
      await expect(http.request('GET', server.url('/corrupt'))).rejects.toThrow(/Could not decode the response body/);
      await expect(http.request('GET', server.url('/corrupt'), { preloadContent: false }).then((r) => r.text())).rejects.toThrow(
        /Could not decode the response body/,
      );
      const next = await http.request('GET', server.url('/after'));
      expect(await next.text()).toBe('fine');
    } finally {
      await server.close();
    }
  });
});

describe.each(adapters)('a streamed response nobody reads ($name adapter)', (adapter) => {
  it('gives its slot and its connection back once garbage-collected (maxSize 1)', async () => {
    const closed = deferred();
    const server = await startServer(async (req, res) => {
      if (req.url === '/endless') {
        res.writeHead(200);
        res.write('first chunk, and no more until the client goes away');
        await new Promise((resolve) => res.on('close', resolve));
        closed.resolve();
      } else {
        res.end('fine');
      }
    });
    try {
      await using http = adapter.make({ maxSize: 1 });
      await (async () => {
        await http.request('GET', server.url('/endless'), { preloadContent: false });
      })();
      const next = http.request('GET', server.url('/after'));
      let connectionClosed = false;
      void closed.promise.then(() => (connectionClosed = true));
      await collectGarbage(() => connectionClosed);
      expect(connectionClosed).toBe(true);
      expect(await (await next).text()).toBe('fine');
    } finally {
      await server.close();
    }
  });
});
