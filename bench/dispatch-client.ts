/**
 * The floor on the Node path, shared by the waiting suite (clients.ts) and
 * the instruction counter's child (instructions-child.ts), which must not
 * load the other peers' modules.
 */
import type { Pool } from 'undici';

/** A GET through undici's dispatcher with the least handler that collects the body: the floor on the Node path. */
export function dispatchCollecting(pool: Pool, path: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    pool.dispatch({ path, method: 'GET' }, {
      onConnect: () => undefined,
      onHeaders: () => true,
      onData: (chunk: Buffer) => {
        chunks.push(chunk);
        return true;
      },
      onComplete: () => resolve(Buffer.concat(chunks)),
      onError: reject,
    } as unknown as Parameters<Pool['dispatch']>[1]);
  });
}
