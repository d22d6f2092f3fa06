/**
 * A real redis-server for the fleet budget's tests: started on a free
 * loopback port with a temporary directory and no persistence, stopped (or
 * killed) by the test, restartable on the same port. `npm test` installs
 * redis-server (scripts/ensure-system-deps.mjs).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../proxy/support.js';
import { startProcess, type Driven } from './processes.js';

export const REDIS_SERVER = '/usr/bin/redis-server';
export const haveRedis = existsSync(REDIS_SERVER);

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGTERM) and resolves once it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'poolfetch-redis-'));
  const port = await freePort();
  let server: Driven | undefined;
  const start = async (): Promise<void> => {
    server = startProcess(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
    await server.printed((output) => output.includes('Ready to accept connections'));
  };
  const stop = async (): Promise<void> => {
    await server?.stop();
    server = undefined;
  };
  try {
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
