import { join } from 'node:path';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../../src/support/embedded-postgres.ts';
import { redisServerBinary, startLocalRedis } from '../../src/support/local-redis.ts';
import { portAnswers } from '../../src/support/ports.ts';

/**
 * Finding (or starting) the PostgreSQL and Redis the test suite runs on, for the global setup.
 * A server named in TEST_PG_URL / TEST_REDIS_URL must answer; one on the default address is used
 * when it answers; otherwise PostgreSQL comes from the embedded-postgres package and Redis from an
 * installed `redis-server` binary, each on a free port, and both are stopped after the run. With
 * neither a Redis nor the binary, there is no Redis and the queues run on PostgreSQL.
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

/** The Redis to run on; null when none answers and no redis-server is installed. */
export async function findRedis(env: NodeJS.ProcessEnv, stateDir: string): Promise<Backend | null> {
  // TEST_REDIS_URL=none: run as a machine without Redis would (queues on PostgreSQL, Redis's own
  // tests skipped), here, without stopping the Redis that may be running.
  if (env.TEST_REDIS_URL === 'none') return null;
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
  const binary = redisServerBinary(env);
  // A bare machine: the suite runs its queues on PostgreSQL, and the tests of Redis itself skip.
  if (!binary) return null;
  const redis = await startLocalRedis(binary, stateDir);
  return {
    url: redis.url,
    describe: `Redis from ${binary} on 127.0.0.1:${redis.port} (nothing answered on ${where})`,
    stop: () => redis.stop(),
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

function hostPort(url: string, defaultPort: number): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || defaultPort}`;
}

/** Whether anything accepts a TCP connection there (a refused one means nothing listens). */
function tcpAnswers(url: string, defaultPort: number): Promise<boolean> {
  const parsed = new URL(url);
  return portAnswers(Number(parsed.port || defaultPort), parsed.hostname);
}
