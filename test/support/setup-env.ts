import { inject } from 'vitest';

/**
 * Runs in each test worker before its test file is imported: points the harness (which reads
 * TEST_PG_URL, TEST_REDIS_URL and TEST_QUEUE_BACKEND when it is first imported) at the servers the global setup chose.
 */
const backends = inject('backends');
process.env.TEST_PG_URL = backends.pgUrl;
process.env.TEST_REDIS_URL = backends.redisUrl;
process.env.TEST_QUEUE_BACKEND = backends.queueBackend;
