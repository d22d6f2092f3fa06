/**
 * Leases (src/context-leases.ts) at the line: what the fetch entry turns on
 * in workerd. A request that ends there has its timers cancelled and its
 * continuations dropped; the tests end a "request" the same way, by clearing
 * its lease's heartbeat timer, and check what the live ones see: the ended
 * one's waiter leaves the line without its promise being settled, its slot
 * is freed to the next live waiter, and a live request's waiter is never
 * taken for ended.
 */
import { describe, expect, it } from 'vitest';
import { ContextLeases, type Lease } from './context-leases.js';
import { WaitingLine, type Release } from './waiting-line.js';

const timing = { heartbeat: 10, staleAfter: 40 };

/** Ends the request a lease belongs to, as workerd does: its timers never run again. */
function endRequest(lease: Lease): void {
  clearTimeout(lease.timer);
}

/** 'pending' if `promise` has not settled a full turn after `others` have. */
async function stateOf(promise: Promise<unknown>, ...others: Array<Promise<unknown>>): Promise<string> {
  let state = 'pending';
  promise.then(() => (state = 'resolved'), () => (state = 'rejected'));
  await Promise.all(others);
  await new Promise((resolve) => setImmediate(resolve));
  return state;
}

describe('ContextLeases with a WaitingLine', () => {
  it('a waiter whose request ended leaves the line unsettled; the slot goes to the live waiter behind it', async () => {
    const leases = new ContextLeases(timing);
    const line = new WaitingLine(1);
    const holder = leases.open();
    const held = line.tryTake() as Release;
    holder.release = held;
    const ended = leases.open();
    const endedWait = line.wait({ lease: ended });
    const live = leases.open();
    const liveWait = line.wait({ lease: live });
    endRequest(ended);
    // The live waiter's own heartbeat sweeps; the ended one is reclaimed once it has missed staleAfter.
    await new Promise((resolve) => setTimeout(resolve, timing.staleAfter * 2));
    expect(line.waiting).toBe(1);
    held();
    holder.close();
    const release = await liveWait;
    expect(await stateOf(endedWait, liveWait)).toBe('pending');
    expect(ended.reclaimed).toBe(true);
    expect(live.reclaimed).toBe(false);
    expect(line.held).toBe(1);
    release();
    live.close();
    expect(line.held).toBe(0);
  });

  it('a slot held by a request that ended is freed by the next sweep, and handed to a live waiter', async () => {
    const leases = new ContextLeases(timing);
    const line = new WaitingLine(1);
    const holder = leases.open();
    holder.release = line.tryTake();
    endRequest(holder);
    const live = leases.open();
    const release = await line.wait({ lease: live });
    expect(holder.reclaimed).toBe(true);
    expect(line.held).toBe(1);
    release();
    live.close();
    expect(line.held).toBe(0);
  });

  it('a slot freed while the head of the line belongs to an ended request skips it, unsettled', async () => {
    const leases = new ContextLeases({ heartbeat: 1000, staleAfter: 20 });
    const line = new WaitingLine(1);
    const held = line.tryTake() as Release;
    const ended = leases.open();
    const endedWait = line.wait({ lease: ended });
    endRequest(ended);
    const liveWait = line.wait({});
    // No sweep has run (heartbeat 1 s); the release itself sees the head's heartbeat missing.
    await new Promise((resolve) => setTimeout(resolve, 50));
    held();
    const release = await liveWait;
    expect(await stateOf(endedWait, liveWait)).toBe('pending');
    release();
    expect(line.held).toBe(0);
  });

  it('a live request that waits long is never taken for ended, and keeps its place', async () => {
    const leases = new ContextLeases(timing);
    const line = new WaitingLine(1);
    const held = line.tryTake() as Release;
    const live = leases.open();
    const wait = line.wait({ lease: live });
    await new Promise((resolve) => setTimeout(resolve, timing.staleAfter * 4));
    expect(live.reclaimed).toBe(false);
    expect(line.waiting).toBe(1);
    held();
    (await wait)();
    live.close();
    expect(line.held).toBe(0);
  });

  it('a stall that makes every timer late (a long synchronous run) takes no live lease for ended', async () => {
    const leases = new ContextLeases(timing);
    const line = new WaitingLine(1);
    const running = leases.open();
    const held = line.tryTake() as Release;
    running.release = held;
    const waiting = leases.open();
    const wait = line.wait({ lease: waiting });
    // Heartbeats run on time for a while, then nothing runs for twice staleAfter.
    await new Promise((resolve) => setTimeout(resolve, timing.heartbeat * 3));
    const until = Date.now() + timing.staleAfter * 2;
    while (Date.now() < until) {
      // A Worker computing synchronously: no timer of any request runs meanwhile.
    }
    await new Promise((resolve) => setTimeout(resolve, timing.heartbeat * 3));
    expect(running.reclaimed).toBe(false);
    expect(waiting.reclaimed).toBe(false);
    // The running exchange still holds the one slot; the waiter still waits for it.
    expect(line.held).toBe(1);
    expect(line.waiting).toBe(1);
    held();
    running.close();
    (await wait)();
    waiting.close();
    expect(line.held).toBe(0);
  });

  it('a live waiter taken for ended by a sweep of its own request fails in its next heartbeat, never waits forever', async () => {
    const leases = new ContextLeases(timing);
    const line = new WaitingLine(1);
    const held = line.tryTake() as Release;
    const waiting = leases.open();
    const wait = line.wait({ lease: waiting });
    // What a sibling exchange's sweep does when this lease's heartbeat ran late past staleAfter:
    // here, in the same context, where clearing its timer would really cancel it.
    waiting.reclaim();
    expect(line.waiting).toBe(0);
    await expect(wait).rejects.toThrow(/taken for ended/);
    expect(line.held).toBe(1);
    held();
    expect(line.held).toBe(0);
  });

  it('with no live lease beating, sweeps asked for by requests that hold none (stats()) still free an ended request\'s slot', async () => {
    const leases = new ContextLeases(timing);
    const line = new WaitingLine(1);
    const holder = leases.open();
    holder.release = line.tryTake();
    endRequest(holder);
    // An idle isolate polled for stats(): each poll sweeps, and no heartbeat of anyone runs meanwhile.
    for (let polls = 0; polls < 30 && !holder.reclaimed; polls += 1) {
      await new Promise((resolve) => setTimeout(resolve, timing.heartbeat));
      leases.sweep();
    }
    expect(holder.reclaimed).toBe(true);
    expect(line.held).toBe(0);
  });
});
