/**
 * The wire as the runtime's fetch writes it: the same default headers
 * (user-agent, accept, accept-encoding, accept-language, sec-fetch-mode),
 * no header the caller did not ask for, no global constructor called per
 * request; and a caller's content-length that disagrees with the body is
 * refused before anything is sent.
 */
import { describe, expect, it } from 'vitest';
import { entries, errorShape, recordingServerForFile, runtimeSide, type Fetch } from './support.js';

const server = recordingServerForFile();

/** Headers and their order, as the server got them, without the ones that name the connection (host, its port). */
async function wire(fetch: Fetch, input: string | Request, init?: RequestInit): Promise<{ names: string[]; headers: Record<string, unknown> }> {
  await (await fetch(input, init)).text();
  const seen = server.last();
  const { host: _host, ...headers } = seen.headers;
  return { names: seen.names.filter((name) => name !== 'host').sort(), headers };
}

describe.each(entries)('headers: manager.fetch ($name) against the runtime’s fetch', (entry) => {
  it.each([
    ['a plain GET', () => [server.url('/h')] as const],
    ['a GET with headers of its own', () => [server.url('/h'), { headers: { 'x-own': '1', accept: 'application/json' } }] as const],
    ['a Request', () => [new Request(server.url('/h'), { headers: { 'x-own': '2' } })] as const],
    ['a POST with a string body', () => [server.url('/h'), { method: 'POST', body: 'x' }] as const],
    ['a caller’s own user-agent and accept-encoding', () => [server.url('/h'), { headers: { 'user-agent': 'mine/1', 'accept-encoding': 'identity' } }] as const],
  ])('%s: the same header names and values', async (_name, args) => {
    const runtime = await wire(runtimeSide().fetch, ...(args() as [string]));
    // Node's own fetch, as documented: `user-agent: node` unless the caller set one.
    expect(runtime.headers['user-agent']).toMatch(/^(node|mine\/1)$/);
    const side = entry.make();
    try {
      expect(await wire(side.fetch, ...(args() as [string]))).toEqual(runtime);
    } finally {
      await side.close();
    }
  });

  it('calls no global constructor per request that fetch does not call (code may replace them)', async () => {
    const side = entry.make();
    const original = { Headers: globalThis.Headers, Request: globalThis.Request, Response: globalThis.Response };
    const calls: string[] = [];
    // Subclasses that count, as ky's own suite installs one for Headers.
    for (const name of ['Headers', 'Request', 'Response'] as const) {
      const Base = original[name] as new (...args: unknown[]) => object;
      (globalThis as Record<string, unknown>)[name] = class extends Base {
        constructor(...args: unknown[]) {
          calls.push(name);
          super(...args);
        }
      };
    }
    const count = async (fetch: Fetch): Promise<string[]> => {
      calls.length = 0;
      for (const args of [[server.url('/c')], [server.url('/c'), { headers: { 'x-a': '1' } }]] as const) {
        const response = await fetch(...(args as [string]));
        void response.headers.get('content-type');
        await response.text();
      }
      return [...calls];
    };
    try {
      const runtime = await count(runtimeSide().fetch);
      expect(runtime).toEqual([]);
      expect(await count(side.fetch)).toEqual(runtime);
    } finally {
      Object.assign(globalThis, original);
      await side.close();
    }
  });

  it('refuses a content-length that disagrees with a known-length body before anything is sent', async () => {
    const side = entry.make();
    try {
      // Longer than the body: the runtime's own fetch fails too (it would hang on a shorter one, so that is not run).
      const tooLong = { method: 'POST', body: 'hello', headers: { 'content-length': '9' } };
      const runtimeError = await runtimeSide().fetch(server.url('/cl'), tooLong).catch((e: unknown) => e);
      expect(errorShape(runtimeError)).toEqual({ class: 'TypeError', message: 'fetch failed', causeCode: 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH' });
      const before = server.seen.length;
      for (const declared of ['9', '3', '0', '-1', 'five']) {
        const error = await side.fetch(server.url('/cl'), { ...tooLong, headers: { 'content-length': declared } }).catch((e: unknown) => e);
        expect(errorShape(error)).toEqual(errorShape(runtimeError));
        expect(((error as Error).cause as Error).message).toContain(`content-length "${declared}" does not match the body's 5 bytes`);
      }
      for (const body of [new Uint8Array(4), new Blob(['abc']), new URLSearchParams({ a: 'b' })]) {
        await expect(side.fetch(server.url('/cl'), { method: 'POST', body, headers: { 'content-length': '99' } })).rejects.toThrow(TypeError);
      }
      // Nothing reached the server, and the pool is free for the next request.
      expect(server.seen.length).toBe(before);
      const agreeing = await wire(side.fetch, server.url('/cl'), { method: 'POST', body: 'hello', headers: { 'content-length': '5' } });
      expect(agreeing.headers['content-length']).toBe('5');
      expect(side.manager?.connectionFromUrl(server.url()).stats()).toMatchObject({ running: 0, queued: 0 });
    } finally {
      await side.close();
    }
  });

  it('drops a content-length on a request without a body, as the runtime’s fetch does', async () => {
    const runtime = await wire(runtimeSide().fetch, server.url('/cl'), { headers: { 'content-length': '5' } });
    expect(runtime.headers['content-length']).toBeUndefined();
    const side = entry.make();
    try {
      expect(await wire(side.fetch, server.url('/cl'), { headers: { 'content-length': '5' } })).toEqual(runtime);
    } finally {
      await side.close();
    }
  });
});
