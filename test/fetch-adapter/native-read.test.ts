/**
 * Where the runtime's `arrayBuffer()` is native code (workerd, browsers,
 * Bun), a small body of known length is read ahead by it, and the watch
 * never asks the response for its `body` stream: in workerd that getter is
 * a call into the runtime that makes the stream's wrappers (see
 * watchResponse). Node's fetch is JavaScript, so a Response class whose
 * `arrayBuffer` reads as native code (a Proxy of it does) stands in for
 * the runtime's, and counts who asks for its body.
 */
import { describe, expect, it } from 'vitest';
import { PoolManager } from '../../adapters/fetch/index.js';
import { ResponseTooLargeError } from '../../src/errors.js';

let bodyReads = 0;
const ownBody = Object.getOwnPropertyDescriptor(Response.prototype, 'body')?.get as (this: Response) => ReadableStream<Uint8Array> | null;

/** A Response as a runtime with native body methods has it, whose body getter is counted. */
class NativeLike extends Response {}
Object.defineProperties(NativeLike.prototype, {
  arrayBuffer: { value: new Proxy(Response.prototype.arrayBuffer, {}), configurable: true, writable: true },
  body: {
    get(this: Response) {
      bodyReads += 1;
      return ownBody.call(this);
    },
    configurable: true,
  },
});

const text = JSON.stringify({ pad: 'x'.repeat(100) });

/** A manager whose fetch answers `answer()` from memory. */
function manager(answer: () => Response, options: { maxResponseSize?: number } = {}): PoolManager {
  return new PoolManager({ ...options, fetch: async () => answer() });
}

const known = (): Response => new NativeLike(text, { headers: { 'content-length': String(text.length), 'content-type': 'application/json' } });

describe('a body the runtime reads natively', () => {
  it('is read whole by the runtime, and nobody asks for its body stream', async () => {
    await using m = manager(known);
    bodyReads = 0;
    expect(new TextDecoder().decode(await (await m.fetch('http://a.test/')).arrayBuffer())).toBe(text);
    expect(await (await m.fetch('http://a.test/')).text()).toBe(text);
    expect(await (await m.fetch('http://a.test/')).json()).toEqual(JSON.parse(text));
    expect(bodyReads).toBe(0);
    expect(m.stats()[0]).toMatchObject({ running: 0, queued: 0 });
  });

  it('body: a stream of it before a read; the runtime\'s own (used) stream after one', async () => {
    await using m = manager(known);
    const streamed = await m.fetch('http://a.test/');
    expect(await new Response(streamed.body).text()).toBe(text);
    const read = await m.fetch('http://a.test/');
    expect(await read.text()).toBe(text);
    expect(read.bodyUsed).toBe(true);
    expect(read.body).toBeInstanceOf(ReadableStream);
  });

  it('past maxResponseSize: the read fails and the body is cancelled unread', async () => {
    let cancelled = false;
    const bytes = new TextEncoder().encode(text);
    const big = (): Response => new NativeLike(new ReadableStream({ start: (c) => c.enqueue(bytes), cancel: () => void (cancelled = true) }), { headers: { 'content-length': String(bytes.byteLength) } });
    await using m = manager(big, { maxResponseSize: 10 });
    const error = await (await m.fetch('http://a.test/')).text().then(() => undefined, (e: unknown) => e);
    expect((error as Error & { cause?: unknown }).cause).toBeInstanceOf(ResponseTooLargeError);
    expect(cancelled).toBe(true);
  });

  it('a null body of a status that may have one reads as empty', async () => {
    await using m = manager(() => new NativeLike(null, { status: 200 }));
    const response = await m.fetch('http://a.test/');
    expect(await response.text()).toBe('');
    expect(m.stats()[0]).toMatchObject({ running: 0, queued: 0 });
  });
});
