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
import { findItemProblem } from '../../operator/force-push.ts';

/**
 * The body of POST /v1/connections/{id}/sync, the HTTP twin of `trackline sync`: `items` is
 * --item, `labelsOnly` --labels-only, `force` --force and `actor` --as. Unknown keys are refused,
 * so a misspelt option never runs a sync the caller did not ask for.
 */
export const SyncBody = z
  .strictObject({
    direction: z.enum(['push', 'pull', 'both']).default('both'),
    dryRun: z.boolean().default(false),
    items: z
      .array(z.string().min(1).max(500))
      .min(1)
      .max(1000)
      .optional()
      .describe('Only these items (keys); each must be an item the connection carries, else 400 and nothing is written'),
    labelsOnly: z
      .boolean()
      .default(false)
      .describe("Sync the items' labels and nothing else (three-way); their other changes stay pending. No create, comment or poll"),
    force: z
      .boolean()
      .default(false)
      .describe(
        "Push the items' values (with labelsOnly, their labels) wherever the tracker differs, even where the last sync says nothing changed, and past the re-open and close guards; recorded as sync.forced by the actor",
      ),
    actor: z
      .string()
      .regex(/^operator:[^\s]{1,100}$/, 'expected "operator:<name>"')
      .optional()
      .describe("Who forced it, for the trail (only with force); default operator:token-<the token's id>"),
  })
  .superRefine((body, ctx) => {
    const refuse = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (body.force && body.dryRun) refuse('force', 'force and dryRun exclude each other (the plan is what an unforced sync would do)');
    else if (body.force && body.direction === 'pull')
      refuse('force', "force pushes the items' values; it does nothing with direction pull");
    if (body.labelsOnly && body.direction === 'pull')
      refuse('labelsOnly', 'labelsOnly reads each issue and merges its labels both ways; it cannot be limited to direction pull');
    if (body.actor !== undefined && !body.force) refuse('actor', 'actor names who forced the sync; it needs force: true');
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
    if (body.force && services.connections.get(id)!.config.direction === 'pull')
      throw new ApiError('invalid_request', `force: connection "${id}" only pulls; there is nothing to push`);
    const items = body.items ? [...new Set(body.items)] : undefined;
    // Every named item is checked before anything is written or enqueued.
    const problem = items ? await findItemProblem(services, items, [id]) : null;
    if (problem) {
      const at = `items[${body.items!.indexOf(problem.key)}]`;
      throw new ApiError(
        'invalid_request',
        problem.reason === 'missing'
          ? `${at}: no item "${problem.key}"`
          : `${at}: item "${problem.key}" is not synced with connection "${id}"`,
      );
    }
    const result = await requestSync(services, id, {
      direction: body.direction,
      dryRun: body.dryRun,
      items,
      only: body.labelsOnly ? ['labels'] : undefined,
      forcedBy: body.force ? (body.actor ?? `operator:token-${c.get('principal')}`) : undefined,
    });
    return c.json(result, body.dryRun ? 200 : 202);
  });
