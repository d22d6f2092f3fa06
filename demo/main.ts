/**
 * `npm run demo`: local origins, one `PoolManager` with a workload on top,
 * and a dashboard at http://127.0.0.1:PORT/ that shows its pools live, next
 * to the same workload run in the page through the browser bundle.
 * `npm run demo -- --once` prints a table instead and exits.
 *
 * Exit codes: 0 done (or Ctrl-C), 1 failed (port in use, build failed), 2 bad flags.
 */
import { bundlePage, ensureBuilt } from './bundle.js';
import { PortInUseError, startDashboard } from './dashboard.js';
import { parseDemoArgs, USAGE, UsageError } from './args.js';
import { runOnce } from './once.js';
import { startOrigins } from './origins.js';

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const note = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  let args;
  try {
    args = parseDemoArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    note(`demo: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    say(USAGE);
    return 0;
  }
  if (args.once) {
    await runOnce(args.requests, say, note);
    return 0;
  }

  // Listening from the start (not only once the URL is printed): a Ctrl-C that arrives between the
  // two would otherwise find no handler and kill the process before anything is closed. `on`, not
  // `once`: Ctrl-C reaches this process and `npm run` (which forwards it again) together, and the
  // repeat must not kill the process half-way through closing.
  const stopRequested = new Promise<string>((resolve) => {
    process.on('SIGINT', () => resolve('SIGINT'));
    process.on('SIGTERM', () => resolve('SIGTERM'));
  });
  ensureBuilt(note);
  const pageScript = await bundlePage();
  const origins = await startOrigins();
  let dashboard;
  try {
    dashboard = await startDashboard(origins, pageScript, args.port);
  } catch (error) {
    await origins.close();
    throw error;
  }
  say(`poolfetch demo: dashboard at ${dashboard.url}`);
  say(`  ${origins.list.length} local origins: ${origins.list.map((o) => `${o.name} ${o.url}`).join(', ')}`);
  say('  Ctrl-C to stop');

  const started = Date.now();
  const progress = setInterval(() => {
    const { rows, events } = dashboard.live.manager.tracker.snapshot();
    const state = dashboard.live.running ? 'running' : 'paused';
    say(`  [${Math.round((Date.now() - started) / 1000)} s] ${state}: ${dashboard.live.sent} requests, ${rows.length} pools live, ${events.poolevict} evictions`);
  }, 10_000);

  const signal = await stopRequested;
  clearInterval(progress);
  say(`\n${signal}: stopping the workload, closing pools and servers…`);
  await dashboard.close();
  await origins.close();
  say('stopped cleanly');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof PortInUseError) note(`demo: ${error.message}`);
    else note(`demo: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
