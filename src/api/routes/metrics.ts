import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import { bearerAuth } from '../middleware/bearer-auth.ts';

/**
 * GET /metrics in Prometheus text format. Open by default, as Prometheus targets usually are
 * (it carries counts and connection ids, no item data or secrets); `[metrics] token` in the
 * config makes it take `Authorization: Bearer <token>` (Prometheus: `authorization.credentials`).
 */
export function metricsRoutes(metrics: Metrics, options: { token?: string } = {}) {
  const routes = new Hono<AppEnv>();
  if (options.token) routes.use(bearerAuth({ tokens: [options.token] }));
  return routes.get('/', async (c) => {
    const { contentType, body } = await metrics.render();
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
  });
}
