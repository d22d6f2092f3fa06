/** `npm run demo` flags. Bad input is a `UsageError`: main prints it with the usage and exits 2. */
import { parseArgs } from 'node:util';

export const USAGE = `usage: npm run demo [-- --port N] [-- --once [--requests N]]

  (no flags)     start local origins, a workload and the dashboard at http://127.0.0.1:PORT/
  --port N       serve the dashboard on port N (default: a free port)
  --once         run a fixed workload, print a table of the pools and exit
  --requests N   how many requests --once sends (default 240)
  --help         this text`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface DemoArgs {
  once: boolean;
  help: boolean;
  port: number;
  requests: number;
}

export function parseDemoArgs(argv: string[]): DemoArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        once: { type: 'boolean', default: false },
        requests: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    // parseArgs names the flag already ("Unknown option '--prot'"); drop its hint about "--" which would confuse here.
    throw new UsageError((error as Error).message.split('. To specify')[0] ?? String(error));
  }
  return {
    once: values.once === true,
    help: values.help === true,
    port: values.port === undefined ? 0 : integer('--port', values.port, 0, 65_535),
    requests: values.requests === undefined ? 240 : integer('--requests', values.requests, 1, 100_000),
  };
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}
