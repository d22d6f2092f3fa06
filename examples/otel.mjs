/**
 * OpenTelemetry (README "Observability"): @opentelemetry/instrumentation-undici
 * makes a client span of every request undici sends, poolfetch's Node entry
 * included; poolfetch's `poolfetch:request:slot` diagnostics channel adds
 * the time each request waited for a slot, as `poolfetch.wait_ms`.
 * One local API, `maxSize: 2`, six requests at once: four wait.
 * Run: `node examples/otel.mjs` (after `npm ci`; the OpenTelemetry packages
 * are devDependencies here, `npm install @opentelemetry/api
 * @opentelemetry/sdk-trace-base @opentelemetry/instrumentation-undici` in
 * your app).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { PoolManager } from 'poolfetch';
import { startApis } from './local-apis.mjs';

// Each slot message waits here for its undici request, by method and URL: undici may create its request a
// little later than poolfetch hands it over (when its own connection frees up), in another async context.
const waits = new Map();
const keyOf = (method, href) => {
  const url = new URL(href);
  url.username = ''; // poolfetch shows a password as ***; undici's request carries none (it went to a header)
  url.password = '';
  return `${method} ${url.href}`;
};
diagnosticsChannel.subscribe('poolfetch:request:slot', ({ method, url, waitMs }) => {
  const key = keyOf(method, url);
  waits.set(key, [...(waits.get(key) ?? []), waitMs]);
});

// A real app exports to its collector (OTLP); here the spans stay in memory and are printed at the end.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const instrumentation = new UndiciInstrumentation({
  requestHook(span, request) {
    const key = `${request.method} ${new URL(request.path, request.origin).href}`;
    const pending = waits.get(key);
    const waitMs = pending?.shift();
    if (pending?.length === 0) waits.delete(key);
    if (waitMs !== undefined) span.setAttribute('poolfetch.wait_ms', Math.round(waitMs * 10) / 10);
  },
});
instrumentation.setTracerProvider(provider);

const { apis, close } = await startApis(['news'], { delayMs: 20 });
const [news] = apis.map((api) => api.url);
const manager = new PoolManager({ maxSize: 2 });
await Promise.all(Array.from({ length: 6 }, async (_, i) => (await manager.request('GET', `${news}/items/${i}`)).json()));
await manager.close();

for (const span of exporter.getFinishedSpans()) {
  const a = span.attributes;
  console.log(`${span.name} ${a['url.full']} ${a['http.response.status_code']} poolfetch.wait_ms=${a['poolfetch.wait_ms']}`);
}
instrumentation.disable();
await provider.shutdown();
await close();
