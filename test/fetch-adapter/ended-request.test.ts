/**
 * An incoming request that ends in workerd takes its I/O with it: a body it
 * was reading never finishes, and no code of it runs again. Its leases are
 * reclaimed by the other requests (src/context-leases.ts), which frees its
 * slots; nothing of its exchanges may stay behind in the pool's or the
 * transport's bookkeeping either, or each ended request would leave a little
 * there for the life of the isolate (issue #22). Here a request "ends" as in
 * workerd: its lease's heartbeat timer is cancelled, and its body never
 * arrives. Without a FinalizationRegistry (Workers have none by default), so
 * only the lease can let go; what is checked is that the body's stream and
 * the exchange's abort signal can then be garbage-collected.
 */
import { describe, expect, it, vi } from 'vitest';
import { collectGarbage } from '../support/gc.js';

// Node's fetch classes load lazily and need a FinalizationRegistry themselves: loaded first.
void [Headers, Request, Response, fetch, FormData];
vi.stubGlobal('FinalizationRegistry', undefined);
// Loaded under the stub: the body watch looks for a FinalizationRegistry once, when loaded.
const { ContextLeases } = await import('../../src/context-leases.js');
const { fetchDefaults, PoolManager: FetchPoolManager } = await import('../../adapters/fetch/pool-manager.js');
const { PoolManager: WorkerdPoolManager } = await import('../../adapters/fetch/workerd-pool-manager.js');
vi.unstubAllGlobals();
type Lease = import('../../src/context-leases.js').Lease;

const timing = { heartbeat: 10, staleAfter: 40 };

class RecordingLeases extends ContextLeases {
  readonly opened: Lease[] = [];

  override open(): Lease {
    const lease = super.open();
    this.opened.push(lease);
    return lease;
  }
}

/** The fetch entry with leases on, as the workerd entry has them, over a fetch whose bodies never end. */
function managerWithLeases(): { manager: InstanceType<typeof FetchPoolManager>; leases: RecordingLeases; streams: Collected; signals: Collected } {
  const leases = new RecordingLeases(timing);
  class WorkerdLike extends FetchPoolManager {
    protected static override readonly adapter = { ...fetchDefaults, leases: () => leases };
  }
  const streams = new Collected();
  const signals = new Collected();
  const fetch = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (init?.signal != null) signals.watch(init.signal);
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(new TextEncoder().encode('the first bytes; the rest never comes')),
      pull: () => new Promise<void>(() => {}),
    });
    streams.watch(body);
    return new Response(body, { headers: { 'content-type': 'text/plain' } });
  };
  return { manager: new WorkerdLike({ fetch }), leases, streams, signals };
}

/**
 * The workerd entry (its transport hands fetch no signal of its own) with
 * the short leases, over a fetch whose bodies never end; `reading` resolves
 * once the pool has begun reading the answer's body.
 */
function workerdWithLeases(): { manager: InstanceType<typeof WorkerdPoolManager>; leases: RecordingLeases; reading: () => Promise<void> } {
  const leases = new RecordingLeases(timing);
  class WorkerdLike extends WorkerdPoolManager {
    protected static override readonly adapter = { ...fetchDefaults, leases: () => leases };
  }
  let answered: Response | undefined;
  const fetch = async (): Promise<Response> => {
    const body = new ReadableStream<Uint8Array>({ pull: () => new Promise<void>(() => {}) });
    answered = new Response(body, { headers: { 'content-type': 'text/plain' } });
    return answered;
  };
  const reading = async (): Promise<void> => {
    // Turns, not time: the answer is handed on and its read begins within a few.
    while (answered?.bodyUsed !== true) await new Promise((resolve) => setImmediate(resolve));
  };
  return { manager: new WorkerdLike({ fetch }), leases, reading };
}

/** The workerd entry with the short leases, over a fetch that never answers (its request ends before the headers come); `asked` counts its calls. */
function workerdNeverAnswering(): { manager: InstanceType<typeof WorkerdPoolManager>; leases: RecordingLeases; asked: () => number } {
  const leases = new RecordingLeases(timing);
  class WorkerdLike extends WorkerdPoolManager {
    protected static override readonly adapter = { ...fetchDefaults, leases: () => leases };
  }
  let calls = 0;
  const fetch = (): Promise<Response> => {
    calls += 1;
    return new Promise<Response>(() => {});
  };
  return { manager: new WorkerdLike({ fetch }), leases, asked: () => calls };
}

