import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import type { ApiToken } from '../../config/api-tokens.ts';
import { bearerAuth } from '../middleware/bearer-auth.ts';
import { requireScope } from '../middleware/require-scope.ts';

/**
 * GET /metrics in Prometheus text format. Open by default, as Prometheus targets usually are
 * (it carries counts and connection ids, no item data or secrets); `[metrics] token` in the
 * config makes it take `Authorization: Bearer <token>` (Prometheus: `authorization.credentials`),
 * as does `require_token`; then `[api] tokens` entries with the `metrics` scope work too
 * (`metricsTokens` in config/api-tokens.ts). `tokens` null or absent: open.
 */
export function metricsRoutes(metrics: Metrics, options: { tokens?: readonly ApiToken[] | null } = {}) {
  const routes = new Hono<AppEnv>();
  if (options.tokens) routes.use(bearerAuth({ tokens: options.tokens }), requireScope('metrics'));
  return routes.get('/', async (c) => {
    const { contentType, body } = await metrics.render();
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
  });
}
