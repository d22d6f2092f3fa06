/**
 * `maxResponseSize` on `manager.fetch` in Node: undici's fetch decodes the
 * body itself, so the decoded bytes are counted as the reader pulls them.
 * Past the limit the read rejects with a `TypeError` whose cause is
 * `ResponseTooLargeError` (fetch's error contract), and the body is
 * cancelled, which aborts the exchange: the connection closes and the slot
 * is freed. Nothing is read ahead of the reader, so memory stays within the
 * limit plus undici's small stream buffers, whatever the compression ratio.
 */
import { ResponseTooLargeError } from '../../src/errors.js';
import { noop, rebody } from '../../src/watch-body.js';

export function limitedResponse(response: Response, limit: number, method: string, url: string): Response {
  const body = response.body;
  if (body === null) return response;
  const reader = body.getReader();
  let size = 0;
  const limited = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        size += value.byteLength;
        if (size <= limit) {
          controller.enqueue(value);
          return;
        }
        const cause = new ResponseTooLargeError(limit, { method, url });
        const error = new TypeError(cause.message, { cause });
        controller.error(error);
        reader.cancel(cause).catch(noop);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return rebody(response, limited);
}
