/**
 * The dashboard page. The Node panel draws what the demo process streams
 * over server-sent events; the Browser panel runs the same workload here,
 * through poolfetch's fetch adapter from the built bundle (demo/bundle.ts
 * points this import at dist/), and draws its own tracker the same way.
 */
import type UPlot from 'uplot';
import { PoolManager, type ConnectionPool, type PoolManagerOptions } from '../../adapters/fetch/index.js';
import type { SharedLimits } from '../../src/connection-pool.js';
import type { ResolvedOptions } from '../../src/options.js';
import type { PoolKey } from '../../src/pool-key.js';
import { managerOptions, RETRY_STATUSES, type DemoSettings } from '../shared/settings.js';
import { PoolTracker, type LogEntry, type Snapshot } from '../shared/tracker.js';
import { runWorkload, type Target } from '../shared/workload.js';

/** uPlot is loaded as a classic script (its IIFE build), so it is a global here. */
const uPlot = (globalThis as unknown as { uPlot: typeof UPlot }).uPlot;

interface OriginInfo {
  name: string;
  url: string;
  note: string;
  tls: boolean;
}
interface Hello {
  origins: OriginInfo[];
  settings: DemoSettings;
  running: boolean;
  log: LogEntry[];
}
interface ServerSnapshot extends Snapshot {
  sent: number;
  running: boolean;
}

const WEIGHTS: Record<string, number> = { 'fast-a': 6, 'fast-b': 5, 'fast-c': 4, slow: 3, flaky: 3, tls: 2, redirect: 2, rare: 1 };
const LOG_SHOWN = 120;
const CHART_POINTS = 240;

const $ = <T extends Element>(selector: string, root: ParentNode = document): T => {
  const found = root.querySelector<T>(selector);
  if (found === null) throw new Error(`The page has no ${selector}`);
  return found;
};

/** One side of the page: summary line, chart, pool table and event log. */
class Panel {
  readonly root: HTMLElement;
  readonly #names: Map<string, OriginInfo>;
  readonly #body: HTMLTableSectionElement;
  readonly #log: HTMLOListElement;
  readonly #summary: HTMLElement;
  readonly #chart: UPlot;
  readonly #series: [number[], number[], number[]] = [[], [], []];
  readonly #seen = new Set<string>();

  constructor(root: HTMLElement, origins: OriginInfo[]) {
    this.root = root;
    this.#names = new Map(origins.map((o) => [o.url, o]));
    this.#body = $('tbody', root);
    this.#log = $('ol.log', root);
    this.#summary = $('.summary', root);
    const chartBox = $<HTMLElement>('.chart', root);
    this.#chart = new uPlot(
      {
        width: Math.max(300, chartBox.clientWidth),
        height: 150,
        legend: { show: false },
        scales: { x: { time: false } },
        axes: [{ label: 'seconds', size: 36 }, { size: 40 }],
        series: [
          { label: 's' },
          { label: 'in flight', stroke: '#1f9d55', width: 2, fill: 'rgba(31,157,85,0.12)', points: { show: false } },
          { label: 'queued', stroke: '#d97706', width: 2, points: { show: false } },
        ],
      },
      this.#series,
      chartBox,
    );
    new ResizeObserver(() => this.#chart.setSize({ width: Math.max(300, chartBox.clientWidth), height: 150 })).observe(chartBox);
  }

