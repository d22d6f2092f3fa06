/**
 * Body framing: whatever the runtime's fetch sends with a Content-Length,
 * manager.fetch sends with the same Content-Length, whether the body came in
 * the init or inside a Request; only a stream goes chunked.
 */
import { describe, expect, it } from 'vitest';
import { entries, recordingServerForFile, runtimeSide, startRecordingServer, type Fetch } from './support.js';

const TEXT = 'héllo, wörld';
const BYTES = new TextEncoder().encode(TEXT);

/** Each body type fetch takes, made fresh per call (a stream or a Request is spent once sent). */
const BODIES: Record<string, { make: () => BodyInit; length: number | 'chunked' }> = {
  string: { make: () => TEXT, length: BYTES.byteLength },
  Uint8Array: { make: () => BYTES.slice(), length: BYTES.byteLength },
  ArrayBuffer: { make: () => BYTES.slice().buffer, length: BYTES.byteLength },
  Blob: { make: () => new Blob([BYTES], { type: 'text/x-blob' }), length: BYTES.byteLength },
  URLSearchParams: { make: () => new URLSearchParams({ q: TEXT, n: '1' }), length: new URLSearchParams({ q: TEXT, n: '1' }).toString().length },
  FormData: {
    make: () => {
      const form = new FormData();
      form.set('field', TEXT);
      form.set('file', new Blob([BYTES], { type: 'application/octet-stream' }), 'f.bin');
      return form;
    },
    // The multipart encoding's length depends on the boundary: checked against the bytes received instead.
    length: -1,
  },
  ReadableStream: {
    make: () => new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(BYTES.slice(0, 3)), c.enqueue(BYTES.slice(3)), c.close()) }),
    length: 'chunked',
  },
};

const server = recordingServerForFile();

/** The framing one call put on the wire, the multipart boundary taken out so two encodings compare. */
async function framing(fetch: Fetch, kind: string, inRequest: boolean): Promise<Record<string, unknown>> {
  const init = { method: 'POST', body: (BODIES[kind] as (typeof BODIES)[string]).make(), duplex: 'half' } as RequestInit;
  const response = await (inRequest ? fetch(new Request(server.url('/framing'), init)) : fetch(server.url('/framing'), init));
  expect(await response.text()).toBe('ok');
  const seen = server.last();
  const boundary = /boundary=(.+)$/.exec(String(seen.headers['content-type']))?.[1];
  const body = boundary === undefined ? seen.body.toString() : seen.body.toString().replaceAll(boundary, 'BOUNDARY');
  return {
    contentLength: seen.headers['content-length'],
    transferEncoding: seen.headers['transfer-encoding'],
    contentType: boundary === undefined ? seen.headers['content-type'] : String(seen.headers['content-type']).replace(boundary, 'BOUNDARY'),
    bodyLength: seen.body.byteLength,
    body,
  };
}

describe.each(entries)('body framing: manager.fetch ($name) against the runtime’s fetch', (entry) => {
  for (const kind of Object.keys(BODIES)) {
    it(`a ${kind} body in the init`, async () => {
      const runtime = await framing(runtimeSide().fetch, kind, false);
      const { length } = BODIES[kind] as (typeof BODIES)[string];
      // The runtime's own framing, against the standard: a length for every body but a stream.
      if (length === 'chunked') expect(runtime).toMatchObject({ contentLength: undefined, transferEncoding: 'chunked' });
      else expect(runtime.contentLength).toBe(String(length === -1 ? runtime.bodyLength : length));
      const side = entry.make();
      try {
        expect(await framing(side.fetch, kind, false)).toEqual(runtime);
      } finally {
        await side.close();
      }
    });

    // A Request made over a stream is read whole by poolfetch and sent with its length (README, "Bodies"):
    // only its bytes are compared there, the framing of every other Request body is.
    it(`a ${kind} body inside a Request`, async () => {
      const runtime = await framing(runtimeSide().fetch, kind, true);
      const side = entry.make();
      try {
        const ours = await framing(side.fetch, kind, true);
        if (kind === 'ReadableStream') {
          expect(runtime.transferEncoding).toBe('chunked');
          expect({ body: ours.body, contentLength: ours.contentLength }).toEqual({ body: runtime.body, contentLength: String(BYTES.byteLength) });
        } else {
          expect(runtime.contentLength).toBe(String(runtime.bodyLength));
          expect(ours).toEqual(runtime);
        }
      } finally {
        await side.close();
      }
    });
  }

  it('sends a known-length body again with its length when a 307 replays it, and drops it on a 303', async () => {
    const hops = await startRecordingServer((seen, res) => {
      if (seen.url === '/307') res.writeHead(307, { location: '/end' }).end();
      else if (seen.url === '/303') res.writeHead(303, { location: '/end' }).end();
      else res.end('end');
    });
    const replay = async (fetch: Fetch): Promise<unknown[]> => {
      hops.seen.length = 0;
      for (const path of ['/307', '/303']) {
        await (await fetch(new Request(hops.url(path), { method: 'POST', body: TEXT }))).text();
      }
      return hops.seen.map((s) => [s.method, s.url, s.headers['content-length'], s.headers['transfer-encoding'], s.body.toString()]);
    };
    const side = entry.make();
    try {
      const runtime = await replay(runtimeSide().fetch);
      const length = String(BYTES.byteLength);
      expect(runtime).toEqual([
        ['POST', '/307', length, undefined, TEXT],
        ['POST', '/end', length, undefined, TEXT],
        ['POST', '/303', length, undefined, TEXT],
        ['GET', '/end', undefined, undefined, ''],
      ]);
      expect(await replay(side.fetch)).toEqual(runtime);
    } finally {
      await side.close();
      await hops.close();
    }
  });
});
