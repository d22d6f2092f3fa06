/**
 * The fetch adapter's per-origin line: a p-queue used as p-queue is meant
 * to be used, with concurrency `maxSize` and one task per exchange that runs
 * until the exchange's body is done. The core's `WaiterList` keeps the
 * waiters' signals, timeouts and shutdown, so p-queue gets no signal (it
 * would add a listener per task, and Node warns past ten on one signal); a
 * waiter that left the line stays in p-queue as a task that ends at once.
 */
import PQueue from 'p-queue';
import { WaiterList, type Release, type SlotLine, type WaitOptions, type Waiter } from '../../src/waiting-line.js';

export class QueueLine implements SlotLine {
  readonly #queue: PQueue;
  readonly #line = new WaiterList();
  #held = 0;

  constructor(concurrency: number) {
    this.#queue = new PQueue({ concurrency });
  }

  get held(): number {
    return this.#held;
  }

  get waiting(): number {
    return this.#line.size;
  }

  tryTake(): Release | undefined {
    const queue = this.#queue;
    if (queue.pending >= queue.concurrency || queue.size > 0 || this.#line.size > 0) return undefined;
    let granted: Release | undefined;
    // p-queue starts a task within add() when it has room: the slot is granted synchronously.
    void this.#queue.add(() => new Promise<void>((done) => (granted = this.#slot(done))));
    return granted;
  }

  wait(options: WaitOptions): Promise<Release> {
    const release = this.tryTake();
    if (release !== undefined) return Promise.resolve(release);
    if (options.signal?.aborted === true) return Promise.reject(options.signal.reason);
    const waiter: Waiter = this.#line.join(options);
    void this.#queue.add(
      () =>
        new Promise<void>((done) => {
          // Left the line (aborted, timed out, shut down) before its turn: nothing to run.
          if (!waiter.inLine) done();
          else waiter.grant(this.#slot(done));
        }),
    );
    return waiter.granted;
  }

  shutdown(reason: unknown, owner?: unknown): void {
    this.#line.failAll(reason, owner);
    if (this.#line.size === 0) this.#queue.clear();
  }

  #slot(done: () => void): Release {
    this.#held += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held -= 1;
      done();
    };
  }
}
