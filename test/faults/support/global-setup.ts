import type { TestProject } from 'vitest/node';
import { freePort, makeStateDir, removeDir, startPostgres, startRedis, stopRegistered } from './servers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    faults: { pgUrl: string; redisUrl: string; stateDir: string };
  }
}

/**
 * Starts the fault suite's own Postgres and Redis once for the whole run, on free ports, and
 * hands their URLs to the test files (see setup-env.ts). The teardown stops them and anything a
 * test file started and left behind (servers.ts keeps the registry).
 */
export default async function setup(project: TestProject) {
  const dir = makeStateDir();
  process.env.FAULTS_STATE_DIR = dir;
  const started = Date.now();
  const pg = await startPostgres(await freePort());
  const redis = await startRedis(await freePort());
  console.log(`[faults] postgres on ${pg.port}, redis on ${redis.port} (${Date.now() - started} ms); state in ${dir}`);
  project.provide('faults', { pgUrl: pg.url, redisUrl: redis.url, stateDir: dir });
  return async () => {
    await redis.stop();
    stopRegistered(dir);
    removeDir(dir);
  };
}
