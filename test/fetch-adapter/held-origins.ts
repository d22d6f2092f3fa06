/**
 * msw origins whose every request is held by a gate (support.ts) until the
 * test lets it answer: what makes a cap visible without timing.
 */
import { http, HttpResponse } from 'msw';
import type { SetupServer } from 'msw/node';
import type { Gate } from './support.js';

/** Every origin answers `/:n` with `n`, held by `g` until released (grouped by origin). */
export function holdAll(network: SetupServer, g: Gate, ...origins: string[]): void {
  for (const origin of origins) {
    network.use(http.all(`${origin}/:n`, ({ params }) => g.hold(`${origin}/${String(params.n)}`, () => HttpResponse.text(String(params.n)), origin)));
  }
}
