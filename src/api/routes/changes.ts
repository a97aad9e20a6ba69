import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';
import { validate } from '../validation.ts';
import { pageQuery } from '../pagination.ts';
import { readChanges } from '../../sync/change-feed.ts';
import { requireScope } from '../middleware/require-scope.ts';
import { allowedConnections } from '../connection-access.ts';

/**
 * GET /v1/changes?after=&limit=: remote changes for the orchestrator, in order. `next` is always
 * a cursor to poll from (the last id returned, or `after` itself when nothing is new), so a
 * consumer can loop on it without special cases.
 */
export const changesRoutes = new Hono<AppEnv>().get('/', requireScope('changes:read'), async (c) => {
  const { limit, after } = validate(pageQuery, c.req.query());
  const changes = await readChanges(c.get('services').sql, after ?? 0, limit, allowedConnections(c));
  const next = changes.length ? changes[changes.length - 1].id : String(after ?? 0);
  return c.json({ changes, next });
});
