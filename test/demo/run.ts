/** Runs the demo as `npm run demo` does (`node --import tsx demo/main.ts`) and collects what it prints. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function spawnDemo(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<Finished> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

export function runDemo(args: string[]): Promise<Finished> {
  return spawnDemo(args).exited;
}

/** Resolves with the dashboard URL once the demo prints it. */
export function dashboardUrl(run: ReturnType<typeof spawnDemo>): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(run.stdout());
      if (match?.[1] !== undefined) {
        run.child.stdout?.off('data', check);
        resolve(match[1]);
      }
    };
    run.child.stdout?.on('data', check);
    void run.exited.then((f) => reject(new Error(`the demo exited (${String(f.code)}) before serving:\n${f.stdout}${f.stderr}`)));
  });
}
