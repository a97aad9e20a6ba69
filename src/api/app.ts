import { Hono, type Context } from 'hono';
import type { AppEnv, ApiServices } from './context.ts';
import { ApiError, statusFor } from './errors.ts';
import { bearerAuth } from './middleware/bearer-auth.ts';
import { normalizeApiTokens } from '../config/api-tokens.ts';
import { eventsRoutes } from './routes/events.ts';
import { itemsRoutes } from './routes/items.ts';
import { healthRoutes } from './routes/health.ts';
import { changesRoutes } from './routes/changes.ts';
import { conflictsRoutes } from './routes/conflicts.ts';
import { deliveriesRoutes } from './routes/deliveries.ts';
import { connectionsRoutes } from './routes/connections.ts';
import { docsRoutes } from './routes/docs.ts';
import { buildWebhookHandlers, webhookRoutes } from './routes/webhooks.ts';
import { mountOperatorRoutes } from './admin/operator.ts';
import { requestContext } from './middleware/request-context.ts';
import { isStorageBusy, isStorageUnavailable } from '../support/storage-errors.ts';

/** The api: thin. It authenticates, validates, writes the durable record, enqueues, answers. */
export function createApp(services: ApiServices) {
  const app = new Hono<AppEnv>();
  app.use(requestContext(services));
  mountOperatorRoutes(app, services);
  app.route('/', healthRoutes);
  app.route('/', docsRoutes());
  const handlers = buildWebhookHandlers(services.connections.all());
  app.route(
    '/webhooks',
    webhookRoutes([...handlers.keys()], (id) => handlers.get(id)),
  );

  const v1 = new Hono<AppEnv>();
  v1.use(bearerAuth({ tokens: normalizeApiTokens(services.config.api.tokens) }));
  v1.route('/events', eventsRoutes());
  v1.route('/items', itemsRoutes);
  v1.route('/changes', changesRoutes);
  v1.route('/conflicts', conflictsRoutes);
  v1.route('/deliveries', deliveriesRoutes);
  v1.route('/connections', connectionsRoutes);
  app.route('/v1', v1);

  app.notFound((c) => errorResponse(c, new ApiError('not_found', `no route ${c.req.method} ${c.req.path}`)));
  app.onError((error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error);
    // Postgres or Redis unreachable, or a statement past the statement timeout: a 503 the caller
    // can retry, never a 500.
    if (isStorageUnavailable(error) || isStorageBusy(error)) {
      services.log.warn({ err: (error as Error).message, requestId: c.get('requestId') }, 'dependency unavailable');
      return errorResponse(c, new ApiError('unavailable', 'storage is unavailable; retry shortly', { 'retry-after': '5' }));
    }
    services.log.error({ err: error, requestId: c.get('requestId'), path: c.req.path }, 'unhandled error');
    return errorResponse(c, new ApiError('internal', 'internal error; the request id is in the logs'));
  });
  return app;
}

function errorResponse(c: Context<AppEnv>, error: ApiError) {
  return c.json(
    { error: { code: error.code, message: error.message, requestId: c.get('requestId') ?? null } },
    statusFor(error.code),
    error.headers,
  );
}
