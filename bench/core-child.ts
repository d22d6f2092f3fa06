/**
 * Runs the core suite in a child started with `--expose-gc` and a large
 * young generation (see core.ts), and sends the result to the parent.
 */
import { pathToFileURL } from 'node:url';
import type * as NodeEntry from '../adapters/node/index.js';
import { runCore } from './core.js';

const [nodeEntry, requests] = process.argv.slice(2);
const entry = (await import(pathToFileURL(nodeEntry ?? '').href)) as typeof NodeEntry;
process.send?.(await runCore(entry, Number(requests)), () => process.disconnect());
