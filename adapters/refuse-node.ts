/**
 * What `poolfetch/node` resolves to under the `browser`, `worker` and
 * `workerd` conditions in bundlers that do not refuse an `exports` target of
 * `null` (Vite takes `default` instead), and under `bun` (whose `undici` is
 * its own partial copy). The Node entry needs undici's sockets; rather than
 * bundle them, this module fails as soon as it is loaded, saying what to
 * import. It re-exports the fetch entry only so that an import of any name
 * links, and the throw below is what the user sees (package.json lists this
 * file under `sideEffects`, so a bundler keeps the throw).
 */
import { NotSupportedError } from '../src/errors.js';

export * from './fetch/index.js';

throw new NotSupportedError(
  "poolfetch/node is the Node entry (it needs sockets) and does not run in browsers, Workers or Bun: import 'poolfetch' instead, whose exports pick the fetch entry there",
);