  render(snapshot: Snapshot, sent: number, running: boolean, settings: DemoSettings): void {
    const [t, inFlight, queued] = this.#series;
    t.push(snapshot.at / 1000);
    inFlight.push(snapshot.inFlight);
    queued.push(snapshot.queued);
    if (t.length > CHART_POINTS) for (const s of this.#series) s.shift();
    this.#chart.setData(this.#series);

    const maxTotal = settings.maxTotal === 0 ? 'none' : String(settings.maxTotal);
    this.#summary.innerHTML =
      `${running ? 'running' : '<b>paused</b>'} · sent <b data-testid="sent">${sent}</b> · pools <b data-testid="pools">${snapshot.rows.length}</b>/${settings.numPools}` +
      ` · in flight <b>${snapshot.inFlight}</b> · queued <b>${snapshot.queued}</b> · evictions <b data-testid="evictions">${snapshot.events.poolevict}</b>` +
      ` · revived <b data-testid="revivals">${snapshot.events.poolrevive}</b>` +
      ` · maxSize ${settings.maxSize} · maxTotal ${maxTotal}`;

    // stats() lists pools least recently used first: that one goes next. Rows stay in the origins' order to be readable.
    const nextOut = snapshot.rows.length >= settings.numPools ? snapshot.rows[0]?.key : undefined;
    const order = [...this.#names.keys()];
    const sorted = [...snapshot.rows].sort((a, b) => order.indexOf(a.origin) - order.indexOf(b.origin));
    const rows = sorted.map((row) => {
      const info = this.#names.get(row.origin);
      const tr = document.createElement('tr');
      tr.dataset.origin = row.origin;
      tr.dataset.name = info?.name ?? row.origin;
      if (!this.#seen.has(row.key)) tr.className = 'fresh';
      const share = Math.min(100, Math.round((row.running / settings.maxSize) * 100));
      tr.innerHTML =
        `<td><span class="name">${escape(info?.name ?? '?')}</span><span class="url">${escape(row.origin)}</span>` +
        `${row.key === nextOut ? '<span class="lru" title="least recently used: evicted when the next new origin comes">next out</span>' : ''}</td>` +
        `<td class="running"><span class="meter"><i style="width:${share}%"></i></span>${row.running}</td>` +
        `<td class="queued${row.queued > 0 ? ' busy' : ''}">${row.queued}</td>` +
        `<td class="requests">${row.requests}</td><td class="open">${row.open}</td><td class="connections">${row.connections}</td>` +
        `<td class="retries">${row.retries}</td><td class="evictions${row.evictions > 0 ? ' some' : ''}">${row.evictions}</td>`;
      return tr;
    });
    this.#seen.clear();
    for (const row of snapshot.rows) this.#seen.add(row.key);
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      tr.className = 'empty';
      tr.innerHTML = '<td colspan="8">no pools: the manager is empty</td>';
      rows.push(tr);
    }
    this.#body.replaceChildren(...rows);
  }

  addLog(entry: LogEntry): void {
    const li = document.createElement('li');
    li.dataset.kind = entry.kind;
    const info = this.#names.get(entry.origin);
    const who = entry.origin === '' ? '' : `${info?.name ?? ''} ${entry.origin}`;
    li.innerHTML =
      `<span class="at">+${(entry.at / 1000).toFixed(1)} s</span><span class="kind">${escape(entry.kind)}</span>` +
      `${escape(who)}${entry.detail === undefined ? '' : ` <span class="detail">${escape(entry.detail)}</span>`}`;
    li.title = li.textContent ?? '';
    this.#log.prepend(li);
    while (this.#log.children.length > LOG_SHOWN) this.#log.lastElementChild?.remove();
  }

  setPaused(paused: boolean): void {
    $('button.pause', this.root).textContent = paused ? 'resume' : 'pause';
  }
}

/** The Browser panel's manager: the fetch entry's `PoolManager`, each new pool handed to a tracker. */
class PagePoolManager extends PoolManager {
  readonly tracker: PoolTracker;
  constructor(options: PoolManagerOptions) {
    super(options);
    this.tracker = new PoolTracker(this, RETRY_STATUSES);
  }
  protected override newPool(key: PoolKey, options: ResolvedOptions, shared: SharedLimits): ConnectionPool {
    return this.tracker.adopt(super.newPool(key, options, shared));
  }
}

/** The same workload as the demo process runs, here in the page. */
class PageWorkload {
  manager: PagePoolManager;
  settings: DemoSettings;
  running = false;
  sent = 0;
  readonly #targets: Target[];
  readonly #panel: Panel;
  #stop = new AbortController();
  #loop: Promise<unknown> = Promise.resolve();

  constructor(origins: OriginInfo[], settings: DemoSettings, panel: Panel) {
    this.#targets = origins.filter((o) => !o.tls).map((o) => ({ name: o.name, url: o.url, weight: WEIGHTS[o.name] ?? 1 }));
    this.#panel = panel;
    this.settings = settings;
    this.manager = this.#makeManager();
  }

  #makeManager(): PagePoolManager {
    const manager = new PagePoolManager(managerOptions(this.settings));
    manager.tracker.onLog((entry) => this.#panel.addLog(entry));
    return manager;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.#stop = new AbortController();
    this.#loop = runWorkload({
      requester: this.manager,
      targets: this.#targets.filter((t) => this.settings.origins.includes(t.name)),
      concurrency: this.settings.concurrency,
      signal: this.#stop.signal,
      thinkMs: 40,
      seed: Date.now(),
      onResult: ({ target, error }) => {
        this.sent += 1;
        this.manager.tracker.logFailure(target.url, error);
      },
    }).catch((error: unknown) => this.manager.tracker.log('error', '', String(error)));
    this.#panel.setPaused(false);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.#stop.abort();
    await this.#loop;
    this.#panel.setPaused(true);
  }

  async apply(settings: DemoSettings): Promise<void> {
    const wasRunning = this.running;
    await this.stop();
    const old = this.manager;
    this.settings = settings;
    this.manager = this.#makeManager();
    await old.clear();
    if (wasRunning) this.start();
  }

  tick(): void {
    this.#panel.render(this.manager.tracker.snapshot(), this.sent, this.running, this.settings);
  }
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function post(path: string, body?: unknown): Promise<{ error?: string }> {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
  return (await response.json()) as { error?: string };
}

function fillForm(form: HTMLFormElement, settings: DemoSettings): void {
  for (const name of ['concurrency', 'numPools', 'maxSize', 'maxTotal'] as const) {
    (form.elements.namedItem(name) as HTMLInputElement).value = String(settings[name]);
  }
  for (const box of form.querySelectorAll<HTMLInputElement>('input[name=origin]')) box.checked = settings.origins.includes(box.value);
}

function readForm(form: HTMLFormElement): DemoSettings {
  const number = (name: string): number => Number((form.elements.namedItem(name) as HTMLInputElement).value);
  return {
    origins: [...form.querySelectorAll<HTMLInputElement>('input[name=origin]:checked')].map((box) => box.value),
    concurrency: number('concurrency'),
    numPools: number('numPools'),
    maxSize: number('maxSize'),
    maxTotal: number('maxTotal'),
  };
}

function start(hello: Hello): void {
  const form = $<HTMLFormElement>('#controls');
  const originBox = $<HTMLFieldSetElement>('#origins');
  for (const origin of hello.origins) {
    const label = document.createElement('label');
    label.title = `${origin.url}: ${origin.note}`;
    label.innerHTML = `<input type="checkbox" name="origin" value="${escape(origin.name)}"> ${escape(origin.name)}`;
    originBox.append(label);
  }
  fillForm(form, hello.settings);

  const nodePanel = new Panel($('#node'), hello.origins);
  const browserPanel = new Panel($('#browser'), hello.origins);
  for (const entry of hello.log) nodePanel.addLog(entry);
  let nodeSettings = hello.settings;
  nodePanel.setPaused(!hello.running);
  const page = new PageWorkload(hello.origins, hello.settings, browserPanel);
  page.start();
  setInterval(() => page.tick(), 250);
  (globalThis as unknown as { demo: unknown }).demo = { page };

  const error = $<HTMLOutputElement>('#form-error');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const settings = readForm(form);
    void post('/api/settings', settings).then(async (answer) => {
      error.textContent = answer.error ?? '';
      if (answer.error === undefined) await page.apply(settings);
    });
  });
  $('#node button.clear').addEventListener('click', () => void post('/api/clear'));
  $('#node button.pause').addEventListener('click', (event) => {
    const paused = (event.target as HTMLElement).textContent === 'resume';
    void post(paused ? '/api/resume' : '/api/pause');
  });
  $('#browser button.clear').addEventListener('click', () => {
    page.manager.tracker.log('clear', '', 'manager.clear()');
    void page.manager.clear();
  });
  $('#browser button.pause').addEventListener('click', () => (page.running ? void page.stop() : page.start()));

