/**
 * examples/events.mjs, README's "Events and stats" example, run as a user
 * runs it: numPools 1, two origins, so the second evicts the first, and the
 * events arrive in the order the LRU makes them.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ensureBuilt } from './support.js';

describe('examples/events', () => {
  it('prints poolcreate, the stats row, poolevict and poolclose in LRU order', () => {
    ensureBuilt();
    const lines = execFileSync(process.execPath, ['examples/events.mjs'], { encoding: 'utf8' }).trim().split('\n');
    const first = /^poolcreate (http:\/\/127\.0\.0\.1:\d+)$/.exec(lines[0] ?? '')?.[1];
    const second = /^poolcreate (http:\/\/127\.0\.0\.1:\d+)$/.exec(lines[3] ?? '')?.[1];
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(JSON.parse(lines[1] ?? '')).toEqual([
      { key: first, origin: first, numRequests: 2, numConnections: expect.any(Number), openConnections: expect.any(Number), running: 0, queued: 0 },
    ]);
    // Keep-alive: what is open now (the sockets stay open after the answers) is what was opened, one or two.
    const [row] = JSON.parse(lines[1] ?? '') as Array<{ numConnections: number; openConnections: number }>;
    expect(row?.openConnections).toBe(row?.numConnections);
    expect([1, 2]).toContain(row?.openConnections);
    expect(lines).toEqual([
      `poolcreate ${first}`,
      lines[1],
      `poolevict ${first}`,
      `poolcreate ${second}`,
      `poolclose ${first}`,
      `poolclose ${second}`,
    ]);
  });
});
