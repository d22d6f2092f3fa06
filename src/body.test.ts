/** `prepareBody`: every accepted form, the content-type it implies, and whether it can be sent again. */
import { describe, expect, it } from 'vitest';
import { prepareBody } from './body.js';

describe('prepareBody', () => {
  it('takes strings, bytes and forms as they are, with the content-type fetch would set', async () => {
    expect(await prepareBody('x', undefined, false)).toEqual({ body: 'x', contentType: 'text/plain;charset=UTF-8', replayable: true });
    const bytes = new Uint8Array([1, 2]);
    expect(await prepareBody(bytes, undefined, false)).toEqual({ body: bytes, contentType: undefined, replayable: true });
    expect((await prepareBody(new Uint8Array([3]).buffer, undefined, false)).body).toEqual(new Uint8Array([3]));
    expect(await prepareBody(new URLSearchParams({ a: 'b c' }), undefined, false)).toEqual({
      body: 'a=b+c', contentType: 'application/x-www-form-urlencoded;charset=UTF-8', replayable: true,
    });
    expect(await prepareBody(undefined, undefined, false)).toEqual({ body: null, contentType: undefined, replayable: true });
    expect(await prepareBody(null, undefined, false)).toMatchObject({ body: null });
  });

  it('reads a Blob and FormData into bytes that can be sent again', async () => {
    const blob = await prepareBody(new Blob(['hi'], { type: 'text/x-hi' }), undefined, false);
    expect(blob).toEqual({ body: new TextEncoder().encode('hi'), contentType: 'text/x-hi', replayable: true });
    const form = new FormData();
    form.set('k', 'v');
    const encoded = await prepareBody(form, undefined, false);
    expect(encoded.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(new TextDecoder().decode(encoded.body as Uint8Array)).toContain('name="k"');
  });

  it('passes a stream through, marked as sendable only once', async () => {
    const stream = new ReadableStream<Uint8Array>();
    expect(await prepareBody(stream, undefined, false)).toEqual({ body: stream, contentType: undefined, replayable: false });
  });

  it('serialises json, including falsy values', async () => {
    expect(await prepareBody(undefined, { a: 1 }, true)).toEqual({ body: '{"a":1}', contentType: 'application/json', replayable: true });
    expect((await prepareBody(undefined, 0, true)).body).toBe('0');
    expect((await prepareBody(undefined, null, true)).body).toBe('null');
  });

  it('refuses what it cannot send, naming it', () => {
    expect(() => prepareBody('x', 1, true)).toThrow('Pass either body or json, not both');
    expect(() => prepareBody(undefined, undefined, true)).toThrow('json must be serialisable by JSON.stringify, got undefined');
    expect(() => prepareBody(42 as never, undefined, false)).toThrow(/body must be .*, got 42/);
    expect(() => prepareBody({ not: 'a body' } as never, undefined, false)).toThrow(/got an object \(\[object Object\]\)/);
  });
});