  events.addEventListener('snapshot', (event) => {
    const snapshot = JSON.parse((event as MessageEvent<string>).data) as ServerSnapshot;
    nodePanel.render(snapshot, snapshot.sent, snapshot.running, nodeSettings);
  });
  events.addEventListener('log', (event) => nodePanel.addLog(JSON.parse((event as MessageEvent<string>).data) as LogEntry));
  events.addEventListener('state', (event) => {
    const state = JSON.parse((event as MessageEvent<string>).data) as { settings: DemoSettings; running: boolean };
    nodeSettings = state.settings;
    nodePanel.setPaused(!state.running);
    fillForm(form, state.settings);
  });
}

const status = $<HTMLElement>('#status');
const events = new EventSource('/events');
let started = false;
events.addEventListener('hello', (event) => {
  status.textContent = 'live: updated 4 times a second over server-sent events';
  if (started) return;
  started = true;
  start(JSON.parse((event as MessageEvent<string>).data) as Hello);
});
events.addEventListener('error', () => {
  status.textContent = 'disconnected from the demo process (stopped?); retrying…';
  // The origins live in that process too: stop the page's workload rather than fill its log with errors.
  const page = (globalThis as unknown as { demo?: { page: PageWorkload } }).demo?.page;
  if (page?.running === true) void page.stop();
});
