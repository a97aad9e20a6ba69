import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { EmbeddedPostgresError } from '../../src/support/embedded-postgres.ts';
import { LocalRedisError } from '../../src/support/local-redis.ts';
import { type Backend, findPostgres, findRedis, SetupError } from './backends.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** redisUrl is empty when the machine has no Redis; queueBackend is what the harness runs on. */
    backends: { pgUrl: string; redisUrl: string; queueBackend: 'redis' | 'postgres' };
  }
}

/**
 * `npm test`'s global setup: the PostgreSQL and Redis the suite runs on (see backends.ts) and the
 * queue backend (TEST_QUEUE_BACKEND, else Redis when there is one, else PostgreSQL), handed to the
 * test files through setup-env.ts, and one line saying which they are.
 */
export default async function setup(project: TestProject) {
  const stateDir = mkdtempSync(join(tmpdir(), 'trackline-test-'));
  // mkdtemp makes it 0700; as root, the embedded server runs as another user who must enter it.
  chmodSync(stateDir, 0o755);
  const started: Backend[] = [];
  const cleanup = async () => {
    for (const backend of started.reverse()) await backend.stop().catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    const pg = await findPostgres(process.env, stateDir);
    started.push(pg);
    const redis = await findRedis(process.env, stateDir);
    if (redis) started.push(redis);
    const asked = process.env.TEST_QUEUE_BACKEND;
    if (asked && asked !== 'redis' && asked !== 'postgres')
      throw new SetupError(`TEST_QUEUE_BACKEND must be "redis" or "postgres", not "${asked}"`);
    if (asked === 'redis' && !redis)
      throw new SetupError('TEST_QUEUE_BACKEND=redis, but no Redis answers and no redis-server is installed');
    const queueBackend = (asked as 'redis' | 'postgres' | undefined) ?? (redis ? 'redis' : 'postgres');
    const redisLine =
      redis?.describe ??
      (process.env.TEST_REDIS_URL === 'none'
        ? 'no Redis (TEST_REDIS_URL=none; its own tests skip)'
        : 'no Redis (none answers on 127.0.0.1:6379 and no redis-server is installed; its own tests skip)');
    const queuesLine = queueBackend === 'redis' ? 'queues on Redis' : `queues on PostgreSQL${asked ? ' (TEST_QUEUE_BACKEND)' : ''}`;
    console.log(`[test] backends: ${pg.describe}; ${redisLine}; ${queuesLine}`);
    project.provide('backends', { pgUrl: pg.url, redisUrl: redis?.url ?? '', queueBackend });
  } catch (error) {
    await cleanup();
    if (error instanceof SetupError || error instanceof EmbeddedPostgresError || error instanceof LocalRedisError) {
      // One line, not a stack: the set-up is wrong, not the code under test.
      console.error(`[test] cannot start: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  return cleanup;
}
