/**
 * The child processes the fleet budget's tests drive (redis-server, workerd,
 * Node fleet members), started one way: output collected for a failing
 * test's message, readiness awaited from what the process prints (never a
 * sleep), an early exit failing the wait with that output, `stop()` that
 * resolves once the process has exited, and every process still running
 * killed when the test ends (`killLeftovers`) or the test process exits.
 * Also the loopback origin both suites drive, which counts requests in
 * flight and records arrivals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** A process started by `startProcess`. */
export interface Driven {
  readonly child: ChildProcess;
  /** What it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves when it has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once `test` holds for what it printed; rejects if it exits first. */
  printed(test: (output: string) => boolean): Promise<void>;
  /** Each line on file descriptor 3 (`controlFd`), as it comes. */
  onControlLine(listener: (line: string) => void): void;
  /** Sends `signal` (SIGTERM by default) unless it has exited; resolves once it has. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<ChildProcess>();
/** Those started with `perTest`: a test's own, not its suite's servers. */
const perTest = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Kills (SIGKILL) every process started with `perTest` and still running (for `afterEach`: a failed test leaves none behind). */
export function killLeftovers(): void {
  for (const child of perTest) child.kill('SIGKILL');
  perTest.clear();
}

/**
 * `perTest`: the process belongs to one test (killed by `killLeftovers`),
 * not to a suite (a server started in `beforeAll`, which the suite stops).
 */
export function startProcess(command: string, args: readonly string[], options: { cwd?: string; stdin?: boolean; controlFd?: boolean; perTest?: boolean } = {}): Driven {
  const stdio: Array<'pipe' | 'ignore'> = [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  if (options.controlFd === true) stdio.push('pipe');
  const child = spawn(command, args, { cwd: options.cwd, stdio });
  running.add(child);
  if (options.perTest === true) perTest.add(child);
  let output = '';
  const watchers = new Set<() => void>();
  const heard = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const watcher of watchers) watcher();
  };
  child.stdout?.on('data', heard);
  child.stderr?.on('data', heard);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      perTest.delete(child);
      resolve({ code, signal });
    });
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const watcher of watchers) watcher();
  });
  return {
    child,
    output: () => output,
    exited,
    printed: (test) => new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (test(output)) {
          watchers.delete(check);
          resolve();
        } else if (gone) {
          watchers.delete(check);
          reject(new Error(`${command} exited before it was ready:\n${output}`));
        }
      };
      watchers.add(check);
      check();
    }),
    onControlLine: (listener) => createInterface({ input: child.stdio[3] as Readable }).on('line', listener),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A request as the origin saw it: who sent it (`x-child`), its place in its sender's stream (`x-seq`, -1 for warm-up), when it was issued (`x-issued`) and when it arrived. */
export interface Arrival {
  child: string;
  seq: number;
  issued: number;
  arrived: number;
  path: string;
}

export interface CountingOrigin {
  readonly origin: string;
  readonly arrivals: Arrival[];
  /** Requests in flight now, and the most ever. */
  readonly inFlight: number;
  readonly peak: number;
  /** Resolves once `n` requests have arrived. */
  arrived(n: number): Promise<void>;
  /** Answers every request held open under /hold (they end as if answered). */
  releaseHeld(): void;
  close(): Promise<void>;
}

/**
 * The loopback origin a fleet drives: counts requests in flight, records
 * arrivals, answers after `holdMs`; a path under /hold is answered only by
 * `releaseHeld()` (or never), except warm-up requests (`x-seq: -1`).
 */
export async function startOrigin(holdMs: number): Promise<CountingOrigin> {
  const arrivals: Arrival[] = [];
  const sockets = new Set<Socket>();
  const held = new Set<() => void>();
  let inFlight = 0;
  let peak = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = http.createServer((req, res) => {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    arrivals.push({ child: String(req.headers['x-child']), seq: Number(req.headers['x-seq']), issued: Number(req.headers['x-issued']), arrived: Date.now(), path: req.url ?? '' });
    for (const w of waiters.filter((w) => arrivals.length >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      inFlight -= 1;
    };
    res.on('close', end);
    const answer = (): void => {
      res.end('ok');
      end();
    };
    if (req.url?.startsWith('/hold') === true && req.headers['x-seq'] !== '-1') {
      held.add(answer);
      return;
    }
    setTimeout(answer, holdMs);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    get inFlight() {
      return inFlight;
    },
    get peak() {
      return peak;
    },
    arrived: (n) => (arrivals.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    releaseHeld() {
      for (const answer of held) answer();
      held.clear();
    },
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** The measured requests (not the warm-up ones). */
export const measured = (arrivals: readonly Arrival[]): Arrival[] => arrivals.filter((a) => a.seq >= 0);

/** For each request, how many requests issued more than `margin` ms after it reached the origin before it; the worst. */
export function overtakes(arrivals: readonly Arrival[], margin: number): number {
  let worst = 0;
  for (const a of arrivals) worst = Math.max(worst, arrivals.filter((b) => b.issued > a.issued + margin && b.arrived < a.arrived).length);
  return worst;
}
