/**
 * OpenTelemetry's undici instrumentation (@opentelemetry/instrumentation-undici,
 * which listens on undici's diagnostics_channel) records every request the
 * Node entry sends as a client span with its method, URL and status: each
 * redirect hop, each request that waited in line, request() and
 * manager.fetch alike. Checked against what the server saw and answered,
 * through an in-memory exporter.
 */
import { InMemorySpanExporter, SimpleSpanProcessor, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/node/index.js';
import { startServer, type TestServer } from '../support/servers.js';

let server: TestServer;
/** What the server answered, by path: the independent record the spans are checked against. */
const answered: Array<{ method: string; url: string; status: number }> = [];
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let instrumentation: UndiciInstrumentation;

beforeAll(async () => {
  server = await startServer((req, res) => {
    const url = req.url ?? '';
    const status = url === '/missing' ? 404 : url === '/moved' ? 302 : req.method === 'POST' ? 201 : 200;
    answered.push({ method: req.method ?? '', url: server.url(url), status });
    if (status === 302) res.setHeader('location', '/landed');
    res.writeHead(status).end(url);
  });
  instrumentation = new UndiciInstrumentation();
  instrumentation.setTracerProvider(provider);
});
afterAll(async () => {
  instrumentation.disable();
  await provider.shutdown();
  await server.close();
});

describe('@opentelemetry/instrumentation-undici over poolfetch (Node entry)', () => {
  it('records one client span per request sent, with method, URL and status, queued ones and redirect hops included', async () => {
    exporter.reset();
    {
      await using manager = new PoolManager({ maxSize: 1 });
      await Promise.all([
        ...[0, 1, 2].map(async (i) => (await manager.request('GET', server.url(`/queued/${i}`))).text()),
        manager.request('POST', server.url('/items'), { json: { a: 1 } }).then((r) => r.text()),
        manager.request('GET', server.url('/missing')).then((r) => r.text()),
        manager.request('GET', server.url('/moved')).then((r) => r.text()),
        manager.fetch(server.url('/fetched')).then((r) => r.text()),
      ]);
    }
    const spans = exporter.getFinishedSpans().map((span) => ({
      method: span.attributes['http.request.method'],
      url: span.attributes['url.full'],
      status: span.attributes['http.response.status_code'],
      name: span.name,
      kind: span.kind,
    }));
    // Eight requests reached the server (the redirect is two); each is one span, as the server answered it.
    expect(answered).toHaveLength(8);
    expect(spans.map(({ method, url, status }) => ({ method, url, status })).sort(byUrl)).toEqual([...answered].sort(byUrl));
    for (const span of spans) {
      expect(span.name).toBe(span.method);
      expect(span.kind).toBe(2); // SpanKind.CLIENT
    }
  });
});

function byUrl(a: { url: unknown; method: unknown }, b: { url: unknown; method: unknown }): number {
  return `${String(a.url)} ${String(a.method)}`.localeCompare(`${String(b.url)} ${String(b.method)}`);
}
