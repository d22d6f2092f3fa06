import { describe, expect, it } from 'vitest';
import { WaitingLine, type Release } from './waiting-line.js';

/** Counts listeners added to and removed from a signal, so a test can see exactly how many it holds. */
function countedSignal(controller = new AbortController()): { signal: AbortSignal; live: () => number; abort: (reason?: unknown) => void } {
  const signal = controller.signal;
  let live = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
    live += 1;
    add(...args);
  }) as AbortSignal['addEventListener'];
  signal.removeEventListener = ((...args: Parameters<AbortSignal['removeEventListener']>) => {
    live -= 1;
    remove(...args);
  }) as AbortSignal['removeEventListener'];
  return { signal, live: () => live, abort: (reason) => controller.abort(reason) };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('WaitingLine', () => {
  it('hands slots out at once up to capacity, then makes callers wait', () => {
    const line = new WaitingLine(2);
    expect(line.tryTake()).toBeTypeOf('function');
    expect(line.tryTake()).toBeTypeOf('function');
    expect(line.tryTake()).toBeUndefined();
    expect(line.held).toBe(2);
  });

  it('serves waiters in FIFO order, each handed the freed slot directly', async () => {
    const line = new WaitingLine(1);
    const first = line.tryTake() as Release;
    const order: number[] = [];
    const waits = [1, 2, 3, 4, 5].map((n) => line.wait({}).then((release) => {
      order.push(n);
      return release;
    }));
    expect(line.waiting).toBe(5);
    first();
    // The slot went to the head: it is not free for a newcomer, and held did not drop.
    expect(line.held).toBe(1);
    expect(line.tryTake()).toBeUndefined();
    for (const wait of waits) (await wait)();
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(line.held).toBe(0);
    expect(line.waiting).toBe(0);
  });

  it('a release called twice frees one slot only', async () => {
    const line = new WaitingLine(1);
    const release = line.tryTake() as Release;
    const a = line.wait({});
    const b = line.wait({});
    release();
    release();
    const ra = await a;
    expect(line.waiting).toBe(1);
    expect(line.held).toBe(1);
    ra();
    (await b)();
    expect(line.held).toBe(0);
  });

  it('sets no timer unless a timeout is given, and times out with onTimeout() when one is', async () => {
    const line = new WaitingLine(1);
    const held = line.tryTake() as Release;
    const realSetTimeout = globalThis.setTimeout;
    let timers = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      timers += 1;
      return realSetTimeout(...args);
    }) as typeof setTimeout;
    let untimed: Promise<Release>;
    let timed: Promise<Release>;
    try {
      untimed = line.wait({});
      expect(timers).toBe(0);
      timed = line.wait({ timeout: 5, onTimeout: () => new RangeError('no slot in 5 ms') });
      expect(timers).toBe(1);
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    await expect(timed).rejects.toThrow(new RangeError('no slot in 5 ms'));
    expect(line.waiting).toBe(1);
    held();
    (await untimed)();
    expect(line.held).toBe(0);
  });

  it('adds one listener to the caller signal however many waiters share it, and removes it when they leave', async () => {
    const line = new WaitingLine(1);
    const held = line.tryTake() as Release;
    const shared = countedSignal();
    const waits = Array.from({ length: 50 }, () => line.wait({ signal: shared.signal }));
    expect(shared.live()).toBe(1);
    held();
    const releases: Release[] = [];
    for (const wait of waits) {
      const release = await wait;
      releases.push(release);
      release();
    }
    expect(shared.live()).toBe(0);
    expect(line.held).toBe(0);
  });

  it('an abort takes only that signal\'s waiters out of the line, with its reason, and the rest keep their order', async () => {
    const line = new WaitingLine(1);
    const held = line.tryTake() as Release;
    const mine = countedSignal();
    const order: string[] = [];
    const a = line.wait({}).then((r) => (order.push('a'), r));
    const b = line.wait({ signal: mine.signal });
    const c = line.wait({}).then((r) => (order.push('c'), r));
    const d = line.wait({ signal: mine.signal });
    mine.abort(new Error('caller gave up'));
    await expect(b).rejects.toThrow('caller gave up');
    await expect(d).rejects.toThrow('caller gave up');
    expect(line.waiting).toBe(2);
    expect(mine.live()).toBe(0);
    held();
    (await a)();
    (await c)();
    expect(order).toEqual(['a', 'c']);
    expect(line.held).toBe(0);
  });

  it('an abort in the same turn as the hand-over neither loses nor doubles the slot', async () => {
    const line = new WaitingLine(1);
    const held = line.tryTake() as Release;
    const controller = new AbortController();
    const handed = line.wait({ signal: controller.signal });
    const next = line.wait({});
    held();
    // The slot is already the waiter's: the abort comes too late to take it out of the line.
    controller.abort(new Error('late'));
    const release = await handed;
    expect(line.held).toBe(1);
    release();
    (await next)();
    expect(line.held).toBe(0);
    expect(line.waiting).toBe(0);
  });

  it('an abort just before the hand-over passes the slot to the next waiter', async () => {
    const line = new WaitingLine(1);
    const held = line.tryTake() as Release;
    const controller = new AbortController();
    const aborted = line.wait({ signal: controller.signal });
    const next = line.wait({});
    controller.abort(new Error('early'));
    held();
    await expect(aborted).rejects.toThrow('early');
    (await next)();
    expect(line.held).toBe(0);
  });

  it('rejects at once for an already aborted signal, without joining', async () => {
    const line = new WaitingLine(1);
    line.tryTake();
    const controller = new AbortController();
    controller.abort(new Error('before'));
    await expect(line.wait({ signal: controller.signal })).rejects.toThrow('before');
    expect(line.waiting).toBe(0);
  });

  it('shutdown walks the line: every waiter rejected, in order, and only the given owner\'s', async () => {
    const line = new WaitingLine(1);
    const held = line.tryTake() as Release;
    const poolA = {};
    const poolB = {};
    const a = Array.from({ length: 3 }, () => line.wait({ owner: poolA }));
    const b = line.wait({ owner: poolB });
    line.shutdown(new Error('pool A destroyed'), poolA);
    for (const wait of a) await expect(wait).rejects.toThrow('pool A destroyed');
    expect(line.waiting).toBe(1);
    held();
    (await b)();
    line.tryTake();
    const rest = Array.from({ length: 10_000 }, () => line.wait({}));
    line.shutdown(new Error('closed'));
    const settled = await Promise.allSettled(rest);
    expect(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'closed')).toBe(true);
    expect(line.waiting).toBe(0);
  });

  it('100,000 waiters, with and without one shared signal, print no warning and leave no listener', async () => {
    for (const shared of [undefined, countedSignal()]) {
      const line = new WaitingLine(2);
      const first = line.tryTake() as Release;
      const second = line.tryTake() as Release;
      const waits = Array.from({ length: 100_000 }, () => line.wait(shared === undefined ? {} : { signal: shared.signal }));
      if (shared !== undefined) expect(shared.live()).toBe(1);
      first();
      second();
      for (const wait of waits) (await wait)();
      expect(line.held).toBe(0);
      if (shared !== undefined) expect(shared.live()).toBe(0);
    }
    await turn();
  });
});
