/**
 * Watching a body stream: a slot (and a timeout's timer) must be let go the
 * moment a body has been read to the end, has failed or was cancelled, and
 * nothing else says when that is.
 */

export function noop(): void {}

/**
 * Passes a stream through and calls `done` once it ends, fails or is
 * cancelled. An abort of `signal` errors it at once, even while nobody is
 * reading, and cancels the stream under it, so its slot is free at once.
 */
export function whenDone(body: ReadableStream<Uint8Array>, done: () => void, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  if (done === noop && signal === undefined) return body;
  const reader = body.getReader();
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    signal?.removeEventListener('abort', onAbort);
    done();
  };
  let stream!: ReadableStreamDefaultController<Uint8Array>;
  const onAbort = (): void => {
    if (finished) return;
    const reason: unknown = signal?.reason;
    stream.error(reason);
    reader.cancel(reason).catch(noop);
    finish();
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        stream = controller;
        if (signal?.aborted === true) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      },
      async pull(controller) {
        try {
          const { done: end, value } = await reader.read();
          if (finished) return;
          if (end) {
            finish();
            controller.close();
          } else {
            controller.enqueue(value);
          }
        } catch (error) {
          if (finished) return;
          finish();
          controller.error(error);
        }
      },
      cancel(reason) {
        // Free the slot now, without waiting for the runtime's own cancel: some never settle
        // it (msw's mocked bodies), and a cancelled body's connection is being dropped anyway.
        finish();
        reader.cancel(reason).catch(noop);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * The same response over another body (or none): status, headers, `url` and
 * `redirected` kept. A constructed Response has an empty `url` and
 * `redirected: false`, and neither can be passed to the constructor.
 */
export function rebody(from: Response, body: ReadableStream<Uint8Array> | null): Response {
  const response = new Response(body, from);
  Object.defineProperty(response, 'url', { value: from.url, configurable: true });
  if (from.redirected) Object.defineProperty(response, 'redirected', { value: true, configurable: true });
  return response;
}