/** Turns until `done()`, a few at most: a call reaches fetch within a few. */
async function turnsUntil(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 20 && !done(); turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Objects watched until they are garbage-collected, seen by the test's own
 * FinalizationRegistry (the library's was hidden when it loaded). Not by
 * WeakRef: a deref() keeps its target alive until the end of the job.
 */
class Collected {
  watched = 0;
  collected = 0;
  readonly #registry = new FinalizationRegistry<void>(() => (this.collected += 1));

  watch(target: object): void {
    this.watched += 1;
    this.#registry.register(target);
  }

  async all(): Promise<boolean> {
    await collectGarbage(() => this.collected === this.watched);
    return this.collected === this.watched;
  }
}

/** Ends the request `lease` belongs to, as workerd does (its timers never run again), and lets a live request's heartbeat sweep. */
async function endAndSweep(leases: RecordingLeases, lease: Lease): Promise<void> {
  clearTimeout(lease.timer);
  const live = leases.open();
  // No event says a request has ended: the sweep notices the heartbeats missing.
  await new Promise((resolve) => setTimeout(resolve, timing.staleAfter * 4));
  live.close();
  expect(lease.reclaimed).toBe(true);
}

describe('an ended request leaves nothing behind', () => {
  it('manager.fetch: the unfinished body it held is let go (not kept in the open bodies)', async () => {
    const { manager, leases, streams } = managerWithLeases();
    let response: Response | undefined = await manager.fetch('http://127.0.0.1:9/ended');
    expect(response.status).toBe(200);
    response = undefined;
    await endAndSweep(leases, leases.opened[0] as Lease);
    expect(manager.stats()[0]).toMatchObject({ running: 0, queued: 0 });
    expect(streams.watched).toBe(1);
    expect(await streams.all()).toBe(true);
    await manager.destroy();
  });

  it('request(): the exchange it held is let go (not kept among the transport\'s live exchanges)', async () => {
    const { manager, leases, signals } = managerWithLeases();
    let response: { status: number } | undefined = await manager.request('GET', 'http://127.0.0.1:9/ended', { preloadContent: false });
    expect(response.status).toBe(200);
    response = undefined;
    await endAndSweep(leases, leases.opened[0] as Lease);
    expect(manager.stats()[0]).toMatchObject({ running: 0, queued: 0 });
    expect(signals.watched).toBe(1);
    expect(await signals.all()).toBe(true);
    await manager.destroy();
  });

  it('request() in workerd (no signal of its own): the wait for its whole-body read is dropped, so destroy() finds nothing of it', async () => {
    const { manager, leases, reading } = workerdWithLeases();
    let settled = false;
    void manager.request('GET', 'http://127.0.0.1:9/ended').then(
      () => (settled = true),
      () => (settled = true),
    );
    await reading();
    await endAndSweep(leases, leases.opened[0] as Lease);
    expect(manager.stats()[0]).toMatchObject({ running: 0, queued: 0 });
    // destroy() stops every wait the transport still holds: one kept for the ended request would reject it now.
    await manager.destroy();
    for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
  });

  for (const entry of ['request()', 'manager.fetch'] as const) {
    it(`${entry} in workerd: the wait for headers that never came is dropped, so destroy() finds nothing of it`, async () => {
      const { manager, leases, asked } = workerdNeverAnswering();
      let settled = false;
      const call = entry === 'request()' ? manager.request('GET', 'http://127.0.0.1:9/ended') : manager.fetch('http://127.0.0.1:9/ended');
      void call.then(
        () => (settled = true),
        () => (settled = true),
      );
      await turnsUntil(() => asked() === 1);
      expect(asked()).toBe(1);
      await endAndSweep(leases, leases.opened[0] as Lease);
      expect(manager.stats()[0]).toMatchObject({ running: 0, queued: 0 });
      // destroy() stops every wait for headers the transport still holds: one kept for the ended request would reject it now.
      await manager.destroy();
      for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
      expect(settled).toBe(false);
    });
  }
});
