import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { freePort, startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';

/**
 * Finding (or starting) the PostgreSQL and Redis the test suite runs on, for the global setup.
 * A server named in TEST_PG_URL / TEST_REDIS_URL must answer; one on the default address is used
 * when it answers; otherwise PostgreSQL comes from the embedded-postgres package and Redis from an
 * installed `redis-server` binary, each on a free port, and both are stopped after the run.
 * Every set-up that cannot work is one line (a SetupError), not a stack of failed test files.
 */
export class SetupError extends Error {}

export interface Backend {
  url: string;
  /** For the run's one line: where it came from. */
  describe: string;
  stop(): Promise<void>;
}

const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

type Probe = { ok: true } | { ok: false; refused: boolean; reason: string };

export async function findPostgres(env: NodeJS.ProcessEnv, stateDir: string): Promise<Backend> {
  const named = env.TEST_PG_URL;
  const url = named ?? DEFAULT_PG;
  const probe = await probePostgres(url);
  const where = hostPort(url, 5432);
  if (probe.ok) return { url, describe: `PostgreSQL at ${where}${named ? ' (TEST_PG_URL)' : ''}`, stop: async () => {} };
  if (named)
    throw new SetupError(
      `TEST_PG_URL points at ${where}, which does not answer (${probe.reason}); a server you name is never replaced by an embedded one`,
    );
  if (!probe.refused)
    throw new SetupError(
      `something answers on ${where} but the tests cannot use it as PostgreSQL (${probe.reason}): stop it, or set TEST_PG_URL`,
    );
  const pg = await startEmbeddedPostgres({
    dataDir: join(stateDir, 'postgres'),
    // Durability of this throw-away server is not what the tests probe; speed is what they need.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
  });
  return {
    url: pg.url,
    describe: `embedded PostgreSQL ${pg.version} on 127.0.0.1:${pg.port} (nothing answered on ${where})`,
    stop: () => pg.stop(),
  };
}

export async function findRedis(env: NodeJS.ProcessEnv, stateDir: string): Promise<Backend> {
  const named = env.TEST_REDIS_URL;
  const url = named ?? DEFAULT_REDIS;
  const probe = await probeRedis(url);
  const where = hostPort(url, 6379);
  if (probe.ok) return { url, describe: `Redis at ${where}${named ? ' (TEST_REDIS_URL)' : ''}`, stop: async () => {} };
  if (named) throw new SetupError(`TEST_REDIS_URL points at ${where}, which does not answer (${probe.reason})`);
  if (!probe.refused)
    throw new SetupError(
      `something answers on ${where} but the tests cannot use it as Redis (${probe.reason}): stop it, or set TEST_REDIS_URL`,
    );
  const binary = redisServerBinary();
  if (!binary)
    throw new SetupError(
      `no Redis answers on ${where} and no redis-server is installed: apt-get install redis-server (or set TEST_REDIS_URL); the queues need Redis`,
    );
  const port = await freePort();
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', stateDir, '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('error', (error) => (output += error.message));
  const started = await Promise.race([waitForPort(port, 10_000), exited.then(() => false)]);
  if (!started) {
    child.kill('SIGKILL');
    throw new SetupError(`${binary} did not start on 127.0.0.1:${port}: ${output.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    describe: `Redis from ${binary} on 127.0.0.1:${port} (nothing answered on ${where})`,
    stop: () => stopChild(child, exited),
  };
}

async function probePostgres(url: string): Promise<Probe> {
  if (!(await tcpAnswers(url, 5432))) return { ok: false, refused: true, reason: 'ECONNREFUSED' };
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return { ok: true };
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    return { ok: false, refused: code === 'ECONNREFUSED', reason: code || (error as Error).message };
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function probeRedis(url: string): Promise<Probe> {
  if (!(await tcpAnswers(url, 6379))) return { ok: false, refused: true, reason: 'ECONNREFUSED' };
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3_000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return { ok: true };
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    return { ok: false, refused: code === 'ECONNREFUSED', reason: code || (error as Error).message };
  } finally {
    redis.disconnect();
  }
}

function redisServerBinary(): string | null {
  if (process.env.REDIS_SERVER) return process.env.REDIS_SERVER;
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : null;
}

function hostPort(url: string, defaultPort: number): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || defaultPort}`;
}

/** Whether anything accepts a TCP connection there (a refused one means nothing listens). */
function tcpAnswers(url: string, defaultPort: number): Promise<boolean> {
  const parsed = new URL(url);
  return connects(Number(parsed.port || defaultPort), parsed.hostname);
}

function connects(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.setTimeout(3_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, host);
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await connects(port)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
