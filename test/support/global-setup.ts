import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { EmbeddedPostgresError } from '../../src/support/embedded-postgres.ts';
import { LocalRedisError } from '../../src/support/local-redis.ts';
import { type Backend, findPostgres, findRedis, SetupError } from './backends.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    backends: { pgUrl: string; redisUrl: string };
  }
}

/**
 * `npm test`'s global setup: the PostgreSQL and Redis the suite runs on (see backends.ts), handed
 * to the test files through setup-env.ts, and one line saying which they are.
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
    started.push(redis);
    console.log(`[test] backends: ${pg.describe}; ${redis.describe}; queues on Redis`);
    project.provide('backends', { pgUrl: pg.url, redisUrl: redis.url });
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
