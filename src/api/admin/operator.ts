import type { Hono } from 'hono';
import type { AppEnv, ApiServices } from '../context.ts';
import { createMetrics } from '../../metrics/metrics.ts';
import { countWebhooks } from '../middleware/count-webhooks.ts';
import { metricsRoutes } from '../routes/metrics.ts';
import { BOARD_PATH, boardRoutes } from './board.ts';
import { metricsTokens, operatorPageTokens } from '../../config/api-tokens.ts';

/**
 * The operator's side of the api: /metrics, Bull Board at /admin/queues, and the webhook counter.
 * Call it before the webhook routes are added: Hono runs handlers in the order they were
 * registered, and the counter has to wrap the webhook route.
 */
export function mountOperatorRoutes(app: Hono<AppEnv>, services: ApiServices): void {
  const connectionIds = services.connections.all().map((c) => c.config.id);
  // An app built without the runtime's metrics (a test's bare createApp) still answers /metrics
  // from Redis and Postgres; only the in-process worker counters need the shared instance.
  const metrics =
    services.metrics ??
    createMetrics({
      queues: () => services.queues.all(),
      queueSource: services.queues.backend.kind === 'redis' ? 'redis' : 'postgres-queues',
      sql: services.sql,
      connectionIds,
      processMetrics: false,
    });
  app.use('/webhooks/:connectionId', countWebhooks(metrics, connectionIds));
  app.route('/metrics', metricsRoutes(metrics, { tokens: metricsTokens(services.config) }));
  app.route(
    BOARD_PATH,
    boardRoutes({
      queues: services.queues.all(),
      admin: services.config.admin,
      tokens: operatorPageTokens(services.config.api.tokens),
    }),
  );
}
