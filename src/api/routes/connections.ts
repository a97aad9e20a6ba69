import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { validate } from '../validation.ts';
import { parseJson, readRawBody } from '../middleware/raw-body.ts';
import { pageQuery } from '../pagination.ts';
import { requireScope } from '../middleware/require-scope.ts';
import { assertConnection, mayTouch } from '../connection-access.ts';
import { connectionStatus } from '../../operator/connection-status.ts';
import { requestSync } from '../../operator/request-sync.ts';

export const SyncBody = z.object({
  direction: z.enum(['push', 'pull', 'both']).default('both'),
  dryRun: z.boolean().default(false),
});

/** GET /v1/connections and POST /v1/connections/{id}/sync. */
export const connectionsRoutes = new Hono<AppEnv>()
  .get('/', requireScope('items:read'), async (c) => {
    const { limit, after } = validate(pageQuery.extend({ after: z.string().optional() }), c.req.query());
    const services = c.get('services');
    const all = services.connections
      .all()
      .map((x) => x.config.id)
      .filter((id) => mayTouch(c, id))
      .sort();
    const start = after ? all.findIndex((id) => id > after) : 0;
    const ids = start < 0 ? [] : all.slice(start, start + limit);
    const connections = await Promise.all(ids.map((id) => connectionStatus(services, id)));
    const next = start >= 0 && start + limit < all.length ? ids[ids.length - 1] : null;
    return c.json({ connections, next });
  })
  .post('/:id/sync', requireScope('admin'), async (c) => {
    const services = c.get('services');
    const id = c.req.param('id');
    if (!services.connections.get(id)) throw new ApiError('not_found', `no connection "${id}"`);
    assertConnection(c, id);
    const raw = await readRawBody(c.req.raw);
    const body = validate(SyncBody, raw.length ? parseJson(raw) : {});
    const result = await requestSync(services, id, body);
    return c.json(result, body.dryRun ? 200 : 202);
  });
