/**
 * The read-ahead's own logic, where a real server cannot choose the path:
 * the runtime's native whole read (taken only where `arrayBuffer()` is
 * native code, so never over Node's fetch), the limit checked on what it
 * returns, an abort while it is pending, and a length known to be too large.
 * The reader-loop path and the bound are tested against real servers
 * (test/fetch-adapter/read-ahead.test.ts, test/faults/fetch-response-size.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { nativeArrayBuffer, readAhead, type ReadAheadHooks } from './read-ahead.js';
import { deferred } from '../test/support/servers.js';

const TOO_LARGE = new Error('too large');

function hooks(max?: number): ReadAheadHooks & { settled: () => void; count: () => number } {
  let settled = 0;
  return {
    settled: () => void (settled += 1),
    count: () => settled,
    maxResponseSize: max,
    tooLarge: () => TOO_LARGE,
    broke: (error) => new TypeError('broke', { cause: error }),
  };
}

/** A body the test never expects read: reading or cancelling it is recorded. */
function untouched(): { stream: ReadableStream<Uint8Array>; cancelled: () => unknown; pulled: () => boolean } {
  let reason: unknown;
  let pulled = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull() {
        pulled = true;
      },
      cancel(why) {
        reason = why;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, cancelled: () => reason, pulled: () => pulled };
}

describe('the runtime’s native whole read', () => {
  it('answers all() with its own buffer, settles once, and serves a stream reader too', async () => {
    const h = hooks();
    const bytes = new TextEncoder().encode('hello');
    const body = untouched();
    const ahead = readAhead(body.stream, h, 5, () => Promise.resolve(bytes.buffer as ArrayBuffer));
    const all = await ahead.all();
    expect(new TextDecoder().decode(all)).toBe('hello');
    expect(all.buffer).toBe(bytes.buffer);
    expect(h.count()).toBe(1);
    expect(body.pulled()).toBe(false);
    const streamed = readAhead(untouched().stream, hooks(), 5, () => Promise.resolve(bytes.buffer as ArrayBuffer));
    expect(new TextDecoder().decode(await streamed.next())).toBe('hello');
    expect(await streamed.next()).toBeUndefined();
  });

  it('is not taken for a length past the native bound, nor for an unknown one', () => {
    let called = 0;
    const native = (): Promise<ArrayBuffer> => {
      called += 1;
      return Promise.resolve(new ArrayBuffer(0));
    };
    readAhead(untouched().stream, hooks(), 64 * 1024 + 1, native);
    readAhead(untouched().stream, hooks(), undefined, native);
    expect(called).toBe(0);
    readAhead(untouched().stream, hooks(), 64 * 1024, native);
    expect(called).toBe(1);
  });

  it('refuses what it returns past maxResponseSize (a body longer than its content-length said)', async () => {
    const h = hooks(4);
    const ahead = readAhead(untouched().stream, h, 3, () => Promise.resolve(new ArrayBuffer(5)));
    await expect(ahead.all()).rejects.toBe(TOO_LARGE);
    expect(h.count()).toBe(1);
    await expect(ahead.next()).rejects.toBe(TOO_LARGE);
  });

  it('an abort while it is pending settles at once and fails the read with the reason, whatever comes back', async () => {
    const h = hooks();
    const late = deferred<ArrayBuffer>();
    const ahead = readAhead(untouched().stream, h, 3, () => late.promise);
    const reading = ahead.all();
    const reason = new Error('destroyed');
    ahead.abort(reason);
    expect(h.count()).toBe(1);
    late.resolve(new ArrayBuffer(3));
    await expect(reading).rejects.toBe(reason);
    expect(h.count()).toBe(1);
  });

  it('takes the read already begun (a promise), with no source to read otherwise', async () => {
    const h = hooks();
    const ahead = readAhead(undefined, h, 2, Promise.resolve(new TextEncoder().encode('hi').buffer as ArrayBuffer));
    expect(new TextDecoder().decode(await ahead.all())).toBe('hi');
    expect(h.count()).toBe(1);
  });

  it('is not begun for a known length past maxResponseSize: the source is cancelled unread instead', () => {
    let called = 0;
    const body = untouched();
    const h = hooks(10);
    readAhead(body.stream, h, 11, () => {
      called += 1;
      return Promise.resolve(new ArrayBuffer(11));
    });
    expect(called).toBe(0);
    expect(body.cancelled()).toBe(TOO_LARGE);
    expect(h.count()).toBe(1);
  });

  it('a stream reader waiting for the read is failed at once by an abort, not when the read comes back', async () => {
    const late = deferred<ArrayBuffer>();
    const ahead = readAhead(undefined, hooks(), 3, late.promise);
    const next = ahead.next();
    const reason = new Error('destroyed');
    ahead.abort(reason);
    await expect(next).rejects.toBe(reason);
    late.resolve(new ArrayBuffer(3));
  });

  it('a failed native read is the broke() error', async () => {
    const cause = new Error('reset');
    const ahead = readAhead(untouched().stream, hooks(), 3, () => Promise.reject(cause));
    const error = await ahead.all().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).cause).toBe(cause);
  });
});

describe('a known length past maxResponseSize', () => {
  it('fails at once, unread: the body is cancelled with the error and the slot settled', async () => {
    const h = hooks(10);
    const body = untouched();
    const ahead = readAhead(body.stream, h, 11, undefined);
    expect(h.count()).toBe(1);
    expect(body.cancelled()).toBe(TOO_LARGE);
    expect(body.pulled()).toBe(false);
    await expect(ahead.all()).rejects.toBe(TOO_LARGE);
  });
});

describe('nativeArrayBuffer', () => {
  it('is the runtime’s method only where it is native code (Node’s fetch is JavaScript)', () => {
    const response = new Response('x');
    expect(nativeArrayBuffer(response)).toBeUndefined();
    // A built-in function reads as native code, as workerd's and browsers' arrayBuffer() do.
    const nativeLike = { arrayBuffer: Array.prototype.slice } as unknown as Response;
    expect(typeof nativeArrayBuffer(nativeLike)).toBe('function');
  });
});
