import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { freePort, waitForPort } from './ports.ts';

/**
 * A private Redis for the demo and the tests on a machine where none runs: the system's
 * `redis-server` binary (Debian's package), on a free port of 127.0.0.1, without persistence,
 * stopped by stop() or when this process exits.
 */
export class LocalRedisError extends Error {}

export interface LocalRedis {
  url: string;
  port: number;
  binary: string;
  stop(): Promise<void>;
}

/** The installed redis-server (REDIS_SERVER, else the PATH's), or null when there is none (or REDIS_SERVER=none). */
export function redisServerBinary(env: Record<string, string | undefined> = process.env): string | null {
  // "none": behave as on a machine without it (the queues then go to PostgreSQL), e.g. in CI.
  if (env.REDIS_SERVER === 'none') return null;
  if (env.REDIS_SERVER) return env.REDIS_SERVER;
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout?.trim();
  if (found.status === 0 && path) return path;
  return existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null;
}

export async function startLocalRedis(binary: string, dir: string): Promise<LocalRedis> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  child.once('error', (error) => (output += error.message));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const started = await Promise.race([waitForPort(port, 10_000), exited.then(() => false)]);
  if (!started) {
    child.kill('SIGKILL');
    process.off('exit', killOnExit);
    const tail = output.trim().split('\n').slice(-3).join(' | ');
    throw new LocalRedisError(`${binary} did not start on 127.0.0.1:${port}: ${tail || '(no output)'}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    binary,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
