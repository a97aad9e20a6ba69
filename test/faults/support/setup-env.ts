import { inject } from 'vitest';

/**
 * Runs in each test worker before the test file is imported: points the shared test harness
 * (which reads TEST_PG_URL and TEST_REDIS_URL when it is first imported) at the fault suite's
 * private servers, so nothing here can reach the machine's shared Postgres or Redis.
 */
const faults = inject('faults');
process.env.TEST_PG_URL = faults.pgUrl;
process.env.TEST_REDIS_URL = faults.redisUrl;
process.env.FAULTS_STATE_DIR = faults.stateDir;
for (const url of [faults.pgUrl, faults.redisUrl]) {
  if (/:(5432|6379)(\/|$)/.test(url)) throw new Error(`fault suite refuses to run against a shared server: ${url}`);
}
