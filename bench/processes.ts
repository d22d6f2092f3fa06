/** Starting and talking to the bench's child processes. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ParentMessage, ServerConfig, ServerMessage, SocketStats } from './protocol.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

export interface ServerProcess {
  readonly ports: number[];
  readonly child: ChildProcess;
  stats(): Promise<SocketStats>;
  resetPeaks(): Promise<SocketStats>;
  close(): Promise<void>;
}

let nextId = 1;

/** Forks `server.ts` (under the same tsx loader as this process) and waits until it listens. */
export async function startServerProcess(config: ServerConfig): Promise<ServerProcess> {
  const child = fork(here('./server.ts'), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, (stats: SocketStats) => void>();
  const ready = new Promise<number[]>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code} before listening`)));
    child.on('message', (message: ServerMessage) => {
      if (message.type === 'ready') resolve(message.ports);
      else if (message.type === 'stats') {
        waiting.get(message.id)?.(message);
        waiting.delete(message.id);
      }
    });
  });
  const ports = await ready;
  const ask = (type: 'stats' | 'reset-peaks'): Promise<SocketStats> =>
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      child.send({ type, id } satisfies ParentMessage);
    });
  return {
    ports,
    child,
    stats: () => ask('stats'),
    resetPeaks: () => ask('reset-peaks'),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || !child.connected) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.send({ type: 'close' } satisfies ParentMessage);
      }),
  };
}

/** Sums socket counts over several server processes. */
export function sumStats(all: SocketStats[]): SocketStats {
  const out: SocketStats = { open: {}, peak: {}, openAll: 0, peakAll: 0, originPeak: {}, originRequestPeak: {}, opened: {} };
  for (const s of all) {
    out.openAll += s.openAll;
    out.peakAll += s.peakAll;
    // An origin lives in one server process: its figures are copied, not summed.
    Object.assign(out.originPeak, s.originPeak);
    Object.assign(out.originRequestPeak, s.originRequestPeak);
    for (const [k, v] of Object.entries(s.open)) out.open[k] = (out.open[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.peak)) out.peak[k] = (out.peak[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.opened)) out.opened[k] = (out.opened[k] ?? 0) + v;
  }
  return out;
}

export { here };
