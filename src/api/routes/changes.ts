import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';
import { validate } from '../validation.ts';
import { pageQuery } from '../pagination.ts';
import { readChanges } from '../../sync/change-feed.ts';

/**
 * GET /v1/changes?after=&limit=: remote changes for the orchestrator, in order. `next` is always
 * a cursor to poll from (the last id returned, or `after` itself when nothing is new), so a
 * consumer can loop on it without special cases.
 */
export const changesRoutes = new Hono<AppEnv>().get('/', async (c) => {
  const { limit, after } = validate(pageQuery, c.req.query());
  const changes = await readChanges(c.get('services').sql, after ?? 0, limit);
  const next = changes.length ? changes[changes.length - 1].id : String(after ?? 0);
  return c.json({ changes, next });
});
