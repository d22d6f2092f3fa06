/**
 * Starts the demo as `npm run demo` does (`node --import tsx demo/main.ts`:
 * one process, so Ctrl-C's SIGINT reaches the demo itself, not a tsx parent
 * that would SIGKILL a child slow to acknowledge it) and stops it with SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface RunningDemo {
  url: string;
  output(): string;
  /** Sends SIGINT (Ctrl-C) and resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startDemo(args: string[] = []): Promise<RunningDemo> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (): void => {
      const match = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (match?.[1] !== undefined) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve(match[1]);
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`the demo exited (${String(code)}) before serving:\n${out}`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
  return {
    url,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
