/** What the example tests share: the built package (examples import `poolfetch` like users do) and child processes. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { expectFreshBuild } from '../support/built.js';

/**
 * `npm test` builds before vitest; a lone `npx vitest run test/examples` builds here if dist/ is missing,
 * and refuses a dist/ older than src/ (it would quietly test the old build: a seeded bug passed so).
 */
export function ensureBuilt(): void {
  if (!existsSync('dist/adapters/node/index.js') || !existsSync('dist/adapters/fetch/index.js')) {
    const result = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`npm run build failed (exit ${String(result.status)})`);
  }
  expectFreshBuild();
}

export interface Child {
  child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in stdout+stderr; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** SIGINT, then the exit code. */
  stop(): Promise<number | null>;
}

export function start(command: string, args: string[], options: { stdio?: Array<'ignore' | 'pipe'>; env?: NodeJS.ProcessEnv } = {}): Child {
  const child = spawn(command, args, { stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    output: () => out,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(out);
          if (match !== null) {
            listeners.delete(check);
            resolve(match);
          }
        };
        listeners.add(check);
        check();
        void exited.then((code) => reject(new Error(`${command} exited (${String(code)}) before printing ${String(pattern)}:\n${out}`)));
      }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      return exited;
    },
  };
}
