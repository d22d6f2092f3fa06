/**
 * What examples/otel.mjs must print, wherever it runs (Node 20 in the unit
 * run, Node 22 and 24 in the runtime matrix): one span per request, with
 * method, URL and status, and the time each waited for a slot. Six requests
 * at once with `maxSize: 2` against an API that answers after 20 ms: two
 * find a slot free, four wait for one of them to answer, so at least 20 ms.
 */
import { expect } from 'vitest';

export function expectOtelExampleOutput(stdout: string): void {
  const lines = stdout.trim().split('\n');
  expect(lines, stdout).toHaveLength(6);
  const spans = lines.map((line) => {
    const match = /^GET (http:\/\/127\.0\.0\.1:\d+)\/items\/(\d) 200 poolfetch\.wait_ms=([\d.]+)$/.exec(line);
    expect(match, line).not.toBeNull();
    return { origin: match?.[1], item: Number(match?.[2]), waitMs: Number(match?.[3]) };
  });
  expect(new Set(spans.map((s) => s.origin)).size).toBe(1);
  expect(spans.map((s) => s.item).sort()).toEqual([0, 1, 2, 3, 4, 5]);
  const waits = spans.map((s) => s.waitMs).sort((a, b) => a - b);
  expect(waits.slice(0, 2)).toEqual([0, 0]);
  for (const waited of waits.slice(2)) expect(waited).toBeGreaterThanOrEqual(20);
}
