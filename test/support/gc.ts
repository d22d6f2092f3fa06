/**
 * Garbage collection on demand, for tests of what happens to a response
 * nobody keeps: `--expose-gc` switched on at run time, so no test runner
 * flag is needed.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * Collects garbage, then gives FinalizationRegistry callbacks (which run in
 * a later task) a turn, until `done()` holds or `rounds` have passed.
 */
export async function collectGarbage(done: () => boolean = () => false, rounds = 50): Promise<void> {
  for (let i = 0; i < rounds && !done(); i += 1) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}
