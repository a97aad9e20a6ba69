import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';

/** /healthz: the process answers. /readyz: Postgres and Redis both answer, within a second. */
export const healthRoutes = new Hono<AppEnv>()
  .get('/healthz', (c) => c.json({ status: 'ok' }))
  .get('/readyz', async (c) => {
    const { sql, redis } = c.get('services');
    const within = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), 1000))]);
    const [postgres, redisStatus] = await Promise.all([
      within(sql`select 1`).then(
        () => 'ok',
        (e: Error) => `unreachable: ${e.message}`,
      ),
      within(redis.ping()).then(
        () => 'ok',
        (e: Error) => `unreachable: ${e.message}`,
      ),
    ]);
    const ready = postgres === 'ok' && redisStatus === 'ok';
    return c.json({ status: ready ? 'ready' : 'not ready', postgres, redis: redisStatus }, ready ? 200 : 503);
  });
