/**
 * The charts in BENCHMARKS.md, drawn as plain SVG by the bench itself:
 * throughput vs number of origins, and RSS as the 10,000-origin run goes
 * (chart.svg); CPU per request in the waiting shape (waiting.svg).
 */
import type { ManyOriginsResult } from './many-origins.js';
import { MiB } from './stats.js';
import type { ThroughputRow } from './throughput.js';

const COLORS: Record<string, string> = { poolfetch: '#1f77b4', 'undici-agent': '#d62728', 'global-fetch': '#2ca02c' };
const LABELS: Record<string, string> = { poolfetch: 'poolfetch (numPools 100)', 'undici-agent': 'undici Agent', 'global-fetch': 'global fetch' };

interface Series {
  key: string;
  points: Array<[number, number]>;
}

interface Panel {
  x: number;
  title: string;
  xLabel: string;
  yLabel: string;
  logX: boolean;
  series: Series[];
}

const W = 460;
const H = 300;
const M = { left: 62, right: 16, top: 34, bottom: 46 };

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v) ?? v;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(v: number): string {
  return v >= 10_000 ? `${v / 1000}k` : v >= 1000 && v % 1000 === 0 ? `${v / 1000}k` : String(Math.round(v * 10) / 10);
}

function panel(p: Panel): string {
  const xs = p.series.flatMap((s) => s.points.map(([x]) => x));
  const ys = p.series.flatMap((s) => s.points.map(([, y]) => y));
  if (xs.length === 0) return '';
  const x0 = p.logX ? Math.log10(Math.min(...xs)) : 0;
  const x1 = p.logX ? Math.log10(Math.max(...xs)) : Math.max(...xs);
  const yMax = niceMax(Math.max(...ys) * 1.05);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => p.x + M.left + ((p.logX ? Math.log10(x) : x) - x0) / (x1 - x0 || 1) * pw;
  const sy = (y: number): number => M.top + ph - (y / yMax) * ph;
  const out: string[] = [];
  out.push(`<text x="${p.x + W / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<rect x="${p.x + M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 5; i++) {
    const y = (yMax / 5) * i;
    out.push(`<line x1="${p.x + M.left}" x2="${p.x + M.left + pw}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>`);
    out.push(`<text x="${p.x + M.left - 6}" y="${sy(y) + 4}" text-anchor="end">${fmt(y)}</text>`);
  }
  const ticks = p.logX ? [...new Set(xs)].sort((a, b) => a - b) : Array.from({ length: 6 }, (_, i) => Math.round((x1 / 5) * i));
  for (const t of ticks) out.push(`<text x="${sx(t)}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  out.push(`<text x="${p.x + M.left + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(p.xLabel)}</text>`);
  out.push(`<text transform="translate(${p.x + 14} ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`);
  for (const s of p.series) {
    const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${COLORS[s.key]}" stroke-width="2"/>`);
    if (p.logX) for (const [x, y] of s.points) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${COLORS[s.key]}"/>`);
  }
  return out.join('\n');
}

export function chartSvg(runs: ManyOriginsResult[]): string {
  const keys = ['poolfetch', 'undici-agent', 'global-fetch'];
  const throughput: Series[] = keys.map((key) => ({
    key,
    points: runs.map((r) => [r.origins, r.clients.find((c) => c.client === key)?.median ?? 0] as [number, number]),
  }));
  const biggest = runs.reduce((a, b) => (b.origins > a.origins ? b : a));
  const rss: Series[] = keys.map((key) => ({
    key,
    points: (biggest.clients.find((c) => c.client === key)?.rssSeries ?? []).map((s) => [s.done, s.rss / MiB] as [number, number]),
  }));
  const legend = keys
    .map((k, i) => `<rect x="${70 + i * 210}" y="${H + 6}" width="14" height="4" fill="${COLORS[k]}"/><text x="${90 + i * 210}" y="${H + 12}">${esc(LABELS[k] ?? k)}</text>`)
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W * 2}" height="${H + 24}" viewBox="0 0 ${W * 2} ${H + 24}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
${panel({ x: 0, title: 'Throughput vs distinct origins (round-robin, 50 in flight)', xLabel: 'distinct origins (log scale)', yLabel: 'requests / s', logX: true, series: throughput })}
${panel({ x: W, title: `RSS during the ${biggest.origins.toLocaleString('en')}-origin run`, xLabel: 'requests sent', yLabel: 'RSS (MiB)', logX: false, series: rss })}
${legend}
</svg>
`;
}

/** The waiting shape at a glance: CPU µs per request for every client, one panel per case, the range over rounds as a whisker. */
export function waitingSvg(rows: ThroughputRow[]): string {
  const cases = [...new Set(rows.map((r) => r.payload))];
  const names = [...new Set(rows.map((r) => r.name))];
  const PW = 480;
  const label = 250;
  const bar = 16;
  const gap = 6;
  const top = 40;
  const PH = top + names.length * (bar + gap) + 30;
  const color = (name: string): string => (name.startsWith('poolfetch') || name.startsWith('fetch adapter') ? '#1f77b4' : name.startsWith('undici') ? '#d62728' : '#999');
  const out: string[] = [];
  cases.forEach((c, i) => {
    const x0 = (i % 2) * PW;
    const y0 = Math.floor(i / 2) * PH;
    const inCase = names.map((n) => rows.find((r) => r.payload === c && r.name === n));
    const most = niceMax(Math.max(...inCase.flatMap((r) => r?.cpuRounds ?? [0])) * 1.05);
    const w = PW - label - 30;
    const sx = (v: number): number => x0 + label + (v / most) * w;
    out.push(`<text x="${x0 + PW / 2}" y="${y0 + 20}" text-anchor="middle" font-weight="bold">${esc(`${c}: CPU µs per request`)}</text>`);
    for (let t = 0; t <= 4; t++) {
      const v = (most / 4) * t;
      out.push(`<line x1="${sx(v)}" x2="${sx(v)}" y1="${y0 + top - 6}" y2="${y0 + PH - 24}" stroke="#eee"/>`);
      out.push(`<text x="${sx(v)}" y="${y0 + PH - 10}" text-anchor="middle">${fmt(v)}</text>`);
    }
    inCase.forEach((r, j) => {
      if (r === undefined) return;
      const y = y0 + top + j * (bar + gap);
      out.push(`<text x="${x0 + label - 6}" y="${y + bar - 4}" text-anchor="end">${esc(r.name)}</text>`);
      out.push(`<rect x="${sx(0)}" y="${y}" width="${(sx(r.cpuMicros) - sx(0)).toFixed(1)}" height="${bar}" fill="${color(r.name)}"/>`);
      const lo = Math.min(...r.cpuRounds);
      const hi = Math.max(...r.cpuRounds);
      out.push(`<line x1="${sx(lo).toFixed(1)}" x2="${sx(hi).toFixed(1)}" y1="${y + bar / 2}" y2="${y + bar / 2}" stroke="#333"/>`);
    });
  });
  const height = PH * Math.ceil(cases.length / 2) + 24;
  const legend = [
    ['#1f77b4', 'poolfetch'],
    ['#d62728', 'undici (the baselines)'],
    ['#999', 'other clients'],
  ]
    .map(([fill, text], i) => `<rect x="${70 + i * 200}" y="${height - 18}" width="14" height="8" fill="${fill}"/><text x="${90 + i * 200}" y="${height - 10}">${esc(text ?? '')}</text>`)
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${PW * 2}" height="${height}" viewBox="0 0 ${PW * 2} ${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
${out.join('\n')}
${legend}
</svg>
`;
}
