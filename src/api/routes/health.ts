import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';

/**
 * /healthz: the process answers. /readyz: Postgres and the queue store (Redis, or the queues'
 * PostgreSQL pool) both answer, within a second.
 */
export const healthRoutes = new Hono<AppEnv>()
  .get('/healthz', (c) => c.json({ status: 'ok' }))
  .get('/readyz', async (c) => {
    const { sql, queues } = c.get('services');
    const within = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), 1000))]);
    const [postgres, queueStatus] = await Promise.all([
      within(sql`select 1`).then(
        () => 'ok',
        (e: Error) => `unreachable: ${e.message}`,
      ),
      within(queues.backend.ping()).then(
        () => 'ok',
        (e: Error) => `unreachable: ${e.message}`,
      ),
    ]);
    const ready = postgres === 'ok' && queueStatus === 'ok';
    // On Redis the answer keeps its shape (`redis`); with the queues in PostgreSQL it says so.
    const queueFields = queues.backend.kind === 'redis' ? { redis: queueStatus } : { queues: queueStatus, queue_backend: 'postgres' };
    return c.json({ status: ready ? 'ready' : 'not ready', postgres, ...queueFields }, ready ? 200 : 503);
  });
